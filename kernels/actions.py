"""What a layer does, counted: the action counts and latency of one layer under one mapping candidate,
and the one place where counts meet energies.

``layer_actions`` is the whole per-layer model (feasibility, rounds and copies, activations, sparsity
overheads, buffer and DRAM traffic, the load -> compute -> write-back pipeline): it fills a row of
``kernels.layout`` results with *counts* (``A_*``) and latency terms (``R_*``), never an energy.
``action_energies`` turns a point's parameters into its per-action energy table (pJ per action), and
``energy_pj`` is the only product of counts and energies. The CPU loop (``kernels/price.py``), the CUDA
loop (``kernels/price_cuda.py``) and the readable reference model (``ciminus/reference.py``, through
``.py_func``) all call these functions.
"""

import math

from . import layout as L
from .equations import (
    accumulations,
    adder_tree_adds,
    auto_grid_rows,
    ceil_float,
    ceil_ratio,
    cell_mults,
    cycles_per_activation,
    duplicates,
    floor_float,
    floor_ratio,
    folds,
    group_zero_probability,
    halo_factor,
    kth_divisor,
    laplace_clip,
    leakage_macro_cycles,
    mux_selections,
    pipeline_cycles,
    rounds_latency,
    shift_adds,
)
from .jit import jit
from .tile_stats import ceil_div

KIB_BITS = 8 * 1024
MAX_COUNT = 1e300  # counts beyond this could overflow when summed over layers and multiplied by energies

# Per-point constants, computed once per point instead of once per layer (same arithmetic).
PC_T = 0  # cycles per activation
PC_ADDER_ADDS = 1  # 1-bit adder-tree additions per cycle (<= 0: the count model does not apply)
PC_CELL_MULTS = 2  # actions of one activation, by kind
PC_TREE_ADDS = 3
PC_SHIFT_ADDS = 4
PC_IN_AVAIL = 5  # input-buffer bits one step may use
PC_OUT_AVAIL = 6
PC_OUT_FIT = 7  # partial-sum rows of one vector that fit the output buffer
PC_WEIGHT_WRITE = 8  # cycles to write one whole tile into a macro
PC_GBUF_BITS = 9
PC_INDEX_BITS = 10
PC_BIT_ONES = 11  # P(a bit of a non-zero input is 1), averaged over the bit positions
PC_GROUPS = 12  # bit groups of one activation's cycles (ceil(I / bits per cycle))
PC_KEY = 13  # the parameters the bit statistics below were computed from (6 slots): recomputed on change
PC_GROUP_ZERO = 20  # P(a non-zero input has no 1 in group g), g < 32
PC_GROUP_LOG_Z = 52  # log P(an input has no 1 in group g) at the point's input density, g < 32
PC_BIT_VERSION = 84  # bumped whenever PC_GROUP_ZERO changes: the skip-fraction cache's key
PC_PROFILE_KEY = 85  # a given profile's probabilities the statistics were computed from (MAX_PROFILE_BITS slots)
N_PC = PC_PROFILE_KEY + L.MAX_PROFILE_BITS
MAX_GROUPS = 32
# Rows of ``pc`` past N_PC (when the caller gives them) cache skip fractions, SKIP_ENTRY values an entry:
# (rows, critical rows, density, version and flag; the two fractions). A layer's skip fractions depend on
# its statistics and the point's input statistics only, and a thread meets the same ones again and again
# (a sweep's buffers, clocks and macro counts do not change them), while computing them costs two
# exponentials per bit group.
SKIP_ENTRY = 6
SKIP_SLOTS = 2048  # entries of the CPU engine's cache per thread (a direct-mapped table)


@jit
def _derived(value, fallback):
    """A derived energy: the key's own value, or (NaN) the energy it defaults to."""
    return fallback if math.isnan(value) else value


@jit
def action_energies(prm, t_, ae):
    """Fill ``ae[t_]`` with the point's energy per action (pJ), from its parameters ``prm[t_]``.

    Reads only the ``kernels.layout.ENERGY_PRMS`` columns. Derived energies (NaN) default as
    ``docs/model.md`` states: index memory like the input buffer, a multiplexer level like a 1-bit
    register, zero detection like a 1-bit AND.
    """
    add = prm[t_, L.PRM_ADD]
    reg = prm[t_, L.PRM_REG]
    ae[t_, L.A_CELL_MULT] = prm[t_, L.PRM_MULT]
    ae[t_, L.A_TREE_ADD] = add
    ae[t_, L.A_SHIFT_ADD] = add + reg
    ae[t_, L.A_ACCUMULATE] = add + reg
    ae[t_, L.A_INDEX_READ] = _derived(prm[t_, L.PRM_INDEX_R], prm[t_, L.PRM_IBUF_R])
    ae[t_, L.A_INDEX_WRITE] = _derived(prm[t_, L.PRM_INDEX_W], prm[t_, L.PRM_IBUF_W])
    ae[t_, L.A_MUX_SELECT] = _derived(prm[t_, L.PRM_MUX], reg)
    ae[t_, L.A_ZERO_DETECT] = _derived(prm[t_, L.PRM_ZERO_DETECT], prm[t_, L.PRM_MULT])
    ae[t_, L.A_REGISTER_WRITE] = prm[t_, L.PRM_REG_W]
    ae[t_, L.A_INPUT_BUFFER_READ] = prm[t_, L.PRM_IBUF_R]
    ae[t_, L.A_INPUT_BUFFER_WRITE] = prm[t_, L.PRM_IBUF_W]
    ae[t_, L.A_OUTPUT_BUFFER_READ] = prm[t_, L.PRM_OBUF_R]
    ae[t_, L.A_OUTPUT_BUFFER_WRITE] = prm[t_, L.PRM_OBUF_W]
    ae[t_, L.A_GLOBAL_BUFFER_READ] = prm[t_, L.PRM_GBUF_R]
    ae[t_, L.A_GLOBAL_BUFFER_WRITE] = prm[t_, L.PRM_GBUF_W]
    ae[t_, L.A_WEIGHT_WRITE] = prm[t_, L.PRM_WEIGHT_WRITE]
    # On-chip energies move with the node and supply: switching ~ C V^2 with C ~ node, leakage ~ V I with
    # I ~ node (docs/model.md §4.4); DRAM is off chip and keeps its own.
    node = prm[t_, L.PRM_NODE] / prm[t_, L.PRM_REF_NODE]
    volt = prm[t_, L.PRM_VDD] / prm[t_, L.PRM_REF_VDD]
    dynamic = node * volt * volt
    if dynamic != 1.0:
        for a in range(L.N_ACTIONS):
            ae[t_, a] *= dynamic
    ae[t_, L.A_LEAKAGE] = prm[t_, L.PRM_LEAKAGE] * node * volt
    ae[t_, L.A_DRAM_READ] = prm[t_, L.PRM_DRAM_R]
    ae[t_, L.A_DRAM_WRITE] = prm[t_, L.PRM_DRAM_W]


