"""Tile statistics of a layer under a sparsity and a mapping: the bridge from sparsity to cost.

The cost model reads only these numbers (``kernels.layout.S_*``), so the source of a layer's zero pattern
(random-mask expectation, Monte-Carlo masks, and later real weights) is interchangeable.
"""

from __future__ import annotations

import numpy as np

from ciminus.kernels.jit import python
from ciminus.kernels.layout import (
    FIRST_BLOCKS,
    INDEX_AUTO,
    INDEX_BITMAP,
    INDEX_COORDINATE,
    N_STATS,
    REARRANGE_PAD,
    REARRANGE_SLICE,
    REASON_OK,
    REASON_WEIGHTS_FORMAT,
    S_REASON,
)
from ciminus.kernels.tile_stats import (
    add_first_stage,
    dense_tile_stats,
    expected_tile_stats,
    first_blocks_reason,
    mask_tile_stats,
    pruned_whole,
    share_intrablock,
)
from ciminus.sparsity.flexblock import FlexBlock, reduced_layer
from ciminus.sparsity.montecarlo import counted_blocks, montecarlo_tile_stats
from ciminus.workloads.layers import Layer

REARRANGE_CODES = {"pad": REARRANGE_PAD, "slice": REARRANGE_SLICE}
INDEX_CODES = {"auto": INDEX_AUTO, "coordinate": INDEX_COORDINATE, "bitmap": INDEX_BITMAP}


def dense_stats(layer: Layer, array_rows: int, array_cols: int) -> np.ndarray:
    """Statistics of the layer's dense weights (the baseline every speed-up is measured against)."""
    out = np.zeros(N_STATS)
    dense_tile_stats(layer.rows, layer.cols, layer.groups, array_rows, array_cols, out)
    return out


def _nothing_kept(layer: Layer, array_rows: int, array_cols: int, sub_rows: int, sub_cols: int, index_format: int,
                  out: np.ndarray) -> None:
    """Statistics of a layer whose first stage keeps nothing (as the engine's ``job_stats`` prices it)."""
    bm, bn, ratio, keep, segment, period, fanin, used, mask_bits, unit, compress = pruned_whole(layer.rows, layer.cols)
    expected_tile_stats(layer.rows, layer.cols, layer.groups, array_rows, array_cols, sub_rows, sub_cols, bm, bn,
                        ratio, True, keep, segment, period, fanin, used, mask_bits, unit, compress, REARRANGE_PAD,
                        index_format, 0, 0, 0.0, out)


def sparse_stats(layer: Layer, flex: FlexBlock, array_rows: int, array_cols: int, sub_rows: int, sub_cols: int,
                 rearrange: str, index_format: str, method: str = "expected", samples: int = 32,
                 seed: int = 0) -> np.ndarray:
    """Statistics of the layer under ``flex``: closed-form expectation or Monte-Carlo mean (of the matrix a
    first stage leaves, plus that stage's index)."""
    rea = REARRANGE_CODES[rearrange]
    fmt = INDEX_CODES[index_format]
    out = np.zeros(N_STATS)
    why = python(first_blocks_reason)(flex.first, flex.ib_segment)
    if why != REASON_OK:
        out[S_REASON] = why
        return out
    part = reduced_layer(layer, flex)
    if part is None:
        _nothing_kept(layer, array_rows, array_cols, sub_rows, sub_cols, fmt, out)
    elif method == "monte-carlo":
        out = montecarlo_tile_stats(part, flex, array_rows, array_cols, sub_rows, sub_cols, rea, fmt, samples, seed)
    elif flex.first == FIRST_BLOCKS and not flex.has_fullblock:  # first blocks before the dense pattern
        expected_tile_stats(part.rows, part.cols, part.groups, array_rows, array_cols, sub_rows, sub_cols,
                            flex.first_block_rows, flex.first_block_cols, flex.first_ratio, True, 0, 0, 0, 0, 0.0, -1,
                            flex.first_block_rows, flex.compress, rea, fmt, 0, 0, 0.0, out)
    else:
        nested = flex.first == FIRST_BLOCKS
        expected_tile_stats(part.rows, part.cols, part.groups, array_rows, array_cols, sub_rows, sub_cols,
                            flex.block_rows, flex.block_cols, flex.ratio, flex.has_fullblock, flex.ib_keep,
                            flex.ib_segment, flex.ib_period, flex.ib_fanin, flex.ib_used, flex.ib_mask_bits,
                            flex.index_unit, flex.compress, rea, fmt, flex.first_block_rows if nested else 0,
                            flex.first_block_cols if nested else 0, flex.first_ratio if nested else 0.0, out)
    if part is not None and flex.has_intrablock:
        share_intrablock(flex.ib_cols, part.cols, array_cols, out)
    add_first_stage(flex.first, flex.first_kept, flex.first_blocks, layer.groups, out)
    return out


def weight_stats(weights, layer: Layer, flex: FlexBlock, array_rows: int, array_cols: int, sub_rows: int,
                 sub_cols: int, rearrange: str, index_format: str, flatten: str, prune: bool) -> np.ndarray:
    """Exact statistics of real weights (magnitude-pruned into ``flex`` first when ``prune``)."""
    from ciminus.sparsity.weights import WeightsError, hardware_masks, pruned_masks

    out = np.zeros(N_STATS)
    why = python(first_blocks_reason)(flex.first, flex.ib_segment)
    if why != REASON_OK:
        out[S_REASON] = why
        return out
    try:
        masks = pruned_masks(weights, layer, flex, flatten) if prune else hardware_masks(weights, layer, flex, flatten)
    except WeightsError:
        out[S_REASON] = REASON_WEIGHTS_FORMAT
        return out
    part = reduced_layer(layer, flex)  # a first stage prunes only with prune = true (ciminus.validate)
    if part is None:
        _nothing_kept(layer, array_rows, array_cols, sub_rows, sub_cols, INDEX_CODES[index_format], out)
    else:
        block_rows, block_cols, has_fullblock, unit = counted_blocks(flex)
        mask_tile_stats(masks, part.rows, array_rows, array_cols, sub_rows, sub_cols, block_rows, block_cols,
                        has_fullblock, *flex.intrablock_args(), unit, flex.compress, REARRANGE_CODES[rearrange],
                        INDEX_CODES[index_format], out)
        if flex.has_intrablock:
            share_intrablock(flex.ib_cols, part.cols, array_cols, out)
    add_first_stage(flex.first, flex.first_kept, flex.first_blocks, layer.groups, out)
    return out
