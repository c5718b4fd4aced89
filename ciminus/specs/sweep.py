"""A validated sweep: the fixed values, the swept axes, and the mapping candidates of a sweep file.

The sweep is the Cartesian product of its axes. A point's concrete specs (template < fixed < axis <
sampled values) are decided in one place, ``ciminus.resolve``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ciminus.specs.accuracy import AccuracySpec
from ciminus.specs.arch import ArchSpec
from ciminus.specs.area import AreaSpec
from ciminus.specs.constraints import ConstraintsSpec
from ciminus.specs.energy import EnergySpec
from ciminus.specs.mapping import MappingSpec
from ciminus.specs.output import OutputSpec
from ciminus.specs.sampling import SamplingSpec
from ciminus.specs.sparsity import SparsitySpec
from ciminus.specs.timing import TimingSpec
from ciminus.specs.workload import WorkloadSpec, network_layers
from ciminus.workloads.layers import Layer

TABLES = ("workload", "arch", "energy", "area", "timing", "sparsity", "mapping")
SPEC_CLASSES: dict[str, type] = {
    "workload": WorkloadSpec,
    "arch": ArchSpec,
    "energy": EnergySpec,
    "area": AreaSpec,
    "timing": TimingSpec,
    "sparsity": SparsitySpec,
    "mapping": MappingSpec,
}
TEMPLATED = ("arch", "energy", "area", "timing")  # the tables a hardware template fills
SAMPLE_TABLE = "sweep"  # the table of the one axis of a sampled sweep
# Keys naming input files; their values are resolved to absolute paths in a point's specs.
PATH_KEYS = (("workload", "onnx"), ("sparsity", "source"), ("sparsity", "activations"))


@dataclass(frozen=True)
class Axis:
    """One swept key: a dimension of the result, named by the key."""

    table: str
    key: str
    values: tuple[Any, ...]

    @property
    def name(self) -> str:
        return self.key


@dataclass(frozen=True)
class PointSpecs:
    """The concrete specs of one design point (mapping candidates apart)."""

    arch: ArchSpec
    energy: EnergySpec
    sparsity: SparsitySpec
    workload: WorkloadSpec

    @property
    def layers(self) -> tuple[Layer, ...]:
        w = self.workload
        if w.layers:
            return w.layers
        if w.onnx is not None:
            from ciminus.sparsity.sources import onnx_model

            return onnx_model(w.onnx).layers
        assert w.network is not None
        return network_layers(w.network, w.dataset, w.tokens)


@dataclass(frozen=True)
class Sweep:
    """Everything a backend needs to evaluate a sweep file."""

    name: str
    text: str
    source: str
    fixed: Mapping[str, Mapping[str, Any]]  # table -> key -> scalar value set in the file
    axes: tuple[Axis, ...]  # swept keys, in file order: the result's dimensions
    candidate_axes: tuple[Axis, ...]  # mapping keys listed as candidates (select = best / best-per-layer)
    output: OutputSpec
    layers: tuple[Layer, ...] = ()
    constraints: ConstraintsSpec = field(default_factory=ConstraintsSpec)
    accuracy: AccuracySpec | None = None  # validation data for the pruned models' accuracy
    layer_input_density: Mapping[str, float] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)  # input file as written -> absolute path
    sampling: SamplingSpec | None = None  # a sampled sweep: one "sample" axis
    sampled: Mapping[tuple[str, str], tuple] = field(default_factory=dict)  # (table, key) -> value per sample

    # ----- shape -------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a.values) for a in self.axes)

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def select(self) -> str:
        return self.fixed["mapping"].get("select", "best")

    @property
    def objective(self) -> str:
        return self.fixed["mapping"].get("objective", "edp")

    def axis(self, key: str) -> Axis | None:
        for a in self.axes:
            if a.key == key:
                return a
        return None

    def indices(self) -> Iterator[tuple[int, ...]]:
        """Every point's axis indices, in C (row-major) order."""
        return itertools.product(*(range(n) for n in self.shape))

    @property
    def rows_per_point(self) -> int:
        """Output rows per point of the engines' point space: one, or one per candidate with select = "all"."""
        if self.select != "all":
            return 1
        n = 1
        for a in self.axes:
            if a.table == "mapping":
                n *= len(a.values)
        return n

    @property
    def point_shape(self) -> tuple[int, ...]:
        """The shape of the engines' point space: the axes without the kept-apart mapping axes of select = "all"."""
        if self.select == "all":
            return tuple(len(a.values) for a in self.axes if a.table != "mapping")
        return self.shape

    @property
    def n_candidates(self) -> int:
        n = 1
        for a in self.candidate_axes:
            n *= len(a.values)
        return n

