"""Stage 1 at engine speed: the tile statistics of every (statistics combination x mapping variant x layer)
of a sweep, encoded once as a flat job table and priced by one compiled kernel on every core.

The keys that change tile statistics are encoded per value of their axis (never per item), broadcast
over the combinations with array operations, de-duplicated (many combinations share a layer's
statistics: every ratio of a dense pattern, say), and handed to ``kernels.tile_stats.stats_rows`` on every
core, which calls the very functions the reference model calls one by one (``flexblock``,
``expected_tile_stats``, ``dense_tile_stats``). Combinations whose statistics come from Monte-Carlo masks,
real weights or measured activations keep the readable per-layer path
(:class:`ciminus.sparsity.cache.StatsCache`): their cost is in the masks, not in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ciminus.kernels import layout as L
from ciminus.kernels.tile_stats import move_rows, row_hashes, rows_differ, stats_rows
from ciminus.resolve import Resolver
from ciminus.sparsity.cache import StatsCache
from ciminus.sparsity.flexblock import (
    COMPRESS_CODES,
    FLATTEN_CODES,
    PATTERN_CODES,
    STAGE_ORDER_CODES,
    channel_run,
    size_code,
)
from ciminus.sparsity.masks import mask_columns
from ciminus.sparsity.stats import INDEX_CODES, REARRANGE_CODES
from ciminus.specs.mapping import FLATTEN_ORDERS, MappingSpec, tile_shape_of
from ciminus.specs.sweep import Axis
from ciminus.threads import on_every_core
from ciminus.workloads.layers import Layer


def _layer_table(layer_lists: Sequence[Sequence[Layer]], max_layers: int) -> dict[str, np.ndarray]:
    """Per workload and layer slot: the shape columns the kernel reads (zeros beyond a network's layers)."""
    n = len(layer_lists)
    cols = {k: np.zeros((n, max_layers)) for k in ("rows", "cols", "groups", "kernel", "dynamic")}
    run = np.zeros((n, len(FLATTEN_ORDERS), max_layers))
    for w, layers in enumerate(layer_lists):
        for li, layer in enumerate(layers):
            cols["rows"][w, li] = layer.rows
            cols["cols"][w, li] = layer.cols
            cols["groups"][w, li] = layer.groups
            cols["kernel"][w, li] = layer.R * layer.S
            cols["dynamic"][w, li] = float(layer.dynamic)
            for order, f in FLATTEN_CODES.items():
                run[w, f, li] = channel_run(layer, order)
    cols["run"] = run
    return cols


def canonical(jobs: np.ndarray) -> None:
    """Zero, in place, the job columns a row's pattern does not read, so that equal statistics have equal
    jobs (every ratio of the dense pattern is one job) and de-duplication finds them."""
    p = jobs[:, L.JOB_PATTERN]
    dynamic = jobs[:, L.JOB_DYNAMIC] != 0.0
    p[dynamic] = L.PATTERN_DENSE  # a run-time operand is priced dense whatever the pattern
    dense = p == L.PATTERN_DENSE
    intra = np.isin(p, (L.PATTERN_NM, L.PATTERN_HYBRID, L.PATTERN_FLEXBLOCK))
    # n = m keeps the whole segment (no IntraBlock stage); n > m cannot be built and keeps its columns so
    # that stage 1 can say so (kernels.tile_stats.sparsity_reason)
    ib_off = ~intra | ((p != L.PATTERN_NM) & (jobs[:, L.JOB_NM_N] == jobs[:, L.JOB_NM_M]))
    # the stage order matters only where both stages are (an IntraBlock stage of hybrid or flexblock); a
    # mask set only with an IntraBlock pattern (whose mask columns sparsity_reason checks)
    both = np.isin(p, (L.PATTERN_HYBRID, L.PATTERN_FLEXBLOCK)) & ~ib_off
    reads_rows = np.isin(p, (L.PATTERN_COLUMN_BLOCK, L.PATTERN_FLEXBLOCK))
    reads_cols = np.isin(p, (L.PATTERN_ROW_BLOCK, L.PATTERN_HYBRID, L.PATTERN_FLEXBLOCK))
    alone = dense & (jobs[:, L.JOB_FIRST] != L.FIRST_BLOCKS)  # no FullBlock stage (first blocks are one)
    for column, unused in (
        (L.JOB_RATIO, dense),
        (L.JOB_COMPRESS, alone),
        (L.JOB_REARRANGE, alone),
        # a first stage that keeps nothing leaves an index of the whole pruned matrix, in this format
        (L.JOB_INDEX_FORMAT, dense & (jobs[:, L.JOB_FIRST] == L.FIRST_NONE)),
        (L.JOB_NM_N, ib_off | (p == L.PATTERN_NM)),
        (L.JOB_NM_M, ib_off),
        (L.JOB_BLOCK_ROWS, ~reads_rows),
        (L.JOB_BLOCK_COLS, ~reads_cols),
        (L.JOB_CHANNEL_RUN, (p != L.PATTERN_CHANNEL_WISE) & (jobs[:, L.JOB_FIRST] != L.FIRST_CHANNELS)),
        (L.JOB_FIRST_RATIO, jobs[:, L.JOB_FIRST] == L.FIRST_NONE),
        (L.JOB_FIRST_BLOCK_ROWS, jobs[:, L.JOB_FIRST] != L.FIRST_BLOCKS),
        (L.JOB_FIRST_BLOCK_COLS, jobs[:, L.JOB_FIRST] != L.FIRST_BLOCKS),
        (L.JOB_FIRST, dynamic),
        (L.JOB_STAGE_ORDER, ~both),
        (L.JOB_IB_MASKS, ~intra),
        (L.JOB_IB_FANIN, ~intra),
        (L.JOB_IB_USED, ~intra),
        (L.JOB_IB_LEN, ~intra),
        (L.JOB_IB_ONES, ~intra),
        (L.JOB_IB_COLS, ib_off),
    ):
        jobs[unused, column] = 0.0


def distinct_rows(jobs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct rows, index of each row's distinct row): by a 64-bit row hash, checked row by row (a
    collision falls back to sorting the rows)."""
    bits = np.ascontiguousarray(jobs).view(np.uint64)
    hashes = np.empty(len(jobs), dtype=np.int64)
    on_every_core(row_hashes, len(jobs), bits, hashes)
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    differ = np.empty(len(jobs), dtype=np.uint8)
    on_every_core(rows_differ, len(jobs), bits, first, inverse, differ)
    if not differ.any():
        return jobs[first], inverse
    unique, inverse = np.unique(jobs, axis=0, return_inverse=True)
    return unique, inverse.reshape(-1)


def stage_one(resolver: Resolver, point_axes: tuple[Axis, ...], stat_axes: list[int], wl_stride: np.ndarray,
              layer_lists: Sequence[Sequence[Layer]], max_layers: int, variant_specs: Sequence[MappingSpec],
              cache: StatsCache, specs_at: Callable[[list[int]], Any], lo: np.ndarray | None = None,
              length: np.ndarray | None = None) -> np.ndarray:
    """Statistics rows ``(combination * n_variants + variant) * max_layers + layer``: sparse | dense.

    The combinations are those of the statistics axes, in C order, over the whole sweep or, given
    ``lo`` and ``length`` (over the point axes), over that box of it only."""
    sweep = resolver.sweep
    lengths = [int(length[a]) if length is not None else len(point_axes[a].values) for a in stat_axes]
    n_combos = int(np.prod(lengths, dtype=np.int64)) if lengths else 1
    n_var = len(variant_specs)
    combo_idx = np.indices(lengths).reshape(len(lengths), -1) if lengths else np.zeros((0, 1), dtype=np.int64)
    if lo is not None and lengths:
        combo_idx = combo_idx + np.array([int(lo[a]) for a in stat_axes], dtype=np.int64)[:, None]
    position = {id(a): i for i, a in enumerate(point_axes)}

    def column(table: str, key: str, encode: Callable[[Any], float] = float) -> np.ndarray:
        """A key's encoded value at every combination."""
        s = resolver[(table, key)]
        codes = np.array([encode(v) for v in s.values], dtype=np.float64)
        if s.axis is None:
            return np.full(n_combos, codes[0])
        return codes[combo_idx[stat_axes.index(position[id(sweep.axes[s.axis])])]]

    def flag(table: str, key: str, test: Callable[[Any], bool]) -> np.ndarray:
        return column(table, key, lambda v: float(test(v))) != 0.0

    wl = np.zeros(n_combos, dtype=np.int64)
    for k, a in enumerate(stat_axes):
        wl += combo_idx[k] * wl_stride[a]
    lay = _layer_table(layer_lists, max_layers)

    jobs = np.zeros((n_combos, n_var, max_layers, L.N_JOB))
    for j, name in ((L.JOB_ROWS, "rows"), (L.JOB_COLS, "cols"), (L.JOB_GROUPS, "groups"), (L.JOB_KERNEL, "kernel"),
                    (L.JOB_DYNAMIC, "dynamic")):
        jobs[..., j] = lay[name][wl][:, None, :]
    flatten = np.array([FLATTEN_CODES[m.flatten] for m in variant_specs])
    jobs[..., L.JOB_CHANNEL_RUN] = lay["run"][wl[:, None, None], flatten[None, :, None],
                                              np.arange(max_layers)[None, None, :]]
    per_combo = {
        L.JOB_ARRAY_ROWS: column("arch", "array_rows"),
        L.JOB_ARRAY_COLS: column("arch", "array_cols"),
        L.JOB_SUB_ROWS: column("arch", "subarray_rows"),
        L.JOB_SUB_COLS: column("arch", "subarray_cols"),
        L.JOB_PATTERN: column("sparsity", "pattern", PATTERN_CODES.__getitem__),
        L.JOB_RATIO: column("sparsity", "ratio"),
        L.JOB_BLOCK_ROWS: column("sparsity", "block_rows", size_code),
        L.JOB_BLOCK_COLS: column("sparsity", "block_cols", size_code),
        L.JOB_NM_N: column("sparsity", "nm_n"),
        L.JOB_NM_M: column("sparsity", "nm_m"),
        L.JOB_STAGE_ORDER: column("sparsity", "order", STAGE_ORDER_CODES.__getitem__),
        L.JOB_FIRST: column("sparsity", "first", L.FIRST_STAGES.index),
        L.JOB_FIRST_RATIO: column("sparsity", "first_ratio"),
        L.JOB_IB_COLS: column("sparsity", "intrablock_cols"),
        L.JOB_FIRST_BLOCK_ROWS: column("sparsity", "first_block_rows", size_code),
        L.JOB_FIRST_BLOCK_COLS: column("sparsity", "first_block_cols", size_code),
    }
    for k, j in enumerate((L.JOB_IB_MASKS, L.JOB_IB_FANIN, L.JOB_IB_USED, L.JOB_IB_LEN, L.JOB_IB_ONES)):
        per_combo[j] = column("sparsity", "intrablock_masks", lambda v, k=k: float(mask_columns(v)[k]))
    for j, values in per_combo.items():
        jobs[..., j] = values[:, None, None]
    per_variant = {
        L.JOB_COMPRESS: [COMPRESS_CODES[m.compress] for m in variant_specs],
        L.JOB_REARRANGE: [REARRANGE_CODES[m.rearrange] for m in variant_specs],
        L.JOB_INDEX_FORMAT: [INDEX_CODES[m.index_format] for m in variant_specs],
    }
    for j, values in per_variant.items():
        jobs[..., j] = np.asarray(values, dtype=np.float64)[None, :, None]
    # a mapping's tiling size: a macro holds a smaller sub-matrix than its array (the one rule,
    # ciminus.specs.mapping.tile_shape_of, applied once per distinct geometry of the combinations)
    if any(m.tile_rows or m.tile_cols for m in variant_specs):
        geometry, where = np.unique(jobs[:, 0, 0, [L.JOB_ARRAY_ROWS, L.JOB_ARRAY_COLS, L.JOB_SUB_ROWS]], axis=0,
                                    return_inverse=True)
        for v, m in enumerate(variant_specs):
            shapes = np.array([tile_shape_of(m.tile_rows, m.tile_cols, int(x), int(y), int(s)) for x, y, s in geometry],
                              dtype=np.float64)
            jobs[:, v, :, L.JOB_ARRAY_ROWS] = shapes[where.reshape(-1), 0][:, None]
            jobs[:, v, :, L.JOB_ARRAY_COLS] = shapes[where.reshape(-1), 1][:, None]

    # Combinations priced per layer in Python: Monte-Carlo masks, real weights, measured activations.
    slow = (flag("sparsity", "stats", lambda v: v != "expected") | flag("sparsity", "source", lambda v: v != "random")
            | flag("sparsity", "activations", lambda v: v is not None))
    n_layers = np.array([len(ls) for ls in layer_lists], dtype=np.int64)
    valid = np.arange(max_layers)[None, None, :] < n_layers[wl][:, None, None]
    valid = valid & ~slow[:, None, None]

    stats = np.zeros((n_combos * n_var * max_layers, 2 * L.N_STATS))
    rows = np.flatnonzero(np.broadcast_to(valid, (n_combos, n_var, max_layers)).reshape(-1))
    if len(rows):
        todo = np.empty((len(rows), L.N_JOB))
        on_every_core(move_rows, len(rows), jobs.reshape(-1, L.N_JOB), rows, todo, np.arange(len(rows)))
        canonical(todo)
        unique, inverse = distinct_rows(todo)
        out = np.empty((len(unique), 2 * L.N_STATS))
        on_every_core(stats_rows, len(unique), unique, out)
        on_every_core(move_rows, len(rows), out, inverse, stats, rows)

    for combo in np.flatnonzero(slow):
        specs = specs_at([int(combo_idx[k, combo]) for k in range(len(stat_axes))])
        for v, mspec in enumerate(variant_specs):
            row0 = (combo * n_var + v) * max_layers
            for li, layer in enumerate(specs.layers):
                stats[row0 + li, : L.N_STATS] = cache.sparse(layer, specs.sparsity, specs.arch, mspec,
                                                              specs.workload.onnx)
                stats[row0 + li, L.N_STATS:] = cache.dense(layer, specs.arch, mspec)
    return stats


@dataclass
class StageOne:
    """What stage 1 needs to compute the statistics of any box of a sweep later, and elsewhere: a chunk of
    this process, or a Dask worker, computes only the combinations its points use."""

    resolver: Resolver
    point_axes: tuple[Axis, ...]
    stat_axes: list[int]
    wl_stride: np.ndarray
    layer_lists: list
    max_layers: int
    variant_specs: list

    def bytes_per_combination(self) -> int:
        """Bytes of statistics one combination of the statistics keys takes (sparse and dense rows)."""
        return len(self.variant_specs) * self.max_layers * 2 * L.N_STATS * 8

    def table(self, lo: np.ndarray | None = None, length: np.ndarray | None = None,
              cache: StatsCache | None = None) -> np.ndarray:
        """The statistics of the whole sweep, or of the box ``lo .. lo + length``."""
        base = [0] * len(self.resolver.sweep.axes)

        def specs_at(stat_index: list[int]):
            idx = list(base)
            for a, k in zip(self.stat_axes, stat_index, strict=True):
                idx[a] = k
            return self.resolver.specs_at(tuple(idx))

        return stage_one(self.resolver, self.point_axes, self.stat_axes, self.wl_stride, self.layer_lists,
                         self.max_layers, self.variant_specs, cache or StatsCache(), specs_at, lo, length)
