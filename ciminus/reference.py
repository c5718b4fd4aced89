"""The reference model: price one design point in readable Python.

The physics and the counting live in ``ciminus.kernels.actions`` (one layer's action counts and latency,
the per-action energy table, the candidate-selection rule); this module runs the very same functions as
plain Python (``.py_func``: readable tracebacks, the same arithmetic) and keeps only the bookkeeping a
person would write around them: a point's specs, its layers one after the other with the spill chain
between them, every mapping candidate, and the choice among them. The Numba engine runs the same
functions compiled over flat arrays; tests hold the two equal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ciminus.kernels import actions as A
from ciminus.kernels import layout as L
from ciminus.kernels.jit import python as _py
from ciminus.lower import layer_row
from ciminus.mapping.candidates import grid_of
from ciminus.resolve import LOOP_ORDER_CODES, OBJECTIVES, point_params
from ciminus.sparsity.cache import StatsCache
from ciminus.specs import MappingSpec
from ciminus.specs.sweep import PointSpecs

point_constants = _py(A.point_constants)
action_energies = _py(A.action_energies)
priced_layer = _py(A.priced_layer)
accumulate = _py(A.accumulate)
energy_pj = _py(A.energy_pj)
objective_of = _py(A.objective_of)
choose = _py(A.choose)
component_energies = _py(A.component_energies)
layer_context = _py(A.layer_context)


@dataclass
class Point:
    """A point as the kernels see it: its parameters, per-point constants and energy table (one row each)."""

    prm: np.ndarray  # (1, N_PRM)
    pc: np.ndarray  # (1, N_PC)
    table: np.ndarray  # (1, N_ACTIONS) pJ per action

    @classmethod
    def of(cls, specs: PointSpecs) -> Point:
        prm = point_params(specs).reshape(1, -1)
        pc = np.zeros((1, A.N_PC))
        table = np.zeros((1, L.N_ACTIONS))
        point_constants(prm, 0, pc)
        action_energies(prm, 0, table)
        return cls(prm, pc, table)


@dataclass
class Cost:
    """Action counts, latency and the counts behind utilisation, for a layer or a network (one result row)."""

    row: np.ndarray = field(default_factory=lambda: np.zeros((1, L.N_RESULTS)))
    table: np.ndarray = field(default_factory=lambda: np.zeros((1, L.N_ACTIONS)))

    @property
    def counts(self) -> np.ndarray:
        """Action counts (``kernels.layout.ACTION_NAMES`` order)."""
        return self.row[0, : L.N_ACTIONS]

    @property
    def energy(self) -> dict[str, float]:
        """Energy by component (pJ): each action's count times its energy, summed per component."""
        out = np.zeros((1, L.N_COMPONENTS))
        component_energies(self.row, 0, self.table, 0, out, 0)
        return dict(zip(L.COMPONENT_NAMES, out[0].tolist(), strict=True))

    @property
    def total_energy(self) -> float:
        return energy_pj(self.row, 0, self.table, 0)

    latency = property(lambda self: self.row[0, L.R_LATENCY])
    compute_cycles = property(lambda self: self.row[0, L.R_COMPUTE])
    useful = property(lambda self: self.row[0, L.R_USEFUL])  # occupied cell-activations
    capacity = property(lambda self: self.row[0, L.R_CAPACITY])  # cell-activations the busy macros could do
    rounds = property(lambda self: int(self.row[0, L.R_ROUNDS]))
    duplication = property(lambda self: int(self.row[0, L.R_DUPLICATION]))
    reason = property(lambda self: int(self.row[0, L.R_REASON]))
    out_spill = property(lambda self: bool(self.row[0, L.R_OUT_SPILL]))

    def count(self, action: str) -> float:
        """The count of one action, by its name (``kernels.layout.ACTION_NAMES``)."""
        return float(self.row[0, L.ACTION_NAMES.index(action)])

    @property
    def holds(self) -> dict[str, float]:
        """Bits held at once by one macro's input and output buffer and by the global buffer (the most any
        layer holds, for a network)."""
        return {"input_buffer": float(self.row[0, L.R_HOLD_IBUF]), "output_buffer": float(self.row[0, L.R_HOLD_OBUF]),
                "global_buffer": float(self.row[0, L.R_HOLD_GBUF])}

    @property
    def feasible(self) -> bool:
        return self.reason == L.REASON_OK

    @property
    def utilization(self) -> float:
        return self.useful / self.capacity if self.capacity > 0 else 0.0

    def add(self, other: Cost) -> None:
        accumulate(self.row, 0, other.row, 0)

    def objective(self, which: str) -> float:
        return objective_of(self.row, 0, self.table, 0, OBJECTIVES[which])


