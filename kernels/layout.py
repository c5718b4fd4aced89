"""Column indices of the flat arrays that cross the boundary between ``ciminus`` and the kernels.

The lowering code in ``ciminus`` fills these arrays and the kernels read them; both import the indices
from here, so a column can never mean two things. Plain integers only: Numba treats module-level ints
as compile-time constants.
"""

# ----------------------------------------------------------------------------------------------------
# Tile statistics of one layer under one sparsity and one mapping shape (stage 1 -> stage 2).
# Every count is for the whole layer (all groups), one sample, one repeat; "per vector" means per input
# vector (output pixel / token).
# ----------------------------------------------------------------------------------------------------
S_TILES = 0  # macro tiles (weight tiles of array_rows x array_cols), expected value
S_ROW_TILES = 1  # mean row tiles per column tile (reduction direction)
S_COL_TILES = 2  # column tiles (output direction, groups included); S_TILES = S_ROW_TILES * S_COL_TILES
S_STORED = 3  # weight cells occupied after compression (written from DRAM, utilisation numerator)
S_FETCH = 4  # input rows fed to the macros per vector, summed over tiles
S_PSUM = 5  # partial sums produced per vector, summed over tiles
S_OUT_NZ = 6  # outputs that receive at least one partial sum, per vector
S_IDX_READ = 7  # index-memory bits read per vector (input gather / partial-sum scatter)
S_IDX_STORE = 8  # index bits stored for the layer (block indices + IntraBlock element indices)
S_MUX_CELLS = 9  # weight cells whose input goes through an IntraBlock selection multiplexer
S_MUX_LEVELS = 10  # 2:1 levels of that multiplexer (ceil(log2 m))
S_CRIT_ROWS = 11  # input rows fed to the fullest tile (sets the bit-plane skipping of the critical macro)
S_REASON = 12  # 0, or a REASON_* code when the mapping cannot hold this sparsity
S_F_ENERGY = 13  # measured fraction of bit-serial cycles that run (NaN: use the input density)
S_F_CRIT = 14  # the same on the critical tile
S_BIT_ONES = 15  # measured fraction of the input bits fed to the macros that are 1 (NaN: the input model's)
N_STATS = 16

STAT_NAMES = (
    "tiles",
    "row_tiles",
    "col_tiles",
    "stored_cells",
    "fetch_rows",
    "psums",
    "outputs_nonzero",
    "index_read_bits",
    "index_store_bits",
    "mux_cells",
    "mux_levels",
    "critical_rows",
    "reason",
    "active_fraction",
    "critical_active_fraction",
    "input_bit_ones",
)

# Stage-1 codes.
COMPRESS_AUTO = -1  # mapping.compress = "auto": the pattern's natural orientation
COMPRESS_NONE = 0  # dense: nothing is compressed
COMPRESS_ROW = 1  # zero rows squeezed out of each column tile (inputs gathered by index)
COMPRESS_COL = 2  # zero columns squeezed out of each row tile (partial sums scattered by index)
REARRANGE_PAD = 0
REARRANGE_SLICE = 1
INDEX_AUTO = 0
INDEX_COORDINATE = 1
INDEX_BITMAP = 2

# Sparsity patterns (``sparsity.pattern``), in the order of ``ciminus.specs.sparsity.PATTERNS``.
PATTERN_DENSE = 0
PATTERN_ROW_WISE = 1
PATTERN_ROW_BLOCK = 2
PATTERN_COLUMN_WISE = 3
PATTERN_COLUMN_BLOCK = 4
PATTERN_CHANNEL_WISE = 5
PATTERN_NM = 6
PATTERN_HYBRID = 7
PATTERN_UNSTRUCTURED = 8
PATTERN_FLEXBLOCK = 9
# A FullBlock side: a positive size, or one of these symbols.
SIZE_DEFAULT = -1  # sparsity.block_rows / block_cols unset: the pattern's default
SIZE_ALL = -2  # the whole matrix side
SIZE_KERNEL = -3  # one input channel's R*S rows
SIZE_ARRAY = -4  # one array side