@jit
def energy_tables(prm, ae):
    """``action_energies`` of every row of ``prm`` into the same row of ``ae`` (the dataset's table)."""
    for r in range(prm.shape[0]):
        action_energies(prm, r, ae)


@jit
def energy_pj(rows, r, ae, t_):
    """Energy of the counts in ``rows[r]`` at the energy table ``ae[t_]``: the dot product, in pJ."""
    e = 0.0
    for a in range(L.N_ACTIONS):
        e += rows[r, a] * ae[t_, a]
    return e


@jit
def component_energies(rows, r, ae, t_, out, o):
    """Energy by component (``C_*``) of the counts in ``rows[r]`` at ``ae[t_]`` into ``out[o]``: each action's
    count times its energy, summed per component (the result's ``energy_breakdown``)."""
    for c in range(L.N_COMPONENTS):
        out[o, c] = 0.0
    for a in range(L.N_ACTIONS):
        out[o, L.ACTION_COMPONENT[a]] += rows[r, a] * ae[t_, a]


@jit
def point_constants(prm, t_, pc):
    """Fill ``pc[t_]`` with what every layer of the point shares."""
    X = int(prm[t_, L.PRM_ROWS])
    Y = int(prm[t_, L.PRM_COLS])
    I = int(prm[t_, L.PRM_INPUT_BITS])
    W = int(prm[t_, L.PRM_WEIGHT_BITS])
    bpc = int(prm[t_, L.PRM_BITS_PER_CYCLE])
    t = cycles_per_activation(I, bpc)
    adds = adder_tree_adds(X, Y, I, W, bpc, int(prm[t_, L.PRM_ADDER_MODEL]))
    pc[t_, PC_T] = t
    pc[t_, PC_ADDER_ADDS] = adds
    pc[t_, PC_CELL_MULTS] = cell_mults(W, bpc, X, Y, t)
    pc[t_, PC_TREE_ADDS] = adds * t
    pc[t_, PC_SHIFT_ADDS] = shift_adds(I, W, X, Y, t)
    halves = 2.0 if prm[t_, L.PRM_DOUBLE_BUFFER] != 0.0 else 1.0
    pc[t_, PC_IN_AVAIL] = prm[t_, L.PRM_IBUF_KB] * KIB_BITS / halves
    pc[t_, PC_OUT_AVAIL] = prm[t_, L.PRM_OBUF_KB] * KIB_BITS / halves
    pc[t_, PC_OUT_FIT] = floor_ratio(pc[t_, PC_OUT_AVAIL], Y * prm[t_, L.PRM_PSUM_BITS])
    pc[t_, PC_WEIGHT_WRITE] = float(X) * Y * W / prm[t_, L.PRM_WLOAD_BW]
    pc[t_, PC_GBUF_BITS] = prm[t_, L.PRM_GBUF_KB] * KIB_BITS
    pc[t_, PC_INDEX_BITS] = prm[t_, L.PRM_INDEX_KB] * KIB_BITS
    bit_statistics(prm, t_, pc)


