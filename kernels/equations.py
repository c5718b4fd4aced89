"""The cost equations of CIMinus: scalar functions, numbers in and a number out.

This module is the single home of the physics: how many times each action happens in one macro
activation, how bit-plane skipping, folding, duplication and the pipeline shape a layer's cycles.
``kernels/actions.py`` composes them into a layer's action counts; no function here multiplies an
energy (energy is always counts times the energy table, in ``kernels/actions.py``). Every equation is
written down, with its source, in ``docs/model.md``.

Units: times in cycles, sizes in bits, counts in actions.
"""

import math

import numpy as np
from numba.extending import overload

from .jit import jit
from .layout import ADDER_TREE_COMPRESSOR, ADDER_TREE_MIREDO, PROFILE_INDEPENDENT
from .tile_stats import ceil_div, log2_ceil


# ----- one macro activation (MIREDO's 28 nm digital SRAM-CIM template) ----------------------------------
@jit
def cycles_per_activation(input_bits, input_bits_per_cycle):
    """Bit-serial cycles of one macro activation: t = ceil(I / bits per cycle)."""
    return ceil_div(input_bits, input_bits_per_cycle)


@jit
def cell_mults(weight_bits, input_bits_per_cycle, rows, cols, cycles):
    """1-bit multiplications (AND gates) of one activation: W * bpc * X * Y * t."""
    return float(weight_bits) * input_bits_per_cycle * rows * cols * cycles


@jit
def adder_tree_adds(rows, cols, input_bits, weight_bits, input_bits_per_cycle, model):
    """1-bit additions (full adders) per cycle in the column adder trees: each of the ``cols`` weight columns
    sums, for each of the cycle's input bits, the ``rows`` products of ``weight_bits`` bits.

    ``ripple``: a binary tree of ripple-carry adders; level l adds pairs of (p + l - 1)-bit numbers, in all
    X*(p+1) - (p + ceil(log2 X) + 1) full adders for X inputs of p bits.
    ``compressor``: a carry-save tree of 3:2 compressors, each removing one bit of the X*p it starts from,
    down to two rows of p + ceil(log2 X) bits, then one carry-propagate adder of that width:
    X*p - (p + ceil(log2 X)) full adders.
    ``miredo`` (legacy): the published template's X*(I+1) - (I + ceil(log2 I) + 1)*Y, which reproduces
    25.619328 pJ per 32 x 16 activation but drops the per-column factor of its first term and puts the
    input width where log2 X belongs: exact only at Y = 1, shrinking per MAC as 1/Y, not positive for
    square arrays (docs/model.md §4.1).
    """
    if model == ADDER_TREE_MIREDO:
        return float(rows * (input_bits + 1) - (input_bits + log2_ceil(input_bits) + 1) * cols)
    p = weight_bits
    if model == ADDER_TREE_COMPRESSOR:
        per_col = rows * p - (p + log2_ceil(rows))
    else:
        per_col = rows * (p + 1) - (p + log2_ceil(rows) + 1)
    return float(cols * input_bits_per_cycle * max(per_col, 0))


@jit
def shift_adds(input_bits, weight_bits, rows, cols, cycles):
    """1-bit shift-and-add steps merging the bit planes of one activation: (I + W + ceil(log2 X)) * t * Y.
    Each step is an addition and a register write."""
    return float(input_bits + weight_bits + log2_ceil(rows)) * cycles * cols


# ----- input bits by position -------------------------------------------------------------------------
@jit
def laplace_clip(input_bits):
    """The clipping value, in units of the Laplace scale, that minimises the mean squared error of an
    ``input_bits``-bit uniform quantiser: the root of u = 3 * 4**M * exp(-u) (Banner, Nahshan, Soudry,
    NeurIPS 2019, "ACIQ": 2.83, 3.89, 5.03 ... 9.89 for M = 2, 3, 4 ... 8). Newton's method from ln(c)."""
    log_c = math.log(3.0) + input_bits * math.log(4.0)
    u = max(1.0, log_c)
    for _ in range(50):
        g = u - math.exp(log_c - u)
        u_next = u - g / (1.0 + math.exp(log_c - u))
        if abs(u_next - u) < 1e-12:
            return u_next
        u = u_next
    return u


