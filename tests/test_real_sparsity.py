"""Real workloads and real sparsity: ONNX models, weights, pruning, activation profiles, transformers."""

import itertools
from pathlib import Path

import numpy as np
import pytest

from ciminus.kernels import layout as L
from ciminus.reference import StatsCache, price_point
from ciminus.resolve import Resolver
from ciminus.sparsity.activations import bit_profile, quantise
from ciminus.sparsity.flexblock import resolve
from ciminus.sparsity.stats import sparse_stats, weight_stats
from ciminus.sparsity.weights import WeightsError, from_matrices, hardware_masks, prune, pruned_masks, weight_matrices
from ciminus.specs import SparsitySpec
from ciminus.sweep import evaluate
from ciminus.validate import SpecError, parse_sweep
from ciminus.workloads.layers import Layer

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CONV = Layer("conv", "conv", C=32, K=48, R=3, S=3, H=8, W=8, pad=1)
GROUPED = Layer("g", "conv", C=8, K=12, R=3, S=3, H=6, W=6, pad=1, groups=4)
LINEAR = Layer("fc", "linear", C=300, K=70, tokens=5)


def price(text, index=None):
    sweep = parse_sweep(text, base=ROOT)
    index = index or (0,) * len(sweep.axes)
    res = Resolver(sweep)
    return price_point(res.specs_at(index), res.candidates_at(index), sweep.select, sweep.objective, StatsCache())


