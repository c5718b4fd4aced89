"""Tile statistics: exact cases by hand, and the closed form against Monte-Carlo masks."""

import itertools

import numpy as np
import pytest

from ciminus.kernels import layout as L
from ciminus.kernels.tile_stats import kept_block_rows_pmf, kept_blocks, mask_tile_stats
from ciminus.sparsity.flexblock import channel_run, nm_keep, resolve
from ciminus.sparsity.montecarlo import draw_masks, layer_rng
from ciminus.sparsity.stats import REARRANGE_CODES, dense_stats, sparse_stats
from ciminus.specs import PATTERNS, SparsitySpec
from ciminus.workloads.layers import Layer

CONV = Layer("conv", "conv", C=32, K=48, R=3, S=3, H=8, W=8, pad=1)  # 288 x 48
ODD = Layer("odd", "conv", C=20, K=70, R=3, S=3, H=8, W=8, pad=1)  # 180 x 70: ragged edges
DEPTHWISE = Layer("dw", "conv", C=24, K=24, R=3, S=3, H=8, W=8, pad=1, groups=24)  # 24 groups of 9 x 1
GEOMETRIES = [(32, 16, 32, 16), (64, 32, 16, 8)]  # array rows, cols, sub-array rows, cols


def stats(layer, pattern, ratio, geom=GEOMETRIES[0], compress="auto", rearrange="pad", flatten="CRS", **kw):
    X, Y, Xs, Ys = geom
    flex = resolve(SparsitySpec(pattern=pattern, ratio=ratio, **kw), layer, X, Y, flatten, compress)
    return flex, sparse_stats(layer, flex, X, Y, Xs, Ys, rearrange, "auto")


def montecarlo(layer, flex, geom, rearrange, samples, seed=1):
    X, Y, Xs, Ys = geom
    rng = layer_rng(seed, layer)
    one = np.zeros(L.N_STATS)
    rows = []
    for _ in range(samples):
        masks = draw_masks(layer, flex, rng)
        mask_tile_stats(masks, layer.rows, X, Y, Xs, Ys, flex.block_rows, flex.block_cols, flex.has_fullblock,
                        *flex.intrablock_args(), flex.index_unit, flex.compress, REARRANGE_CODES[rearrange],
                        L.INDEX_AUTO, one)
        rows.append(one.copy())
    rows = np.array(rows)
    return rows.mean(0), rows.std(0, ddof=1) / np.sqrt(samples)


def test_dense_statistics_by_hand():
    st = dense_stats(CONV, 32, 16)
    assert st[L.S_TILES] == 9 * 3 and st[L.S_ROW_TILES] == 9 and st[L.S_COL_TILES] == 3
    assert st[L.S_STORED] == 288 * 48
    assert st[L.S_FETCH] == 288 * 3  # each column tile fetches all rows
    assert st[L.S_PSUM] == 48 * 9 and st[L.S_OUT_NZ] == 48
    assert st[L.S_IDX_READ] == 0 and st[L.S_MUX_CELLS] == 0 and st[L.S_CRIT_ROWS] == 32
    dw = dense_stats(DEPTHWISE, 32, 16)  # 9 x 1 groups: 3 per array, block-diagonally
    assert dw[L.S_TILES] == 8 and dw[L.S_COL_TILES] == 8 and dw[L.S_CRIT_ROWS] == 27


def test_kept_blocks_is_the_published_floor():
    assert kept_blocks(0.5, 10) == 5
    assert kept_blocks(0.7, 10) == 3  # floor(3.0000000000000004) and floor(2.9999999999999996) alike
    assert kept_blocks(0.0, 7) == 7 and kept_blocks(0.99, 7) == 0


def test_hypergeometric_block_rows():
    pmf = np.empty(11)
    kept_block_rows_pmf(10, 40, 13, 1, pmf)
    assert pmf.sum() == pytest.approx(1.0)
    assert (pmf * np.arange(11)).sum() == pytest.approx(10 * 13 / 40)
    kept_block_rows_pmf(10, 40, 13, 4, pmf)  # four blocks per row: P(row kept) = 1 - P(all four pruned)
    q = 1 - (27 * 26 * 25 * 24) / (40 * 39 * 38 * 37)
    assert (pmf * np.arange(11)).sum() == pytest.approx(10 * q)


def test_row_wise_is_deterministic():
    flex, st = stats(CONV, "row-wise", 0.5)
    kept = kept_blocks(0.5, 288)
    assert flex.block_rows == 1 and flex.block_cols == 48
    assert st[L.S_TILES] == 3 * np.ceil(kept / 32)
    assert st[L.S_STORED] == kept * 48


