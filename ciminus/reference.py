"""The reference model: price one design point in readable Python.

This is the model as a person would write it on paper: for every layer, count the actions (activations,
partial sums, index reads, buffer traffic) and multiply them by their energies; run the load -> compute
-> write-back pipeline for the latency. The physics comes from ``kernels.equations`` (called as plain
Python), the tile counts from ``ciminus.sparsity``. The Numba backend computes the same thing on flat
arrays; tests hold the two equal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ciminus.mapping.candidates import grid_of
from ciminus.sparsity.activations import bit_profile
from ciminus.sparsity.flexblock import resolve
from ciminus.sparsity.sources import layer_activations, layer_weights
from ciminus.sparsity.stats import dense_stats, sparse_stats, weight_stats
from ciminus.specs import ArchSpec, EnergySpec, MappingSpec, SparsitySpec, derived_energies
from ciminus.specs.sweep import PointSpecs
from ciminus.workloads.layers import Layer
from kernels import equations as eq
from kernels import layout as L

KIB_BITS = 8 * 1024
ADDER_MODELS = {"miredo": L.ADDER_TREE_MIREDO, "full": L.ADDER_TREE_FULL}
OBJECTIVES = {"energy": L.OBJECTIVE_ENERGY, "latency": L.OBJECTIVE_LATENCY, "edp": L.OBJECTIVE_EDP}


def _py(fn):  # the plain-Python body of a compiled equation (readable tracebacks, same arithmetic)
    return getattr(fn, "py_func", fn)


cycles_per_activation = _py(eq.cycles_per_activation)
array_energy_pj = _py(eq.array_energy_pj)
adder_tree_adds = _py(eq.adder_tree_adds)
adder_tree_energy_pj = _py(eq.adder_tree_energy_pj)
shift_add_energy_pj = _py(eq.shift_add_energy_pj)
active_cycle_fraction = _py(eq.active_cycle_fraction)
log_zero_bit = _py(eq.log_zero_bit)
accumulator_energy_pj = _py(eq.accumulator_energy_pj)
mux_energy_pj = _py(eq.mux_energy_pj)
halo_factor = _py(eq.halo_factor)
pipeline_cycles = _py(eq.pipeline_cycles)
rounds_latency = _py(eq.rounds_latency)
folds = _py(eq.folds)
duplicates = _py(eq.duplicates)
whole_tiles = _py(eq.whole_tiles)
static_energy_pj = _py(eq.static_energy_pj)
ceil_ratio = _py(eq.ceil_ratio)
floor_ratio = _py(eq.floor_ratio)


@dataclass
class Cost:
    """Energy by component (pJ), latency and the counts behind utilisation, for a layer or a network."""

    energy: dict[str, float] = field(default_factory=lambda: {c: 0.0 for c in L.COMPONENT_NAMES})
    latency: float = 0.0  # cycles
    compute_cycles: float = 0.0
    useful: float = 0.0  # occupied cell-activations
    capacity: float = 0.0  # cell-activations the macros could have done while busy
    rounds: int = 0
    duplication: int = 1
    reason: int = L.REASON_OK
    out_spill: bool = False

    @property
    def total_energy(self) -> float:
        return sum(self.energy.values())

    @property
    def utilization(self) -> float:
        return self.useful / self.capacity if self.capacity > 0 else 0.0

    def add(self, other: Cost) -> None:
        for c in self.energy:
            self.energy[c] += other.energy[c]
        self.latency += other.latency
        self.compute_cycles += other.compute_cycles
        self.useful += other.useful
        self.capacity += other.capacity
        self.rounds += other.rounds
        if self.reason == L.REASON_OK:
            self.reason = other.reason

    def objective(self, which: str) -> float:
        e = self.total_energy
        return {"energy": e, "latency": self.latency, "edp": e * self.latency}[which]


def input_reuse(layer: Layer) -> float:
    """How many input vectors each distinct input element appears in (im2col expansion, >= 1)."""
    return max(1.0, layer.vectors * layer.rows * layer.groups / layer.input_elements)


def output_spills(layer: Layer, arch: ArchSpec, batch: int) -> bool:
    """A layer's input and output feature maps together overflow the global buffer: its output goes to DRAM."""
    fmap_bits = (layer.input_elements * arch.input_bits + layer.output_elements * arch.output_bits) * batch
    return fmap_bits > arch.global_buffer_kb * KIB_BITS