# ----- weights: flattening and pruning ----------------------------------------------------------------
@pytest.mark.parametrize("layer", [CONV, GROUPED, LINEAR])
@pytest.mark.parametrize("flatten", ["CRS", "RSC", "SCR"])
def test_weight_matrices_round_trip(layer, flatten):
    rng = np.random.default_rng(0)
    shape = (layer.K, layer.C // layer.groups, layer.R, layer.S) if layer.kind == "conv" else (layer.K, layer.C)
    w = rng.normal(size=shape)
    mats = weight_matrices(w, layer, flatten)
    assert mats.shape == (layer.groups, layer.rows, layer.cols)
    np.testing.assert_array_equal(from_matrices(mats, layer, flatten), w)


def test_flattening_order_places_a_channel():
    w = np.zeros((48, 32, 3, 3))
    w[:, 5] = 1.0  # one input channel
    crs = weight_matrices(w, CONV, "CRS")[0]
    rsc = weight_matrices(w, CONV, "RSC")[0]
    assert list(np.flatnonzero(crs[:, 0])) == list(range(45, 54))  # its nine rows together
    assert list(np.flatnonzero(rsc[:, 0])) == [5 + 32 * k for k in range(9)]  # one row in every 32


@pytest.mark.parametrize("pattern,ratio,kw", [("row-block", 0.6, {}), ("row-wise", 0.5, {}), ("column-wise", 0.3, {}),
                                              ("channel-wise", 0.5, {}), ("unstructured", 0.7, {}),
                                              ("column-block", 0.5, {}), ("nm", 0.5, {}), ("hybrid", 0.4, {}),
                                              ("flexblock", 0.5, {"block_rows": 3, "block_cols": 4})])
def test_magnitude_pruning_into_every_preset(pattern, ratio, kw):
    rng = np.random.default_rng(1)
    w = rng.normal(size=(48, 32, 3, 3))
    flex = resolve(SparsitySpec(pattern=pattern, ratio=ratio, **kw), CONV, 32, 16, "CRS", "auto")
    pruned = prune(w, CONV, flex)
    assert np.array_equal(pruned, prune(w, CONV, flex))  # deterministic
    assert set(np.flatnonzero(pruned)) <= set(np.flatnonzero(w))
    # Pruned weights fit the format exactly: their exact statistics equal the random-mask statistics
    # whenever the pattern leaves nothing to chance (every kept block is full, Phi blocks kept).
    masks = pruned_masks(w, CONV, flex)
    height = masks.shape[1]
    if flex.has_fullblock:
        bm, bn = flex.block_rows, flex.block_cols
        hb, nb = -(-height // bm), -(-CONV.cols // bn)
        kept = {(i // bm, j // bn) for i, j in zip(*np.nonzero(masks[0]), strict=True)}
        assert len(kept) == int(np.floor((1 - ratio) * hb * nb + 1e-9))
    if flex.has_intrablock:
        mats = weight_matrices(pruned, CONV)[0]
        for s0 in range(0, mats.shape[0], flex.ib_segment):
            assert ((mats[s0:s0 + flex.ib_segment] != 0).sum(axis=0) <= flex.ib_keep).all()


def test_pruning_keeps_the_largest_blocks():
    w = np.ones((48, 32, 3, 3))
    w[:, :16] *= 10  # the first half of the rows is heavier
    flex = resolve(SparsitySpec(pattern="row-wise", ratio=0.5), CONV, 32, 16, "CRS", "auto")
    pruned = weight_matrices(prune(w, CONV, flex), CONV)[0]
    assert (pruned[:144] != 0).all() and (pruned[144:] == 0).all()


def test_weights_that_break_an_nm_format_are_infeasible():
    w = np.random.default_rng(2).normal(size=(48, 32, 3, 3))  # dense: 4 of 4 in every segment
    flex = resolve(SparsitySpec(pattern="nm", ratio=0.5), CONV, 32, 16, "CRS", "auto")
    with pytest.raises(WeightsError, match="the 2:4 format stores at most 2"):
        hardware_masks(w, CONV, flex)
    st = weight_stats(w, CONV, flex, 32, 16, 32, 16, "pad", "auto", "CRS", prune=False)
    assert st[L.S_REASON] == L.REASON_WEIGHTS_FORMAT
    st = weight_stats(w, CONV, flex, 32, 16, 32, 16, "pad", "auto", "CRS", prune=True)
    assert st[L.S_REASON] == L.REASON_OK


# ----- measured statistics against the closed form -----------------------------------------------------
def _random_block_weights(flex, rng):
    """Weights whose zeros are a random FullBlock mask with exactly Phi kept blocks (no pruning bias)."""
    from ciminus.sparsity.montecarlo import draw_masks

    mask = draw_masks(CONV, flex, rng)[0]
    mats = rng.normal(size=(1, CONV.rows, CONV.cols)) * mask
    return from_matrices(mats, CONV)


@pytest.mark.parametrize("pattern,ratio", [("row-block", 0.5), ("row-wise", 0.7), ("unstructured", 0.3),
                                           ("column-wise", 0.5), ("channel-wise", 0.4)])
def test_random_weights_measure_the_closed_form(pattern, ratio):
    flex = resolve(SparsitySpec(pattern=pattern, ratio=ratio), CONV, 32, 16, "CRS", "auto")
    expected = sparse_stats(CONV, flex, 32, 16, 32, 16, "pad", "auto")
    rng = np.random.default_rng(3)
    draws = np.array([weight_stats(_random_block_weights(flex, rng), CONV, flex, 32, 16, 32, 16, "pad", "auto",
                                   "CRS", prune=False) for _ in range(200)])
    mean, se = draws.mean(0), draws.std(0, ddof=1) / np.sqrt(len(draws))
    for i in range(L.N_STATS):
        if np.isnan(expected[i]):
            continue
        assert abs(expected[i] - mean[i]) <= 4 * se[i] + 2e-3 * abs(mean[i]) + 1e-9, L.STAT_NAMES[i]


def test_clustered_zeros_save_what_random_zeros_cannot():
    """Half the weights zero: scattered at random, a 16-column tile almost never has a zero row; as whole
    pruned input channels, every tile loses half its rows. The measured statistics see it, the random
    expectation cannot."""
    flex = resolve(SparsitySpec(pattern="unstructured", ratio=0.5), CONV, 32, 16, "CRS", "auto")
    random_expectation = sparse_stats(CONV, flex, 32, 16, 32, 16, "pad", "auto")
    w = np.random.default_rng(4).normal(size=(48, 32, 3, 3))
    w[:, ::2] = 0.0  # every other input channel pruned: the same 50 % of zero weights
    clustered = weight_stats(w, CONV, flex, 32, 16, 32, 16, "pad", "auto", "CRS", prune=False)
    assert clustered[L.S_TILES] < 0.6 * random_expectation[L.S_TILES]
    assert clustered[L.S_FETCH] < 0.6 * random_expectation[L.S_FETCH]
    # Column compression cannot exploit row clusters: there the two agree that nothing is saved.
    flex_col = resolve(SparsitySpec(pattern="unstructured", ratio=0.5), CONV, 32, 16, "CRS", "col")
    col = weight_stats(w, CONV, flex_col, 32, 16, 32, 16, "pad", "auto", "CRS", prune=False)
    assert col[L.S_TILES] == sparse_stats(CONV, flex_col, 32, 16, 32, 16, "pad", "auto")[L.S_TILES]


# ----- ONNX workloads ---------------------------------------------------------------------------------
def _conv_model(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(5).normal(size=(16, 8, 3, 3)).astype(np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 14, 14])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 7, 7])
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", strides=[2, 2], pads=[1, 1, 1, 1])
    graph = helper.make_graph([node], "g", [x], [y], [numpy_helper.from_array(w, "w")])
    path = tmp_path / "conv.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def test_an_onnx_conv_prices_like_the_same_inline_layer(tmp_path):
    path = _conv_model(tmp_path)
    onnx_text = f'name = "o"\n[workload]\nonnx = "{path}"\n[sparsity]\npattern = "row-block"\nratio = 0.5\n'
    inline = ('name = "i"\n[[workload.layer]]\nname = "conv"\nC = 8\nK = 16\nR = 3\nS = 3\nH = 14\nW = 14\n'
              'stride = 2\npad = 1\n[sparsity]\npattern = "row-block"\nratio = 0.5\n')
    a, b = price(onnx_text), price(inline)
    assert a.cost.energy == b.cost.energy and a.cost.latency == b.cost.latency


def test_pruned_onnx_runs_faster_than_its_dense_twin():
    text = """
name = "tiny"
[workload]
onnx = "examples/MODEL"
[sparsity]
pattern = "nm"
ratio = 0.5
source = "weights"
"""
    dense = price(text.replace("MODEL", "tiny_cnn.onnx").replace('pattern = "nm"', 'pattern = "dense"'))
    pruned = price(text.replace("MODEL", "tiny_cnn_2of4.onnx"))
    assert pruned.feasible and pruned.cost.latency < dense.cost.latency
    # The dense model's weights do not fit the 2:4 format the hardware would store them in.
    assert price(text.replace("MODEL", "tiny_cnn.onnx")).cost.reason == L.REASON_WEIGHTS_FORMAT


def test_what_if_the_network_were_pruned():
    """Real dense weights, magnitude-pruned at every ratio of the sweep: more pruning, fewer cycles."""
    sweep = parse_sweep("""
name = "whatif"
[workload]
onnx = "examples/tiny_cnn.onnx"
[sparsity]
pattern = "row-block"
ratio = [0.0, 0.5, 0.7, 0.9]
source = "weights"
prune = true
""", base=ROOT)
    ds = evaluate(sweep, "cpu")
    assert (np.diff(ds.latency.values) <= 0).all() and ds.speedup.values[-1] > 2
    assert (evaluate(sweep, "reference").energy.values == ds.energy.values).all()


def test_weights_from_an_npz(tmp_path):
    w = np.random.default_rng(6).normal(size=(70, 300))
    w[:, 100:200] = 0.0
    np.savez(tmp_path / "w.npz", fc=w)
    text = (f'name = "n"\n[[workload.layer]]\nname = "fc"\nkind = "linear"\nC = 300\nK = 70\ntokens = 5\n'
            f'[sparsity]\npattern = "row-wise"\nsource = "{tmp_path / "w.npz"}"\n')
    r = price(text)
    assert r.feasible and r.dense.latency / r.cost.latency > 1.3
    np.savez(tmp_path / "bad.npz", fc=w[:, :10])
    with pytest.raises(SpecError) as err:
        parse_sweep(text.replace("w.npz", "bad.npz"))
    assert "weights of shape (70, 10), expected (70, 300)" in str(err.value)


def test_bad_real_data_inputs_are_refused():
    base = 'name = "b"\n[workload]\nnetwork = "resnet18"\n[sparsity]\n'
    with pytest.raises(SpecError, match='sparsity.source = "weights": the workload has no weights'):
        parse_sweep(base + 'source = "weights"\npattern = "row-block"\n')
    with pytest.raises(SpecError, match="sparsity.source = \"w.npy\": not allowed"):
        parse_sweep(base + 'source = "w.npy"\n')
    with pytest.raises(SpecError, match="no such file"):
        parse_sweep(base + 'activations = "missing.npz"\n')
    with pytest.raises(SpecError, match='sparsity.prune = true: prunes real weights, but sparsity.source = "random"'):
        parse_sweep(base + "prune = true\n")
    with pytest.raises(SpecError, match="workload.onnx = \"nope.onnx\": no such file"):
        parse_sweep('name = "b"\n[workload]\nonnx = "nope.onnx"\n')


# ----- activation bit profiles -------------------------------------------------------------------------
def test_quantisation():
    assert list(quantise(np.array([0.0, 0.5, 1.0]), 8)) == [0, 128, 255]
    assert list(quantise(np.array([-1.0, 0.0, 1.0]), 4)) == [9, 0, 7]  # signed: two's complement of -7
    assert list(quantise(np.array([3, 300], dtype=np.int32), 8)) == [3, 300 & 255]


def test_bit_profiles_count_the_cycles_that_run():
    layer = Layer("fc", "linear", C=64, K=10, tokens=1)
    zeros = np.zeros((100, 64))
    assert bit_profile(zeros, layer, 32, 8, 1) == (0.0, 0.0, 0.0)
    lsb = np.ones((100, 64), dtype=np.int64)  # only bit 0 set: one cycle of eight runs, one bit in eight is 1
    assert bit_profile(lsb, layer, 32, 8, 1) == (0.125, 0.125, 0.125)
    assert bit_profile(lsb, layer, 32, 8, 2) == (0.25, 0.25, 0.125)
    half = np.ones((100, 64), dtype=np.int64)
    half[:, 32:] = 0  # the second tile sees only zeros
    energy, critical, ones = bit_profile(half, layer, 32, 8, 1)
    assert energy == pytest.approx(0.0625) and critical == pytest.approx(0.125) and ones == pytest.approx(0.0625)
    assert bit_profile(np.full((10, 64), 255, dtype=np.int64), layer, 32, 8, 1)[2] == 1.0


def test_measured_activations_drive_bit_plane_skipping(tmp_path):
    rng = np.random.default_rng(7)
    acts = np.maximum(rng.normal(size=(4, 16, 8, 8)), 0) ** 3  # sparse, heavy-tailed: top bits rarely set
    np.savez(tmp_path / "acts.npz", c=acts)
    layer = '[[workload.layer]]\nname = "c"\nC = 16\nK = 16\nR = 3\nS = 3\nH = 8\nW = 8\npad = 1\n'
    plain = price('name = "a"\n[arch]\narray_rows = 8\nsubarray_rows = 8\n[energy]\nadder_tree_model = "full"\n'
                  + layer)
    measured = price(plain_text := ('name = "a"\n[arch]\narray_rows = 8\nsubarray_rows = 8\n[energy]\n'
                                    'adder_tree_model = "full"\n[sparsity]\n'
                                    f'activations = "{tmp_path / "acts.npz"}"\n' + layer))
    assert measured.cost.compute_cycles < plain.cost.compute_cycles
    assert measured.cost.energy["zero_detect"] > 0 and plain.cost.energy["zero_detect"] == 0
    sweep = parse_sweep(plain_text)
    assert (evaluate(sweep, "cpu").energy.values == evaluate(sweep, "reference").energy.values).all()


# ----- transformers --------------------------------------------------------------------------------------
def test_transformers_price_and_keep_dynamic_operands_dense():
    sweep = parse_sweep("""
name = "tx"
[workload]
network = ["bert-base", "vit-b16"]
tokens = 64
[arch]
template = "ciminus-case-study"
[sparsity]
pattern = ["dense", "row-block"]
ratio = 0.5
[output]
per_layer = false
""")
    ds = evaluate(sweep, "cpu")
    assert ds.feasible.all() and (ds.speedup.sel(pattern="row-block") > 1).all()
    assert (evaluate(sweep, "reference").energy.values == ds.energy.values).all()
    specs = Resolver(sweep).specs_at((0, 1))
    layer = next(x for x in specs.layers if x.dynamic)
    st = StatsCache().sparse(layer, specs.sparsity, specs.arch, Resolver(sweep).candidates_at((0, 1))[0])
    assert st[L.S_IDX_READ] == 0  # attention scores are produced at run time: never pruned


def _slots_one_column_at_a_time(mat, keep, segment, period, masks, share):
    """The slot layout by its definition, column by column: slot s of a segment holds its s-th non-zero row
    (with a mask set: the s-th row of the first allowed mask that covers the segment's non-zeros)."""
    from ciminus.kernels.tile_stats import blocked_height
    from ciminus.sparsity.weights import _segments

    rows, cols = mat.shape
    values = np.zeros((blocked_height(rows, keep, segment, period), cols))
    where = np.full(values.shape, -1)
    base = 0
    for seg in _segments(rows, segment, period):
        length = seg.stop - seg.start
        width = min(keep, length)
        for c in range(cols):
            group = slice(c // share * share, c // share * share + share)
            nz = (mat[seg, group] != 0).any(axis=1)
            if masks:
                bits = [[(m >> p) & 1 for p in range(length)] for m in masks]
                rows_of = next(np.flatnonzero(b) for b in bits if all(b[i] for i in np.flatnonzero(nz)))[:width]
            else:
                rows_of = np.flatnonzero(nz)
            for s, r in enumerate(rows_of):
                values[base + s, c] = mat[seg.start + r, c]
                where[base + s, c] = seg.start + r if mat[seg.start + r, c] != 0 else -1
        base += width
    return values, where


def test_slot_layout_equals_its_definition():
    """The IntraBlock slot layout of real weights, computed a segment at a time for all columns together,
    equals the layout defined column by column, with and without mask sets and shared masks."""
    from ciminus.sparsity.weights import slots

    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(400):
        segment = int(rng.integers(1, 7))
        keep = int(rng.integers(1, segment + 1))
        rows, cols, share = int(rng.integers(1, 30)), int(rng.integers(1, 10)), int(rng.choice([1, 1, 2, 3]))
        period = int(rng.choice([0, segment * int(rng.integers(1, 4)), int(rng.integers(1, 20))]))
        masks = ()
        if rng.random() < 0.4:
            every = [sum(1 << p for p in combo) for combo in itertools.combinations(range(segment), keep)]
            masks = tuple(int(m) for m in rng.choice(every, size=min(len(every), 3), replace=False))
        mat = rng.normal(size=(rows, cols)) * (rng.random((rows, cols)) < 0.35)
        try:
            got = slots(mat, keep, segment, period, masks, share)
        except WeightsError:
            continue  # weights the format cannot store (tests of the message: above)
        want = _slots_one_column_at_a_time(mat, keep, segment, period, masks, share)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        checked += 1
    assert checked > 150