@jit
def group_zero_probability(profile, input_bits, lo, width, bit_density, clip):
    """P(bits lo .. lo+width-1 of a non-zero input code are all 0).

    ``PROFILE_INDEPENDENT``: every bit is 1 with probability ``bit_density``. ``PROFILE_LAPLACE``: the value
    before quantisation is exponential (the positive half of a Laplace: a ReLU output), clipped at ``clip``
    scales and quantised to codes 0 .. Q = 2**I - 1; given a non-zero code, q = k has probability
    r**(k-1) * (1 - r) below Q and r**(Q-1) at Q, with r = exp(-clip / Q). The codes whose bits lo ..
    lo+w-1 are 0 form blocks of 2**lo codes every P = 2**(lo+w), which sums the geometric law in closed form:
    (1 - r**(2**lo - 1)) from the first block (code 0 excluded) plus
    (1 - r**(2**lo)) * r**(P-1) * (1 - r**(2**I - P)) / (1 - r**P) from the others, each 1 - r**n taken as
    -expm1(-n * step) so that neither a clip near 0 nor a huge one loses precision.
    """
    if profile == PROFILE_INDEPENDENT:
        return (1.0 - bit_density) ** width
    step = clip / (2.0 ** input_bits - 1.0)  # one code's width, in Laplace scales: r = exp(-step)
    block = 2.0 ** lo
    period = 2.0 ** (lo + width)
    first = -math.expm1(-step * (block - 1.0))
    if period >= 2.0 ** input_bits:  # the group reaches the top bit: one block only
        return first
    rest = (-math.expm1(-step * block) * math.exp(-step * (period - 1.0))
            * -math.expm1(-step * (2.0 ** input_bits - period)) / -math.expm1(-step * period))
    return min(1.0, first + rest)


@jit
def log_zero_bit(bit_probability):
    """log P(an input bit is 0), the form :func:`active_cycle_fraction` takes (-inf when every bit is 1)."""
    return math.log1p(-bit_probability) if bit_probability < 1.0 else -math.inf


@jit
def active_cycle_fraction(rows, input_bits, input_bits_per_cycle, log_zero):
    """Expected fraction of bit-serial cycles that cannot be skipped.

    A cycle (``bits per cycle`` bit planes) is skipped when every one of the ``rows`` inputs the macro
    receives has all those bits zero; each input bit is 0 with probability exp(``log_zero``),
    independently (the rule of the same lab's simulator). All cycles carry ``bits per cycle`` planes but
    the last, which carries the remainder.
    """
    if rows <= 0.0:
        return 0.0
    if log_zero == -math.inf:
        return 1.0
    full = input_bits // input_bits_per_cycle
    rest = input_bits - full * input_bits_per_cycle
    active = full * (1.0 - math.exp(rows * input_bits_per_cycle * log_zero))
    if rest > 0:
        active += 1.0 - math.exp(rows * rest * log_zero)
    return active / (full + (1 if rest > 0 else 0))


def floor_float(x):
    """``np.floor`` of a float64, as a float64 on every target: the CPU compiles NumPy's (one instruction);
    Numba's GPU target has no ``np.floor`` and registers its own (``kernels/price_cuda.py``). A plain
    function with an implementation per target, so the readable model calls it as it is."""
    return float(np.floor(x))


def ceil_float(x):
    """``np.ceil``, as :func:`floor_float` is ``np.floor``."""
    return float(np.ceil(x))


@overload(floor_float)
def _floor_cpu(x):
    return lambda x: np.floor(x)


@overload(ceil_float)
def _ceil_cpu(x):
    return lambda x: np.ceil(x)


@jit
def ceil_ratio(a, b):
    """ceil(a / b) as a float: exact for non-negative integers below 2**53 (a non-integer quotient is at
    least 1/b from an integer, more than the division's rounding error a * 2**-53 / b), and beyond that
    within float64 rounding instead of wrapping around as an int64 would. Far cheaper than an integer
    division in the sweep's inner loop."""
    return ceil_float(a / b)


@jit
def floor_ratio(a, b):
    """floor(a / b) for non-negative numbers, as a float: how many ``b`` fit in ``a``."""
    return floor_float(a / b)


# ----- sparsity overheads ----------------------------------------------------------------------------
@jit
def accumulations(psum_bits, additions):
    """1-bit accumulations of partial sums across row tiles: each addition adds and registers psum_bits bits."""
    return additions * psum_bits


@jit
def mux_selections(selections, levels):
    """IntraBlock input selection: an m:1 multiplexer is ceil(log2 m) 2:1 levels per selected bit."""
    return selections * levels


# ----- data movement ---------------------------------------------------------------------------------
@jit
def halo_factor(out_rows, stride, window, copies):
    """Extra input rows read when ``copies`` duplicated macros split a conv's output rows between them.

    Each copy needs (rows_per_copy - 1) * stride + window input rows; with one copy the factor is 1, and
    never below 1 (a window narrower than the stride leaves rows no copy reads, which the touched count
    already excludes).
    """
    if copies <= 1 or out_rows <= 1:
        return 1.0
    per_copy = ceil_ratio(out_rows, copies)
    whole = (out_rows - 1) * stride + window
    return max(1.0, min(float(copies), copies * ((per_copy - 1) * stride + window) / whole))


@jit
def pipeline_cycles(steps, load, compute, write_back, double_buffered):
    """Load -> compute -> write-back over ``steps`` equal steps.

    Double-buffered: the first load, then each step bounded by its slowest stage, then the last
    compute and write-back; otherwise every stage of every step is serialised.
    """
    if steps <= 0:
        return 0.0
    if double_buffered:
        return load + compute + write_back + (steps - 1) * max(load, max(compute, write_back))
    return steps * (load + compute + write_back)