def price_layer(layer: Layer, st: np.ndarray, arch: ArchSpec, en: EnergySpec, mapping: MappingSpec, batch: int,
                bit_probability: float, skip: bool, in_spill: bool) -> Cost:
    """Energy and latency of one layer, given its tile statistics ``st`` (``kernels.layout.S_*``)."""
    cost = Cost()
    X, Y = arch.array_rows, arch.array_cols
    I, W = arch.input_bits, arch.weight_bits
    bpc = arch.input_bits_per_cycle
    macros = arch.macros
    grid_rows, grid_cols = grid_of(mapping, macros)

    # ----- feasibility -----------------------------------------------------------------------------
    reason = int(st[L.S_REASON])
    model = ADDER_MODELS[en.adder_tree_model]
    if grid_rows * grid_cols != macros:
        reason = L.REASON_GRID_MISMATCH
    elif reason == L.REASON_OK and adder_tree_adds(X, Y, I, W, bpc, model) <= 0:
        reason = L.REASON_ADDER_TREE_MODEL
    in_avail = arch.input_buffer_kb * KIB_BITS / (2 if arch.double_buffer else 1)
    out_avail = arch.output_buffer_kb * KIB_BITS / (2 if arch.double_buffer else 1)
    vector_bits = max(1, math.ceil(st[L.S_CRIT_ROWS] - 1e-9)) * I  # inputs of one vector on the fullest tile
    psum_row_bits = Y * arch.psum_bits  # partial sums of one vector leaving a macro
    step = mapping.step_vectors or min(floor_ratio(in_avail, vector_bits), floor_ratio(out_avail, psum_row_bits))
    if reason == L.REASON_OK and (step < 1 or step * vector_bits > in_avail):
        reason = L.REASON_INPUT_BUFFER
    if reason == L.REASON_OK and step * psum_row_bits > out_avail:
        reason = L.REASON_OUTPUT_BUFFER
    tiles = st[L.S_TILES]
    if reason == L.REASON_OK and tiles > 0 and st[L.S_IDX_READ] / tiles > arch.index_memory_kb * KIB_BITS:
        reason = L.REASON_INDEX_MEMORY
    cost.reason = reason
    if reason != L.REASON_OK:
        return cost

    # ----- how the layer runs: vectors, rounds, copies ---------------------------------------------
    vectors = layer.vectors * (1 if layer.dynamic else batch)  # a dynamic operand changes every sample
    repeats = layer.count * (batch if layer.dynamic else 1)
    t = cycles_per_activation(I, bpc)
    whole_rows, whole_cols = whole_tiles(st[L.S_ROW_TILES]), whole_tiles(st[L.S_COL_TILES])
    rounds = folds(whole_rows, grid_rows) * folds(whole_cols, grid_cols)
    copies = duplicates(whole_rows, grid_rows) * duplicates(whole_cols, grid_cols) if mapping.duplicate else 1
    per_copy = ceil_ratio(vectors, copies)
    out_spill = output_spills(layer, arch, batch)
    cost.out_spill = out_spill

    # ----- macro activations -----------------------------------------------------------------------
    activations = tiles * vectors
    rows_fed = st[L.S_FETCH] / tiles if tiles > 0 else 0.0  # mean inputs per activation
    log_zero = log_zero_bit(bit_probability)
    f_energy = f_crit = 1.0
    if skip:  # a measured input profile, else independent bits at the input density
        f_energy = st[L.S_F_ENERGY] if not math.isnan(st[L.S_F_ENERGY]) else active_cycle_fraction(rows_fed, I, bpc, log_zero)
        f_crit = st[L.S_F_CRIT] if not math.isnan(st[L.S_F_CRIT]) else active_cycle_fraction(st[L.S_CRIT_ROWS], I, bpc, log_zero)
    e = cost.energy
    e["array"] = activations * f_energy * array_energy_pj(en.mult_1b_pj, W, bpc, X, Y, t)
    e["adder_tree"] = activations * f_energy * adder_tree_energy_pj(en.add_1b_pj, X, Y, I, W, bpc, t, model)
    e["shift_add"] = activations * f_energy * shift_add_energy_pj(en.add_1b_pj, en.reg_1b_pj, I, W, X, Y, t)

    # ----- sparsity overheads ----------------------------------------------------------------------
    additions = vectors * (st[L.S_PSUM] - st[L.S_OUT_NZ])
    e["accumulator"] = accumulator_energy_pj(en.add_1b_pj, en.reg_1b_pj, arch.psum_bits, additions)
    e["index"] = (vectors * st[L.S_IDX_READ] * en.index_read_pj_per_bit
                  + copies * st[L.S_IDX_STORE] * en.index_write_pj_per_bit)
    selections = vectors * st[L.S_MUX_CELLS] * t * f_energy * bpc
    e["mux"] = mux_energy_pj(en.mux_pj_per_level, selections, st[L.S_MUX_LEVELS])
    input_bits_read = vectors * st[L.S_FETCH] * I
    e["zero_detect"] = input_bits_read * en.zero_detect_pj_per_bit if skip else 0.0
    e["register"] = (input_bits_read + vectors * st[L.S_PSUM] * arch.psum_bits) * en.register_write_pj_per_bit

    # ----- buffers and DRAM ------------------------------------------------------------------------
    window = layer.dilation * (layer.R - 1) + 1
    fill_bits = input_bits_read / input_reuse(layer) * halo_factor(layer.E, layer.stride, window, copies)
    broadcast = max(1, min(grid_cols, whole_cols))  # a grid row shares one input fetch
    source_bits = fill_bits / broadcast
    e["input_buffer"] = input_bits_read * en.input_buffer_read_pj_per_bit + fill_bits * en.input_buffer_write_pj_per_bit
    out_nz = st[L.S_OUT_NZ]
    partials = out_nz * math.ceil(st[L.S_PSUM] / out_nz / grid_rows - 1e-9) if out_nz > 0 else 0.0
    obuf_bits = vectors * partials * arch.psum_bits
    e["output_buffer"] = obuf_bits * (en.output_buffer_write_pj_per_bit + en.output_buffer_read_pj_per_bit)
    result_bits = vectors * layer.K * arch.output_bits
    weight_bits = st[L.S_STORED] * W + st[L.S_IDX_STORE]
    gb = weight_bits * en.global_buffer_read_pj_per_bit  # weights reach the macros through the global buffer
    dram = 0.0
    if not layer.dynamic:  # static weights are fetched from DRAM first; a dynamic operand is already on chip
        gb += weight_bits * en.global_buffer_write_pj_per_bit
        dram += weight_bits * en.dram_read_pj_per_bit
    if in_spill:
        dram += source_bits * en.dram_read_pj_per_bit
    else:
        gb += source_bits * en.global_buffer_read_pj_per_bit
    if out_spill:
        dram += result_bits * en.dram_write_pj_per_bit
    else:
        gb += result_bits * en.global_buffer_write_pj_per_bit
    e["global_buffer"] = gb
    e["dram"] = dram
    e["weight_write"] = copies * tiles * X * Y * W * en.weight_write_pj_per_bit

    # ----- latency: rounds of (weight load, then a load -> compute -> write-back pipeline) -------------
    steps = ceil_ratio(per_copy, step)
    busy = max(1, min(macros, math.ceil(tiles * copies / rounds - 1e-9))) if rounds else 1
    source_bw = arch.dram_bw if in_spill else arch.global_buffer_bw
    sink_bw = arch.dram_bw if out_spill else arch.global_buffer_bw
    per_step = rounds * steps
    load = max(source_bits / (per_step * source_bw),
               fill_bits / (per_step * busy * arch.input_buffer_bw)) if per_step else 0.0
    compute = per_copy * t * f_crit / steps if steps else 0.0
    write_back = max(obuf_bits / (per_step * busy * arch.output_buffer_bw),
                     result_bits / (per_step * sink_bw)) if per_step else 0.0
    round_cycles = pipeline_cycles(steps, load, compute, write_back, arch.double_buffer)
    weight_bw = arch.global_buffer_bw if layer.dynamic else arch.dram_bw
    weight_load = max(weight_bits / (rounds * weight_bw), X * Y * W / arch.weight_load_bw) if rounds else 0.0
    cost.latency = rounds_latency(rounds, weight_load, round_cycles, arch.weight_double_buffer)
    cost.compute_cycles = rounds * per_copy * t * f_crit
    cost.rounds = rounds
    cost.duplication = copies
    cost.useful = vectors * st[L.S_STORED]
    cost.capacity = macros * X * Y * rounds * per_copy
    e["static"] = static_energy_pj(en.leakage_pj_per_cycle_per_macro, macros, cost.latency)

    if repeats != 1:
        for c in e:
            e[c] *= repeats
        cost.latency *= repeats
        cost.compute_cycles *= repeats
        cost.useful *= repeats
        cost.capacity *= repeats
        cost.rounds *= repeats
    return cost


