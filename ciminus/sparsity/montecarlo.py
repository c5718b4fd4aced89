"""Monte-Carlo tile statistics: draw real random masks and count tiles exactly.

This is the independent check of the closed-form expectation (``kernels.tile_stats``): the same
FlexBlock, but actual masks with exactly Phi kept blocks, counted by :func:`kernels.tile_stats.mask_tile_stats`.
"""

from __future__ import annotations

import zlib

import numpy as np

from ciminus.kernels import layout as L
from ciminus.kernels.layout import N_STATS
from ciminus.kernels.tile_stats import blocked_height, ceil_div, kept_blocks, mask_tile_stats
from ciminus.sparsity.flexblock import FlexBlock
from ciminus.workloads.layers import Layer


def draw_masks(layer: Layer, flex: FlexBlock, rng: np.random.Generator) -> np.ndarray:
    """One random mask per group, in the hardware view (IntraBlock slots, FullBlock blocks; a channel block
    holds its channel's rows wherever the flattening order puts them), uint8."""
    rows = layer.rows
    height = blocked_height(rows, flex.ib_keep, flex.ib_segment, flex.ib_period) if flex.has_intrablock else rows
    cols = layer.cols
    if flex.first == L.FIRST_BLOCKS:
        return _nested_masks(layer, flex, rng)
    if not flex.has_fullblock:
        return np.ones((layer.groups, height, cols), dtype=np.uint8)
    masks = np.empty((layer.groups, height, cols), dtype=np.uint8)
    bm, bn = flex.block_rows, flex.block_cols
    hb, nb = ceil_div(height, bm), ceil_div(cols, bn)
    n_blocks = hb * nb
    n_kept = kept_blocks(flex.ratio, n_blocks)
    rows_block = block_rows_of(height, bm, flex.index_unit, hb)
    for g in range(layer.groups):
        keep = np.zeros(n_blocks, dtype=np.uint8)
        keep[rng.choice(n_blocks, size=n_kept, replace=False)] = 1
        grid = keep.reshape(hb, nb)
        masks[g] = np.repeat(grid[rows_block], bn, axis=1)[:, :cols]
    return masks


def _nested_masks(layer: Layer, flex: FlexBlock, rng: np.random.Generator) -> np.ndarray:
    """Masks of a first stage of narrower blocks and the FullBlock pattern after it: the first keeps
    ``first_kept`` of its blocks; of the pattern's blocks still holding a kept weight (``live``) the pattern
    keeps floor((1 - ratio) * live), and a kept pattern block keeps only what the first stage left."""
    masks = np.empty((layer.groups, layer.rows, layer.cols), dtype=np.uint8)
    first, n_first = block_cells(layer.rows, layer.cols, flex.first_block_rows, flex.first_block_cols)
    if flex.has_fullblock:
        cell, n_blocks = block_cells(layer.rows, layer.cols, flex.block_rows, flex.block_cols, flex.index_unit)
    for g in range(layer.groups):
        keep = np.zeros(n_first, dtype=bool)
        keep[rng.choice(n_first, size=flex.first_kept, replace=False)] = True
        cells = keep[first]
        if flex.has_fullblock:
            alive = np.flatnonzero(np.bincount(cell.ravel(), weights=cells.ravel(), minlength=n_blocks))
            kept = np.zeros(n_blocks, dtype=bool)
            kept[rng.choice(alive, size=kept_blocks(flex.ratio, len(alive)), replace=False)] = True
            cells &= kept[cell]
        masks[g] = cells
    return masks


def block_cells(rows: int, cols: int, block_rows: int, block_cols: int, run: int = 0) -> tuple[np.ndarray, int]:
    """(the FullBlock block of every cell of a ``rows x cols`` matrix, numbered row-major, as a ``rows x
    cols`` array; how many blocks): blocks of ``block_rows x block_cols``, a block row interleaved runs of
    ``run`` rows where ``run`` < ``block_rows`` (:func:`block_rows_of`)."""
    hb, nb = ceil_div(rows, block_rows), ceil_div(cols, block_cols)
    row_block = block_rows_of(rows, block_rows, run if run > 0 else block_rows, hb)
    return row_block[:, None] * nb + (np.arange(cols) // block_cols)[None, :], hb * nb


def counted_blocks(flex: FlexBlock) -> tuple[int, int, bool, int]:
    """(block rows, block cols, FullBlock?, index unit) that the mask counter indexes a layer's masks by:
    the pattern's, or after a first stage of narrower blocks the finer of its and the pattern's blocks (one
    index at that grain routes what both stages kept)."""
    if flex.first != L.FIRST_BLOCKS:
        return flex.block_rows, flex.block_cols, flex.has_fullblock, flex.index_unit
    if not flex.has_fullblock:
        return flex.first_block_rows, flex.first_block_cols, True, flex.first_block_rows
    return (min(flex.block_rows, flex.first_block_rows), min(flex.block_cols, flex.first_block_cols), True,
            min(flex.index_unit, flex.first_block_rows))


def block_rows_of(height: int, block_rows: int, run: int, n_blocks: int) -> np.ndarray:
    """The FullBlock block row of every row: ``block_rows`` consecutive rows, or, for channel blocks whose
    rows the flattening order interleaves (``run`` < ``block_rows``), row r in block (r // run) mod n_blocks."""
    r = np.arange(height)
    return (r // run) % n_blocks if run < block_rows else r // block_rows


def layer_rng(seed: int, layer: Layer) -> np.random.Generator:
    """A generator of its own for each layer, reproducible from the sweep's seed and the layer name."""
    return np.random.default_rng([seed, zlib.crc32(layer.name.encode())])


def montecarlo_tile_stats(layer: Layer, flex: FlexBlock, array_rows: int, array_cols: int, sub_rows: int,
                          sub_cols: int, rearrange: int, index_format: int, samples: int, seed: int) -> np.ndarray:
    """Mean tile statistics over ``samples`` random masks (``kernels.layout.S_*`` order)."""
    rng = layer_rng(seed, layer)
    acc = np.zeros(N_STATS)
    one = np.zeros(N_STATS)
    if not flex.has_fullblock and flex.first != L.FIRST_BLOCKS:
        samples = 1  # nothing is drawn: every sample is the same mask (and the generator is not used)
    block_rows, block_cols, has_fullblock, unit = counted_blocks(flex)
    for _ in range(samples):
        masks = draw_masks(layer, flex, rng)
        mask_tile_stats(masks, layer.rows, array_rows, array_cols, sub_rows, sub_cols, block_rows, block_cols,
                        has_fullblock, *flex.intrablock_args(), unit, flex.compress, rearrange, index_format, one)
        acc += one
    return acc / samples
