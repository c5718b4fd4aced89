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

from .jit import jit
from .layout import ADDER_TREE_MIREDO
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
    """1-bit additions per cycle in the column adder trees.

    ``miredo``: the published count X*(I+1) - (I + ceil(log2 I) + 1)*Y (MIREDO's 28 nm template), which
    reproduces 25.619328 pJ per 32 x 16 activation; it is not positive for very wide, short arrays.
    ``full``: a ripple adder tree per column summing X products of W bits, X*(W+1) - (W + ceil(log2 X) + 1)
    1-bit adds per column, per input bit of the cycle.
    """
    if model == ADDER_TREE_MIREDO:
        return float(rows * (input_bits + 1) - (input_bits + log2_ceil(input_bits) + 1) * cols)
    per_col = rows * (weight_bits + 1) - (weight_bits + log2_ceil(rows) + 1)
    return float(cols * input_bits_per_cycle * per_col)


@jit
def shift_adds(input_bits, weight_bits, rows, cols, cycles):
    """1-bit shift-and-add steps merging the bit planes of one activation: (I + W + ceil(log2 X)) * t * Y.
    Each step is an addition and a register write."""
    return float(input_bits + weight_bits + log2_ceil(rows)) * cycles * cols


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


@jit
def ceil_ratio(a, b):
    """ceil(a / b) as a float: exact for non-negative integers below 2**53 (a non-integer quotient is at
    least 1/b from an integer, more than the division's rounding error a * 2**-53 / b), and beyond that
    within float64 rounding instead of wrapping around as an int64 would. Far cheaper than an integer
    division in the sweep's inner loop."""
    return np.ceil(a / b)


@jit
def floor_ratio(a, b):
    """floor(a / b) for non-negative numbers, as a float: how many ``b`` fit in ``a``."""
    return np.floor(a / b)


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
        return load + compute + write_back + (steps - 1) * max(load, compute, write_back)
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
    return max(0.0, np.ceil(tiles - 1e-9))


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
