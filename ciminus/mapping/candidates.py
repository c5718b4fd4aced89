"""Mapping candidates: the mappings a sweep lists for every design point, and what tells them apart.

Only the mapping keys marked *stats* change a layer's tile statistics (``flatten``, ``compress``,
``rearrange``, ``index_format``): candidates that agree on them share one *statistics variant*.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from ciminus.kernels.equations import auto_grid_rows
from ciminus.kernels.jit import python
from ciminus.resolve import build_spec
from ciminus.specs.fields import stats_keys
from ciminus.specs.mapping import MappingSpec, parse_grid
from ciminus.specs.sweep import Axis, Sweep

STATS_KEYS = stats_keys(MappingSpec)


@dataclass(frozen=True)
class Candidate:
    """One mapping candidate; ``grid`` is None for the automatic (squarest) macro grid."""

    spec: MappingSpec
    grid: tuple[int, int] | None


def candidate_specs(sweep: Sweep, axes: tuple[Axis, ...]) -> list[Candidate]:
    """Every combination of the candidate axes' values on top of the fixed mapping keys, in C order."""
    out = []
    for combo in itertools.product(*(a.values for a in axes)):
        values = dict(sweep.fixed["mapping"])
        values.update({a.key: v for a, v in zip(axes, combo, strict=True)})
        spec = build_spec(MappingSpec, values)
        out.append(Candidate(spec, parse_grid(spec.macro_grid)))
    return out


def stats_variant(c: Candidate) -> tuple[str, ...]:
    """The mapping keys that decide tile statistics."""
    return tuple(getattr(c.spec, k) for k in STATS_KEYS)


def grid_of(mapping: MappingSpec, macros: int) -> tuple[int, int]:
    """(rows, cols) of the macro organisation; rows share a partial-sum chain, columns share inputs."""
    rc = parse_grid(mapping.macro_grid)
    if rc is None:
        rows = python(auto_grid_rows)(macros)
        return rows, macros // rows
    return rc