# ----- a whole network ---------------------------------------------------------------------------------
def input_density(sp: SparsitySpec, layer: Layer) -> float:
    """Fraction of non-zero inputs of a layer: the layer's own, the sweep's per-layer table, or the global one."""
    if layer.input_density is not None:
        return layer.input_density
    return sp.layer_input_density.get(layer.name, sp.input_density)


def bit_probability(sp: SparsitySpec, layer: Layer) -> float:
    """P(an input bit is 1): input density times the bit density of a non-zero input."""
    return input_density(sp, layer) * sp.input_bit_density


def skips_inputs(sp: SparsitySpec, layer: Layer, st: np.ndarray) -> bool:
    """Whether zero bit planes are detected and skipped; "auto" does so where inputs are sparse: an input
    density below 1, or a measured profile."""
    if sp.input_skip == "auto":
        return input_density(sp, layer) < 1.0 or not math.isnan(st[L.S_F_ENERGY])
    return bool(sp.input_skip)


@dataclass
class PointResult:
    """A design point priced under its best mapping candidate (or one candidate)."""

    cost: Cost
    dense: Cost
    candidate: int
    layers: list[Cost] = field(default_factory=list)
    layer_candidates: list[int] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return self.cost.reason == L.REASON_OK


class StatsCache:
    """Tile statistics are shared by every point with the same layer, sparsity and array shape."""

    def __init__(self) -> None:
        self._sparse: dict[tuple, np.ndarray] = {}
        self._dense: dict[tuple, np.ndarray] = {}

    def dense(self, layer: Layer, arch: ArchSpec) -> np.ndarray:
        key = (layer, arch.array_rows, arch.array_cols)
        if key not in self._dense:
            self._dense[key] = dense_stats(layer, arch.array_rows, arch.array_cols)
        return self._dense[key]

    def sparse(self, layer: Layer, sp: SparsitySpec, arch: ArchSpec, mapping: MappingSpec,
               onnx_path: str | None = None) -> np.ndarray:
        key = (layer, sp.pattern, sp.ratio, sp.block_rows, sp.block_cols, sp.nm_n, sp.nm_m, sp.stats, sp.samples,
               sp.seed, sp.source, sp.prune, sp.activations, onnx_path, arch.array_rows, arch.array_cols,
               arch.subarray_rows, arch.subarray_cols, arch.input_bits, arch.input_bits_per_cycle, mapping.flatten,
               mapping.compress, mapping.rearrange, mapping.index_format)
        if key not in self._sparse:
            self._sparse[key] = layer_statistics(layer, sp, arch, mapping, onnx_path)
        return self._sparse[key]


