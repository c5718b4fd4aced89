"""Channel blocks are input channels under every flattening order, not R*S consecutive rows: the closed form,
random masks and magnitude pruning agree on which rows a channel holds."""

import numpy as np
import pytest

from ciminus.kernels import layout as L
from ciminus.kernels.tile_stats import mask_tile_stats
from ciminus.sparsity.flexblock import resolve
from ciminus.sparsity.montecarlo import draw_masks
from ciminus.sparsity.stats import INDEX_CODES, REARRANGE_CODES, sparse_stats
from ciminus.sparsity.weights import prune, weight_matrices
from ciminus.specs.mapping import FLATTEN_ORDERS
from ciminus.specs.sparsity import SparsitySpec
from ciminus.workloads.layers import Layer

CONV = Layer(name="c", kind="conv", C=24, K=20, R=3, S=3, H=8, W=8, pad=1)  # 216 rows, 24 channels of 9


@pytest.mark.parametrize("flatten", FLATTEN_ORDERS)
def test_masks_keep_whole_channels_in_every_order(flatten):
    flex = resolve(SparsitySpec(pattern="channel-wise", ratio=0.5), CONV, 32, 16, flatten, "col")
    mask = draw_masks(CONV, flex, np.random.default_rng(1))[0]
    w = np.arange(1, CONV.K * CONV.C * 9 + 1, dtype=float).reshape(CONV.K, CONV.C, 3, 3)
    # the mask's rows, put back into the weight tensor's (C, R, S) positions
    rows = weight_matrices(w, CONV, flatten)[0][:, 0]  # row -> the weight of filter 0 it holds
    channel_of_row = ((rows - 1) // 9) % CONV.C
    kept = {int(c) for c, m in zip(channel_of_row, mask[:, 0], strict=True) if m}
    dropped = {int(c) for c, m in zip(channel_of_row, mask[:, 0], strict=True) if not m}
    assert not kept & dropped and len(kept) == 12


@pytest.mark.parametrize("flatten", ["RCS", "RSC", "SRC"])
@pytest.mark.parametrize("rearrange", ["pad", "slice"])
def test_column_compression_of_interleaved_channels_matches_the_masks(flatten, rearrange):
    """Compressing channel blocks by column: a row tile is empty only if every channel it meets is pruned.
    Under RSC a 32-row tile meets all 24 channels (it is never empty); under CRS it meets 4 of them."""
    flex = resolve(SparsitySpec(pattern="channel-wise", ratio=0.75), CONV, 32, 16, flatten, "col")
    expected = sparse_stats(CONV, flex, 32, 16, 8, 4, rearrange, "auto")
    one = np.zeros(L.N_STATS)
    rng = np.random.default_rng(3)
    draws = np.array([one.copy() for _ in range(400)])
    for i in range(len(draws)):
        mask_tile_stats(draw_masks(CONV, flex, rng), CONV.rows, 32, 16, 8, 4, flex.block_rows, flex.block_cols,
                        flex.has_fullblock, *flex.intrablock_args(), flex.index_unit, flex.compress,
                        REARRANGE_CODES[rearrange], INDEX_CODES["auto"], draws[i])
    for col in (L.S_TILES, L.S_PSUM, L.S_FETCH, L.S_STORED):
        mean = draws[:, col].mean()
        se = draws[:, col].std(ddof=1) / np.sqrt(len(draws))
        slack = 0.03 * mean if rearrange == "slice" else 0.0  # the fill-offset approximation, docs/model.md §3.5
        assert abs(expected[col] - mean) <= 4 * se + 16 * 5 / len(draws) + slack + 1e-9 * mean, (col, expected[col], mean)
    if flatten == "RSC":
        dense = sparse_stats(CONV, resolve(SparsitySpec(), CONV, 32, 16, flatten, "auto"), 32, 16, 8, 4, "pad", "auto")
        assert expected[L.S_PSUM] == dense[L.S_PSUM]  # no row tile can lose its columns


@pytest.mark.parametrize("flatten", FLATTEN_ORDERS)
def test_magnitude_pruning_removes_whole_channels_in_every_order(flatten):
    w = np.random.default_rng(4).standard_normal((CONV.K, CONV.C, 3, 3))
    w[:, 5] *= 10.0  # a strong channel survives
    flex = resolve(SparsitySpec(pattern="channel-wise", ratio=0.75), CONV, 32, 16, flatten, "auto")
    pruned = prune(w, CONV, flex, flatten)
    alive = np.abs(pruned).sum(axis=(0, 2, 3)) > 0
    assert alive.sum() == 6 and alive[5]
    np.testing.assert_array_equal(pruned[:, alive], w[:, alive])
    norms = np.abs(w).sum(axis=(0, 2, 3))
    assert set(np.flatnonzero(alive)) == set(np.argsort(-norms, kind="stable")[:6])