# One stage-1 job: a layer under one sparsity and one mapping shape (``kernels.tile_stats.stats_rows``).
JOB_ROWS = 0  # weight-matrix rows of one group (C/groups * R * S)
JOB_COLS = 1  # columns of one group (K/groups)
JOB_GROUPS = 2
JOB_KERNEL = 3  # R*S
JOB_CHANNEL_RUN = 4  # consecutive flattened rows of one input channel under the flatten order
JOB_ARRAY_ROWS = 5
JOB_ARRAY_COLS = 6
JOB_SUB_ROWS = 7
JOB_SUB_COLS = 8
JOB_PATTERN = 9
JOB_RATIO = 10
JOB_BLOCK_ROWS = 11  # SIZE_* or a size
JOB_BLOCK_COLS = 12
JOB_NM_N = 13
JOB_NM_M = 14
JOB_COMPRESS = 15  # COMPRESS_AUTO, COMPRESS_ROW or COMPRESS_COL
JOB_REARRANGE = 16
JOB_INDEX_FORMAT = 17
JOB_DYNAMIC = 18  # 1: a run-time operand, never pruned (dense statistics)
JOB_STAGE_ORDER = 19  # STAGES_* (sparsity.order): which FlexBlock stage prunes first
JOB_IB_MASKS = 20  # sparsity.intrablock_masks: masks in the set (0: every k of m)
JOB_IB_FANIN = 21  # ... the largest number of segment positions one slot selects from
JOB_IB_USED = 22  # ... positions of a segment any mask keeps, as a bit set (bit i: the segment's row i)
JOB_IB_LEN = 23  # ... mask length and ones (checked against nm_m and the kept count)
JOB_IB_ONES = 24
JOB_FIRST = 25  # FIRST_* (sparsity.first): a FullBlock stage before the pattern
JOB_FIRST_RATIO = 26
JOB_IB_COLS = 27  # sparsity.intrablock_cols: adjacent columns sharing one IntraBlock mask (m x n blocks)
JOB_FIRST_BLOCK_ROWS = 28  # sparsity.first_block_rows x first_block_cols (SIZE_* or a size): FIRST_BLOCKS' blocks
JOB_FIRST_BLOCK_COLS = 29
N_JOB = 30
# sparsity.first: what a first FullBlock stage prunes, before the pattern acts on what is left: whole rows,
# channels or columns (the pattern sees a smaller dense matrix), or blocks narrower than the matrix (the
# pattern prunes its blocks among those still holding a weight: a draw inside a draw, docs/sparsity.md).
FIRST_NONE = 0
FIRST_ROWS = 1
FIRST_CHANNELS = 2
FIRST_COLUMNS = 3
FIRST_BLOCKS = 4
FIRST_STAGES = ("none", "row-wise", "channel-wise", "column-wise", "block")
# sparsity.order: IntraBlock squeezes column segments and FullBlock prunes blocks of that slot matrix
# ("intra-first", SDP's hybrid), or FullBlock prunes blocks of the weights and IntraBlock squeezes the
# segments inside every kept block ("full-first").
STAGES_INTRA_FIRST = 0
STAGES_FULL_FIRST = 1
STAGE_ORDERS = ("intra-first", "full-first")