@jit
def rounds_latency(rounds, weight_load, round_cycles, weight_double_buffered):
    """Weight-load rounds: serialised with compute, or overlapped with it on a ping-pong weight store."""
    if rounds <= 0:
        return 0.0
    if weight_double_buffered:
        return weight_load + (rounds - 1) * max(weight_load, round_cycles) + round_cycles
    return rounds * (weight_load + round_cycles)


# ----- macro organisation ----------------------------------------------------------------------------
@jit
def auto_grid_rows(macros):
    """Rows of the most nearly square grid of ``macros`` (rows >= cols)."""
    best = macros
    r = 1
    while r * r <= macros:
        if macros % r == 0:
            best = macros // r
        r += 1
    return best


@jit
def kth_divisor(macros, k):
    """The ``k``-th smallest divisor of ``macros`` (k >= 1), or 0 when it has fewer: the rows of the
    ``k``-th macro organisation a searched ``macro_grid`` tries. O(sqrt(macros)), no allocation."""
    found = 0
    i = 1
    while i * i <= macros:
        if macros % i == 0:
            found += 1
            if found == k:
                return i
        i += 1
    i -= 1
    while i >= 1:  # the divisors above sqrt(macros), ascending
        if macros % i == 0 and i * i != macros:
            found += 1
            if found == k:
                return macros // i
        i -= 1
    return 0


@jit
def whole_tiles(tiles):
    """Tiles rounded up to whole macros (expected counts are fractional), as a float."""
    return max(0.0, ceil_float(tiles - 1e-9))


@jit
def folds(whole, grid):
    """Temporal folds of ``whole`` tiles over ``grid`` macros along one axis."""
    return ceil_ratio(whole, grid) if whole > 0 else 0.0


@jit
def duplicates(whole, grid):
    """Copies of ``whole`` tiles that fit side by side along one grid axis (1 when they do not fit once)."""
    if whole <= 0 or whole > grid:
        return 1.0
    return floor_ratio(grid, whole)


@jit
def leakage_macro_cycles(macros, cycles):
    """Macro-cycles of leakage: every macro (with its share of the buffers) leaks for the whole latency."""
    return float(macros) * cycles


# ----- silicon: area and clock of one design point -----------------------------------------------------
@jit
def area_scale(node_nm, reference_node_nm):
    """A layout drawn at ``reference_node_nm`` moved to ``node_nm``: area ~ (node / reference)^2
    (constant-field scaling, Dennard et al., IEEE JSSC 9(5), 1974)."""
    ratio = node_nm / reference_node_nm
    return ratio * ratio


@jit
def delay_scale(node_nm, reference_node_nm, vdd, reference_vdd, vth, alpha):
    """A gate delay given at (reference node, reference supply) moved to (node, supply): proportional to the
    node (Dennard 1974) and to V / (V - Vth)^alpha (the alpha-power law, Sakurai and Newton, IEEE JSSC
    25(2), 1990). Infinite when a supply does not exceed the threshold (the logic does not switch)."""
    if vdd <= vth or reference_vdd <= vth:
        return math.inf
    at = vdd / (vdd - vth) ** alpha
    ref = reference_vdd / (reference_vdd - vth) ** alpha
    return node_nm / reference_node_nm * at / ref


@jit
def tree_levels_3to2(inputs):
    """Levels of 3:2 compressors that reduce ``inputs`` rows to two (Dadda's sequence 2, 3, 4, 6, 9, ...,
    d' = floor(3 d / 2)): each level costs one full-adder delay."""
    levels = 0
    d = 2
    while d < inputs:
        d = (3 * d) // 2
        levels += 1
    return levels


@jit
def adder_tree_delay(rows, bits, model, t_sum, t_carry):
    """Critical path of one column adder tree summing ``rows`` numbers of ``bits`` bits (the units of
    ``t_sum``, a full adder's input-to-sum delay, and ``t_carry``, its carry-in-to-carry-out delay).

    ``ripple``: level l adds two (bits + l - 1)-bit numbers with a ripple-carry adder. Bit i of level l
    waits for bit i of level l - 1 (a sum) and for bit i - 1 of level l (a carry), so the slowest output,
    the carry out of level D = ceil(log2 rows) at bit bits + D - 2, ends a path of D - 1 sums and
    bits + D - 1 carries.
    ``compressor``: the 3:2 levels (:func:`tree_levels_3to2`, a sum each) and a ripple-carry adder over the
    final bits + D - 1 positions. The legacy ``miredo`` count is an energy count, not a netlist: its tree
    is timed as the ripple tree it stands for. One row needs no adder (0).
    """
    depth = log2_ceil(rows)
    if depth == 0:
        return 0.0
    if model == ADDER_TREE_COMPRESSOR:
        return tree_levels_3to2(rows) * t_sum + (bits + depth - 1) * t_carry
    return (depth - 1) * t_sum + (bits + depth - 1) * t_carry