@jit
def bit_statistics(prm, t_, pc):
    """The input-bit statistics of ``pc[t_]`` (``PC_BIT_ONES``, ``PC_GROUP_*``), from the input precision,
    bits per cycle, bit profile, clipping, bit density and value density; skipped when these equal the ones
    they were last computed from (a thread walks neighbouring points)."""
    I = int(prm[t_, L.PRM_INPUT_BITS])
    bpc = int(prm[t_, L.PRM_BITS_PER_CYCLE])
    profile = int(prm[t_, L.PRM_INPUT_PROFILE])
    clip = prm[t_, L.PRM_INPUT_CLIP]
    bit_density = prm[t_, L.PRM_BIT_DENSITY]
    density = prm[t_, L.PRM_DENSITY]
    same_bits = (pc[t_, PC_KEY] == I and pc[t_, PC_KEY + 1] == bpc and pc[t_, PC_KEY + 2] == profile
                 and pc[t_, PC_KEY + 3] == bit_density
                 and (pc[t_, PC_KEY + 5] == clip or (math.isnan(clip) and math.isnan(pc[t_, PC_KEY + 5]))))
    if same_bits and profile == L.PROFILE_GIVEN:
        for b in range(min(I, L.MAX_PROFILE_BITS)):
            if pc[t_, PC_PROFILE_KEY + b] != prm[t_, L.PRM_BIT_ONES + b]:
                same_bits = False
    if same_bits:
        if pc[t_, PC_KEY + 4] != density:  # only the value density moved: the logs at the new density
            for g in range(int(pc[t_, PC_GROUPS])):
                pc[t_, PC_GROUP_LOG_Z + g] = _log_or_minus_inf(1.0 - density + density * pc[t_, PC_GROUP_ZERO + g])
            pc[t_, PC_KEY + 4] = density
        return
    version = pc[t_, PC_BIT_VERSION]
    pc[t_, PC_BIT_VERSION] = 0.0 if math.isnan(version) else version + 1.0
    if math.isnan(clip):
        clip_used = laplace_clip(I)
    else:
        clip_used = clip
    ones = 0.0
    for b in range(I):
        ones += 1.0 - _group_zero(prm, t_, profile, I, b, 1, bit_density, clip_used)
    pc[t_, PC_BIT_ONES] = ones / I
    groups = min(ceil_div(I, bpc), MAX_GROUPS)
    pc[t_, PC_GROUPS] = groups
    for g in range(groups):
        lo = g * bpc
        s = _group_zero(prm, t_, profile, I, lo, min(bpc, I - lo), bit_density, clip_used)
        pc[t_, PC_GROUP_ZERO + g] = s
        pc[t_, PC_GROUP_LOG_Z + g] = _log_or_minus_inf(1.0 - density + density * s)
    pc[t_, PC_KEY] = I
    pc[t_, PC_KEY + 1] = bpc
    pc[t_, PC_KEY + 2] = profile
    pc[t_, PC_KEY + 3] = bit_density
    pc[t_, PC_KEY + 4] = density
    pc[t_, PC_KEY + 5] = clip
    for b in range(min(I, L.MAX_PROFILE_BITS)):
        pc[t_, PC_PROFILE_KEY + b] = prm[t_, L.PRM_BIT_ONES + b]


@jit
def _group_zero(prm, t_, profile, I, lo, width, bit_density, clip):
    """P(bits lo .. lo+width-1 of a non-zero input are all 0): a given profile's bits independent, each 1
    with its own probability (``PRM_BIT_ONES + b``), or the model of :func:`group_zero_probability`."""
    if profile == L.PROFILE_GIVEN:
        s = 1.0
        for b in range(lo, lo + width):
            s *= 1.0 - prm[t_, L.PRM_BIT_ONES + b]
        return s
    return group_zero_probability(profile, I, lo, width, bit_density, clip)


@jit(inline=True)
def _log_or_minus_inf(x):
    return math.log(x) if x > 0.0 else -math.inf


@jit(inline=True)
def skip_fractions(pc, t_, density, point_density, rows_energy, rows_crit):
    """(mean, critical) fraction of bit-serial cycles that run: a cycle is skipped when none of the rows a
    macro receives has a 1 in the cycle's bit group, rows independent: 1 - P(no 1 in group g)**rows,
    averaged over the groups (``kernels.equations.group_zero_probability``). Looked up in the cache past
    ``N_PC`` in ``pc[t_]`` where there is one (exactly what computing them gives)."""
    slots = (pc.shape[1] - N_PC) // SKIP_ENTRY
    key = 2.0 * pc[t_, PC_BIT_VERSION] + (1.0 if point_density else 0.0)
    e = N_PC
    if slots > 0:
        h = (int(rows_energy * 64.0) * 1000003 + int(rows_crit) * 7919 + int(density * 65536.0)) % slots
        e = N_PC + h * SKIP_ENTRY
        if (pc[t_, e] == rows_energy and pc[t_, e + 1] == rows_crit and pc[t_, e + 2] == density
                and pc[t_, e + 3] == key):
            return pc[t_, e + 4], pc[t_, e + 5]
    groups = int(pc[t_, PC_GROUPS])
    fe = 0.0
    fc = 0.0
    for g in range(groups):
        if point_density:
            lz = pc[t_, PC_GROUP_LOG_Z + g]
        else:
            lz = _log_or_minus_inf(1.0 - density + density * pc[t_, PC_GROUP_ZERO + g])
        if rows_energy > 0.0:
            fe += 1.0 if lz == -math.inf else -math.expm1(rows_energy * lz)
        if rows_crit > 0.0:
            fc += 1.0 if lz == -math.inf else -math.expm1(rows_crit * lz)
    fe /= groups
    fc /= groups
    if slots > 0:
        pc[t_, e] = rows_energy
        pc[t_, e + 1] = rows_crit
        pc[t_, e + 2] = density
        pc[t_, e + 3] = key
        pc[t_, e + 4] = fe
        pc[t_, e + 5] = fc
    return fe, fc


