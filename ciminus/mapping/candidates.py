"""Mapping candidates: the mappings a sweep lists for every design point, and what tells them apart.

Only the mapping keys marked *stats* change a layer's tile statistics (``flatten``, ``compress``,
``rearrange``, ``index_format``): candidates that agree on them share one *statistics variant*.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from ciminus.kernels.equations import auto_grid_rows, kth_divisor
from ciminus.kernels.jit import python
from ciminus.resolve import build_spec
from ciminus.specs.fields import stats_keys
from ciminus.specs.mapping import MappingSpec, parse_grid, searched_grid
from ciminus.specs.sweep import Axis, Sweep

STATS_KEYS = stats_keys(MappingSpec)


@dataclass(frozen=True)
class Candidate:
    """One mapping candidate and its macro grid in the kernels' encoding (``CP_GRID_ROWS``, ``CP_GRID_COLS``):
    (rows, cols), (0, 0) for the squarest, (-k, 0) for the k-th organisation of a search."""

    spec: MappingSpec
    grid: tuple[int, int]


def candidate_specs(sweep: Sweep, axes: tuple[Axis, ...]) -> list[Candidate]:
    """Every combination of the candidate axes' values on top of the fixed mapping keys, in C order."""
    out = []
    for combo in itertools.product(*(a.values for a in axes)):
        values = dict(sweep.fixed["mapping"])
        values.update({a.key: v for a, v in zip(axes, combo, strict=True)})
        spec = build_spec(MappingSpec, values)
        out.append(Candidate(spec, grid_code(spec.macro_grid)))
    return out


def grid_code(text: str) -> tuple[int, int]:
    """``macro_grid`` as the kernels read it (see :class:`Candidate`)."""
    k = searched_grid(text)
    if k is not None:
        return -k, 0
    return parse_grid(text) or (0, 0)


def stats_variant(c: Candidate) -> tuple[str, ...]:
    """The mapping keys that decide tile statistics."""
    return tuple(getattr(c.spec, k) for k in STATS_KEYS)


def grid_of(mapping: MappingSpec, macros: int) -> tuple[int, int]:
    """(rows, cols) of the macro organisation; rows share a partial-sum chain, columns share inputs. A searched
    organisation past the last divisor of ``macros`` is (0, 0): it matches no point."""
    k = searched_grid(mapping.macro_grid)
    if k is not None:
        rows = python(kth_divisor)(macros, k)
        return rows, macros // rows if rows else 0
    rc = parse_grid(mapping.macro_grid)
    if rc is None:
        rows = python(auto_grid_rows)(macros)
        return rows, macros // rows
    return rc