def test_monte_carlo_of_a_pattern_without_fullblock_is_its_one_mask():
    """A sparsity without a FullBlock stage draws nothing: the Monte-Carlo statistics are those of its one
    mask, whatever the sample count (the evaluator counts it once)."""
    from ciminus.sparsity.montecarlo import montecarlo_tile_stats

    X, Y, Xs, Ys = GEOMETRIES[1]
    for pattern, ratio in (("nm", 0.5), ("dense", 0.0)):
        flex, _ = stats(ODD, pattern, ratio, GEOMETRIES[1])
        assert not flex.has_fullblock
        args = (ODD, flex, X, Y, Xs, Ys, REARRANGE_CODES["slice"], L.INDEX_AUTO)
        mean, _ = montecarlo(ODD, flex, GEOMETRIES[1], "slice", 5)
        np.testing.assert_array_equal(montecarlo_tile_stats(*args, samples=50, seed=3), mean)


def test_nm_is_deterministic_and_pays_for_its_mux():
    assert nm_keep(0.5, 4) == 2 and nm_keep(0.75, 4) == 1 and nm_keep(0.99, 4) == 1 and nm_keep(0.0, 4) == 4
    flex, st = stats(CONV, "nm", 0.5)
    assert (flex.ib_keep, flex.ib_segment) == (2, 4)
    assert st[L.S_TILES] == 3 * np.ceil(144 / 32)
    assert st[L.S_MUX_CELLS] == 144 * 48 and st[L.S_MUX_LEVELS] == 2
    assert st[L.S_FETCH] == 144 * 3 * 2  # each kept slot needs its 4-input segment: 2x the rows
    assert st[L.S_IDX_STORE] == 144 * 48 * 2  # a 2-bit position per kept weight


def test_ratio_zero_keeps_everything_but_pays_index():
    dense = dense_stats(CONV, 32, 16)
    for pattern in ("row-block", "row-wise", "channel-wise", "unstructured", "column-wise", "hybrid"):
        _, st = stats(CONV, pattern, 0.0)
        if pattern != "hybrid":
            assert st[L.S_TILES] == dense[L.S_TILES], pattern
        assert st[L.S_IDX_READ] > 0, pattern


def test_channel_index_depends_on_flattening_order():
    assert channel_run(CONV, "CRS") == 9 and channel_run(CONV, "RSC") == 1 and channel_run(CONV, "RCS") == 3
    _, crs = stats(CONV, "channel-wise", 0.5, flatten="CRS")
    _, rsc = stats(CONV, "channel-wise", 0.5, flatten="RSC")
    assert crs[L.S_TILES] == rsc[L.S_TILES]  # the same rows survive
    assert rsc[L.S_IDX_READ] > crs[L.S_IDX_READ]  # but a scattered channel needs more index entries


def test_intrablock_cannot_compress_columns():
    _, st = stats(CONV, "nm", 0.5, compress="col")
    assert st[L.S_REASON] == L.REASON_COMPRESSION_UNSUPPORTED


def test_more_sparsity_never_needs_more_tiles():
    for pattern in ("row-block", "row-wise", "column-wise", "channel-wise", "hybrid", "nm"):
        tiles = [stats(CONV, pattern, r)[1][L.S_TILES] for r in np.linspace(0, 0.95, 12)]
        assert all(a >= b - 1e-9 for a, b in zip(tiles, tiles[1:], strict=False)), pattern


def _agree(expected, mean, se, rel):
    for i in range(L.N_STATS):
        if np.isnan(expected[i]) and np.isnan(mean[i]):  # no measured input profile on either side
            continue
        tol = 4 * se[i] + rel * abs(mean[i]) + 1e-9
        assert abs(expected[i] - mean[i]) <= tol, (L.STAT_NAMES[i], expected[i], mean[i], se[i])


SPARSE = [p for p in PATTERNS if p != "dense"]


@pytest.mark.parametrize("pattern", SPARSE)
@pytest.mark.parametrize("ratio", [0.3, 0.6, 0.9])
@pytest.mark.parametrize("layer,geom", [(CONV, GEOMETRIES[0]), (ODD, GEOMETRIES[1]), (DEPTHWISE, GEOMETRIES[0])])
def test_closed_form_matches_montecarlo(pattern, ratio, layer, geom):
    """Every preset in its natural orientation, padded: agreement within the sampling error."""
    kw = {"block_rows": 8, "block_cols": 4} if pattern == "flexblock" else {}
    flex, expected = stats(layer, pattern, ratio, geom, **kw)
    mean, se = montecarlo(layer, flex, geom, "pad", samples=300)
    _agree(expected, mean, se, rel=2e-3)


