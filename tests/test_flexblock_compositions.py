"""FlexBlock in either stage order and IntraBlock mask sets: what the hardware stores, the closed form against
random masks and real weights, and the sweep keys."""

import dataclasses

import numpy as np
import pytest

from ciminus.kernels import layout as L
from ciminus.kernels.tile_stats import add_first_stage, mask_tile_stats, share_intrablock
from ciminus.sparsity.flexblock import reduced_layer, resolve
from ciminus.sparsity.masks import parse_masks
from ciminus.sparsity.montecarlo import draw_masks
from ciminus.sparsity.stats import INDEX_CODES, REARRANGE_CODES, sparse_stats, weight_stats
from ciminus.sparsity.weights import WeightsError, from_matrices, hardware_masks, prune, weight_matrices
from ciminus.specs.sparsity import SparsitySpec
from ciminus.sweep import evaluate
from ciminus.validate import SpecError, parse_sweep
from ciminus.workloads.layers import Layer

CONV = Layer(name="c", kind="conv", C=13, K=37, R=3, S=3, H=8, W=8, pad=1)  # 117 rows: odd
# Magnitude pruning keeps the blocks of largest L1 norm, so a short last block is never kept: real weights are
# a uniform draw of blocks only where every block is whole (144 rows, 32 columns).
EVEN = Layer(name="e", kind="conv", C=16, K=32, R=3, S=3, H=8, W=8, pad=1)
STATS = {L.S_TILES: "tiles", L.S_PSUM: "partial sums", L.S_FETCH: "fetched rows", L.S_OUT_NZ: "outputs",
         L.S_STORED: "stored weights", L.S_IDX_STORE: "index bits"}


def test_mask_sets_parse_to_their_hardware():
    ms = parse_masks("1100,0011")
    assert (ms.length, ms.ones, ms.fanin, ms.used, ms.index_bits) == (4, 2, 2, 0b1111, 1)
    ms = parse_masks("1100,0110,0011")  # slot 0 from rows 0-2, slot 1 from rows 1-3
    assert (ms.fanin, ms.index_bits) == (3, 2)
    ms = parse_masks("1010")  # one mask: fixed positions, no multiplexer, no index, half the inputs
    assert (ms.fanin, ms.used, ms.index_bits) == (1, 0b0101, 0)
    assert parse_masks("all") is None
    for bad, why in (("1100,001", "different lengths"), ("1100,0111", "different counts"), ("11x0", "0 and 1"),
                     ("1100,1100", "twice"), ("0000", "keep nothing"), ("1", "1 long"), ("", "empty")):
        with pytest.raises(ValueError, match=why):
            parse_masks(bad)


def _two_stage_pruning(stages, length, rng):
    """One random draw of IntraBlock stages applied in turn to ``length`` rows: the kept rows as a bit set."""
    kept = list(range(length))
    for keep, seg in stages:
        kept = [r for g in range(0, len(kept), seg) for r in sorted(rng.choice(kept[g:g + seg], keep, replace=False))]
    return sum(1 << r for r in kept)


@pytest.mark.parametrize(("text", "stages"), [("4:8 then 1:2", [(4, 8), (1, 2)]), ("3:4 then 2:3", [(3, 4), (2, 3)]),
                                              ("2:4 then 1:2", [(2, 4), (1, 2)]), ("2:4 then 2:4", [(2, 4), (2, 4)])])
def test_two_intrablock_stages_are_the_mask_set_they_can_leave(text, stages):
    """IntraBlock then IntraBlock: the set holds every mask random two-stage pruning leaves and only those
    (over one period of both stages: 8, 4 x lcm(3, 3)/3 = 4, 4 and 8 rows)."""
    ms = parse_masks(text)
    rng = np.random.default_rng(3)
    seen = {_two_stage_pruning(stages, ms.length, rng) for _ in range(4000)}
    assert seen == set(ms.masks)
    assert all(m.bit_count() == ms.ones for m in ms.masks)


def test_two_intrablock_stages_are_not_one_k_of_m():
    """4 of 8 then 1 of 2 keeps 2 of 8, but never two neighbours at either end (the first pair of slots holds
    the first two kept rows): 26 of the 28 masks, and a multiplexer of 6 inputs per slot, not 7."""
    ms = parse_masks("4:8 then 1:2")
    assert (ms.length, ms.ones, len(ms.masks), ms.fanin, ms.index_bits) == (8, 2, 26, 6, 5)
    assert 0b00000011 not in ms.masks and 0b11000000 not in ms.masks
    assert len(parse_masks("4:8 then 2:4").masks) == 28  # every 2 of 8: the same as "all"
    for bad, why in (("4:8 then 1", "not k:m"), ("5:4 then 1:2", "1 <= k <= m"), ("3:20 then 1:2", "repeat every"), ("3:16 then 1:2", "choices to enumerate"),
                     ("16:32 then 8:16", "more than 16384"), ("2:40", "40 rows long"),
                     ("a:4", "not k:m")):
        with pytest.raises(ValueError, match=why):
            parse_masks(bad)