def price_layer(point: Point, layer, sparse_st: np.ndarray, dense_st: np.ndarray, densities: dict[str, float],
                mapping: MappingSpec, dense: bool, context: int) -> Cost:
    """Action counts and latency of one layer (its sparse weights, or its ``dense`` twin); ``context``
    holds the ``CTX_*`` flags (where its input is and its output must go)."""
    stats = np.concatenate([sparse_st, dense_st]).reshape(1, -1)
    lay = layer_row(layer, densities).reshape(1, -1)
    grid_rows, grid_cols = grid_of(mapping, int(point.prm[0, L.PRM_MACROS]))
    cost = Cost(table=point.table)
    max_copies = mapping.copies if mapping.duplicate else 1
    priced_layer(point.prm, point.pc, 0, stats, 0, lay, 0, grid_rows, grid_cols, max_copies, mapping.step_vectors,
                 LOOP_ORDER_CODES[mapping.loop_order], 1, 1, context, dense, cost.row, 0, np.zeros((1, L.N_RESULTS)), 0)
    return cost


@dataclass
class PointResult:
    """A design point priced under its best mapping candidate (or one candidate)."""

    cost: Cost
    dense: Cost
    candidate: int
    layers: list[Cost] = field(default_factory=list)
    layer_candidates: list[int] = field(default_factory=list)
    grid_rows: float = math.nan  # rows of the kept candidate's macro organisation (NaN: chosen per layer)

    @property
    def feasible(self) -> bool:
        return self.cost.reason == L.REASON_OK


def price_network(specs: PointSpecs, mapping: MappingSpec, cache: StatsCache,
                  point: Point | None = None) -> tuple[Cost, Cost, list[Cost], list[Cost]]:
    """(sparse, dense, per-layer sparse, per-layer dense) costs of a network under one mapping: layer after
    layer, each reading its input from DRAM when the previous output spilled there (the first always), the
    last writing its output to DRAM."""
    point = point or Point.of(specs)
    densities = dict(specs.sparsity.layer_input_density)
    total, dense_total = Cost(table=point.table), Cost(table=point.table)
    per_layer, per_layer_dense = [], []
    spilled = dense_spilled = True  # the network input comes from DRAM
    n = len(specs.layers)
    for li, layer in enumerate(specs.layers):
        sparse_st = cache.sparse(layer, specs.sparsity, specs.arch, mapping, specs.workload.onnx)
        dense_st = cache.dense(layer, specs.arch, mapping)
        sparse_cost = price_layer(point, layer, sparse_st, dense_st, densities, mapping, False,
                                  layer_context(li, n, spilled))
        dense_cost = price_layer(point, layer, sparse_st, dense_st, densities, mapping, True,
                                 layer_context(li, n, dense_spilled))
        spilled, dense_spilled = sparse_cost.out_spill, dense_cost.out_spill
        total.add(sparse_cost)
        dense_total.add(dense_cost)
        per_layer.append(sparse_cost)
        per_layer_dense.append(dense_cost)
    return total, dense_total, per_layer, per_layer_dense


def _choose(costs: list[Cost], objective: str) -> tuple[int, int]:
    """(kept candidate, best feasible candidate or -1) by the engines' one selection rule."""
    rows = np.vstack([c.row for c in costs])
    kept, best = choose(rows, 0, 1, len(costs), costs[0].table, 0, OBJECTIVES[objective])
    return int(kept), int(best)


def price_point(specs: PointSpecs, candidates: list[MappingSpec], select: str, objective: str,
                cache: StatsCache | None = None) -> PointResult:
    """Price a design point under each mapping candidate and keep the best (``select``) for ``objective``."""
    cache = cache or StatsCache()
    point = Point.of(specs)
    priced = [price_network(specs, m, cache, point) for m in candidates]
    if select == "best-per-layer":
        return _best_per_layer(priced, objective, point)
    kept, best = _choose([p[0] for p in priced], objective)
    cost, _, layers, _ = priced[kept]
    dense_kept, _ = _choose([p[1] for p in priced], objective)  # the dense twin: its own best candidate
    grid_rows = grid_of(candidates[kept], int(point.prm[0, L.PRM_MACROS]))[0]
    return PointResult(cost, priced[dense_kept][1], best, layers, [best] * len(layers), grid_rows)


def _best_per_layer(priced: list, objective: str, point: Point) -> PointResult:
    total, dense_total = Cost(table=point.table), Cost(table=point.table)
    layers, chosen = [], []
    for li in range(len(priced[0][2])):
        kept, best = _choose([p[2][li] for p in priced], objective)
        total.add(priced[kept][2][li])
        dense_kept, _ = _choose([p[3][li] for p in priced], objective)
        dense_total.add(priced[dense_kept][3][li])
        layers.append(priced[kept][2][li])
        chosen.append(best)
    return PointResult(total, dense_total, -1, layers, chosen)