@pytest.mark.parametrize("pattern", ["row-block", "row-wise", "channel-wise", "hybrid", "column-block", "nm"])
@pytest.mark.parametrize("ratio", [0.3, 0.8])
def test_sliced_packing_matches_montecarlo(pattern, ratio):
    """Sliced pieces interact through the fill offset; the closed form tracks it to about 1 %."""
    geom = GEOMETRIES[1]
    for layer in (CONV, ODD):
        flex, expected = stats(layer, pattern, ratio, geom, rearrange="slice")
        mean, se = montecarlo(layer, flex, geom, "slice", samples=300)
        _agree(expected, mean, se, rel=0.015)


@pytest.mark.parametrize("pattern,compress", [("column-wise", "row"), ("column-block", "row"),
                                              ("row-block", "col"), ("channel-wise", "col")])
def test_against_the_grain_compression(pattern, compress):
    """Compressing across a pattern's blocks: pad exact to sampling error, slice within 2 %."""
    geom = GEOMETRIES[1]
    for layer, ratio in itertools.product((CONV, ODD), (0.3, 0.8)):
        for rearrange, rel in (("pad", 2e-3), ("slice", 0.02)):
            flex, expected = stats(layer, pattern, ratio, geom, compress=compress, rearrange=rearrange)
            mean, se = montecarlo(layer, flex, geom, rearrange, samples=300)
            _agree(expected, mean, se, rel=rel)


@pytest.mark.parametrize("compress", ["row", "col"])
def test_very_few_kept_blocks(compress):
    """Four kept 1 x 1 blocks of 90 (a tiny layer at ratio 0.95): the fitted law has no integer support
    and the closed form falls back to independent rows, still exact in the mean."""
    layer = Layer("tiny", "conv", C=2, K=5, R=3, S=3, H=3, W=3)
    geom = (32, 4, 1, 1)
    flex, expected = stats(layer, "unstructured", 0.95, geom, compress=compress)
    mean, se = montecarlo(layer, flex, geom, "pad", samples=2000)
    _agree(expected, mean, se, rel=0.01)


def test_shared_blocks_count_the_blocks_two_tiles_both_meet():
    """Against the blocks each tile's positions fall in, for consecutive blocks and interleaved runs."""
    from ciminus.kernels.tile_stats import _axis_tiles, block_of, shared_blocks

    rng = np.random.default_rng(3)
    for _ in range(300):
        length, tile = int(rng.integers(1, 120)), int(rng.integers(1, 40))
        block = int(rng.integers(1, 30))
        run = int(rng.choice([block, block + 5, max(1, block // 3), 1]))
        n_blocks = -(-length // block)
        n_tiles = -(-length // tile)
        c, _ = _axis_tiles(n_tiles, tile, length, block, run, n_blocks)
        met = [{int(block_of(p, block, run, n_blocks)) for p in range(j * tile, min(length, (j + 1) * tile))}
               for j in range(n_tiles)]
        for i in range(n_tiles):
            assert c[i] == len(met[i])
            for j in range(n_tiles):
                assert shared_blocks(i * tile, c[i], j * tile, c[j], block, run, n_blocks) == len(met[i] & met[j])


def test_sliced_offsets_stay_on_the_multiples_the_pieces_allow():
    """Every kept row tile cut into 6 pieces on 4-piece macros starts at fill offset 0 or 2, never 1 or 3:
    its inputs are fetched into exactly two macros. (Spread over every offset, the closed form once put
    10 % too many fetches here.)"""
    geom = GEOMETRIES[1]
    flex, expected = stats(CONV, "channel-wise", 0.75, geom, compress="col", rearrange="slice")
    mean, se = montecarlo(CONV, flex, geom, "slice", samples=200)
    assert abs(expected[L.S_FETCH] - mean[L.S_FETCH]) <= 4 * se[L.S_FETCH] + 0.005 * mean[L.S_FETCH]


@pytest.mark.parametrize("groups", [1, 4])
def test_sliced_tiles_that_share_a_fixed_number_kept_are_exact(groups):
    """Two column tiles of 1 x 8 row blocks keep 13 blocks between them in every group: whatever one loses
    the other gains, so their pieces always sum to 4 and every group fills exactly two 2-piece macros. The
    offsets follow exactly from the kept blocks (an independent offset put 9-18 % more partial sums here)."""
    layer = Layer("g", "conv", C=3 * groups, K=16 * groups, R=3, S=3, H=4, W=4, pad=1, groups=groups)
    geom = (8, 8, 4, 8)
    flex, expected = stats(layer, "row-block", 0.75, geom, rearrange="slice")
    mean, se = montecarlo(layer, flex, geom, "slice", samples=400)
    assert expected[L.S_TILES] == pytest.approx(2.0 * groups, abs=1e-9) and mean[L.S_TILES] == 2.0 * groups
    _agree(expected, mean, se, rel=2e-3)