# ----------------------------------------------------------------------------------------------------
# Feasibility: 0 is a feasible point; the order is the order of the checks.
# ----------------------------------------------------------------------------------------------------
REASON_OK = 0
REASON_GRID_MISMATCH = 1
REASON_SUBARRAY_MISMATCH = 2
REASON_COMPRESSION_UNSUPPORTED = 3
REASON_ADDER_TREE_MODEL = 4
REASON_INPUT_BUFFER = 5
REASON_OUTPUT_BUFFER = 6
REASON_INDEX_MEMORY = 7
REASON_WEIGHTS_FORMAT = 8
REASON_OUT_OF_RANGE = 9
REASON_NM_N_OVER_M = 10  # an IntraBlock stage that keeps more than its segment (nm_n > nm_m)
REASON_NM_RATIO = 11  # pattern "nm" at a ratio that is no whole k of nm_m
REASON_OVER_AREA = 12  # beyond a [constraints] budget (decided per point, after pricing)
REASON_OVER_POWER = 13
REASON_OVER_LATENCY = 14
REASON_UNDER_ACCURACY = 15
REASON_IB_MASKS = 16  # sparsity.intrablock_masks of another length than nm_m, or keeping another count
REASON_FIRST_BLOCKS_EXPECTED = 17  # first = "block" under stats = "expected", blocks that do not nest: no closed form
REASON_FIRST_BLOCKS_INTRABLOCK = 18  # first = "block" before a pattern with an IntraBlock stage (three stages)
REASON_NAMES = (
    "ok",
    "macro_grid_does_not_match_macros",
    "subarray_does_not_divide_array",
    "intrablock_needs_row_compression",
    "adder_tree_model_not_applicable",
    "input_buffer_too_small",
    "output_buffer_too_small",
    "index_memory_too_small",
    "weights_do_not_fit_intrablock",
    "counts_out_of_range",
    "intrablock_keeps_more_than_its_segment",
    "nm_ratio_is_not_k_of_m",
    "over_area_budget",
    "over_power_budget",
    "over_latency_budget",
    "under_accuracy_floor",
    "intrablock_masks_do_not_fit",
    "first_blocks_need_masks",
    "first_blocks_before_intrablock",
)

# ----------------------------------------------------------------------------------------------------
# Energy components, in the order of the dataset's ``component`` dimension.
# ----------------------------------------------------------------------------------------------------
C_ARRAY = 0
C_ADDER_TREE = 1
C_SHIFT_ADD = 2
C_ACCUMULATOR = 3
C_INDEX = 4
C_MUX = 5
C_ZERO_DETECT = 6
C_REGISTER = 7
C_INPUT_BUFFER = 8
C_OUTPUT_BUFFER = 9
C_GLOBAL_BUFFER = 10
C_DRAM = 11
C_WEIGHT_WRITE = 12
C_STATIC = 13
N_COMPONENTS = 14
COMPONENT_NAMES = (
    "array",
    "adder_tree",
    "shift_add",
    "accumulator",
    "index",
    "mux",
    "zero_detect",
    "register",
    "input_buffer",
    "output_buffer",
    "global_buffer",
    "dram",
    "weight_write",
    "static",
)

# ----------------------------------------------------------------------------------------------------
# Actions: what the hardware does, counted per layer; energy = counts . per-action energy (pJ each).
# Every action belongs to one energy component (ACTION_COMPONENT), so the breakdown is a sum of counts
# times energies too. ACTION_UNITS names what one action is.
# ----------------------------------------------------------------------------------------------------
A_CELL_MULT = 0  # 1-bit multiplications (AND) in the bit cells
A_TREE_ADD = 1  # 1-bit additions in the column adder trees
A_SHIFT_ADD = 2  # 1-bit shift-and-add steps merging bit planes (an addition and a register write)
A_ACCUMULATE = 3  # 1-bit partial-sum accumulations across row tiles (an addition and a register write)
A_INDEX_READ = 4  # index-memory bits read
A_INDEX_WRITE = 5  # index-memory bits written
A_MUX_SELECT = 6  # 2:1 multiplexer-level selections of IntraBlock inputs
A_ZERO_DETECT = 7  # input bits examined by zero detection
A_REGISTER_WRITE = 8  # input and partial-sum register bits written
A_INPUT_BUFFER_READ = 9
A_INPUT_BUFFER_WRITE = 10
A_OUTPUT_BUFFER_READ = 11
A_OUTPUT_BUFFER_WRITE = 12
A_GLOBAL_BUFFER_READ = 13
A_GLOBAL_BUFFER_WRITE = 14
A_DRAM_READ = 15
A_DRAM_WRITE = 16
A_WEIGHT_WRITE = 17  # weight bits written into the macros
A_LEAKAGE = 18  # macro-cycles of leakage (every macro, the whole latency)
N_ACTIONS = 19
ACTION_NAMES = (
    "cell_mult",
    "tree_add",
    "shift_add",
    "accumulate",
    "index_read",
    "index_write",
    "mux_select",
    "zero_detect",
    "register_write",
    "input_buffer_read",
    "input_buffer_write",
    "output_buffer_read",
    "output_buffer_write",
    "global_buffer_read",
    "global_buffer_write",
    "dram_read",
    "dram_write",
    "weight_write",
    "leakage",
)
ACTION_UNITS = (
    "bit-op",
    "bit-op",
    "bit-op",
    "bit-op",
    "bit",
    "bit",
    "selection",
    "bit",
    "bit",
    "bit",
    "bit",
    "bit",
    "bit",
    "bit",
    "bit",
    "bit",
    "bit",
    "bit",
    "macro-cycle",
)
ACTION_COMPONENT = (
    C_ARRAY,
    C_ADDER_TREE,
    C_SHIFT_ADD,
    C_ACCUMULATOR,
    C_INDEX,
    C_INDEX,
    C_MUX,
    C_ZERO_DETECT,
    C_REGISTER,
    C_INPUT_BUFFER,
    C_INPUT_BUFFER,
    C_OUTPUT_BUFFER,
    C_OUTPUT_BUFFER,
    C_GLOBAL_BUFFER,
    C_GLOBAL_BUFFER,
    C_DRAM,
    C_DRAM,
    C_WEIGHT_WRITE,
    C_STATIC,
)