def layer_statistics(layer: Layer, sp: SparsitySpec, arch: ArchSpec, mapping: MappingSpec,
                     onnx_path: str | None) -> np.ndarray:
    """A layer's tile statistics: random masks, or its real weights; a measured input profile if given.

    A dynamic operand (attention scores) is produced at run time and cannot be pruned: it is dense.
    """
    X, Y = arch.array_rows, arch.array_cols
    if layer.dynamic:
        st = dense_stats(layer, X, Y).copy()
    else:
        flex = resolve(sp, layer, X, Y, mapping.flatten, mapping.compress)
        if sp.source == "random" or flex.compress == L.COMPRESS_NONE:
            st = sparse_stats(layer, flex, X, Y, arch.subarray_rows, arch.subarray_cols, mapping.rearrange,
                              mapping.index_format, sp.stats, sp.samples, sp.seed)
        else:
            weights = layer_weights(sp.source, onnx_path, layer)
            st = weight_stats(weights, layer, flex, X, Y, arch.subarray_rows, arch.subarray_cols, mapping.rearrange,
                              mapping.index_format, mapping.flatten, sp.prune)
    if sp.activations is not None:
        samples = layer_activations(sp.activations, layer)
        if samples is not None:
            st[L.S_F_ENERGY], st[L.S_F_CRIT] = bit_profile(samples, layer, min(X, layer.rows), arch.input_bits,
                                                           arch.input_bits_per_cycle, mapping.flatten, seed=sp.seed)
    return st


