"""A validated sweep: the fixed values, the swept axes, and the mapping candidates of a sweep file.

The sweep is the Cartesian product of its axes. A point's concrete specs are the template's values,
overridden by the sweep file's fixed values, overridden by the point's axis values.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ciminus.specs.arch import ArchSpec
from ciminus.specs.energy import EnergySpec
from ciminus.specs.mapping import MappingSpec
from ciminus.specs.output import OutputSpec
from ciminus.specs.sampling import SamplingSpec
from ciminus.specs.sparsity import SparsitySpec
from ciminus.specs.workload import WorkloadSpec, network_layers
from ciminus.templates import template_table
from ciminus.workloads.layers import Layer

TABLES = ("workload", "arch", "energy", "sparsity", "mapping")
SPEC_CLASSES: dict[str, type] = {
    "workload": WorkloadSpec,
    "arch": ArchSpec,
    "energy": EnergySpec,
    "sparsity": SparsitySpec,
    "mapping": MappingSpec,
}
TEMPLATED = ("arch", "energy")
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

    # ----- concrete values ---------------------------------------------------------------------------
    def values_at(self, index: tuple[int, ...]) -> dict[str, dict[str, Any]]:
        """table -> key -> value at a point, before the template is applied."""
        vals = {t: dict(self.fixed.get(t, {})) for t in TABLES}
        for axis, i in zip(self.axes, index, strict=True):
            if axis.table == SAMPLE_TABLE:  # every sampled key at its i-th sample
                for (table, key), values in self.sampled.items():
                    vals[table][key] = values[i]
            else:
                vals[axis.table][axis.key] = axis.values[i]
        for table, key in PATH_KEYS:
            value = vals[table].get(key)
            if isinstance(value, str) and value in self.files:
                vals[table][key] = self.files[value]
        return vals

    def specs_at(self, index: tuple[int, ...]) -> PointSpecs:
        vals = self.values_at(index)
        template = vals["arch"].get("template", "digital-28nm")
        arch = {**template_table(template, "arch"), **vals["arch"], "template": template}
        energy = {**template_table(template, "energy"), **vals["energy"]}
        sparsity = {k: v for k, v in vals["sparsity"].items()}
        sparsity["layer_input_density"] = dict(self.layer_input_density)
        workload = {k: v for k, v in vals["workload"].items()}
        workload["layers"] = self.layers
        return PointSpecs(
            arch=_build(ArchSpec, arch),
            energy=_build(EnergySpec, energy),
            sparsity=_build(SparsitySpec, sparsity),
            workload=_build(WorkloadSpec, workload),
        )

    def candidates_at(self, index: tuple[int, ...]) -> list[MappingSpec]:
        """The mapping candidates of a point (one when ``select = "all"``)."""
        base = {k: v for k, v in self.values_at(index)["mapping"].items()}
        combos = itertools.product(*(a.values for a in self.candidate_axes))
        out = []
        for combo in combos:
            vals = dict(base)
            for axis, v in zip(self.candidate_axes, combo, strict=True):
                vals[axis.key] = v
            out.append(_build(MappingSpec, vals))
        return out

    @property
    def n_candidates(self) -> int:
        n = 1
        for a in self.candidate_axes:
            n *= len(a.values)
        return n


def _build(cls: type, values: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})