def test_a_mask_set_narrows_the_multiplexer_the_index_and_the_fetched_inputs():
    """2 of 4 kept as "1100,0011": each slot picks from 2 rows (1 level, not 2), a segment's choice is one
    bit (not 2 x 2 bits of position), and every input is still fetched; "1010" alone fetches half of them."""
    def stats(masks):
        flex = resolve(SparsitySpec(pattern="nm", ratio=0.5, intrablock_masks=masks), CONV, 32, 16, "CRS", "auto")
        return sparse_stats(CONV, flex, 32, 16, 32, 16, "pad", "auto")

    full, pair, one = stats("all"), stats("1100,0011"), stats("1010")
    assert full[L.S_MUX_LEVELS] == 2 and pair[L.S_MUX_LEVELS] == 1 and one[L.S_MUX_LEVELS] == 0
    assert full[L.S_STORED] == pair[L.S_STORED] == one[L.S_STORED]
    assert full[L.S_IDX_STORE] == pytest.approx(2 * full[L.S_STORED])  # a 2-bit position per slot
    assert pair[L.S_IDX_STORE] == pytest.approx(pair[L.S_STORED] / 2)  # one 1-bit mask number per segment
    assert one[L.S_IDX_STORE] == 0.0
    assert pair[L.S_FETCH] == full[L.S_FETCH]
    assert one[L.S_FETCH] == pytest.approx(full[L.S_FETCH] / 2)


def test_full_first_cuts_blocks_from_the_weights_and_squeezes_inside_each():
    """hybrid 2:4 full-first: blocks of 4 weight rows x one array width, each squeezed to 2 slot rows."""
    flex = resolve(SparsitySpec(pattern="hybrid", ratio=0.5, order="full-first"), CONV, 32, 16, "CRS", "auto")
    assert (flex.ib_period, flex.block_rows, flex.block_cols) == (4, 2, 16)
    mask = draw_masks(CONV, flex, np.random.default_rng(0))[0]
    assert mask.shape == (29 * 2 + 1, 37)  # 117 rows = 29 blocks of 4 and one of 1 (one slot)
    flex = resolve(SparsitySpec(pattern="flexblock", ratio=0.5, order="full-first", block_rows=6), CONV, 32, 16,
                   "CRS", "auto")
    assert (flex.ib_period, flex.block_rows) == (6, 4)  # a 6-row block holds segments of 4 and 2: 2 + 2 slots


def _monte_carlo(layer, flex, ar, ac, sr, sc, rearrange, samples, rng):
    one = np.zeros(L.N_STATS)
    out = np.zeros((samples, L.N_STATS))
    for i in range(samples):
        mask_tile_stats(draw_masks(layer, flex, rng), layer.rows, ar, ac, sr, sc, flex.block_rows, flex.block_cols,
                        flex.has_fullblock, *flex.intrablock_args(), flex.index_unit, flex.compress,
                        REARRANGE_CODES[rearrange], INDEX_CODES["auto"], one)
        if flex.has_intrablock:  # as sparse_stats does after counting (m x n IntraBlock blocks)
            share_intrablock(flex.ib_cols, layer.cols, ac, one)
        out[i] = one
    return out