def price_network(specs: PointSpecs, mapping: MappingSpec, cache: StatsCache) -> tuple[Cost, Cost, list[Cost], list[Cost]]:
    """(sparse, dense, per-layer sparse, per-layer dense) costs of a network under one mapping."""
    arch, sp = specs.arch, specs.sparsity
    en = derived_energies(specs.energy)
    batch = specs.workload.batch
    total, dense_total = Cost(), Cost()
    per_layer, per_layer_dense = [], []
    in_spill = dense_in_spill = True  # the network input comes from DRAM
    for layer in specs.layers:
        st = cache.sparse(layer, sp, arch, mapping, specs.workload.onnx)
        sparse_cost = price_layer(layer, st, arch, en, mapping, batch, bit_probability(sp, layer),
                                  skips_inputs(sp, layer, st), in_spill)
        dense_cost = price_layer(layer, cache.dense(layer, arch), arch, en, mapping, batch, 1.0, False, dense_in_spill)
        in_spill, dense_in_spill = sparse_cost.out_spill, dense_cost.out_spill
        total.add(sparse_cost)
        dense_total.add(dense_cost)
        per_layer.append(sparse_cost)
        per_layer_dense.append(dense_cost)
    return total, dense_total, per_layer, per_layer_dense


def price_point(specs: PointSpecs, candidates: list[MappingSpec], select: str, objective: str,
                cache: StatsCache | None = None) -> PointResult:
    """Price a design point under each mapping candidate and keep the best (``select``) for ``objective``."""
    cache = cache or StatsCache()
    priced = [price_network(specs, m, cache) for m in candidates]
    if select == "best-per-layer":
        return _best_per_layer(priced, objective)
    best = None
    for i, (cost, dense, layers, _) in enumerate(priced):
        if cost.reason != L.REASON_OK:
            continue
        if best is None or cost.objective(objective) < priced[best][0].objective(objective):
            best = i
    if best is None:  # nothing feasible: report the first candidate's reason
        cost, dense, layers, _ = priced[0]
        return PointResult(cost, dense, -1, layers, [-1] * len(layers))
    cost, dense, layers, _ = priced[best]
    return PointResult(cost, dense, best, layers, [best] * len(layers))


def _best_per_layer(priced: list, objective: str) -> PointResult:
    n_layers = len(priced[0][2])
    total, dense_total = Cost(), Cost()
    layers, chosen = [], []
    for li in range(n_layers):
        best = None
        for ci, (_, _, per_layer, _) in enumerate(priced):
            c = per_layer[li]
            if c.reason != L.REASON_OK:
                continue
            if best is None or c.objective(objective) < priced[best][2][li].objective(objective):
                best = ci
        pick = 0 if best is None else best
        total.add(priced[pick][2][li])
        dense_total.add(priced[pick][3][li])
        layers.append(priced[pick][2][li])
        chosen.append(-1 if best is None else best)
    return PointResult(total, dense_total, -1, layers, chosen)