@jit(forceinline=True)
def layer_actions(prm, pc, t_, stats, srow, soff, layers, lrow, grid_rows, grid_cols, max_copies, step_vectors, order0,
                  n_orders, ostride, density, point_density, skip, context, whole_rows, whole_cols, out, orow):
    """Fill ``out[orow]`` with the action counts (``A_*``) and latency terms (``R_*``) of one layer.

    The point's parameters are ``prm[t_]`` (constants ``pc[t_]``), the layer's statistics
    ``stats[srow, soff:soff+N_STATS]`` and its shape ``layers[lrow]``, laid out as ``whole_rows`` x
    ``whole_cols`` whole tiles (:func:`priced_layer` weighs the integers around an expected count);
    ``context`` says where the layer's input is and its output must go (``CTX_*``). ``n_orders`` loop
    orders (``ORDER_*``) from ``order0`` on are priced at once, into ``out[orow + k*ostride]``: they share
    everything but the data movement, so a search over loop orders costs far less than one call per order.
    Rows are addressed by index, never sliced, so the hot loop creates no array views (whose shared
    reference counts threads would fight over).
    """
    for i in range(L.N_RESULTS):
        out[orow, i] = 0.0
    X = int(prm[t_, L.PRM_ROWS])
    Y = int(prm[t_, L.PRM_COLS])
    I = int(prm[t_, L.PRM_INPUT_BITS])
    W = int(prm[t_, L.PRM_WEIGHT_BITS])
    bpc = int(prm[t_, L.PRM_BITS_PER_CYCLE])
    macros = int(prm[t_, L.PRM_MACROS])
    psum_bits = prm[t_, L.PRM_PSUM_BITS]
    double_buffer = prm[t_, L.PRM_DOUBLE_BUFFER] != 0.0

    # ----- feasibility -----------------------------------------------------------------------------
    reason = int(stats[srow, soff + L.S_REASON])
    if grid_rows * grid_cols != macros:
        reason = L.REASON_GRID_MISMATCH
    elif reason == L.REASON_OK and pc[t_, PC_ADDER_ADDS] <= 0:
        reason = L.REASON_ADDER_TREE_MODEL
    in_avail = pc[t_, PC_IN_AVAIL]
    out_avail = pc[t_, PC_OUT_AVAIL]
    vector_bits = max(1, math.ceil(stats[srow, soff + L.S_CRIT_ROWS] - 1e-9)) * I  # one vector, fullest tile
    psum_row_bits = Y * psum_bits  # partial sums of one vector leaving a macro
    step = step_vectors
    if step == 0:
        step = min(floor_ratio(in_avail, vector_bits), pc[t_, PC_OUT_FIT])
    if reason == L.REASON_OK and (step < 1 or step * vector_bits > in_avail):
        reason = L.REASON_INPUT_BUFFER
    if reason == L.REASON_OK and step * psum_row_bits > out_avail:
        reason = L.REASON_OUTPUT_BUFFER
    tiles = stats[srow, soff + L.S_TILES]
    if reason == L.REASON_OK and tiles > 0 and stats[srow, soff + L.S_IDX_READ] / tiles > pc[t_, PC_INDEX_BITS]:
        reason = L.REASON_INDEX_MEMORY
    out[orow, L.R_REASON] = reason
    if reason != L.REASON_OK:
        for k in range(1, n_orders):
            for i in range(L.N_RESULTS):
                out[orow + k * ostride, i] = out[orow, i]
        return

    # ----- how the layer runs: vectors, rounds, copies ---------------------------------------------
    dynamic = layers[lrow, L.LAY_DYNAMIC] != 0.0  # a dynamic operand changes every sample
    batch = int(prm[t_, L.PRM_BATCH])
    vectors = layers[lrow, L.LAY_VECTORS] * (1 if dynamic else batch)
    repeats = layers[lrow, L.LAY_COUNT] * (batch if dynamic else 1)
    t = int(pc[t_, PC_T])
    row_folds = folds(whole_rows, grid_rows)
    col_folds = folds(whole_cols, grid_cols)
    rounds = row_folds * col_folds
    copies = copies_made(whole_rows, whole_cols, grid_rows, grid_cols, max_copies)
    per_copy = ceil_ratio(vectors, copies)
    in_map = layers[lrow, L.LAY_IN_ELEMS] * I * batch
    out_map = layers[lrow, L.LAY_OUT_ELEMS] * prm[t_, L.PRM_OUTPUT_BITS] * batch
    in_dram = (context & L.CTX_IN_DRAM) != 0
    out_spill = (context & L.CTX_OUT_DRAM) != 0 or in_map + out_map > pc[t_, PC_GBUF_BITS]
    out[orow, L.R_OUT_SPILL] = 1.0 if out_spill else 0.0

    # ----- macro activations -----------------------------------------------------------------------
    activations = tiles * vectors
    rows_fed = stats[srow, soff + L.S_FETCH] / tiles if tiles > 0 else 0.0  # mean inputs per activation
    f_energy = 1.0
    f_crit = 1.0
    if skip:  # a measured input profile, else the bit statistics of the input model
        f_energy = stats[srow, soff + L.S_F_ENERGY]
        f_crit = stats[srow, soff + L.S_F_CRIT]
        if math.isnan(f_energy) or math.isnan(f_crit):
            fe, fc = skip_fractions(pc, t_, density, point_density, rows_fed, stats[srow, soff + L.S_CRIT_ROWS])
            if math.isnan(f_energy):
                f_energy = fe
            if math.isnan(f_crit):
                f_crit = fc
    active = activations * f_energy
    if prm[t_, L.PRM_ACTIVITY] == L.ACTIVITY_FULL:  # every gate of every cycle that runs
        out[orow, L.A_CELL_MULT] = active * pc[t_, PC_CELL_MULTS]
        out[orow, L.A_TREE_ADD] = active * pc[t_, PC_TREE_ADDS]
    else:  # a bit cell's gate evaluates when its input bit is 1, an adder-tree input toggles when its product is
        measured = stats[srow, soff + L.S_BIT_ONES]  # measured on activation samples, else the input model's
        ones = (density * pc[t_, PC_BIT_ONES] if math.isnan(measured) else measured) * rows_fed / X
        out[orow, L.A_CELL_MULT] = activations * pc[t_, PC_CELL_MULTS] * ones
        out[orow, L.A_TREE_ADD] = activations * pc[t_, PC_TREE_ADDS] * ones * prm[t_, L.PRM_WEIGHT_BIT_DENSITY]
    out[orow, L.A_SHIFT_ADD] = active * pc[t_, PC_SHIFT_ADDS]

    # ----- sparsity overheads ----------------------------------------------------------------------
    beyond_first = max(0.0, stats[srow, soff + L.S_PSUM] - stats[srow, soff + L.S_OUT_NZ])  # rounding < 0
    out[orow, L.A_ACCUMULATE] = accumulations(psum_bits, vectors * beyond_first)
    out[orow, L.A_INDEX_READ] = vectors * stats[srow, soff + L.S_IDX_READ]
    out[orow, L.A_INDEX_WRITE] = copies * stats[srow, soff + L.S_IDX_STORE]
    selections = vectors * stats[srow, soff + L.S_MUX_CELLS] * t * f_energy * bpc
    out[orow, L.A_MUX_SELECT] = mux_selections(selections, stats[srow, soff + L.S_MUX_LEVELS])
    input_bits_read = vectors * stats[srow, soff + L.S_FETCH] * I
    out[orow, L.A_ZERO_DETECT] = input_bits_read if skip else 0.0
    out[orow, L.A_REGISTER_WRITE] = input_bits_read + vectors * stats[srow, soff + L.S_PSUM] * psum_bits

    # ----- what every loop order shares ------------------------------------------------------------
    n_steps = ceil_ratio(per_copy, step)  # steps of input vectors per copy
    block_in = step * vector_bits  # one step's inputs in one macro's input buffer
    block_out = step * psum_row_bits  # one step's partial sums in one macro's output buffer
    gbuf = pc[t_, PC_GBUF_BITS]
    gbuf_free = gbuf  # what the feature maps resident on chip leave of the global buffer
    if not in_dram:
        gbuf_free -= in_map
    if not out_spill:
        gbuf_free -= out_map
    cols_exp = stats[srow, soff + L.S_COL_TILES]
    fill_all = input_bits_read / layers[lrow, L.LAY_REUSE] * halo_factor(
        int(layers[lrow, L.LAY_E]), int(layers[lrow, L.LAY_STRIDE]), int(layers[lrow, L.LAY_WINDOW]), copies)
    in_bits = fill_all / cols_exp if cols_exp > 0 else 0.0  # the input one column of macros needs, once
    weight_bits = stats[srow, soff + L.S_STORED] * W + stats[srow, soff + L.S_IDX_STORE]
    out_nz = stats[srow, soff + L.S_OUT_NZ]
    partials = 0.0
    if out_nz > 0:
        partials = out_nz * ceil_float(stats[srow, soff + L.S_PSUM] / out_nz / grid_rows - 1e-9)
    obuf_bits = vectors * partials * psum_bits
    result_bits = vectors * layers[lrow, L.LAY_K] * prm[t_, L.PRM_OUTPUT_BITS]
    busy = 1
    if rounds:
        busy = max(1.0, min(float(macros), ceil_float(tiles * copies / rounds - 1e-9)))
    dram_bw = prm[t_, L.PRM_DRAM_BW]
    gbuf_bw = prm[t_, L.PRM_GBUF_BW]
    all_steps = rounds * n_steps
    compute = per_copy * t * f_crit / n_steps if n_steps else 0.0
    compulsory = 0.0  # what a perfect loop nest would move to and from DRAM
    if in_dram and cols_exp > 0:
        compulsory += input_bits_read / layers[lrow, L.LAY_REUSE] / cols_exp  # the inputs touched, once
    if not dynamic:
        compulsory += weight_bits
    if out_spill:
        compulsory += result_bits
    out[orow, L.R_DRAM_COMPULSORY] = compulsory

    # The rest depends on the loop order: the orders order0 .. order0 + n_orders - 1 go to the rows
    # orow + k * ostride, each starting from the counts above (row orow is scaled by the repeats only after
    # the last order). An order whose nest degenerates into an earlier one's copies its row.
    prev_chunk = -1.0
    for k in range(n_orders):
        r = orow + k * ostride
        order = order0 + k
        if k > 0:
            for i in range(L.N_RESULTS):
                out[r, i] = out[orow, i]

        # ----- the loop nest: what each buffer keeps between iterations --------------------------------
        rows_inside = order == L.ORDER_COLS_ROWS_VECTORS or order == L.ORDER_VECTORS_COLS_ROWS
        chunk = n_steps  # steps under the row and column loops
        if rounds == 0:  # nothing to compute: no chunks to order
            pass
        elif order == L.ORDER_VECTORS_COLS_ROWS:  # chunks whose partial sums stay in the output buffer
            chunk = min(n_steps, max(1.0, floor_ratio(out_avail, block_out)))
        elif order == L.ORDER_VECTORS_ROWS_COLS:  # chunks whose inputs stay in the input buffer
            chunk = min(n_steps, min(max(1.0, floor_ratio(in_avail, block_in)),
                                     max(1.0, floor_ratio(out_avail, col_folds * block_out))))
        chunks = ceil_ratio(n_steps, chunk) if n_steps > 0 else 0.0
        twin = -1  # an earlier order with the same nest
        if ((order == L.ORDER_ROWS_COLS_VECTORS or order == L.ORDER_VECTORS_ROWS_COLS) and k > 0 and rounds > 0
                and (row_folds == 1 or col_folds == 1) and prev_chunk == chunk):
            twin = order - 1  # a fold loop of one trip and the same chunks: the two fold loops commute
        elif order >= L.ORDER_VECTORS_COLS_ROWS and chunks <= 1 and order - 2 >= order0:
            twin = order - 2  # a single chunk: the vector loop is innermost after all
        prev_chunk = chunk
        if twin >= 0:
            for i in range(L.N_RESULTS):
                out[r, i] = out[orow + (twin - order0) * ostride, i]
            continue
        in_inside = row_folds * chunk if rows_inside else chunk  # input blocks alive between two column folds
        psum_inside = chunk if rows_inside else col_folds * chunk  # partial-sum blocks alive between two row folds
        in_kept = col_folds <= 1 or in_inside * block_in <= in_avail
        in_passes = 1.0 if in_kept else col_folds  # each column fold re-reads the inputs it did not keep
        psum_kept = row_folds <= 1 or psum_inside * block_out <= out_avail
        free = gbuf_free
        out[r, L.R_HOLD_IBUF] = in_inside * block_in if in_kept and col_folds > 1 else block_in
        out[r, L.R_HOLD_OBUF] = psum_inside * block_out if psum_kept and row_folds > 1 else block_out

        # ----- the global buffer: resident maps first, then staged inputs, spilled partial sums, weights ----
        fill = fill_all if not in_kept else in_bits * min(float(grid_cols), cols_exp)
        source_in = in_bits * in_passes  # a grid row of macros shares one fetch
        dram_in = 0.0
        gb_in_read = 0.0
        gb_in_write = 0.0
        if not in_dram:
            gb_in_read = source_in
        elif in_passes > 1.0 and in_bits * in_inside / max(1.0, row_folds * n_steps) <= free:
            staged = in_bits * in_inside / max(1.0, row_folds * n_steps)  # staged once, re-read on chip
            free -= staged
            dram_in = in_bits
            gb_in_write = in_bits
            gb_in_read = source_in
        else:
            dram_in = source_in
        spill = 0.0  # partial sums written out (and read back) between row folds
        spill_gb = False
        if not psum_kept:
            psum_all = vectors * stats[srow, soff + L.S_OUT_NZ] * psum_bits
            spill = psum_all * (row_folds - 1.0)
            held = psum_all * psum_inside / max(1.0, col_folds * n_steps)
            if held <= free:
                free -= held
                spill_gb = True
        reloads = max(0.0, chunks - 1.0)  # every chunk after the first loads every weight block again
        cached = dynamic or (reloads > 0 and weight_bits <= free)
        if cached and not dynamic and reloads > 0:
            free -= weight_bits
        out[r, L.R_HOLD_GBUF] = gbuf - free
        out[r, L.A_INPUT_BUFFER_READ] = input_bits_read
        out[r, L.A_INPUT_BUFFER_WRITE] = fill
        out[r, L.A_OUTPUT_BUFFER_WRITE] = obuf_bits + spill
        out[r, L.A_OUTPUT_BUFFER_READ] = obuf_bits + spill
        gb_read = gb_in_read
        gb_write = gb_in_write
        dram_read = dram_in
        dram_write = 0.0
        w_dram = 0.0  # weight bits read from DRAM, and from the global buffer
        w_gb = 0.0
        if dynamic:  # a dynamic operand is already on chip
            w_gb = weight_bits * chunks
        else:  # static weights come from DRAM through the global buffer; reloads from it when it keeps them
            w_dram = weight_bits * (1.0 if cached else chunks)
            w_gb = weight_bits * reloads if cached else 0.0
            gb_write += w_dram
        gb_read += w_dram + w_gb
        dram_read += w_dram
        if spill_gb:
            gb_write += spill
            gb_read += spill
        else:
            dram_write += spill
            dram_read += spill
        if out_spill:
            dram_write += result_bits
        else:
            gb_write += result_bits
        out[r, L.A_GLOBAL_BUFFER_READ] = gb_read
        out[r, L.A_GLOBAL_BUFFER_WRITE] = gb_write
        out[r, L.A_DRAM_READ] = dram_read
        out[r, L.A_DRAM_WRITE] = dram_write
        out[r, L.A_WEIGHT_WRITE] = copies * tiles * X * Y * W * chunks

        # ----- latency: weight loads, each followed by a load -> compute -> write-back pipeline ----------
        load = 0.0
        write_back = 0.0
        if all_steps:
            back = spill / gbuf_bw if spill_gb else spill / dram_bw  # spilled partial sums coming back
            load = max(max(dram_in / dram_bw, gb_in_read / gbuf_bw),
                       max(back, fill / (busy * prm[t_, L.PRM_IBUF_BW]))) / all_steps
            sink_dram = dram_write / dram_bw
            sink_gb = (gb_write - gb_in_write - w_dram) / gbuf_bw
            write_back = max(out[r, L.A_OUTPUT_BUFFER_WRITE] / (busy * prm[t_, L.PRM_OBUF_BW]),
                             max(sink_dram, sink_gb)) / all_steps
        loads = rounds * chunks
        round_cycles = pipeline_cycles(n_steps / chunks if chunks else 0.0, load, compute, write_back, double_buffer)
        weight_load = 0.0
        if loads:
            weight_load = max((w_dram / dram_bw + w_gb / gbuf_bw) / loads, pc[t_, PC_WEIGHT_WRITE])
        latency = rounds_latency(loads, weight_load, round_cycles, prm[t_, L.PRM_WEIGHT_DOUBLE_BUFFER] != 0.0)
        if rounds == 0:  # every weight block pruned: no MACs; the layer's outputs are zeros, written once
            latency = result_bits / (dram_bw if out_spill else gbuf_bw)
        out[r, L.R_LATENCY] = latency
        out[r, L.R_COMPUTE] = rounds * per_copy * t * f_crit
        out[r, L.R_ROUNDS] = loads
        out[r, L.R_DUPLICATION] = copies
        out[r, L.R_USEFUL] = vectors * stats[srow, soff + L.S_STORED]
        out[r, L.R_CAPACITY] = float(macros) * X * Y * rounds * per_copy
        out[r, L.A_LEAKAGE] = leakage_macro_cycles(macros, latency)

    for k in range(n_orders):
        r = orow + k * ostride
        if repeats != 1:
            for a in range(L.N_ACTIONS):
                out[r, a] *= repeats
            out[r, L.R_LATENCY] *= repeats
            out[r, L.R_COMPUTE] *= repeats
            out[r, L.R_USEFUL] *= repeats
            out[r, L.R_CAPACITY] *= repeats
            out[r, L.R_ROUNDS] *= repeats
            out[r, L.R_DRAM_COMPULSORY] *= repeats
        total = out[r, L.R_LATENCY] + out[r, L.R_CAPACITY]  # every count is finite iff their sum is
        for a in range(L.N_ACTIONS):
            total += out[r, a]
        if not math.isfinite(total) or total > MAX_COUNT:
            out[r, L.R_REASON] = L.REASON_OUT_OF_RANGE


