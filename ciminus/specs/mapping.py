"""``[mapping]``: how a layer's weight matrix is laid onto the macros.

Lists here are *candidates*: each design point keeps the best candidate for ``objective`` (or, with
``select = "all"``, every candidate becomes a swept dimension).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import permutations

from ciminus.kernels.layout import LOOP_ORDERS
from ciminus.specs.fields import BOOL, CHOICE, INT, INT_OR_CHOICE, STATS, STR, spec_field

FLATTEN_ORDERS = tuple("".join(p) for p in permutations("CRS"))
TILE_SIZES = ("array", "half")  # symbolic tile_rows: the array's rows, half of them in whole sub-arrays
GRID_PATTERN = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


def tile_rows_of(value: int | str, array_rows: int, subarray_rows: int) -> int:
    """Rows of the weight matrix one macro holds for ``mapping.tile_rows`` = ``value``: the array's own for 0
    or "array", at most the array's, and for "half" the largest whole number of sub-arrays that is at most
    half the array (the array itself when it is one sub-array, which has no smaller tile)."""
    if value == "half":
        if subarray_rows >= array_rows:
            return array_rows
        return max(subarray_rows, (array_rows // 2) // subarray_rows * subarray_rows)
    if value == "array" or not value:
        return array_rows
    return min(array_rows, int(value))


def tile_shape_of(tile_rows: int | str, tile_cols: int, array_rows: int, array_cols: int,
                  subarray_rows: int) -> tuple[int, int]:
    """(rows, columns) of the weight matrix one macro holds: the array, or the mapping's smaller tiling size
    (``mapping.tile_rows``, ``mapping.tile_cols``; 0: the array's)."""
    cols = min(array_cols, int(tile_cols)) if tile_cols else array_cols
    return tile_rows_of(tile_rows, array_rows, subarray_rows), cols


@dataclass(frozen=True, kw_only=True)
class MappingSpec:
    """One mapping: flattening, compression, rearrangement, macro organisation and duplication."""

    flatten: str = spec_field("CRS", kind=CHOICE, choices=FLATTEN_ORDERS, stage=STATS,
                              doc="order of C, R, S along the weight-matrix rows, outermost first; not given: all six searched where "
                                  "the order changes the statistics (channel blocks, real weights, activations)")
    compress: str = spec_field("auto", kind=CHOICE, choices=("auto", "row", "col"), stage=STATS,
                               doc='squeeze zero rows ("row") or zero columns ("col"); "auto" = the pattern\'s natural one; not '
                                   'given: "row" and "col" searched where some point is sparse')
    rearrange: str = spec_field("pad", kind=CHOICE, choices=("pad", "slice"), stage=STATS,
                                doc='ragged compressed tiles: "pad" each to whole macros, or "slice" into sub-array pieces packed '
                                    'together; not given: both searched where sub-arrays are smaller than the array')
    index_format: str = spec_field("auto", kind=CHOICE, choices=("auto", "coordinate", "bitmap"), stage=STATS,
                                   doc="block-index encoding; auto = the smaller per layer")
    tile_rows: int | str = spec_field(0, kind=INT_OR_CHOICE, lo=0, hi=1 << 24, choices=TILE_SIZES, stage=STATS,
                                      doc='tiling size: weight-matrix rows one macro holds (0 or "array": the array\'s '
                                          'rows; more is clipped to them), a multiple of arch.subarray_rows; "half": '
                                          'half the array in whole sub-arrays; not given: "array" and "half" searched '
                                          'where sub-arrays are smaller than the array and inputs are sparse')
    tile_cols: int = spec_field(0, kind=INT, lo=0, hi=1 << 24, stage=STATS,
                                doc="tiling size: weight columns one macro holds (0: the array's columns)")
    macro_grid: str = spec_field("auto", kind=STR,
                                 doc='macro organisation "ROWSxCOLS" (rows share partial-sum reduction, columns share '
                                     'inputs), "square" (the squarest), or "auto": search every organisation of the '
                                     'macros')
    duplicate: bool = spec_field(True, kind=BOOL, doc="copy the weights onto idle macros to split the input vectors; not given: "
                                     "on and off searched")
    copies: int = spec_field(0, kind=INT, lo=0, hi=1 << 20,
                             doc="with duplication, at most this many copies of a layer's weights (0: as many as fit; "
                                 "1: none); not given: 0, 1 and the powers of two below the macros searched")
    loop_order: str = spec_field("auto", kind=CHOICE, choices=("auto", *LOOP_ORDERS),
                                 doc='temporal loops around a step, outermost first ("vectors" outermost: chunks that '
                                     'fit the buffers); "auto" searches all four')
    step_vectors: int = spec_field(0, kind=INT, lo=0, hi=1 << 30,
                                   doc="input vectors per load/compute/write-back step; 0 = as many as the buffers hold")
    select: str = spec_field("best", kind=CHOICE, choices=("best", "best-per-layer", "all"), sweepable=False,
                             doc="keep the best candidate per design point, per layer, or keep all")
    objective: str = spec_field("edp", kind=CHOICE, choices=("energy", "latency", "edp", "area", "edap"),
                                sweepable=False,
                                doc='what the best candidate minimises; a mapping does not change the silicon, so '
                                    '"edap" (energy x delay x area) ranks a point\'s candidates as "edp" does, and '
                                    '"area" (a tie) falls back to "edp"')


SEARCHED_GRID = re.compile(r"^auto:(\d+)$")  # the k-th organisation of a searched macro_grid (set by the engine)


def searched_grid(text: str) -> int | None:
    """``"auto:3"`` -> 3: the third organisation (rows ascending) of the point's macros; None otherwise."""
    m = SEARCHED_GRID.match(text)
    return int(m.group(1)) if m else None


def parse_grid(text: str) -> tuple[int, int] | None:
    """``"4x2"`` -> (4, 2); None for anything else (including "auto" and "square")."""
    m = GRID_PATTERN.match(text)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2))