# ----------------------------------------------------------------------------------------------------
# Results of pricing one layer (or a whole network) under one mapping candidate.
# The first N_ACTIONS columns are the action counts; energy is their dot product with the energy table.
# ----------------------------------------------------------------------------------------------------
R_LATENCY = N_ACTIONS + 0  # cycles
R_COMPUTE = N_ACTIONS + 1  # bit-serial compute cycles on the critical macro
R_USEFUL = N_ACTIONS + 2  # occupied cell-activations (utilisation numerator)
R_CAPACITY = N_ACTIONS + 3  # available cell-activations while computing (utilisation denominator)
R_ROUNDS = N_ACTIONS + 4  # weight loads: grid rounds x vector chunks (each loads every weight block once)
R_DUPLICATION = N_ACTIONS + 5  # copies of the weights working on different vectors
R_REASON = N_ACTIONS + 6
R_OUT_SPILL = N_ACTIONS + 7  # 1 when the layer's output went to DRAM (read by the next layer)
R_HOLD_IBUF = N_ACTIONS + 8  # bits one macro's input buffer holds at once (<= its usable share)
R_HOLD_OBUF = N_ACTIONS + 9  # bits one macro's output buffer holds at once
R_HOLD_GBUF = N_ACTIONS + 10  # bits the global buffer holds at once (resident maps, staged inputs, spills, weights)
R_DRAM_COMPULSORY = N_ACTIONS + 11  # DRAM bits if the inputs touched, the weights and the outputs moved once each
N_RESULTS = N_ACTIONS + 12

# Context of a layer in its network (``layer_actions``' ``context`` flags).
CTX_IN_DRAM = 1  # the layer's input is in DRAM (the network's input, or a spilled map)
CTX_OUT_DRAM = 2  # the layer's output must reach DRAM (the network's output)

# Loop orders of the temporal loops around one spatial step, outermost first: the row folds ("rows"),
# the column folds ("cols") and the steps of input vectors ("vectors"). A "vectors" loop outermost splits
# the vectors into chunks that fit the buffers, the rest of the steps running innermost.
ORDER_COLS_ROWS_VECTORS = 0
ORDER_ROWS_COLS_VECTORS = 1
ORDER_VECTORS_COLS_ROWS = 2
ORDER_VECTORS_ROWS_COLS = 3
LOOP_ORDERS = ("cols-rows-vectors", "rows-cols-vectors", "vectors-cols-rows", "vectors-rows-cols")

# Objectives for choosing among mapping candidates.
OBJECTIVE_ENERGY = 0
OBJECTIVE_LATENCY = 1
OBJECTIVE_EDP = 2