@jit(inline=True)
def two_point(mean):
    """(n, p): an expected count of whole tiles as the law on n and n + 1 with that mean (P(n + 1) = p): the
    integers around it, exact when the count takes two neighbouring values (a tile more or less)."""
    m = max(0.0, mean)
    n = floor_float(m + 1e-9)
    p = m - n
    return n, (p if p > 1e-9 else 0.0)


@jit(inline=True)
def copies_made(whole_rows, whole_cols, grid_rows, grid_cols, limit):
    """Copies of a layer's ``whole_rows x whole_cols`` tiles on the grid: as many as fit side by side, at most
    ``limit`` (0: no limit; 1: no duplication)."""
    fit = duplicates(whole_rows, grid_rows) * duplicates(whole_cols, grid_cols)
    return fit if limit == 0 else min(fit, float(limit))


@jit(inline=True)
def same_copies(stats, srow, soff, grid_rows, grid_cols, limit_a, limit_b):
    """Whether two duplication limits make the same copies of a layer at every whole tile count
    :func:`priced_layer` prices it at (then their counts are equal)."""
    n_r, p_r = two_point(stats[srow, soff + L.S_ROW_TILES])
    n_c, p_c = two_point(stats[srow, soff + L.S_COL_TILES])
    for s in range(4):
        dr = s & 1
        dc = s >> 1
        if (dr and p_r == 0.0) or (dc and p_c == 0.0):
            continue
        if copies_made(n_r + dr, n_c + dc, grid_rows, grid_cols, limit_a) != copies_made(
                n_r + dr, n_c + dc, grid_rows, grid_cols, limit_b):
            return False
    return True


