"""Result rows turned into the dataset's columns in one pass on every core.

A sweep's output rows hold a point's results side by side (``layout.P_*``); the dataset stores each
variable as its own array, NaN where the point is infeasible. Done with NumPy this is a dozen strided
passes over every row, on one core, each into a fresh array: on a 10^6-point sweep it took longer than
pricing the points. Here each row is read once, by every core, and written into arrays allocated once.
"""

import math

from . import layout as L
from .jit import jit, threaded

# Rows of ``point_columns``'s ``derived`` output: what the dataset computes from a row's columns.
D_ENERGY = 0  # the breakdown's sum, pJ
D_SPEEDUP = 1  # dense latency / latency
D_SAVING = 2  # dense energy / energy
D_UTILIZATION = 3  # useful / capacity (0 without capacity)
N_DERIVED = 4


@jit(inline=True)
def _ratio(a, b):
    """``a / b`` as NumPy divides floats: a zero divisor gives ±inf, or NaN for 0/0 and NaN/0."""
    if b != 0.0:
        return a / b
    if a == 0.0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


@threaded
def point_columns(lo, hi, pts, ok, cols, breakdown, gathered, derived):
    """For rows ``i`` in ``lo .. hi-1`` (NaN everywhere where ``ok[i]`` is 0): ``breakdown[i]`` = the energy
    components, ``gathered[j, i]`` = ``pts[i, cols[j]]``, and the ``derived[D_*, i]`` quantities."""
    n_comp = breakdown.shape[1]
    for i in range(lo, hi):
        if not ok[i]:
            for k in range(n_comp):
                breakdown[i, k] = math.nan
            for j in range(cols.shape[0]):
                gathered[j, i] = math.nan
            for d in range(N_DERIVED):
                derived[d, i] = math.nan
            continue
        energy = 0.0
        for k in range(n_comp):
            v = pts[i, k]
            breakdown[i, k] = v
            energy += v
        for j in range(cols.shape[0]):
            gathered[j, i] = pts[i, cols[j]]
        capacity = pts[i, L.P_CAPACITY]
        derived[D_ENERGY, i] = energy
        derived[D_SPEEDUP, i] = _ratio(pts[i, L.P_DENSE_LATENCY], pts[i, L.P_LATENCY])
        derived[D_SAVING, i] = _ratio(pts[i, L.P_DENSE_ENERGY], energy)
        derived[D_UTILIZATION, i] = _ratio(pts[i, L.P_USEFUL], capacity) if capacity > 0 else 0.0


@threaded
def masked_block(r0, r1, src, lo, hi, ok, out):
    """``out[i, k - lo]`` = ``src[i, k]`` for rows ``r0 <= i < r1`` and ``lo <= k < hi`` where ``ok[i]``,
    else NaN."""
    width = hi - lo
    for i in range(r0, r1):
        if ok[i]:
            for k in range(width):
                out[i, k] = src[i, lo + k]
        else:
            for k in range(width):
                out[i, k] = math.nan


@threaded
def masked_field(lo, hi, src, field, ok, out):
    """``out[i, l]`` = ``src[i, l, field]`` for rows ``lo .. hi-1`` where ``ok[i]``, else NaN: one per-layer
    field of every row."""
    for i in range(lo, hi):
        for li in range(src.shape[1]):
            out[i, li] = src[i, li, field] if ok[i] else math.nan
