"""Monte-Carlo tile statistics: draw real random masks and count tiles exactly.

This is the independent check of the closed-form expectation (``kernels.tile_stats``): the same
FlexBlock, but actual masks with exactly Phi kept blocks, counted by :func:`kernels.tile_stats.mask_tile_stats`.
"""

from __future__ import annotations

import zlib

import numpy as np

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
    if not flex.has_fullblock:
        samples = 1  # nothing is drawn: every sample is the same mask (and the generator is not used)
    for _ in range(samples):
        masks = draw_masks(layer, flex, rng)
        mask_tile_stats(masks, layer.rows, array_rows, array_cols, sub_rows, sub_cols, flex.block_rows, flex.block_cols,
                        flex.has_fullblock, *flex.intrablock_args(), flex.index_unit, flex.compress,
                        rearrange, index_format, one)
        acc += one
    return acc / samples
