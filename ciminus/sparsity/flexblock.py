"""FlexBlock: a sparsity pattern as at most one IntraBlock stage followed by at most one FullBlock stage.

A preset names the blocks; :func:`resolve` turns it into concrete numbers for one layer on one array, in
the *hardware view*: IntraBlock first squeezes every ``m``-long column segment to ``k`` slots, FullBlock
then prunes whole ``block_rows x block_cols`` blocks of that matrix. ``docs/sparsity.md`` tabulates the
presets.
"""

from __future__ import annotations

from dataclasses import dataclass

from ciminus.specs.sparsity import SparsitySpec
from ciminus.workloads.layers import Layer
from ciminus.kernels.layout import COMPRESS_COL, COMPRESS_NONE, COMPRESS_ROW
from ciminus.kernels.tile_stats import intrablock_height

# pattern -> (FullBlock rows, FullBlock cols, IntraBlock?, natural compression)
# A block size is an int, "all" (the whole matrix side), "kernel" (R*S rows: one input channel),
# "array" (one array side) or ("user", default) for the sparsity.block_rows / block_cols keys.
PRESETS: dict[str, tuple[object, object, bool, str]] = {
    "dense": (None, None, False, "none"),
    "unstructured": (1, 1, False, "row"),
    "row-wise": (1, "all", False, "row"),
    "row-block": (1, ("user", "array"), False, "row"),
    "column-wise": ("all", 1, False, "col"),
    "column-block": (("user", "array"), 1, False, "col"),
    "channel-wise": ("kernel", "all", False, "row"),
    "nm": (None, None, True, "row"),
    "hybrid": (1, ("user", "array"), True, "row"),
    "flexblock": (("user", 1), ("user", "array"), True, "row"),
}
COMPRESS_CODES = {"none": COMPRESS_NONE, "row": COMPRESS_ROW, "col": COMPRESS_COL}


@dataclass(frozen=True)
class FlexBlock:
    """The sparsity of one layer as the hardware sees it."""

    block_rows: int  # FullBlock block height in (IntraBlock-compressed) rows; 0 without FullBlock
    block_cols: int
    ratio: float
    ib_keep: int  # IntraBlock non-zeros per segment; 0 without IntraBlock
    ib_segment: int
    index_unit: int  # consecutive flattened rows one block index covers
    compress: int  # kernels.layout.COMPRESS_*

    @property
    def has_fullblock(self) -> bool:
        return self.block_rows > 0

    @property
    def has_intrablock(self) -> bool:
        return self.ib_segment > 0


def nm_keep(ratio: float, segment: int) -> int:
    """Non-zeros kept per segment for an ``nm`` pattern at ``ratio`` zeros (at least one)."""
    return max(1, segment - round(ratio * segment))


def channel_run(layer: Layer, flatten: str) -> int:
    """Consecutive flattened rows of one input channel: the product of the dims inside C in ``flatten``."""
    sizes = {"R": layer.R, "S": layer.S}
    run = 1
    for d in flatten[flatten.index("C") + 1:]:
        run *= sizes[d]
    return run


def _size(sym: object, user: int | str | None, whole: int, kernel: int, array: int) -> int:
    if isinstance(sym, tuple):
        sym = sym[1] if user is None else user
    if sym == "all":
        return whole
    if sym == "kernel":
        return kernel
    if sym == "array":
        return array
    assert isinstance(sym, int)
    return sym


def resolve(sp: SparsitySpec, layer: Layer, array_rows: int, array_cols: int, flatten: str, compress: str) -> FlexBlock:
    """The FlexBlock of ``sp`` for ``layer`` mapped with ``flatten`` order and ``compress`` orientation."""
    fb_rows, fb_cols, intra, natural = PRESETS[sp.pattern]
    if sp.pattern == "dense":
        return FlexBlock(0, 0, 0.0, 0, 0, 1, COMPRESS_NONE)
    rows = layer.rows
    ib_keep = ib_segment = 0
    if intra:
        if sp.pattern == "nm":
            ib_keep, ib_segment = nm_keep(sp.ratio, sp.nm_m), sp.nm_m
        elif sp.nm_n < sp.nm_m:
            ib_keep, ib_segment = sp.nm_n, sp.nm_m
    height = intrablock_height(rows, ib_keep, ib_segment) if ib_segment else rows
    orient = COMPRESS_CODES[natural if compress == "auto" else compress]
    if fb_rows is None:
        return FlexBlock(0, 0, 0.0, ib_keep, ib_segment, 1, orient)
    kernel = layer.R * layer.S
    bm = min(height, _size(fb_rows, sp.block_rows, height, kernel, array_rows))
    bn = min(layer.cols, _size(fb_cols, sp.block_cols, layer.cols, kernel, array_cols))
    unit = channel_run(layer, flatten) if fb_rows == "kernel" else bm
    return FlexBlock(bm, bn, sp.ratio, ib_keep, ib_segment, min(unit, bm), orient)
