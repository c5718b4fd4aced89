"""Lower a sweep to the flat arrays the kernels read (``kernels.layout``).

Per point, every stage-2 parameter is found by decoding the point's flat index: ``prm_axis[p]`` names the
axis it varies along (-1 when fixed) and ``prm_vals[p, k]`` its value at index k of that axis. Tile
statistics are computed once per combination of the keys that change them ("stats axes"), per
statistics variant of the mapping candidates and per layer, with the same functions the reference
model uses.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ciminus.kernels import layout as L
from ciminus.mapping.candidates import candidate_specs, stats_variant
from ciminus.resolve import LOOP_ORDER_CODES, OBJECTIVES, SELECTS, Resolver
from ciminus.sparsity.cache import StatsCache
from ciminus.sparsity.table import StageOne
from ciminus.specs.fields import STATS, spec_fields
from ciminus.specs.sweep import SAMPLE_TABLE, SPEC_CLASSES, Axis, Sweep
from ciminus.workloads.layers import Layer

# Keys that decide which layers a point has (and so its tile statistics).
WORKLOAD_KEYS = ("network", "dataset", "onnx", "tokens")
STATS_MEMORY_LIMIT = 2 << 30  # bytes of tile statistics one table may take (the whole sweep's, on a GPU)
STATS_EAGER_LIMIT = 256 << 20  # beyond this the statistics are computed chunk by chunk


@dataclass
class Lowered:
    """Everything ``kernels.price.price_steps`` reads, plus the shapes to interpret its output."""

    point_axes: tuple[Axis, ...]
    cand_axes: tuple[Axis, ...]
    axis_len: np.ndarray
    axis_stride: np.ndarray
    prm_axis: np.ndarray
    prm_vals: np.ndarray
    stat_stride: np.ndarray
    n_variants: int
    wl_stride: np.ndarray
    dense_stride: np.ndarray
    count_stride: np.ndarray  # every axis along which some action count may change
    order: np.ndarray  # axes in the engine's walk, the last fastest: count-free axes (energies) innermost
    layer_first: np.ndarray
    layer_count: np.ndarray
    layers: np.ndarray
    stats: np.ndarray | None  # None: computed per chunk by ``stage`` (a large table, or a Dask worker's own)
    max_layers: int
    cands: np.ndarray
    select: int
    objective: int
    keep_layers: int
    keep_actions: bool
    stage: StageOne
    stat_axes: list[int]

    @property
    def n_points(self) -> int:
        return int(np.prod(self.axis_len)) if len(self.axis_len) else 1

    @property
    def rows_per_point(self) -> int:
        """Output rows per point: one per candidate when every candidate is kept, else one."""
        return self.cands.shape[0] if self.select == L.SELECT_ALL else 1


def split_axes(sweep: Sweep) -> tuple[tuple[Axis, ...], tuple[Axis, ...]]:
    """(point axes, candidate axes): with ``select = "all"`` the mapping axes (always last) are candidates."""
    if sweep.select == "all":
        point = tuple(a for a in sweep.axes if a.table != "mapping")
        cand = tuple(a for a in sweep.axes if a.table == "mapping")
        assert sweep.axes[len(point):] == cand, "mapping axes come last"
        return point, cand
    return sweep.axes, sweep.candidate_axes


def _strides(lengths: list[int]) -> np.ndarray:
    out = np.ones(len(lengths), dtype=np.int64)
    for i in range(len(lengths) - 2, -1, -1):
        out[i] = out[i + 1] * lengths[i + 1]
    return out


def sub_strides(lengths: Sequence[int], chosen: Sequence[int]) -> tuple[np.ndarray, int]:
    """Mixed-radix strides over the chosen axes only (0 for the others) and the number of combinations."""
    strides = np.zeros(len(lengths), dtype=np.int64)
    size = 1
    for a in reversed(chosen):
        strides[a] = size
        size *= int(lengths[a])
    return strides, size


def _is_stats_key(table: str, key: str) -> bool:
    if table == "arch" and key == "template":
        return True
    if table == "workload":
        return key in WORKLOAD_KEYS
    fields = spec_fields(SPEC_CLASSES[table])
    return key in fields and fields[key].stage == STATS


def _is_stats_axis(axis: Axis, sweep: Sweep) -> bool:
    if axis.table == SAMPLE_TABLE:
        return any(_is_stats_key(t, k) for t, k in sweep.sampled)
    return _is_stats_key(axis.table, axis.key)


def _is_workload_axis(axis: Axis, sweep: Sweep) -> bool:
    if axis.table == SAMPLE_TABLE:
        return any(t == "workload" and k in WORKLOAD_KEYS for t, k in sweep.sampled)
    return axis.table == "workload" and axis.key in WORKLOAD_KEYS


def changes_counts(axis: int, prm_axis: np.ndarray, stat_axes: list[int], wl_axes: list[int]) -> bool:
    """Whether the action counts of a point may change along ``axis``: it shapes tiles or the workload,
    or some kernel parameter other than an energy varies along it. Along the others (energies, the clock)
    the engine re-prices the same counts with each energy table."""
    if axis in stat_axes or axis in wl_axes:
        return True
    return any(prm_axis[p] == axis for p in range(L.N_PRM) if p not in L.ENERGY_PRMS)


def changes_twin(axis: int, point_axis: Axis, prm_axis: np.ndarray) -> bool:
    """Whether the dense twin's counts may change along a counted ``axis``. The twin has dense weights and
    dense inputs and never skips, so a sparsity key changes it only by moving a parameter other than the
    input density and skipping: the bit statistics of non-zero inputs and weights (``input_profile``,
    ``weight_bit_density``, ...) set its switching activity. How the weights are pruned (pattern, ratio,
    blocks, stages) and how sparse the inputs are do not."""
    if point_axis.table != "sparsity":
        return True
    return any(prm_axis[p] == axis for p in range(L.N_PRM) if p not in L.ENERGY_PRMS and p not in L.SPARSE_ONLY_PRMS)


def layer_row(layer: Layer, densities: dict[str, float]) -> np.ndarray:
    """One row of the layer table (``LAY_*``)."""
    row = np.zeros(L.N_LAY)
    row[L.LAY_VECTORS] = layer.vectors
    row[L.LAY_K] = layer.K
    row[L.LAY_IN_ELEMS] = layer.input_elements
    row[L.LAY_OUT_ELEMS] = layer.output_elements
    row[L.LAY_REUSE] = layer.input_reuse
    row[L.LAY_E] = layer.E
    row[L.LAY_STRIDE] = layer.stride
    row[L.LAY_WINDOW] = layer.window
    row[L.LAY_DYNAMIC] = float(layer.dynamic)
    row[L.LAY_COUNT] = layer.count
    density = layer.input_density if layer.input_density is not None else densities.get(layer.name)
    row[L.LAY_DENSITY] = math.nan if density is None else density
    return row


def order_siblings(cands: np.ndarray) -> None:
    """Fill ``CP_ORDERS``: a candidate followed by candidates that differ from it only by the next loop
    orders leads them, and the kernel prices their layers in one call (they share all but the data
    movement); the followers get 0."""
    same = [c for c in range(L.N_CP) if c not in (L.CP_ORDER, L.CP_ORDERS)]
    c = 0
    while c < len(cands):
        n = 1
        while (c + n < len(cands) and cands[c + n, L.CP_ORDER] == cands[c, L.CP_ORDER] + n
               and (cands[c + n, same] == cands[c, same]).all()):
            n += 1
        cands[c, L.CP_ORDERS] = n
        cands[c + 1:c + n, L.CP_ORDERS] = 0
        c += n


def twins(cands: np.ndarray) -> None:
    """Fill ``CP_DUP_TWIN`` and the variant-twin columns (``N_CP + w``) of loop-order leaders: the first leader
    that differs only by its duplication (on/off, copies), or only by using statistics variant ``w``. The
    kernel copies a layer's counts from such an earlier twin where it can prove them equal instead of
    pricing them again."""
    n_var = cands.shape[1] - L.N_CP
    cands[:, L.CP_DUP_TWIN] = -1
    cands[:, L.N_CP:] = -1
    dup_cols = (L.CP_DUPLICATE, L.CP_COPIES)
    rest = [k for k in range(L.N_CP) if k not in (L.CP_VARIANT, *dup_cols, L.CP_ORDERS, L.CP_DUP_TWIN)]
    leaders: dict[tuple, int] = {}
    first_dup: dict[tuple, int] = {}
    for c in range(len(cands)):
        if cands[c, L.CP_ORDERS] > 0:
            base, v, dup = tuple(cands[c, rest]), int(cands[c, L.CP_VARIANT]), tuple(cands[c, list(dup_cols)])
            leaders.setdefault((base, v, dup), c)
            first_dup.setdefault((base, v), c)
    for (base, v, dup), c in leaders.items():
        n = cands[c, L.CP_ORDERS]
        for w in range(min(v, n_var)):
            c2 = leaders.get((base, w, dup), -1)
            if 0 <= c2 < c and cands[c2, L.CP_ORDERS] == n:
                cands[c, L.N_CP + w] = c2
        c2 = first_dup[(base, v)]
        if c2 < c and cands[c2, L.CP_ORDERS] == n:
            cands[c, L.CP_DUP_TWIN] = c2


def lower(sweep: Sweep, cache: StatsCache | None = None, statistics: bool = True, defer: bool = False) -> Lowered:
    """The flat form of ``sweep``. The tile statistics are computed here unless their table would be large
    or ``defer`` asks (a Dask client leaves them to its workers); then every chunk computes its own. With
    ``statistics = False`` they are left zero: the arrays have their shapes and types only, enough to
    compile the engine."""
    cache = cache or StatsCache()
    point_axes, cand_axes = split_axes(sweep)
    lengths = [len(a.values) for a in point_axes]
    axis_len = np.array(lengths, dtype=np.int64)
    axis_stride = _strides(lengths)

    # ----- parameters ------------------------------------------------------------------------------
    resolver = Resolver(sweep)
    prm_axis, prm_vals = resolver.param_columns(point_axes)

    # ----- candidates ------------------------------------------------------------------------------
    mappings = candidate_specs(sweep, cand_axes)
    variants: list[tuple] = []
    for m in mappings:
        if stats_variant(m) not in variants:
            variants.append(stats_variant(m))
    cands = np.zeros((len(mappings), L.N_CP + len(variants)))
    for c, m in enumerate(mappings):
        rows, cols = m.grid
        cands[c, :L.N_CP] = (rows, cols, float(m.spec.duplicate), m.spec.step_vectors,
                             variants.index(stats_variant(m)), LOOP_ORDER_CODES[m.spec.loop_order], 1, -1,
                             m.spec.copies)
    variant_specs = [next(m.spec for m in mappings if stats_variant(m) == v) for v in variants]
    order_siblings(cands)
    twins(cands)

    # ----- workloads and layers --------------------------------------------------------------------
    wl_axes = [i for i, a in enumerate(point_axes) if _is_workload_axis(a, sweep)]
    wl_stride, n_wl = sub_strides(lengths, wl_axes)
    stat_axes = [i for i, a in enumerate(point_axes) if _is_stats_axis(a, sweep)]
    stat_stride, n_combos = sub_strides(lengths, stat_axes)
    counted = [i for i, a in enumerate(point_axes) if changes_counts(i, prm_axis, stat_axes, wl_axes)]
    count_stride, _ = sub_strides(lengths, counted)
    # A point re-prices its dense twin only when an axis moved that changes the twin's counts.
    dense_stride, _ = sub_strides(lengths, [i for i in counted if changes_twin(i, point_axes[i], prm_axis)])
    order = np.array(counted + [i for i in range(len(point_axes)) if i not in counted], dtype=np.int64)
    base_index = [0] * len(sweep.axes)
    layer_lists = []
    for combo in itertools.product(*(range(lengths[i]) for i in wl_axes)):
        idx = list(base_index)
        for a, k in zip(wl_axes, combo, strict=True):
            idx[a] = k
        layer_lists.append(resolver.specs_at(tuple(idx)).layers)
    max_layers = max(len(ls) for ls in layer_lists)
    layer_first = np.cumsum([0, *(len(ls) for ls in layer_lists[:-1])]).astype(np.int64)
    layer_count = np.array([len(ls) for ls in layer_lists], dtype=np.int64)
    layers = np.array([layer_row(layer, dict(sweep.layer_input_density)) for ls in layer_lists for layer in ls])

    # ----- tile statistics -------------------------------------------------------------------------
    stage = StageOne(resolver, point_axes, stat_axes, wl_stride, layer_lists, max_layers, variant_specs)
    n_rows = n_combos * len(variants) * max_layers
    if not statistics:
        stats = np.zeros((n_rows, 2 * L.N_STATS))
    elif defer or n_combos * stage.bytes_per_combination() > STATS_EAGER_LIMIT:
        stats = None  # each chunk computes the combinations it uses (ciminus.backends.cpu)
    else:
        stats = stage.table(cache=cache)

    keep = max_layers if sweep.output.per_layer else 0
    return Lowered(point_axes, cand_axes, axis_len, axis_stride, prm_axis, prm_vals, stat_stride, len(variants),
                   wl_stride, dense_stride, count_stride, order, layer_first, layer_count, layers, stats, max_layers,
                   cands, SELECTS[sweep.select], OBJECTIVES[sweep.objective], keep, sweep.output.actions, stage,
                   stat_axes)