@jit(inline=True)
def input_skipping(prm, pc, t_, stats, srow, layers, lrow):
    """(input density, whether it is the point's, whether zero bit planes are skipped) for a layer's sparse
    pricing: the layer's own input density or the point's; ``input_skip = "auto"`` skips where inputs are
    sparse or their profile was measured."""
    density = layers[lrow, L.LAY_DENSITY]
    point_density = math.isnan(density)
    if point_density:
        density = prm[t_, L.PRM_DENSITY]
    skip_mode = prm[t_, L.PRM_SKIP]
    if skip_mode < 0:
        skip = density < 1.0 or not math.isnan(stats[srow, L.S_F_ENERGY])
    else:
        skip = skip_mode > 0
    return density, point_density, skip


@jit(inline=True)
def priced_layer(prm, pc, t_, stats, srow, layers, lrow, grid_rows, grid_cols, max_copies, step, order0, n_orders,
                 ostride, context, dense, out, orow, mix, mrow):
    """The counts of one layer into ``out[orow + k*ostride]`` (``n_orders`` loop orders from ``order0``): its
    sparse weights (:func:`input_skipping`), or its ``dense`` twin (dense weights and inputs, never skipped).

    :func:`layer_actions` prices whole tiles. Rounds, copies and folds jump at whole tiles, so a fractional
    expected tile count (random masks) is not rounded up: the layer is priced at the whole counts around it
    and the results are weighted by the two-point laws (row and column counts taken independent);
    ``mix[mrow .. mrow + n_orders - 1]`` is scratch. Every engine and the reference call only this, once
    per layer. This function is inlined by Numba (it is small); the model it calls is compiled once and
    inlined by LLVM, because Numba's inlining copies a callee's IR block by block, each block with the
    callee's every variable, which cost the engine a quarter of its compile time for the model's size."""
    if dense:
        soff = L.N_STATS
        density = 1.0
        point_density = False
        skip = False
    else:
        soff = 0
        density, point_density, skip = input_skipping(prm, pc, t_, stats, srow, layers, lrow)
    n_r, p_r = two_point(stats[srow, soff + L.S_ROW_TILES])
    n_c, p_c = two_point(stats[srow, soff + L.S_COL_TILES])
    whole = p_r == 0.0 and p_c == 0.0  # one layout: priced straight into ``out``
    if not whole and grid_rows > 0 and grid_cols > 0:  # layouts with the same folds and copies price the
        same = True  # same (layer_actions reads nothing else of the whole-tile counts): then one is priced
        rf = folds(n_r, grid_rows)
        cf = folds(n_c, grid_cols)
        cp = copies_made(n_r, n_c, grid_rows, grid_cols, max_copies)
        for s in range(1, 4):
            dr = s & 1
            dc = s >> 1
            if (dr and p_r == 0.0) or (dc and p_c == 0.0):
                continue
            if (folds(n_r + dr, grid_rows) != rf or folds(n_c + dc, grid_cols) != cf
                    or copies_made(n_r + dr, n_c + dc, grid_rows, grid_cols, max_copies) != cp):
                same = False
        if same:
            whole = True
            p_r = 0.0
            p_c = 0.0
    if not whole:
        for k in range(n_orders):
            for i in range(L.N_RESULTS):
                out[orow + k * ostride, i] = 0.0
    for s in range(4):
        dr = s & 1
        dc = s >> 1
        w = (p_r if dr else 1.0 - p_r) * (p_c if dc else 1.0 - p_c)
        if w == 0.0:
            continue
        target, trow, tstride = (out, orow, ostride) if whole else (mix, mrow, 1)
        layer_actions(prm, pc, t_, stats, srow, soff, layers, lrow, grid_rows, grid_cols, max_copies, step, order0,
                      n_orders, tstride, density, point_density, skip, context, n_r + dr, n_c + dc, target, trow)
        if whole:
            return
        for k in range(n_orders):
            r = orow + k * ostride
            m = mrow + k
            for i in range(L.N_RESULTS):
                if i == L.R_REASON:
                    if out[r, i] == L.REASON_OK:
                        out[r, i] = mix[m, i]
                elif i == L.R_OUT_SPILL:
                    out[r, i] = mix[m, i]
                elif i >= L.R_HOLD_IBUF and i <= L.R_HOLD_GBUF:
                    out[r, i] = max(out[r, i], mix[m, i])
                else:
                    out[r, i] += w * mix[m, i]