def _real_weights(layer, flex, sp, ar, ac, sr, sc, rearrange, samples, rng):
    """Statistics of Gaussian weights magnitude-pruned into the pattern: random masks of another kind."""
    out = np.zeros((samples, L.N_STATS))
    shape = (layer.K, layer.C // layer.groups, layer.R, layer.S)
    for i in range(samples):
        w = rng.standard_normal(shape)
        out[i] = weight_stats(w, layer, flex, ar, ac, sr, sc, rearrange, "auto", "CRS", True)
    return out


@pytest.mark.parametrize(("pattern", "order", "masks", "ratio", "cols"), [
    ("hybrid", "full-first", "all", 0.5, 1),
    ("hybrid", "full-first", "1100,0110,0011", 0.8, 1),
    ("flexblock", "full-first", "all", 0.9, 1),
    ("flexblock", "intra-first", "1100,0011", 0.7, 1),
    ("hybrid", "intra-first", "1010", 0.5, 1),
    ("nm", "intra-first", "4:8 then 1:2", 0.75, 1),  # two IntraBlock stages (nm_m = the set's 8 rows)
    ("hybrid", "full-first", "4:8 then 1:2", 0.6, 1),
    ("hybrid", "intra-first", "all", 0.5, 4),  # IntraBlock blocks of 4 x 4: shared masks
])
@pytest.mark.parametrize("rearrange", ["pad", "slice"])
def test_compositions_and_mask_sets_round_trip_through_masks_and_real_weights(pattern, order, masks, ratio, cols,
                                                                             rearrange):
    """The closed form is the mean of random masks (on an odd layer) and of magnitude-pruned random weights
    (whose kept blocks are a uniform draw where all blocks are whole): within 4 standard errors plus a rare
    event's share; sliced partial sums and fetches carry the fill-offset approximation of docs/model.md §3.5
    (2 %)."""
    ar, ac, sr, sc = 32, 16, 8, 4
    ms = parse_masks(masks)
    nm = {"nm_m": ms.length, "nm_n": ms.ones} if ms is not None else {}
    sp = SparsitySpec(pattern=pattern, ratio=ratio, order=order, intrablock_masks=masks, intrablock_cols=cols, **nm)
    rng = np.random.default_rng(7)
    for name, layer, draws in (("masks", CONV, _monte_carlo), ("weights", EVEN, _real_weights)):
        flex = resolve(sp, layer, ar, ac, "CRS", "auto")
        expected = sparse_stats(layer, flex, ar, ac, sr, sc, rearrange, "auto")
        assert expected[L.S_REASON] == L.REASON_OK
        args = (sp,) if draws is _real_weights else ()
        sampled = draws(layer, flex, *args, ar, ac, sr, sc, rearrange, 400 if name == "masks" else 80, rng)
        n = len(sampled)
        for col, what in STATS.items():
            mean = sampled[:, col].mean()
            se = sampled[:, col].std(ddof=1) / np.sqrt(n)
            slack = 0.02 * abs(mean) if rearrange == "slice" and col in (L.S_PSUM, L.S_FETCH, L.S_TILES) else 0.0
            gap = abs(expected[col] - mean)
            assert gap <= 4 * se + 5 * ac / n + slack + 1e-9 * abs(mean), (
                f"{name}, {what}: expected {expected[col]:.6g}, {n} draws {mean:.6g} +- {se:.3g}")


def test_pruned_weights_are_in_the_format_and_count_as_their_hardware_view():
    """Full-first with a mask set: every kept block's segments keep an allowed mask, nothing outside the
    blocks; counting the pruned weights as they are equals counting the pruning's own view."""
    sp = SparsitySpec(pattern="hybrid", ratio=0.6, order="full-first", intrablock_masks="1100,0011")
    flex = resolve(sp, CONV, 32, 16, "CRS", "auto")
    w = np.random.default_rng(3).standard_normal((37, 13, 3, 3))
    pruned = prune(w, CONV, flex)
    mat = weight_matrices(pruned, CONV)[0]
    allowed = {0b0011, 0b1100, 0b0001, 0b0010, 0b0000}  # masks and the parts a short last segment keeps
    for r0 in range(0, mat.shape[0], 4):
        for c in range(mat.shape[1]):
            bits = sum(1 << i for i, v in enumerate(mat[r0:r0 + 4, c]) if v != 0)
            assert bits in allowed
    # blocks of 4 rows x 16 columns: kept whole or pruned whole, 60 % of them pruned
    blocks = [(mat[r0:r0 + 4, c0:c0 + 16] != 0).any() for r0 in range(0, 117, 4) for c0 in range(0, 37, 16)]
    assert sum(blocks) == int(np.floor(0.4 * len(blocks) + 1e-9))
    as_is = weight_stats(pruned, CONV, flex, 32, 16, 32, 16, "pad", "auto", "CRS", False)
    again = weight_stats(w, CONV, flex, 32, 16, 32, 16, "pad", "auto", "CRS", True)
    np.testing.assert_allclose(as_is, again)
    np.testing.assert_array_equal(hardware_masks(pruned, CONV, flex)[0].sum(), (mat != 0).sum())


def test_weights_outside_the_mask_set_are_refused_by_the_format():
    flex = resolve(SparsitySpec(pattern="nm", ratio=0.5, intrablock_masks="1100,0011"), CONV, 32, 16, "CRS", "auto")
    w = np.zeros((37, 13, 3, 3))
    w[0, 0, 0, 0] = w[0, 0, 0, 2] = 1.0  # rows 0 and 2 of the first segment: "1010", not allowed
    with pytest.raises(WeightsError, match="no mask of sparsity.intrablock_masks"):
        hardware_masks(w, CONV, flex)
    st = weight_stats(w, CONV, flex, 32, 16, 32, 16, "pad", "auto", "CRS", False)
    assert st[L.S_REASON] == L.REASON_WEIGHTS_FORMAT


def test_a_narrower_mask_set_never_keeps_more_magnitude():
    """Magnitude pruning picks the best allowed mask per segment: a subset of the masks keeps at most as much."""
    w = np.random.default_rng(5).standard_normal((37, 13, 3, 3))
    kept = []
    for masks in ("all", "1100,0110,0011,1001,1010,0101", "1100,0011", "1100"):
        flex = resolve(SparsitySpec(pattern="nm", ratio=0.5, intrablock_masks=masks), CONV, 32, 16, "CRS", "auto")
        kept.append(np.abs(prune(w, CONV, flex)).sum())
    assert kept[0] == pytest.approx(kept[1])  # the six masks are every 2 of 4
    assert kept[1] > kept[2] > kept[3]


SWEEP = """
name = "flex"
[workload]
layer = [{name = "l", kind = "conv", C = 13, K = 37, R = 3, S = 3, H = 8, W = 8, pad = 1}]
[sparsity]
pattern = "hybrid"
ratio = 0.5
EXTRA
[mapping]
macro_grid = "square"
loop_order = "vectors-cols-rows"
"""


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_sweeping_the_order_and_mask_sets(backend):
    ds = evaluate(parse_sweep(SWEEP.replace("EXTRA", 'order = ["intra-first", "full-first"]\n'
                                                     'intrablock_masks = ["all", "1100,0011", "11000,00011"]')),
                  backend=backend)
    assert ds.feasible.sel(intrablock_masks="all").all()
    assert ds.feasible.sel(intrablock_masks="1100,0011").all()
    # 5-long masks do not fit nm_m = 4: those points only, with their reason
    assert not ds.feasible.sel(intrablock_masks="11000,00011").any()
    codes = ds.reason.sel(intrablock_masks="11000,00011").values.ravel().astype(int)
    assert {L.REASON_NAMES[c] for c in codes} == {"intrablock_masks_do_not_fit"}
    # fewer multiplexer levels and index bits
    e = ds.energy_breakdown.sel(order="full-first")
    assert float(e.sel(component="mux", intrablock_masks="1100,0011")) < float(e.sel(component="mux",
                                                                                    intrablock_masks="all"))
    assert float(e.sel(component="index", intrablock_masks="1100,0011")) < float(e.sel(component="index",
                                                                                      intrablock_masks="all"))
    assert float(ds.area_mm2.sel(intrablock_masks="1100,0011").max()) < float(ds.area_mm2.sel(
        intrablock_masks="all").min())


def test_cpu_equals_reference_on_compositions():
    text = SWEEP.replace("EXTRA", 'order = ["intra-first", "full-first"]\n'
                                  'intrablock_masks = ["all", "1100,0110,0011", "2:4 then 1:2"]\nnm_n = [1, 2, 3]')
    cpu = evaluate(parse_sweep(text))
    ref = evaluate(parse_sweep(text), backend="reference")
    np.testing.assert_allclose(cpu.energy.values, ref.energy.values, rtol=1e-12)
    np.testing.assert_allclose(cpu.latency.values, ref.latency.values, rtol=1e-12)
    assert (cpu.reason.values == ref.reason.values).all()
    assert (cpu.reason.sel(nm_n=[1, 3], intrablock_masks="1100,0110,0011") == L.REASON_IB_MASKS).all()
    assert (cpu.reason.sel(nm_n=[2, 3], intrablock_masks="2:4 then 1:2") == L.REASON_IB_MASKS).all()
    assert cpu.feasible.sel(nm_n=1, intrablock_masks="2:4 then 1:2").all()


@pytest.mark.parametrize(("extra", "key", "words"), [
    ('intrablock_masks = "11000,00011"', "sparsity.intrablock_masks", "4 long and keep 2"),
    ('intrablock_masks = "1100,011"', "sparsity.intrablock_masks", "different lengths"),
    ('order = "middle-first"', "sparsity.order", "intra-first"),
])
def test_masks_and_orders_no_point_can_build_are_refused_by_name(extra, key, words):
    with pytest.raises(SpecError) as e:
        parse_sweep(SWEEP.replace("EXTRA", extra))
    assert key in str(e.value) and words in str(e.value)


@pytest.mark.parametrize("extra", ['intrablock_masks = "1100"', 'order = "full-first"'])
def test_keys_a_pattern_does_not_read_are_refused(extra):
    with pytest.raises(SpecError, match='not used by pattern "row-block"'):
        parse_sweep(SWEEP.replace('pattern = "hybrid"', 'pattern = "row-block"').replace("EXTRA", extra))


def test_the_ready_flexblock_sweep_weighs_hardware_against_accuracy(tmp_path, monkeypatch):
    """sweeps/flexblock-digits.toml: narrower mask sets save energy and area at every ratio and order; the
    stage order does not matter where nothing is pruned by blocks (ratio 0); one fixed mask costs the most
    accuracy."""
    from pathlib import Path

    from ciminus.validate import load_sweep

    monkeypatch.setenv("CIMINUS_CACHE_DIR", str(tmp_path))
    ds = evaluate(load_sweep(Path(__file__).resolve().parents[1] / "sweeps" / "flexblock-digits.toml"))
    assert bool(ds.feasible.all())
    sets = list(ds.intrablock_masks.values)
    energy = ds.energy.transpose(..., "intrablock_masks").values
    assert (np.diff(energy, axis=-1) < 0).all()
    assert (np.diff(ds.area_mm2.sel(intrablock_masks=sets).values) < 0).all()
    acc = ds.accuracy.sel(ratio=0.0)
    np.testing.assert_array_equal(acc.sel(order="intra-first").values, acc.sel(order="full-first").values)
    assert float(acc.sel(order="intra-first", intrablock_masks="1100")) == float(acc.min())
    assert float(acc.sel(order="intra-first", intrablock_masks="all")) > 0.8


# ----- a first FullBlock stage of whole rows, channels or columns, then the pattern ------------------------
FIRSTS = [("channel-wise", 0.5), ("row-wise", 0.3), ("column-wise", 0.5)]


@pytest.mark.parametrize(("first", "first_ratio"), FIRSTS)
@pytest.mark.parametrize(("pattern", "ratio"), [("dense", 0.0), ("nm", 0.5), ("row-block", 0.7), ("hybrid", 0.5)])
def test_a_first_stage_then_the_pattern_round_trips_through_masks_and_real_weights(first, first_ratio, pattern, ratio):
    """The pattern acts on the dense matrix the first stage leaves (its kept count is exact): the closed form
    is the mean of random masks and of magnitude-pruned Gaussian weights, plus the first stage's index."""
    sp = SparsitySpec(pattern=pattern, ratio=ratio, first=first, first_ratio=first_ratio)
    rng = np.random.default_rng(11)
    for name, layer, draws in (("masks", CONV, _monte_carlo), ("weights", EVEN, _real_weights)):
        flex = resolve(sp, layer, 32, 16, "RSC", "auto")
        expected = sparse_stats(layer, flex, 32, 16, 8, 4, "pad", "auto")
        if draws is _monte_carlo:
            part = reduced_layer(layer, flex)
            sampled = _monte_carlo(part, flex, 32, 16, 8, 4, "pad", 300, rng)
            for row in sampled:
                add_first_stage(flex.first, flex.first_kept, flex.first_blocks, layer.groups, row)
        else:
            shape = (layer.K, layer.C, layer.R, layer.S)
            sampled = np.array([weight_stats(rng.standard_normal(shape), layer, flex, 32, 16, 8, 4, "pad", "auto", "RSC",
                                             True) for _ in range(60)])
        n = len(sampled)
        for col, what in STATS.items():
            mean = sampled[:, col].mean()
            se = sampled[:, col].std(ddof=1) / np.sqrt(n)
            assert abs(expected[col] - mean) <= 4 * se + 5 * 16 / n + 1e-9 * abs(mean), (name, what, expected[col], mean)


@pytest.mark.parametrize("flatten", ["CRS", "RSC"])
def test_pruning_a_first_stage_removes_whole_channels_then_applies_the_pattern(flatten):
    sp = SparsitySpec(pattern="nm", ratio=0.5, first="channel-wise", first_ratio=0.5)
    flex = resolve(sp, EVEN, 32, 16, flatten, "auto")
    w = np.random.default_rng(2).standard_normal((EVEN.K, EVEN.C, 3, 3))
    w[:, 3] *= 5.0
    pruned = prune(w, EVEN, flex, flatten)
    alive = np.abs(pruned).sum(axis=(0, 2, 3)) > 0
    assert alive.sum() == 8 and alive[3]
    # the kept channels' matrix (rows in the flattening order) is 2:4 in every column segment
    kept = weight_matrices(pruned[:, alive], dataclasses.replace(EVEN, C=8), flatten)[0]
    for r0 in range(0, kept.shape[0], 4):
        assert ((kept[r0:r0 + 4] != 0).sum(axis=0) == 2).all()


def test_a_first_stage_that_keeps_nothing_is_a_layer_without_macs():
    text = SWEEP.replace('pattern = "hybrid"', 'pattern = "nm"').replace(
        "EXTRA", 'first = "channel-wise"\nfirst_ratio = [0.5, 0.95]')
    for backend in ("cpu", "reference"):
        ds = evaluate(parse_sweep(text), backend=backend)
        assert bool(ds.feasible.all())
        gone = ds.sel(first_ratio=0.95)  # 13 channels: floor(0.05 * 13) = 0 kept
        assert float(gone.compute_cycles) == 0.0 and float(gone.energy) < float(ds.sel(first_ratio=0.5).energy)


def test_a_dense_layer_whose_first_stage_keeps_nothing_keeps_its_index_format():
    """Stage 1 merges jobs that differ only in keys their pattern does not read; a dense pattern reads no
    index format, but a first stage that keeps nothing leaves one index of the whole pruned matrix, and its
    format was merged away (the engine then priced the automatic format where the reference priced the
    one asked for)."""
    text = """
name = "nothing"
[workload]
layer = [{name = "l", kind = "conv", C = 1, K = 1, R = 1, S = 1, H = 1, W = 1}]
[arch]
macros = 1
array_rows = 8
array_cols = 4
subarray_rows = 1
subarray_cols = 1
[sparsity]
pattern = "dense"
first = ["none", "row-wise"]
first_ratio = 0.3
[mapping]
index_format = "bitmap"
"""
    cpu = evaluate(parse_sweep(text))
    ref = evaluate(parse_sweep(text), backend="reference")
    np.testing.assert_allclose(cpu.energy.values, ref.energy.values, rtol=1e-12)
    np.testing.assert_allclose(cpu.energy_breakdown.values, ref.energy_breakdown.values, rtol=1e-12)


def test_cpu_equals_reference_with_a_first_stage():
    text = SWEEP.replace('pattern = "hybrid"', 'pattern = ["dense", "hybrid", "column-wise"]').replace(
        "EXTRA", 'first = ["none", "row-wise", "channel-wise", "column-wise"]\nfirst_ratio = 0.4')
    cpu = evaluate(parse_sweep(text))
    ref = evaluate(parse_sweep(text), backend="reference")
    np.testing.assert_allclose(cpu.energy.values, ref.energy.values, rtol=1e-12)
    np.testing.assert_allclose(cpu.latency.values, ref.latency.values, rtol=1e-12)
    # each first stage saves energy against the pattern alone
    e = cpu.energy
    assert (e.sel(first=["row-wise", "channel-wise", "column-wise"]) < e.sel(first="none")).all()


def test_a_first_stage_needs_weights_it_may_prune():
    text = SWEEP.replace("EXTRA", 'first = "channel-wise"\nfirst_ratio = 0.5\nsource = "w.npz"')
    with pytest.raises(SpecError, match="sparsity.first"):
        parse_sweep(text)


# ----- a first FullBlock stage of narrower blocks: the pattern draws among the blocks it kept --------------
def _nested(pattern="unstructured", ratio=0.5, rows=8, cols=16, first_ratio=0.5, layer=EVEN):
    sp = SparsitySpec(pattern=pattern, ratio=ratio, first="block", first_block_rows=rows, first_block_cols=cols,
                      first_ratio=first_ratio)
    return resolve(sp, layer, 32, 16, "CRS", "auto")


@pytest.mark.parametrize(("pattern", "ratio"), [("unstructured", 0.5), ("row-block", 0.3), ("unstructured", 0.0)])
def test_narrow_first_blocks_keep_their_count_and_the_pattern_draws_inside_them(pattern, ratio):
    """144 x 32 weights in first blocks of 8 x 16 (36 blocks, 18 kept); the pattern keeps floor((1 - r) *
    live) of its blocks among those the first stage kept, and nothing outside them."""
    flex = _nested(pattern, ratio)
    assert (flex.first_block_rows, flex.first_block_cols, flex.first_blocks, flex.first_kept) == (8, 16, 36, 18)
    per_block = {"unstructured": 8 * 16, "row-block": 8}[pattern]  # pattern blocks inside one first block
    mask = draw_masks(EVEN, flex, np.random.default_rng(4))[0].astype(bool)
    blocks = mask.reshape(18, 8, 2, 16).any(axis=(1, 3))
    assert blocks.sum() <= 18
    # unstructured: single weights; row-block: 1 x 16 rows of a first-block column
    kept = mask.sum() if pattern == "unstructured" else mask.reshape(144, 2, 16).any(axis=2).sum()
    assert kept == int(np.floor((1 - ratio) * 18 * per_block + 1e-9))
    if ratio == 0.0:
        assert blocks.sum() == 18 and mask.sum() == 18 * 8 * 16


@pytest.mark.parametrize(("pattern", "ratio", "rows", "cols"), [("unstructured", 0.6, 8, 16), ("row-block", 0.5, 4, 16)])
def test_narrow_first_blocks_count_alike_from_random_masks_and_pruned_weights(pattern, ratio, rows, cols):
    """With the pattern's blocks inside the first stage's, magnitude pruning of Gaussian weights keeps a
    uniform draw of first blocks and then of pattern blocks among them: the same law as the random masks.
    Both are counted at the finer of the two blocks."""
    flex = _nested(pattern, ratio, rows, cols)
    rng = np.random.default_rng(13)
    masks = np.array([sparse_stats(EVEN, flex, 32, 16, 8, 4, "pad", "auto", "monte-carlo", 1, seed)
                      for seed in range(120)])
    shape = (EVEN.K, EVEN.C, EVEN.R, EVEN.S)
    weights = np.array([weight_stats(rng.standard_normal(shape), EVEN, flex, 32, 16, 8, 4, "pad", "auto", "CRS", True)
                        for _ in range(120)])
    assert (masks[:, L.S_REASON] == 0).all() and (weights[:, L.S_REASON] == 0).all()
    for col, what in STATS.items():
        a, b = masks[:, col], weights[:, col]
        se = np.hypot(a.std(ddof=1), b.std(ddof=1)) / np.sqrt(len(a))
        assert abs(a.mean() - b.mean()) <= 4 * se + 1e-9 * abs(a.mean()), (what, a.mean(), b.mean())


def test_narrow_first_blocks_before_the_dense_pattern_are_that_fullblock_pattern():
    """Row blocks of one array width as a first stage, nothing after it: the Monte-Carlo masks price what
    the closed form of the row-block pattern does (within 3 standard errors plus a rare event's share)."""
    flex = _nested("dense", 0.0, 1, "array", 0.6, CONV)
    assert flex.compress == L.COMPRESS_ROW
    sampled = np.array([sparse_stats(CONV, flex, 32, 16, 8, 4, "pad", "auto", "monte-carlo", 1, seed)
                        for seed in range(300)])
    row_block = SparsitySpec(pattern="row-block", ratio=0.6)
    expected = sparse_stats(CONV, resolve(row_block, CONV, 32, 16, "CRS", "auto"), 32, 16, 8, 4, "pad", "auto")
    for col, what in STATS.items():
        mean, se = sampled[:, col].mean(), sampled[:, col].std(ddof=1) / np.sqrt(len(sampled))
        assert abs(expected[col] - mean) <= 3 * se + 5 * 16 / len(sampled) + 1e-9 * abs(mean), (what, expected[col], mean)


def test_narrow_first_blocks_prune_real_weights_by_magnitude_in_turn():
    """First blocks of 8 x 16 by L1 norm, then 1 x 16 row blocks among the kept ones by L1 norm of what is
    left: a heavy block survives the first stage and its heaviest row the second."""
    flex = _nested("row-block", 0.9, 8, 16)
    w = np.random.default_rng(6).standard_normal((EVEN.K, EVEN.C, EVEN.R, EVEN.S)) * 0.01
    mat = weight_matrices(w, EVEN)[0]
    mat[16:24, 16:32] += 1.0  # the heaviest first block: rows 16-23, columns 16-31
    mat[19, 16:32] += 5.0  # its heaviest row
    pruned = weight_matrices(prune(from_matrices(mat[None], EVEN), EVEN, flex), EVEN)[0]
    rows = np.flatnonzero((pruned[:, 16:32] != 0).any(axis=1))
    assert 19 in rows
    live = (pruned.reshape(18, 8, 2, 16) != 0).any(axis=(1, 3))
    assert live.sum() <= 18 and live[2, 1]
    assert (pruned != 0).reshape(144, 2, 16).any(axis=2).sum() == int(np.floor(0.1 * 18 * 8 + 1e-9))


def test_narrow_first_blocks_are_priced_in_closed_form_and_from_masks():
    text = SWEEP.replace('pattern = "hybrid"', 'pattern = ["row-block", "nm"]').replace(
        "EXTRA", 'first = ["none", "block"]\nfirst_block_rows = 4\nfirst_ratio = 0.5\nSTATS')
    for stats in ("", 'stats = "monte-carlo"\nsamples = 20'):
        cpu = evaluate(parse_sweep(text.replace("STATS", stats)))
        ref = evaluate(parse_sweep(text.replace("STATS", stats)), backend="reference")
        block = cpu.sel(first="block")
        assert {L.REASON_NAMES[int(r)] for r in block.reason.values.ravel() if r} == {"first_blocks_before_intrablock"}
        assert bool(cpu.sel(first="none").feasible.all()) and bool(block.feasible.sel(pattern="row-block"))
        np.testing.assert_allclose(cpu.energy.values, ref.energy.values, rtol=1e-12)
        np.testing.assert_array_equal(cpu.reason.values, ref.reason.values)
        e = cpu.energy.sel(pattern="row-block")
        assert float(e.sel(first="block")) < float(e.sel(first="none"))  # the first stage saves energy


# (first block rows, cols, first ratio, pattern, ratio, pattern block rows, array rows, cols, sub rows, rearrange,
#  compress): the first stage taller, the pattern taller, equal heights, blocks across tiles, column compression
NESTED = [
    (8, 16, 0.5, "unstructured", 0.5, 0, 32, 16, 8, "pad", "auto"),
    (1, "array", 0.5, "row-wise", 0.5, 0, 32, 16, 8, "slice", "auto"),
    (32, 16, 0.3, "row-block", 0.8, 0, 32, 16, 8, "slice", "auto"),
    (4, 4, 0.6, "column-wise", 0.3, 0, 32, 16, 8, "pad", "auto"),
    (2, 16, 0.75, "column-block", 0.9, 16, 32, 8, 32, "pad", "row"),
    ("all", 5, 0.5, "unstructured", 0.75, 0, 16, 16, 4, "slice", "col"),
]


@pytest.mark.parametrize(("rows", "cols", "first_ratio", "pattern", "ratio", "block_rows", "X", "Y", "xs", "rearrange",
                          "compress"), NESTED)
def test_narrow_first_blocks_closed_form_agrees_with_random_masks(rows, cols, first_ratio, pattern, ratio, block_rows,
                                                                  X, Y, xs, rearrange, compress):
    """The closed form of a draw inside a draw (docs/model.md §3.6) against 300 random masks: every statistic
    within four standard errors plus 3 %."""
    kw = {"block_rows": block_rows} if block_rows else {}
    sp = SparsitySpec(pattern=pattern, ratio=ratio, first="block", first_block_rows=rows, first_block_cols=cols,
                      first_ratio=first_ratio, **kw)
    flex = resolve(sp, CONV, X, Y, "CRS", compress)
    expected = sparse_stats(CONV, flex, X, Y, xs, 4, rearrange, "auto")
    assert expected[L.S_REASON] == 0
    sampled = np.array([sparse_stats(CONV, flex, X, Y, xs, 4, rearrange, "auto", "monte-carlo", 1, seed)
                        for seed in range(300)])
    for col, what in STATS.items():
        mean, se = sampled[:, col].mean(), sampled[:, col].std(ddof=1) / np.sqrt(len(sampled))
        assert abs(expected[col] - mean) <= 4 * se + 0.03 * abs(mean) + 1e-9, (what, expected[col], mean)


def test_narrow_first_blocks_in_closed_form_engine_equals_reference():
    """The engine's stage 1 (flat jobs, ``kernels.tile_stats.job_stats``) and the reference model's per-layer
    statistics price a draw inside a draw alike: every pattern kind, first blocks taller, shorter and as
    tall as the pattern's, the dense pattern (first blocks alone), both compressions, pad and slice."""
    text = SWEEP.replace('pattern = "hybrid"', 'pattern = ["dense", "unstructured", "row-block", "column-wise"]').replace(
        "EXTRA", 'first = "block"\nfirst_block_rows = [1, 4, "array"]\nfirst_block_cols = ["array", 4]\n'
                 'first_ratio = 0.5\n[mapping]\nrearrange = ["pad", "slice"]\ncompress = ["auto", "row", "col"]'
    ).replace("[mapping]\nmacro_grid", "macro_grid")
    cpu = evaluate(parse_sweep(text))
    ref = evaluate(parse_sweep(text), backend="reference")
    assert bool(cpu.feasible.any())
    np.testing.assert_array_equal(cpu.reason.values, ref.reason.values)
    np.testing.assert_allclose(cpu.energy.values, ref.energy.values, rtol=1e-12)
    np.testing.assert_allclose(cpu.latency.values, ref.latency.values, rtol=1e-12)


def test_narrow_first_blocks_that_do_not_nest_need_masks():
    """First blocks 3 rows high and pattern blocks 2 rows high cut each other: no closed form (the point is
    infeasible under stats = "expected", with its reason), Monte-Carlo masks price it."""
    sp = SparsitySpec(pattern="column-block", ratio=0.5, block_rows=2, first="block", first_block_rows=3,
                      first_block_cols="array", first_ratio=0.5)
    flex = resolve(sp, CONV, 32, 16, "CRS", "row")
    assert L.REASON_NAMES[int(sparse_stats(CONV, flex, 32, 16, 8, 4, "pad", "auto")[L.S_REASON])] == (
        "first_blocks_need_masks")
    assert sparse_stats(CONV, flex, 32, 16, 8, 4, "pad", "auto", "monte-carlo", 4)[L.S_REASON] == 0


@pytest.mark.parametrize(("extra", "key", "words"), [
    ('first = "block"\nstats = "monte-carlo"\npattern = "nm"', "sparsity.first", "IntraBlock"),
    ('first = "row-wise"\nfirst_block_cols = 4', "sparsity.first_block_cols", "only with"),
])
def test_narrow_first_blocks_no_point_can_price_are_refused_by_name(extra, key, words):
    text = SWEEP.replace('pattern = "hybrid"', 'pattern = "unstructured"').replace("EXTRA", extra)
    if 'pattern = "nm"' in extra:
        text = text.replace('pattern = "unstructured"\n', "")
    with pytest.raises(SpecError, match=key) as err:
        parse_sweep(text)
    assert words in str(err.value)


# ----- IntraBlock blocks of m x n: columns that share one mask ----------------------------------------------
def test_columns_sharing_a_mask_share_the_multiplexer_and_the_index():
    """2:4 in 4 x 4 blocks on a 37-column layer over 16-column tiles: the slots are those of 2:4 in every
    column, but one multiplexer and one index serve each group's columns in a tile (tiles of 16, 16, 5
    columns hold 4, 4 and 2 groups: 37 / 10 columns per piece)."""
    plain = SparsitySpec(pattern="nm", ratio=0.5)
    shared = SparsitySpec(pattern="nm", ratio=0.5, intrablock_cols=4)
    a = sparse_stats(CONV, resolve(plain, CONV, 32, 16, "CRS", "auto"), 32, 16, 8, 4, "pad", "auto")
    b = sparse_stats(CONV, resolve(shared, CONV, 32, 16, "CRS", "auto"), 32, 16, 8, 4, "pad", "auto")
    for col in (L.S_TILES, L.S_STORED, L.S_FETCH, L.S_PSUM, L.S_OUT_NZ, L.S_IDX_READ):
        assert b[col] == a[col]
    assert b[L.S_MUX_CELLS] == pytest.approx(a[L.S_MUX_CELLS] * 10 / 37)
    assert b[L.S_IDX_STORE] - b[L.S_IDX_READ] == pytest.approx((a[L.S_IDX_STORE] - a[L.S_IDX_READ]) * 10 / 37)


@pytest.mark.parametrize("masks", ["all", "1100,0110,0011"])
def test_pruning_into_shared_masks_keeps_one_mask_per_block_of_columns(masks):
    """Magnitude pruning into 2:4 blocks of 4 x 3: the three columns of a block keep the same rows, chosen
    by their magnitude together; weights taken as they are must fit one mask per block of columns, and
    count as the pruned ones do, with the closed form's shared multiplexer and index."""
    sp = SparsitySpec(pattern="nm", ratio=0.5, intrablock_cols=3, intrablock_masks=masks)
    flex = resolve(sp, EVEN, 32, 16, "CRS", "auto")
    rng = np.random.default_rng(5)
    w = rng.standard_normal((EVEN.K, EVEN.C, EVEN.R, EVEN.S))
    pruned = prune(w, EVEN, flex)
    mat = weight_matrices(pruned, EVEN, "CRS")[0]
    for c0 in range(0, mat.shape[1], 3):
        kept = mat[:, c0:c0 + 3] != 0
        assert (kept == kept[:, :1]).all()  # one mask per block of columns
    for r0 in range(0, mat.shape[0], 4):
        assert ((mat[r0:r0 + 4] != 0).sum(axis=0) == 2).all()
    counted = weight_stats(pruned, EVEN, flex, 32, 16, 8, 4, "pad", "auto", "CRS", False)
    expected = sparse_stats(EVEN, flex, 32, 16, 8, 4, "pad", "auto")
    for col in (L.S_TILES, L.S_STORED, L.S_FETCH, L.S_MUX_CELLS, L.S_IDX_STORE):
        assert counted[col] == pytest.approx(expected[col]), col
    loose = prune(w, EVEN, resolve(SparsitySpec(pattern="nm", ratio=0.5, intrablock_masks=masks), EVEN, 32, 16,
                                   "CRS", "auto"))
    assert weight_stats(loose, EVEN, flex, 32, 16, 8, 4, "pad", "auto", "CRS", False)[L.S_REASON] == \
        L.REASON_WEIGHTS_FORMAT


def test_sweeping_shared_columns():
    """intrablock_cols through a sweep: cpu == reference, multiplexer and index energy and multiplexer area
    fall as more columns share a mask, the array's energy does not move, latency only falls (fewer index
    bits to load with the weights); refused with a pattern without IntraBlock."""
    text = SWEEP.replace("EXTRA", "intrablock_cols = [1, 2, 8]")
    cpu = evaluate(parse_sweep(text))
    ref = evaluate(parse_sweep(text), backend="reference")
    np.testing.assert_allclose(cpu.energy.values, ref.energy.values, rtol=1e-12)
    e = cpu.energy_breakdown
    for comp in ("mux", "index"):
        v = [float(e.sel(component=comp, intrablock_cols=n)) for n in (1, 2, 8)]
        assert v[0] > v[1] > v[2], comp
    np.testing.assert_allclose(e.sel(component="array", intrablock_cols=8), e.sel(component="array", intrablock_cols=1))
    assert float(cpu.latency.sel(intrablock_cols=8)) <= float(cpu.latency.sel(intrablock_cols=1))
    mux = cpu.area_breakdown.sel(component="mux")
    assert float(mux.sel(intrablock_cols=8)) < float(mux.sel(intrablock_cols=1))
    with pytest.raises(SpecError, match="sparsity.intrablock_cols"):
        parse_sweep(SWEEP.replace('pattern = "hybrid"', 'pattern = "row-block"').replace("EXTRA", "intrablock_cols = 4"))
