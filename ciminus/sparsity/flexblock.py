"""FlexBlock: a sparsity pattern as at most one IntraBlock and at most one FullBlock stage, in either order.

A preset names the blocks; :func:`resolve` turns it into concrete numbers for one layer on one array, in
the *hardware view*: IntraBlock squeezes every ``m``-long column segment to ``k`` slots and FullBlock
prunes whole blocks of that slot matrix. Intra-first (the default), the segments run down the column and
the blocks are cut from the slots; full-first, the blocks are cut from the weights and the segments
restart inside every block, so a block of ``b`` weight rows is ``k``-of-``m``-squeezed to its slots. The presets live in one place,
``ciminus.kernels.tile_stats.flexblock``, which the engine's stage-1 kernel calls compiled and this module
calls as Python; ``docs/sparsity.md`` tabulates them. The codes the kernel reads are made here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ciminus.kernels import layout as L
from ciminus.kernels.jit import python
from ciminus.kernels.tile_stats import first_blocks, first_blocks_compress, first_stage, flexblock, nm_keep
from ciminus.sparsity.masks import parse_masks
from ciminus.specs.mapping import FLATTEN_ORDERS
from ciminus.specs.sparsity import PATTERNS, SparsitySpec
from ciminus.workloads.layers import Layer

PATTERN_CODES = {name: code for code, name in enumerate(PATTERNS)}
assert PATTERN_CODES["dense"] == L.PATTERN_DENSE and PATTERN_CODES["flexblock"] == L.PATTERN_FLEXBLOCK
COMPRESS_CODES = {"auto": L.COMPRESS_AUTO, "row": L.COMPRESS_ROW, "col": L.COMPRESS_COL}
SIZE_CODES = {None: L.SIZE_DEFAULT, "all": L.SIZE_ALL, "kernel": L.SIZE_KERNEL, "array": L.SIZE_ARRAY}
FLATTEN_CODES = {name: code for code, name in enumerate(FLATTEN_ORDERS)}
STAGE_ORDER_CODES = {name: code for code, name in enumerate(L.STAGE_ORDERS)}

__all__ = ["FlexBlock", "channel_run", "nm_keep", "reduced_layer", "resolve", "size_code"]


@dataclass(frozen=True)
class FlexBlock:
    """The sparsity of one layer as the hardware sees it."""

    block_rows: int  # FullBlock block height in (IntraBlock-compressed) rows; 0 without FullBlock
    block_cols: int
    ratio: float
    ib_keep: int  # IntraBlock non-zeros per segment; 0 without IntraBlock
    ib_segment: int
    ib_period: int  # weight rows after which segments restart (full-first: one block); 0: never
    ib_fanin: int  # inputs one slot's multiplexer selects from
    ib_used: int  # positions of a segment any allowed mask keeps
    ib_mask_bits: int  # bits numbering a mask of the set; -1 without a set (every k of m)
    index_unit: int  # consecutive flattened rows one block index covers
    compress: int  # kernels.layout.COMPRESS_*
    ib_masks: tuple[int, ...] = ()  # the allowed masks as bit sets (bit i: the segment's row i); () every k of m
    first: int = L.FIRST_NONE  # a first FullBlock stage of whole rows, channels, columns or blocks (FIRST_*)
    first_ratio: float = 0.0
    first_kept: int = 0  # rows, channels, columns or blocks it keeps per group, of first_blocks
    first_blocks: int = 0
    first_block_rows: int = 0  # FIRST_BLOCKS: its blocks, in weight rows and columns
    first_block_cols: int = 0
    ib_cols: int = 1  # adjacent columns whose segments share one mask (IntraBlock blocks of ib_segment x ib_cols)

    @property
    def has_fullblock(self) -> bool:
        return self.block_rows > 0

    @property
    def has_intrablock(self) -> bool:
        return self.ib_segment > 0

    def intrablock_args(self) -> tuple[int, int, int, int, int]:
        """(keep, segment, fan-in, used, mask bits): the IntraBlock arguments of the mask counter."""
        return self.ib_keep, self.ib_segment, self.ib_fanin, self.ib_used, self.ib_mask_bits


def size_code(value: int | str | None) -> int:
    """``sparsity.block_rows`` / ``block_cols`` as the kernel reads it: a size, or a ``SIZE_*`` symbol."""
    return SIZE_CODES[value] if value is None or isinstance(value, str) else int(value)


def channel_run(layer: Layer, flatten: str) -> int:
    """Consecutive flattened rows of one input channel: the product of the dims inside C in ``flatten``."""
    sizes = {"R": layer.R, "S": layer.S}
    run = 1
    for d in flatten[flatten.index("C") + 1:]:
        run *= sizes[d]
    return run


def resolve(sp: SparsitySpec, layer: Layer, array_rows: int, array_cols: int, flatten: str, compress: str) -> FlexBlock:
    """The FlexBlock of ``sp`` for ``layer`` mapped with ``flatten`` order and ``compress`` orientation (after
    a first stage, for the matrix it leaves: :func:`reduced_layer`)."""
    ms = parse_masks(sp.intrablock_masks)
    n_masks, fanin, used = (len(ms.masks), ms.fanin, ms.used) if ms else (0, 0, 0)
    first = L.FIRST_STAGES.index(sp.first)
    rows, cols, kernel, run, kept, blocks = python(first_stage)(first, sp.first_ratio, layer.rows, layer.cols,
                                                                layer.R * layer.S, channel_run(layer, flatten))
    flex = FlexBlock(*python(flexblock)(
        PATTERN_CODES[sp.pattern], sp.ratio, size_code(sp.block_rows), size_code(sp.block_cols), sp.nm_n, sp.nm_m,
        max(1, rows), max(1, cols), kernel, run, array_rows, array_cols, COMPRESS_CODES[compress],
        STAGE_ORDER_CODES[sp.order], n_masks, fanin, float(used)))
    flex = dataclasses.replace(flex, first=first, first_ratio=sp.first_ratio, first_kept=kept, first_blocks=blocks)
    if first == L.FIRST_BLOCKS:
        flex = _first_blocks(flex, sp, layer, array_rows, array_cols, compress)
    if ms is not None and flex.has_intrablock:
        flex = dataclasses.replace(flex, ib_masks=ms.masks)
    if flex.has_intrablock and sp.intrablock_cols > 1:
        flex = dataclasses.replace(flex, ib_cols=sp.intrablock_cols)
    return flex


def _first_blocks(flex: FlexBlock, sp: SparsitySpec, layer: Layer, array_rows: int, array_cols: int,
                  compress: str) -> FlexBlock:
    """A first stage of ``first_block_rows x first_block_cols`` blocks (clipped to the matrix), of which
    floor((1 - first_ratio) * blocks) are kept per group. Before the dense pattern it is the only pruning,
    compressed by rows unless its blocks are whole columns (or the mapping says otherwise)."""
    bm, bn, kept, n = python(first_blocks)(size_code(sp.first_block_rows), size_code(sp.first_block_cols),
                                          sp.first_ratio, layer.rows, layer.cols, layer.R * layer.S, array_rows,
                                          array_cols)
    flex = dataclasses.replace(flex, first_block_rows=bm, first_block_cols=bn, first_blocks=n, first_kept=kept)
    if flex.compress == L.COMPRESS_NONE:  # the dense pattern
        orient = python(first_blocks_compress)(bm, bn, layer.rows, layer.cols, COMPRESS_CODES[compress])
        flex = dataclasses.replace(flex, compress=orient)
    return flex


def reduced_layer(layer: Layer, flex: FlexBlock) -> Layer | None:
    """The layer the pattern sees once ``flex``'s first stage has pruned whole rows, channels or columns
    (``layer`` itself without one, or after narrower blocks; None when it keeps nothing)."""
    g = layer.groups
    if flex.first == L.FIRST_NONE:
        return layer
    if flex.first_kept == 0:
        return None
    if flex.first == L.FIRST_BLOCKS:
        return layer  # the pattern prunes among the kept blocks, in place
    if flex.first == L.FIRST_ROWS:
        return dataclasses.replace(layer, C=flex.first_kept * g, R=1, S=1)
    if flex.first == L.FIRST_CHANNELS:
        return dataclasses.replace(layer, C=flex.first_kept * g)
    return dataclasses.replace(layer, K=flex.first_kept * g)