@jit
def accumulate(total, t, part, p):
    """Network totals ``total[t] += part[p]``: counts and cycles add, buffer holdings take their maximum,
    the first infeasibility is kept."""
    for a in range(L.N_ACTIONS):
        total[t, a] += part[p, a]
    for h in range(L.R_HOLD_IBUF, L.R_HOLD_GBUF + 1):
        total[t, h] = max(total[t, h], part[p, h])
    total[t, L.R_LATENCY] += part[p, L.R_LATENCY]
    total[t, L.R_COMPUTE] += part[p, L.R_COMPUTE]
    total[t, L.R_USEFUL] += part[p, L.R_USEFUL]
    total[t, L.R_CAPACITY] += part[p, L.R_CAPACITY]
    total[t, L.R_ROUNDS] += part[p, L.R_ROUNDS]
    total[t, L.R_DRAM_COMPULSORY] += part[p, L.R_DRAM_COMPULSORY]
    if total[t, L.R_REASON] == L.REASON_OK:
        total[t, L.R_REASON] = part[p, L.R_REASON]


# ----- choosing among mapping candidates -------------------------------------------------------------
@jit
def objective_of(rows, r, ae, t_, which):
    """The objective of ``rows[r]``: its energy, its latency or their product (``OBJECTIVE_*``)."""
    if which == L.OBJECTIVE_LATENCY:
        return rows[r, L.R_LATENCY]
    e = energy_pj(rows, r, ae, t_)
    if which == L.OBJECTIVE_ENERGY:
        return e
    return e * rows[r, L.R_LATENCY]