# Adder-tree counts.
ADDER_TREE_MIREDO = 0  # the published template's count (legacy: exact on its 32 x 16 home only)
ADDER_TREE_RIPPLE = 1  # a tree of ripple-carry adders per column
ADDER_TREE_COMPRESSOR = 2  # a carry-save (3:2 compressor) tree per column and one final carry-propagate adder
ADDER_TREE_FULL = ADDER_TREE_RIPPLE  # the former name of the ripple tree

# Switching activity of the macro's gates.
ACTIVITY_DATA = 0  # gates switch with the data: input bits that are 1, products that are 1
ACTIVITY_FULL = 1  # every gate of every cycle that runs (the template's own rule)

# Bit-position profiles of a non-zero input.
PROFILE_LAPLACE = 0  # post-ReLU Laplace (exponential) values, clipped and quantised uniformly
PROFILE_INDEPENDENT = 1  # every bit 1 with probability input_bit_density, independently
PROFILE_GIVEN = 2  # every bit position's own probability of a 1, given (sparsity.input_bit_ones), independently
MAX_PROFILE_BITS = 32  # bit positions a given profile may have (arch.input_bits <= 32)

# ----------------------------------------------------------------------------------------------------
# Results of one design point (a row of the backends' output array). Energies are the breakdown of the
# chosen candidate (its counts times the point's energy table); DENSE_* price the dense weights on the
# same hardware at their own best mapping candidate; the counts themselves follow.
# ----------------------------------------------------------------------------------------------------
P_LATENCY = N_COMPONENTS + 0
P_COMPUTE = N_COMPONENTS + 1
P_USEFUL = N_COMPONENTS + 2
P_CAPACITY = N_COMPONENTS + 3
P_DENSE_ENERGY = N_COMPONENTS + 4
P_DENSE_LATENCY = N_COMPONENTS + 5
P_REASON = N_COMPONENTS + 6
P_CANDIDATE = N_COMPONENTS + 7  # index of the winning mapping candidate, -1 when chosen per layer or none
P_DRAM_COMPULSORY = N_COMPONENTS + 8  # the chosen candidate's compulsory DRAM bits (R_DRAM_COMPULSORY)
P_GRID_ROWS = N_COMPONENTS + 9  # rows of the chosen candidate's macro organisation (NaN: chosen per layer)
P_ACTIONS = N_COMPONENTS + 10  # the chosen candidate's action counts, N_ACTIONS columns (when kept)
N_POINT_BASE = P_ACTIONS  # a row without the counts
N_POINT = P_ACTIONS + N_ACTIONS

# Per-layer results (kept when the sweep asks for them): energy, latency and the layer's candidate.
LY_ENERGY = 0
LY_LATENCY = 1
LY_CANDIDATE = 2
N_LAYER = 3

