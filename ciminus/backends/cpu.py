"""The Numba engine on the CPU: every chunk in one parallel kernel call."""

from __future__ import annotations

import numpy as np

from ciminus.dataset import Results, hyperslab
from ciminus.kernels import layout as L
from ciminus.lower import Lowered


def walk(low: Lowered, p0: int, p1: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """(first step, axis order, box start, box lengths) of the kernel's walk over points p0 .. p1-1.

    A chunk is a hyperslab of the point space (``ciminus.chunks.plan_chunks``): the kernel walks it as a
    box with the count-free axes innermost. Any other range is walked in the sweep's own order."""
    shape = tuple(int(n) for n in low.axis_len)
    if shape:
        slab = hyperslab(shape, p0, p1 - p0)
        lo = np.array([s.start for s in slab], dtype=np.int64)
        length = np.array([s.stop - s.start for s in slab], dtype=np.int64)
        if int(np.prod(length)) == p1 - p0 and int(lo @ low.axis_stride) == p0:
            return 0, low.order, lo, length
    n = len(shape)
    return p0, np.arange(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.asarray(low.axis_len, dtype=np.int64)


def kernel_args(low: Lowered, p0: int, p1: int, out: np.ndarray, out_layers: np.ndarray, n_threads: int) -> tuple:
    """The arguments of ``kernels.price.price_points`` for points p0 .. p1-1."""
    first, order, box_lo, box_len = walk(low, p0, p1)
    return (p0, p1 - p0, first, low.prm_axis, low.prm_vals, low.axis_len, low.axis_stride, low.stat_stride, low.n_variants,
            low.wl_stride, low.dense_stride, low.count_stride, order, box_lo, box_len, low.layer_first,
            low.layer_count, low.layers, low.stats, low.max_layers, low.cands, low.select, low.objective, out,
            out_layers, n_threads)


class CpuEngine:
    """``kernels.price.price_points`` over the lowered arrays, one thread per core."""

    name = "cpu"

    def __init__(self, low: Lowered, n_layers: int) -> None:
        import numba

        self.low = low
        self.n_threads = numba.get_num_threads()
        self.n_layers = n_layers

    def points(self, p0: int, p1: int) -> Results:
        from ciminus.kernels.price import price_points

        lw = self.low
        rows = (p1 - p0) * lw.rows_per_point
        res = Results.empty(rows, self.n_layers, lw.keep_actions)
        layers = res.layers if res.layers is not None else np.empty((rows, 0, L.N_LAYER))
        price_points(*kernel_args(lw, p0, p1, res.points, layers, self.n_threads))
        return res