@jit(inline=True)
def takes_over(c, feasible, kept, obj, kept_obj):
    """Whether candidate ``c`` replaces the kept one (``kept`` < 0: no feasible one yet). Candidate 0 is
    kept as the fallback when no candidate is feasible; after it, a feasible candidate with a lower
    objective wins. Every backend chooses with this rule."""
    return c == 0 or (feasible and (kept < 0 or obj < kept_obj))


@jit
def choose(rows, r0, step, n_cand, ae, t_, which):
    """(kept candidate, best feasible candidate or -1) among the candidate rows ``rows[r0 + c*step]``, by
    :func:`takes_over`: the row a point (or a layer) reports, and the candidate it records."""
    best = -1
    kept = 0
    best_obj = 0.0
    for c in range(n_cand):
        r = r0 + c * step
        feasible = rows[r, L.R_REASON] == L.REASON_OK
        obj = objective_of(rows, r, ae, t_, which)
        if takes_over(c, feasible, best, obj, best_obj):
            kept = c
            if feasible:
                best = c
                best_obj = obj
    return kept, best


@jit(inline=True)
def candidate_grid(prm, t_, cands, c):
    """(grid rows, grid cols, copy limit, step vectors, loop order) of candidate ``c`` at the point ``prm[t_]``."""
    macros = int(prm[t_, L.PRM_MACROS])
    grid_rows = int(cands[c, L.CP_GRID_ROWS])
    grid_cols = int(cands[c, L.CP_GRID_COLS])
    if grid_rows == 0:  # the squarest organisation
        grid_rows = auto_grid_rows(macros)
        grid_cols = macros // grid_rows
    elif grid_rows < 0:  # the -grid_rows-th organisation of a search (0 x 0, a mismatch, past the last)
        grid_rows = kth_divisor(macros, -grid_rows)
        grid_cols = macros // grid_rows if grid_rows > 0 else 0
    return grid_rows, grid_cols, copy_limit(cands, c), int(cands[c, L.CP_STEP]), int(cands[c, L.CP_ORDER])


@jit(inline=True)
def copy_limit(cands, c):
    """Candidate ``c``'s most copies of a layer: 1 without duplication, else its ``copies`` (0: no limit)."""
    if cands[c, L.CP_DUPLICATE] == 0.0:
        return 1
    return int(cands[c, L.CP_COPIES])


@jit(inline=True)
def layer_context(li, n_layers, previous_out_spill):
    """``CTX_*`` flags of layer ``li``: the network's input and any spilled map are read from DRAM, the
    network's output is written to it."""
    ctx = 0
    if li == 0 or previous_out_spill:
        ctx |= L.CTX_IN_DRAM
    if li == n_layers - 1:
        ctx |= L.CTX_OUT_DRAM
    return ctx