# ----------------------------------------------------------------------------------------------------
# Stage-2 parameters of one design point (decoded from the flat point index inside the kernel).
# ----------------------------------------------------------------------------------------------------
PRM_MACROS = 0
PRM_ROWS = 1
PRM_COLS = 2
PRM_WEIGHT_BITS = 3
PRM_INPUT_BITS = 4
PRM_BITS_PER_CYCLE = 5
PRM_PSUM_BITS = 6
PRM_OUTPUT_BITS = 7
PRM_IBUF_KB = 8
PRM_OBUF_KB = 9
PRM_GBUF_KB = 10
PRM_INDEX_KB = 11
PRM_IBUF_BW = 12
PRM_OBUF_BW = 13
PRM_GBUF_BW = 14
PRM_DRAM_BW = 15
PRM_WLOAD_BW = 16
PRM_DOUBLE_BUFFER = 17
PRM_WEIGHT_DOUBLE_BUFFER = 18
PRM_MULT = 19
PRM_ADD = 20
PRM_REG = 21
PRM_WEIGHT_WRITE = 22
PRM_LEAKAGE = 23
PRM_DRAM_R = 24
PRM_DRAM_W = 25
PRM_GBUF_R = 26
PRM_GBUF_W = 27
PRM_OBUF_R = 28
PRM_OBUF_W = 29
PRM_IBUF_R = 30
PRM_IBUF_W = 31
PRM_REG_W = 32
PRM_INDEX_R = 33  # NaN: derived (input buffer read)
PRM_INDEX_W = 34  # NaN: derived (input buffer write)
PRM_MUX = 35  # NaN: derived (reg_1b)
PRM_ZERO_DETECT = 36  # NaN: derived (mult_1b)
PRM_ADDER_MODEL = 37
PRM_DENSITY = 38
PRM_BIT_DENSITY = 39
PRM_SKIP = 40  # -1 auto (skip where the layer's input density < 1), 0 off, 1 on
PRM_BATCH = 41
PRM_ACTIVITY = 42  # ACTIVITY_*: switching from the data, or every gate every cycle
PRM_WEIGHT_BIT_DENSITY = 43  # fraction of 1 bits in a non-zero weight
PRM_INPUT_PROFILE = 44  # PROFILE_*: how the bits of a non-zero input are distributed over bit positions
PRM_INPUT_CLIP = 45  # clipping of the Laplace profile, in units of its scale (NaN: the MSE-optimal clip)
PRM_NODE = 46  # technology node (nm) and supply (V) of the chip ...
PRM_VDD = 47
PRM_REF_NODE = 48  # ... and of the energy table
PRM_REF_VDD = 49
PRM_BIT_ONES = 50  # MAX_PROFILE_BITS columns: P(bit b of a non-zero input is 1), b = 0 the least significant
N_PRM = PRM_BIT_ONES + MAX_PROFILE_BITS
# The parameters only a layer's sparse weights read: its dense twin has dense inputs and never skips.
SPARSE_ONLY_PRMS = (PRM_DENSITY, PRM_SKIP)
# The columns the per-action energy table is made of (``kernels.actions.action_energies`` reads only these).
ENERGY_PRMS = (
    PRM_MULT,
    PRM_ADD,
    PRM_REG,
    PRM_WEIGHT_WRITE,
    PRM_LEAKAGE,
    PRM_DRAM_R,
    PRM_DRAM_W,
    PRM_GBUF_R,
    PRM_GBUF_W,
    PRM_OBUF_R,
    PRM_OBUF_W,
    PRM_IBUF_R,
    PRM_IBUF_W,
    PRM_REG_W,
    PRM_INDEX_R,
    PRM_INDEX_W,
    PRM_MUX,
    PRM_ZERO_DETECT,
    PRM_NODE,
    PRM_VDD,
    PRM_REF_NODE,
    PRM_REF_VDD,
)

# One mapping candidate.
CP_GRID_ROWS = 0  # 0: the squarest grid of the point's macros; -k: its k-th organisation (rows ascending)
CP_GRID_COLS = 1
CP_DUPLICATE = 2
CP_STEP = 3
CP_VARIANT = 4  # which tile statistics (flatten x compress x rearrange x index format) it uses
CP_ORDER = 5  # loop order (ORDER_*)
CP_ORDERS = 6  # loop orders this candidate prices at once: it and the next ones, which differ from it only by
#                consecutive loop orders (0 for those followers: their leader fills their rows)
CP_DUP_TWIN = 7  # the earlier candidate that differs only by its duplication (on/off, copies) (-1: none)
CP_COPIES = 8  # most copies of a layer's weights when duplicating (0: as many as fit; 1: none)
N_CP = 9
# Columns N_CP + w: the earlier candidate that differs only by using statistics variant w (-1: none). A layer
# whose statistics (or duplication) cannot tell a candidate from such a twin is copied, not priced again.

# One layer (of all the networks of a sweep, concatenated).
LAY_VECTORS = 0  # input vectors per sample
LAY_K = 1
LAY_IN_ELEMS = 2
LAY_OUT_ELEMS = 3
LAY_REUSE = 4
LAY_E = 5
LAY_STRIDE = 6
LAY_WINDOW = 7
LAY_DYNAMIC = 8
LAY_COUNT = 9
LAY_DENSITY = 10  # NaN: the point's input density
N_LAY = 11

