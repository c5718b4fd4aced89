"""The Numba engine on the CPU: every chunk in one kernel pass on every core (or a few, for huge statistics)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ciminus.dataset import Results, hyperslab
from ciminus.kernels import layout as L
from ciminus.lower import Lowered, sub_strides
from ciminus.sparsity.cache import StatsCache
from ciminus.threads import in_threads

BOX_STATS_LIMIT = 256 << 20  # bytes of tile statistics one kernel call may bring with it


def walk(low: Lowered, p0: int, p1: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """(first step, axis order, box start, box lengths) of the kernel's walk over points p0 .. p1-1.

    A chunk is a hyperslab of the point space (``ciminus.chunks.plan_chunks``): the kernel walks it as a
    box with the count-free axes innermost. Any other range is walked in the sweep's own order."""
    shape = tuple(int(n) for n in low.axis_len)
    if shape:
        slab = hyperslab(shape, p0, p1 - p0)
        lo = np.array([s.start for s in slab], dtype=np.int64)
        length = np.array([s.stop - s.start for s in slab], dtype=np.int64)
        inner = np.flatnonzero(length > 1)
        whole_after = inner.size == 0 or bool((length[inner[0] + 1:] == low.axis_len[inner[0] + 1:]).all())
        if (int(np.prod(length)) == p1 - p0 and int(lo @ low.axis_stride) == p0 and whole_after
                and bool((lo + length <= low.axis_len).all())):
            return 0, low.order, lo, length
    n = len(shape)
    return p0, np.arange(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.asarray(low.axis_len, dtype=np.int64)


def price_points(start: int, count: int, first: int, *tables) -> None:
    """Price points ``start .. start+count-1`` (:func:`box_args` gives the arguments, ``n_threads`` last):
    ``kernels.price.price_steps`` over steps ``0 .. count-1`` on that many threads."""
    from ciminus.kernels.price import price_steps

    *tables, n_threads = tables
    in_threads(price_steps, count, n_threads, start, first, *tables)


def kernel_args(low: Lowered, p0: int, p1: int, out: np.ndarray, out_layers: np.ndarray, n_threads: int) -> tuple:
    """The arguments of :func:`price_points` for points p0 .. p1-1, with the sweep's statistics."""
    first, order, box_lo, box_len = walk(low, p0, p1)
    return box_args(low, p0, p1 - p0, first, order, box_lo, box_len, low.stats, low.stat_stride, 0, out, out_layers,
                    n_threads)


def box_args(low: Lowered, start: int, count: int, first: int, order: np.ndarray, box_lo: np.ndarray,
             box_len: np.ndarray, stats: np.ndarray, stat_stride: np.ndarray, stat_offset: int, out: np.ndarray,
             out_layers: np.ndarray, n_threads: int) -> tuple:
    return (start, count, first, low.prm_axis, low.prm_vals, low.axis_len, low.axis_stride, stat_stride, stat_offset,
            low.n_variants, low.wl_stride, low.dense_stride, low.count_stride, order, box_lo, box_len,
            low.layer_first, low.layer_count, low.layers, stats, low.max_layers, low.cands, low.select,
            low.objective, out, out_layers, n_threads)


def stat_boxes(low: Lowered, lo: np.ndarray, length: np.ndarray, limit: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Sub-boxes of ``lo .. lo + length`` whose statistics take at most ``limit`` bytes each (halving the
    outermost statistics axis that is still longer than one)."""
    per_combo = low.stage.bytes_per_combination()
    combos = int(np.prod([length[a] for a in low.stat_axes])) if low.stat_axes else 1
    longer = [a for a in low.stat_axes if length[a] > 1]
    if combos * per_combo <= limit or not longer:
        yield lo, length
        return
    a = longer[0]
    half = int(length[a]) // 2
    for part_lo, part_len in ((lo[a], half), (lo[a] + half, length[a] - half)):
        sub_lo, sub_len = lo.copy(), length.copy()
        sub_lo[a], sub_len[a] = part_lo, part_len
        yield from stat_boxes(low, sub_lo, sub_len, limit)


class CpuEngine:
    """:func:`price_points` over the lowered arrays, one thread per core."""

    name = "cpu"

    def __init__(self, low: Lowered, n_layers: int, stats_limit: int = BOX_STATS_LIMIT) -> None:
        import numba

        self.low = low
        self.n_threads = numba.get_num_threads()
        self.n_layers = n_layers
        self.stats_limit = stats_limit
        self.cache = StatsCache()  # Monte-Carlo and real-weight statistics, across this engine's chunks

    def points(self, p0: int, p1: int) -> Results:
        lw = self.low
        return self.price_into(p0, p1, Results.empty((p1 - p0) * lw.rows_per_point, self.n_layers, lw.keep_actions))

    def price_into(self, p0: int, p1: int, res: Results) -> Results:
        """Price points p0 .. p1-1 into ``res`` (rows for those points; columns no engine writes are left as
        they are)."""
        lw = self.low
        rows = (p1 - p0) * lw.rows_per_point
        layers = res.layers if res.layers is not None else np.empty((rows, 0, L.N_LAYER))
        if lw.stats is not None:
            price_points(*kernel_args(lw, p0, p1, res.points, layers, self.n_threads))
            return res
        first, order, lo, length = walk(lw, p0, p1)
        if first:  # not a box of the grid: the statistics of the whole sweep, once
            lw.stats = lw.stage.table(cache=self.cache)
            price_points(*kernel_args(lw, p0, p1, res.points, layers, self.n_threads))
            return res
        for sub_lo, sub_len in stat_boxes(lw, lo, length, self.stats_limit):
            stats = lw.stage.table(sub_lo, sub_len, self.cache)  # only the combinations these points use
            stride, _ = sub_strides(sub_len, lw.stat_axes)  # C order over the statistics axes of the box
            offset = int(sum(int(sub_lo[a]) * int(stride[a]) for a in lw.stat_axes))
            price_points(*box_args(lw, p0, int(np.prod(sub_len)), 0, order, sub_lo, sub_len, stats, stride, offset,
                                   res.points, layers, self.n_threads))
        return res
