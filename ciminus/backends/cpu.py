"""The Numba engine on the CPU: every chunk in one parallel kernel call."""

from __future__ import annotations

import numpy as np

from ciminus.dataset import Results
from ciminus.kernels import layout as L
from ciminus.lower import Lowered


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
        price_points(p0, p1 - p0, lw.prm_axis, lw.prm_vals, lw.axis_len, lw.axis_stride, lw.stat_stride,
                     lw.n_variants, lw.wl_stride, lw.dense_stride, lw.layer_first, lw.layer_count, lw.layers,
                     lw.stats, lw.max_layers, lw.cands, lw.select, lw.objective, res.points, layers, self.n_threads)
        return res
