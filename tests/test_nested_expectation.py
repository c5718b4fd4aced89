"""The closed form of a draw inside a draw (a first stage of blocks, then a FullBlock pattern among the blocks
still holding a weight: docs/model.md §3.6) against random masks, on layers, arrays, first blocks, patterns,
ratios and mappings drawn at random (hypothesis): tiles, partial sums, fetched rows, outputs and stored
weights.

The closed form conditions on each stage's exact kept count but takes the pattern's pool (its live blocks)
in expectation, so it is held to four standard errors plus ``REL`` of the masks' mean, where the pattern
keeps at least ``MIN_KEPT`` blocks per group. Below that the kept count itself is 0, 1 or 2 by chance and
the statistics follow it by whole tiles; ``benchmarks/nested_agreement.py`` measures what that does to a
layer's energy and latency (docs/performance.md).
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_expectation_property import shapes

from ciminus.kernels import layout as L
from ciminus.kernels.nested_stats import live_blocks, pattern_kept
from ciminus.sparsity.flexblock import resolve
from ciminus.sparsity.stats import sparse_stats
from ciminus.specs.sparsity import SparsitySpec
from ciminus.workloads.layers import Layer

PATTERNS = ["row-wise", "row-block", "column-wise", "column-block", "unstructured", "flexblock", "channel-wise"]
SAMPLES = 600
REL = 0.04
MIN_KEPT = 8
COLUMNS = {L.S_TILES: "tiles", L.S_PSUM: "partial sums", L.S_FETCH: "fetched rows", L.S_OUT_NZ: "outputs",
           L.S_STORED: "stored weights"}


@st.composite
def cases(draw):
    c, k, r, groups, ar, ac, sr, sc = draw(shapes())
    pattern = draw(st.sampled_from(PATTERNS))
    extra = {}
    if pattern == "flexblock":
        extra = {"nm_n": 4, "nm_m": 4, "block_rows": draw(st.sampled_from([1, 2, 4, 8])),
                 "block_cols": draw(st.sampled_from([1, 2, 4, "array"]))}
    sparsity = SparsitySpec(pattern=pattern, ratio=draw(st.sampled_from([0.3, 0.5, 0.75, 0.9])), first="block",
                            first_block_rows=draw(st.sampled_from([1, 2, 4, 8, "kernel", "array", "all"])),
                            first_block_cols=draw(st.sampled_from([1, 2, 4, "array", "all"])),
                            first_ratio=draw(st.sampled_from([0.25, 0.5, 0.75])), **extra)
    layer = Layer(name="l", kind="conv", C=c * groups, K=k * groups, R=r, S=r, H=4, W=4, pad=r // 2, groups=groups)
    compress = draw(st.sampled_from(["auto", "row", "col"]))
    return layer, ar, ac, sr, sc, sparsity, draw(st.sampled_from(["pad", "slice"])), compress


def _pattern_keeps(layer, flex):
    """E[floor((1 - ratio) * live)]: the blocks the pattern keeps per group, in expectation."""
    mean, var, step = live_blocks(layer.rows, layer.cols, flex.first_block_rows, flex.first_block_cols, flex.block_rows,
                            flex.block_cols, flex.first_blocks, flex.first_kept)
    blocks = -(-layer.rows // flex.block_rows) * -(-layer.cols // flex.block_cols)
    return pattern_kept(mean, var, flex.ratio, blocks, step)


@settings(max_examples=60, deadline=None)
@given(cases(), st.integers(0, 2**31))
def test_nested_statistics_are_the_mean_of_random_masks(case, seed):
    layer, ar, ac, sr, sc, sparsity, rearrange, compress = case
    flex = resolve(sparsity, layer, ar, ac, "CRS", compress)
    if flex.ib_segment > 0 or not flex.has_fullblock or flex.first_kept == 0:
        return
    expected = sparse_stats(layer, flex, ar, ac, sr, sc, rearrange, "auto")
    if expected[L.S_REASON] != L.REASON_OK or _pattern_keeps(layer, flex) < MIN_KEPT:
        return  # blocks that do not nest (no closed form), or a pattern keeping a handful of blocks
    sampled = np.array([sparse_stats(layer, flex, ar, ac, sr, sc, rearrange, "auto", "monte-carlo", 1, seed + i)
                        for i in range(SAMPLES)])
    for col, name in COLUMNS.items():
        mean = sampled[:, col].mean()
        se = sampled[:, col].std(ddof=1) / np.sqrt(SAMPLES)
        assert abs(expected[col] - mean) <= 4 * se + REL * abs(mean) + 1e-9, (
            f"{name}: expected {expected[col]:.6g}, {SAMPLES} masks {mean:.6g} +- {se:.3g}")
