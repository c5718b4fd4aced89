"""The readable pure-Python model as a backend, point by point (slow; the yardstick for the fast engines)."""

from __future__ import annotations

import numpy as np

from ciminus.dataset import Results
from ciminus.kernels import layout as L
from ciminus.reference import StatsCache, price_point
from ciminus.resolve import Resolver
from ciminus.specs.sweep import Sweep


class ReferenceEngine:
    """``ciminus.reference.price_point`` on every output row of the full grid."""

    name = "reference"

    def __init__(self, sweep: Sweep, n_layers: int) -> None:
        self.sweep = sweep
        self.resolver = Resolver(sweep)
        self.n_layers = n_layers
        self.cache = StatsCache()
        self.grid_shape = sweep.shape
        self.rows_per_point = sweep.rows_per_point

    def points(self, p0: int, p1: int) -> Results:
        """Results of points p0 .. p1-1 as output rows (every candidate is a row with select = "all")."""
        return self.rows(p0 * self.rows_per_point, p1 * self.rows_per_point)

    def rows(self, p0: int, p1: int) -> Results:
        """Results of output rows p0 .. p1-1 (the reference evaluates whole rows of the full grid)."""
        sweep = self.sweep
        res = Results.empty(p1 - p0, self.n_layers, sweep.output.actions)
        all_mode = sweep.select == "all"
        cand_axes = [i for i, a in enumerate(sweep.axes) if a.table == "mapping"] if all_mode else []
        for r in range(p0, p1):
            idx = tuple(int(i) for i in np.unravel_index(r, self.grid_shape)) if self.grid_shape else ()
            out = price_point(self.resolver.specs_at(idx), self.resolver.candidates_at(idx), sweep.select,
                              sweep.objective, self.cache)
            row = res.points[r - p0]
            for ci, c in enumerate(L.COMPONENT_NAMES):
                row[ci] = out.cost.energy[c]
            row[L.P_LATENCY] = out.cost.latency
            row[L.P_COMPUTE] = out.cost.compute_cycles
            row[L.P_USEFUL] = out.cost.useful
            row[L.P_CAPACITY] = out.cost.capacity
            row[L.P_DENSE_ENERGY] = out.dense.total_energy
            row[L.P_DENSE_LATENCY] = out.dense.latency
            row[L.P_REASON] = out.cost.reason
            row[L.P_DRAM_COMPULSORY] = out.cost.row[0, L.R_DRAM_COMPULSORY]
            row[L.P_GRID_ROWS] = out.grid_rows
            if sweep.output.actions:
                row[L.P_ACTIONS: L.P_ACTIONS + L.N_ACTIONS] = out.cost.counts
            candidate = out.candidate
            if all_mode:  # every candidate is its own row: its index among the mapping axes' combinations
                sub = tuple(idx[i] for i in cand_axes)
                flat = int(np.ravel_multi_index(sub, [len(sweep.axes[i].values) for i in cand_axes]))
                candidate = flat if out.feasible else -1
            row[L.P_CANDIDATE] = candidate
            if res.layers is not None:
                for li, lc in enumerate(out.layers):
                    res.layers[r - p0, li, L.LY_ENERGY] = lc.total_energy
                    res.layers[r - p0, li, L.LY_LATENCY] = lc.latency
                    res.layers[r - p0, li, L.LY_CANDIDATE] = candidate if all_mode else out.layer_candidates[li]
        return res
