"""The closed-form tile statistics are the expectation of the random masks they stand for, on layers,
arrays, patterns (in either stage order, with IntraBlock mask sets) and ratios drawn at random (hypothesis):
tiles, partial sums, fetched rows and outputs.

With padded tiles the closed form is exact (docs/model.md §3.4), so the Monte-Carlo mean must fall within
four standard errors, plus five rare events' worth for events too rare to show in the sample at all.
Sliced tiles are drawn too, with 3 % more room: where every tile holds a block column of its own and few
blocks are kept, the fill offsets are exact; elsewhere the closed form approximates the running fill offset
of the packed pieces by a lattice distribution with the exact mean and (linearised) variance
(docs/model.md §3.4-3.5). In two runs of 800 cases drawn like these the largest gap beyond four standard
errors was 1.0-2.3 % (7.2 % before the exact recursion). ``tests/test_expectation.py`` holds sliced layers' energy and
latency to 3 % of the masks.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ciminus.kernels import layout as L
from ciminus.kernels.tile_stats import mask_tile_stats
from ciminus.sparsity.flexblock import resolve
from ciminus.sparsity.montecarlo import draw_masks
from ciminus.sparsity.stats import INDEX_CODES, REARRANGE_CODES, sparse_stats
from ciminus.specs.sparsity import SparsitySpec
from ciminus.workloads.layers import Layer

PATTERNS = ["row-wise", "row-block", "column-wise", "column-block", "channel-wise", "hybrid", "flexblock",
            "unstructured", "nm"]
MASK_SETS = {1: ["all", "1000,0100", "0001", "2:4 then 1:2"], 2: ["all", "1100,0011", "1100,0110,0011", "1010"], 3: ["all", "1110,0111"]}
SAMPLES = 1000


def monte_carlo(layer, flex, ar, ac, sr, sc, rearrange, rng):
    """Per-sample statistics of ``SAMPLES`` random masks."""
    one = np.zeros(L.N_STATS)
    out = np.zeros((SAMPLES, L.N_STATS))
    for i in range(SAMPLES):
        masks = draw_masks(layer, flex, rng)
        mask_tile_stats(masks, layer.rows, ar, ac, sr, sc, flex.block_rows, flex.block_cols, flex.has_fullblock,
                        *flex.intrablock_args(), flex.index_unit, flex.compress,
                        REARRANGE_CODES[rearrange], INDEX_CODES["auto"], one)
        out[i] = one
    return out


@st.composite
def shapes(draw):
    """A small layer's (C, K, R, groups) per group and an array with its sub-arrays (rows, cols, sub rows,
    sub cols)."""
    c = draw(st.integers(1, 24))
    k = draw(st.integers(1, 48))
    r = draw(st.sampled_from([1, 3]))
    groups = draw(st.sampled_from([1, 1, 2]))
    ar = draw(st.sampled_from([8, 16, 32]))
    ac = draw(st.sampled_from([4, 8, 16]))
    sr = draw(st.sampled_from([d for d in (4, 8, 16, 32) if ar % d == 0]))
    sc = draw(st.sampled_from([d for d in (2, 4, 8, 16) if ac % d == 0]))
    return c, k, r, groups, ar, ac, sr, sc


@st.composite
def cases(draw, rearrange="pad"):
    c, k, r, groups, ar, ac, sr, sc = draw(shapes())
    pattern = draw(st.sampled_from(PATTERNS))
    ratio = draw(st.sampled_from([0.25, 0.5, 0.75] if pattern == "nm" else [0.1, 0.3, 0.5, 0.75, 0.9, 0.95]))
    keep = round(4 * (1 - ratio)) if pattern == "nm" else 2
    sparsity = SparsitySpec(pattern=pattern, ratio=ratio, order=draw(st.sampled_from(["intra-first", "full-first"])),
                            intrablock_masks=draw(st.sampled_from(MASK_SETS[keep])))
    layer = Layer(name="l", kind="conv", C=c * groups, K=k * groups, R=r, S=r, H=4, W=4, pad=r // 2, groups=groups)
    return layer, ar, ac, sr, sc, sparsity, rearrange


@given(cases(), st.integers(0, 2**31))
def test_expected_statistics_are_the_mean_of_random_masks(case, seed):
    _agrees(*case, seed, rel=0.0)


@settings(max_examples=50)
@given(cases("slice"), st.integers(0, 2**31))
def test_sliced_statistics_are_the_mean_of_random_masks_to_3_percent(case, seed):
    _agrees(*case, seed, rel=0.03)


def _agrees(layer, ar, ac, sr, sc, sparsity, rearrange, seed, rel):
    flex = resolve(sparsity, layer, ar, ac, "CRS", "auto")
    expected = sparse_stats(layer, flex, ar, ac, sr, sc, rearrange, "auto")
    if expected[L.S_REASON] != L.REASON_OK:
        return
    sampled = monte_carlo(layer, flex, ar, ac, sr, sc, rearrange, np.random.default_rng(seed))
    # the largest change one rare event makes to a statistic of one sample
    step = {L.S_TILES: layer.groups, L.S_PSUM: ac * layer.groups, L.S_FETCH: ar * layer.groups,
            L.S_OUT_NZ: ac * layer.groups}
    for col, name in ((L.S_TILES, "tiles"), (L.S_PSUM, "partial sums"), (L.S_FETCH, "fetched rows"),
                      (L.S_OUT_NZ, "outputs")):
        mean = sampled[:, col].mean()
        se = sampled[:, col].std(ddof=1) / np.sqrt(SAMPLES)
        gap = abs(expected[col] - mean)
        assert gap <= 4 * se + 5 * step[col] / SAMPLES + (rel + 1e-9) * abs(mean), (
            f"{name}: expected {expected[col]:.6g}, {SAMPLES} masks {mean:.6g} +- {se:.3g}")


def test_sliced_tiles_keep_the_tiles_dependence_through_the_number_kept():
    """A one-row layer keeping 4 of its 40 weights fills at most 4 pieces, one macro's worth: surely one tile.
    The fill offset's variance must carry the negative covariance of tiles wider than a block (it put 1.24
    tiles here when only blocks as wide as a tile were correlated)."""
    layer = Layer(name="l", kind="linear", C=1, K=40)
    flex = resolve(SparsitySpec(pattern="unstructured", ratio=0.9), layer, 16, 4, "CRS", "auto")
    expected = sparse_stats(layer, flex, 16, 4, 4, 2, "slice", "auto")
    sampled = monte_carlo(layer, flex, 16, 4, 4, 2, "slice", np.random.default_rng(0))
    assert sampled[:, L.S_TILES].max() == 1.0
    assert abs(expected[L.S_TILES] - 1.0) < 0.05
