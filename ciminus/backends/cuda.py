"""The engine on an NVIDIA GPU: the tables are copied once, each chunk is one kernel launch."""

from __future__ import annotations

import numpy as np

from ciminus.backends import BackendUnavailable
from ciminus.dataset import Results
from ciminus.kernels import layout as L
from ciminus.lower import Lowered


def load_cuda():  # the numba.cuda module
    """numba.cuda with a working GPU (or its simulator under NUMBA_ENABLE_CUDASIM=1), else BackendUnavailable."""
    try:
        from numba import cuda
    except Exception as exc:  # any import failure means the same to the user
        raise BackendUnavailable(
            f"--backend cuda needs numba-cuda ({type(exc).__name__}: {exc}); install it with "
            "pip install 'ciminus[cuda]' (numba-cuda with numpy < 2.5)") from exc
    try:
        available = cuda.is_available()
    except Exception as exc:  # a driver that fails to initialise
        raise BackendUnavailable(f"--backend cuda: the CUDA driver failed ({exc})") from exc
    if not available:
        raise BackendUnavailable("--backend cuda: no CUDA GPU found on this machine; use --backend cpu")
    return cuda


def available() -> None:
    """BackendUnavailable unless numba-cuda imports and finds a GPU (or its simulator)."""
    load_cuda()


def kernel_tables(low: Lowered, put=lambda a: a) -> tuple[list, list, object]:
    """The sweep's tables ``price_points_cuda`` reads, in its argument order, each passed through ``put``
    (``cuda.to_device`` for a launch; the host arrays themselves to compile for their types)."""
    return ([put(a) for a in (low.prm_axis, low.prm_vals, low.axis_len, low.axis_stride, low.stat_stride)],
            [put(a) for a in (low.wl_stride, low.layer_first, low.layer_count, low.layers, low.stats)], put(low.cands))


def kernel_args(low: Lowered, p0: int, count: int, tables: tuple[list, list, object], out_points,
                out_layers) -> tuple:
    """The arguments of ``price_points_cuda`` for points ``p0 .. p0+count-1`` (``tables`` from
    :func:`kernel_tables`)."""
    head, more, cands = tables
    return (p0, count, *head, low.n_variants, *more, low.max_layers, cands, low.select, low.objective, out_points,
            out_layers)


class CudaEngine:
    """``kernels.price_cuda.price_points_cuda``: one design point per GPU thread."""

    name = "cuda"
    THREADS = 128

    def __init__(self, low: Lowered, n_layers: int) -> None:
        self.cuda = load_cuda()
        from ciminus.kernels.price_cuda import MAX_AXES, price_points_cuda

        self.kernel = price_points_cuda
        self.low = low
        if len(self.low.axis_len) > MAX_AXES:
            raise BackendUnavailable(f"--backend cuda takes at most {MAX_AXES} swept keys")
        self.n_layers = n_layers
        if low.stats is None:  # the GPU prices from one table of the whole sweep's statistics
            from ciminus.lower import STATS_MEMORY_LIMIT

            combos = int(np.prod([low.axis_len[a] for a in low.stat_axes])) if low.stat_axes else 1
            need = combos * low.stage.bytes_per_combination()
            if need > STATS_MEMORY_LIMIT:
                raise BackendUnavailable(f"--backend cuda prices from one table of tile statistics, and this sweep's "
                                         f"would take {need / 2**30:.1f} GiB; use --backend cpu (it works chunk by "
                                         "chunk)")
            low.stats = low.stage.table()
        self.tables = kernel_tables(low, self.cuda.to_device)

    def points(self, p0: int, p1: int) -> Results:
        lw = self.low
        count = p1 - p0
        rows = count * lw.rows_per_point
        res = Results.empty(rows, self.n_layers, lw.keep_actions)
        out_points = self.cuda.to_device(res.points)
        host_layers = res.layers if res.layers is not None else np.empty((rows, 0, L.N_LAYER))
        out_layers = self.cuda.to_device(host_layers)
        blocks = max(1, min(-(-count // self.THREADS), 1 << 16))
        self.kernel[blocks, self.THREADS](*kernel_args(lw, p0, count, self.tables, out_points, out_layers))
        out_points.copy_to_host(res.points)
        if res.layers is not None:
            out_layers.copy_to_host(res.layers)
        return res