# How candidates are reduced.
SELECT_BEST = 0
SELECT_BEST_PER_LAYER = 1
SELECT_ALL = 2

# ----------------------------------------------------------------------------------------------------
# Silicon of one design point: area and clock (``kernels.silicon``), per point, never per layer.
# The point's PRM_* row gives the geometry; this row gives the area and timing tables and the few
# sparsity keys that decide which selection hardware exists.
# ----------------------------------------------------------------------------------------------------
SI_AREA_REF_NODE = 0  # node the [area] table is given at (nm)
SI_BITCELL = 1  # um^2 of one SRAM bit cell of the array
SI_MULT_GATE = 2  # um^2 of one 1-bit multiply gate (NaN: SI_GATE)
SI_GATE = 3  # um^2 of one two-input logic gate
SI_FULL_ADDER = 4  # um^2 of one 1-bit full adder
SI_REGISTER = 5  # um^2 of one 1-bit flip-flop
SI_MUX2 = 6  # um^2 of one 2:1 multiplexer
SI_SRAM_BIT = 7  # um^2 per bit of a buffer SRAM, its periphery included
SI_DRIVER = 8  # um^2 of one word-line or bit-line driver (NaN: SI_GATE)
SI_TIMING_REF_NODE = 9  # node and supply the [timing] table is given at
SI_TIMING_REF_VDD = 10
SI_T_GATE = 11  # ns of one gate
SI_T_CARRY = 12  # ns of one full adder, carry in to carry out
SI_T_SUM = 13  # ns of one full adder, input to sum
SI_T_REGISTER = 14  # ns of a register: clock to output plus set-up
SI_T_BITCELL = 15  # ns of a bit cell read and its multiply (NaN: two gates)
SI_VTH = 16  # threshold voltage of the alpha-power delay law (V)
SI_ALPHA = 17  # its velocity-saturation index
SI_PIPELINE = 18  # 1: the adder tree and the shift-add are separate pipeline stages
SI_PATTERN = 19  # sparsity.pattern (PATTERN_*), nm_n, nm_m: is there an IntraBlock selection multiplexer?
SI_NM_N = 20
SI_NM_M = 21
SI_FREQ = 22  # arch.freq_mhz: > 0 given, 0 none, -1 "auto" (the modelled clock)
SI_CELL_GROUP = 23  # arch.cell_group: bit cells sharing one multiply gate (stored rows per active row)
SI_IB_FANIN = 24  # sparsity.intrablock_masks: inputs one slot's multiplexer selects from (0: nm_m)
SI_IB_COLS = 25  # sparsity.intrablock_cols: columns whose slots share one multiplexer
N_SI = 26

# The PRM_* columns ``kernels.silicon.silicon`` reads (a point's hardware, nothing of its workload).
SILICON_PRMS = (
    PRM_MACROS,
    PRM_ROWS,
    PRM_COLS,
    PRM_WEIGHT_BITS,
    PRM_INPUT_BITS,
    PRM_BITS_PER_CYCLE,
    PRM_PSUM_BITS,
    PRM_IBUF_KB,
    PRM_OBUF_KB,
    PRM_GBUF_KB,
    PRM_INDEX_KB,
    PRM_ADDER_MODEL,
    PRM_SKIP,
    PRM_NODE,
    PRM_VDD,
)

# What ``kernels.silicon.silicon`` writes per point: chip area by component (mm^2, the ``component`` order),
# then these.
SO_MACRO_AREA = N_COMPONENTS + 0  # one compute macro (mm^2): array, adder trees, shift-add, input registers,
#                                   selection and zero detection; no accumulators, index memory or buffers
SO_TCLK = N_COMPONENTS + 1  # critical path of the macro pipeline (ns)
SO_TREE_NS = N_COMPONENTS + 2  # its adder-tree part (ns)
SO_CLOCK_MHZ = N_COMPONENTS + 3  # the clock latency_s is given at: arch.freq_mhz, 1000 / tclk (auto), or 0
N_SO = N_COMPONENTS + 4
