"""The macro's switching: adder trees from geometry, input bits by position, activity from the data."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ciminus.kernels import equations as eq
from ciminus.kernels import layout as L
from ciminus.kernels.jit import python
from ciminus.sweep import evaluate
from ciminus.validate import SpecError, parse_sweep

adds = python(eq.adder_tree_adds)
zero = python(eq.group_zero_probability)
clip_of = python(eq.laplace_clip)


def test_adder_trees_by_hand():
    # Two 8-bit products: one 8-bit ripple adder, 8 one-bit adders; counted by bits, a full adder turns 3 bits
    # into 2, so 16 bits become the 9-bit sum with 7 full adders (the lowest position needs a half adder only).
    assert adds(2, 1, 8, 8, 1, L.ADDER_TREE_RIPPLE) == 8
    assert adds(2, 1, 8, 8, 1, L.ADDER_TREE_COMPRESSOR) == 7
    # Four 1-bit products: two 1-bit adders, then one 2-bit adder (4); 4 bits to a 3-bit sum: 1 full adder.
    assert adds(4, 1, 1, 1, 1, L.ADDER_TREE_RIPPLE) == 4
    assert adds(4, 1, 1, 1, 1, L.ADDER_TREE_COMPRESSOR) == 1
    # A 32 x 16 array of 8-bit weights, one input bit per cycle: per column X(p+1) - (p + log2 X + 1).
    assert adds(32, 16, 8, 8, 1, L.ADDER_TREE_RIPPLE) == 16 * (32 * 9 - 14)
    assert adds(32, 16, 8, 8, 1, L.ADDER_TREE_COMPRESSOR) == 16 * (32 * 8 - 13)
    assert adds(32, 16, 8, 8, 2, L.ADDER_TREE_RIPPLE) == 2 * adds(32, 16, 8, 8, 1, L.ADDER_TREE_RIPPLE)
    # The legacy count: exact on its home, not proportional to the columns, not positive on square arrays.
    assert adds(32, 16, 8, 8, 1, L.ADDER_TREE_MIREDO) == 32 * 9 - (8 + 3 + 1) * 16
    assert adds(128, 128, 8, 8, 1, L.ADDER_TREE_MIREDO) <= 0


@given(st.integers(2, 512), st.integers(1, 16))
def test_trees_grow_with_rows_and_compressors_need_fewer_adders(rows, bits):
    ripple = adds(rows, 1, 8, bits, 1, L.ADDER_TREE_RIPPLE)
    compressor = adds(rows, 1, 8, bits, 1, L.ADDER_TREE_COMPRESSOR)
    assert 0 <= compressor <= ripple and (compressor > 0 or rows * bits <= 2)
    assert adds(rows + 1, 1, 8, bits, 1, L.ADDER_TREE_RIPPLE) > ripple


def test_laplace_clip_is_the_aciq_optimum():
    # Banner, Nahshan, Soudry (NeurIPS 2019), optimal clipping of a Laplace(b) for M bits, in units of b.
    for bits, published in ((2, 2.83), (3, 3.89), (4, 5.03), (8, 9.89)):
        assert clip_of(bits) == pytest.approx(published, abs=0.01)


@given(st.integers(1, 10), st.floats(0.05, 60.0), st.data())
def test_group_zero_probability_equals_the_law_it_sums(bits, clip, data):
    lo = data.draw(st.integers(0, bits - 1))
    width = data.draw(st.integers(1, bits - lo))
    q = 2**bits - 1
    step = clip / q
    k = np.arange(1, q + 1)
    law = np.where(k < q, np.exp(-step * (k - 1)) * -math.expm1(-step), math.exp(-step * (q - 1)))
    brute = law[((k >> lo) & ((1 << width) - 1)) == 0].sum()
    assert zero(L.PROFILE_LAPLACE, bits, lo, width, 0.5, clip) == pytest.approx(brute, abs=1e-9)
    assert zero(L.PROFILE_INDEPENDENT, bits, lo, width, 0.3, clip) == pytest.approx(0.7**width)


RESNET = """
name = "in"
[workload]
network = "resnet18"
dataset = "imagenet"
[sparsity]
input_density = [1.0, 0.7, 0.5, 0.3, 0.1]
[mapping]
macro_grid = "square"
loop_order = "vectors-cols-rows"
"""
SWITCHING = ["array", "adder_tree", "shift_add"]


def test_sparse_inputs_switch_less_and_never_run_longer():
    ds = evaluate(parse_sweep(RESNET))
    switching = ds.energy_breakdown.sel(component=SWITCHING).sum("component")
    assert float(switching.sel(input_density=0.3) / switching.sel(input_density=1.0)) <= 0.85
    # the densities are listed falling: switching energy falls with them, compute cycles never rise
    assert (np.diff(switching.values) < 0).all()
    assert (np.diff(ds.compute_cycles.values) <= 0).all()


def test_full_activity_charges_every_gate_of_every_running_cycle():
    full = evaluate(parse_sweep(RESNET + '[energy]\nactivity = "full"\n'))
    data = evaluate(parse_sweep(RESNET))
    for comp in ("array", "adder_tree"):
        assert (data.energy_breakdown.sel(component=comp) < full.energy_breakdown.sel(component=comp)).all()
    # shift-adds run once per cycle that runs, whatever the activity
    np.testing.assert_allclose(data.energy_breakdown.sel(component="shift_add"),
                               full.energy_breakdown.sel(component="shift_add"), rtol=1e-12)
    np.testing.assert_array_equal(data.compute_cycles, full.compute_cycles)


def test_the_legacy_setting_reproduces_the_template_activation():
    """adder_tree_model = "miredo" at activity = "full": 25.619328 pJ per 32 x 16 activation, dense inputs."""
    ds = evaluate(parse_sweep("""
name = "legacy"
[workload]
layer = [{name = "fc", kind = "linear", C = 32, K = 16, tokens = 1}]
[arch]
macros = 1
[energy]
adder_tree_model = "miredo"
activity = "full"
"""))
    macro = float(ds.energy_breakdown.sel(component=SWITCHING).sum())
    assert macro == pytest.approx(25.619328, abs=1e-9)


# One fully connected layer on one pinned mapping: what the measured-activation tests price.
FC_LAYER = """
name = "fc"
[workload]
layer = [{name = "fc", kind = "linear", C = 256, K = 64, tokens = 64}]
[mapping]
macro_grid = "square"
loop_order = "vectors-cols-rows"
"""


def test_measured_samples_and_the_fitted_model_agree_on_compute_cycles(tmp_path):
    """Samples drawn from the default model's own law (post-ReLU Laplace, clipped at the MSE-optimal value,
    zeros at a given rate), measured through ``sparsity.activations``, against the model with the density
    and clip fitted to the same samples: compute cycles within 5 %."""
    rng = np.random.default_rng(11)
    clip = clip_of(8)
    x = np.minimum(rng.exponential(size=(4000, 256)), clip)
    x[rng.random(x.shape) < 0.6] = 0.0
    x[0, 0] = clip  # the quantiser's full scale is the clip
    np.savez(tmp_path / "acts.npz", fc=x)
    codes = np.rint(x / clip * 255)
    density = float((codes > 0).mean())
    base = FC_LAYER + """
[sparsity]
input_skip = true
"""
    measured = evaluate(parse_sweep(base + f'activations = "{tmp_path / "acts.npz"}"\n'))
    model = evaluate(parse_sweep(base + f"input_density = {density!r}\ninput_clip = {clip!r}\n"))
    dense = evaluate(parse_sweep(base))
    assert float(measured.compute_cycles) < float(dense.compute_cycles)  # the top bit planes are skipped
    assert float(model.compute_cycles) == pytest.approx(float(measured.compute_cycles), rel=0.05)


def test_measured_bit_ones_drive_the_bit_cells_switching(tmp_path):
    """With activation samples, the bit cells switch as often as the measured input bits are 1 (zero inputs
    included), not as the input model says: half the inputs 1 (bit 0 only), half 0 switch the gates 1/16 of the
    time."""
    x = np.zeros((64, 256), dtype=np.int64)
    x[:, ::2] = 1  # half the inputs are 1 (bit 0 only), half are 0: one input bit in 16 is 1
    np.savez(tmp_path / "acts.npz", fc=x)
    base = FC_LAYER + """
[output]
actions = true
[sparsity]
input_skip = false
"""
    measured = evaluate(parse_sweep(base + f'activations = "{tmp_path / "acts.npz"}"\n'))
    full = evaluate(parse_sweep(base + f'activations = "{tmp_path / "acts.npz"}"\n[energy]\nactivity = "full"\n'))
    mults = measured.action_count.sel(action="cell_mult")
    every = full.action_count.sel(action="cell_mult")  # every gate of every cycle
    assert float(mults) == pytest.approx(float(every) / 16, rel=1e-12)
    trees = measured.action_count.sel(action="tree_add")
    assert float(trees) == pytest.approx(float(full.action_count.sel(action="tree_add")) / 16 * 0.5, rel=1e-12)


def test_node_and_supply_scale_on_chip_energies_only():
    """arch.node_nm and arch.vdd move every on-chip energy by (node / 28) * (V / 0.9)^2 (leakage by
    (node / 28) * (V / 0.9)) from the template's reference; DRAM stays; no count changes."""
    ds = evaluate(parse_sweep("""
name = "node"
[workload]
layer = [{name = "fc", kind = "linear", C = 32, K = 16, tokens = 1}]
[arch]
macros = 1
node_nm = [28, 56]
vdd = [0.9, 0.45]
[energy]
adder_tree_model = "miredo"
activity = "full"
[mapping]
macro_grid = "square"
loop_order = "cols-rows-vectors"
[output]
actions = true
"""))
    macro = ds.energy_breakdown.sel(component=SWITCHING).sum("component")
    assert float(macro.sel(node_nm=28, vdd=0.9)) == pytest.approx(25.619328, abs=1e-9)
    assert float(macro.sel(node_nm=56, vdd=0.45)) == pytest.approx(25.619328 * 2 * 0.25, rel=1e-12)
    dram = ds.energy_breakdown.sel(component="dram")
    assert float(dram.max()) == float(dram.min()) > 0
    static = ds.energy_breakdown.sel(component="static")
    assert float(static.sel(node_nm=56, vdd=0.45) / static.sel(node_nm=28, vdd=0.9)) == pytest.approx(1.0)
    counts = ds.action_count
    assert (counts == counts.sel(node_nm=28, vdd=0.9)).all()


def test_cached_skip_fractions_equal_computed_ones():
    """The engine caches each layer's skip fractions per thread, keyed by the layer's rows, the density and
    the input-bit statistics; the reference computes them every time. A sweep that moves every key they
    depend on, innermost and outermost (value density, bits per cycle, profile, clip, bit density, a
    layer's own density, the array's rows), prices the same on both, bit for bit."""
    text = """
name = "skip-cache"
[workload]
layer = [{name = "a", kind = "conv", C = 8, K = 16, R = 3, S = 3, H = 8, W = 8, pad = 1},
         {name = "b", kind = "conv", C = 16, K = 16, R = 3, S = 3, H = 8, W = 8, pad = 1},
         {name = "c", kind = "linear", C = 256, K = 10}]
[arch]
array_rows = [16, 32]
input_bits_per_cycle = [1, 2]
[sparsity]
pattern = ["dense", "row-block"]
ratio = 0.5
input_profile = ["laplace", "independent"]
input_bit_density = [0.3, 0.5]
input_density = [0.2, 0.7, 1.0]
layer_input_density = {b = 0.4}
[mapping]
macro_grid = "square"
loop_order = "vectors-cols-rows"
duplicate = true
compress = "auto"
"""
    cpu = evaluate(parse_sweep(text))
    ref = evaluate(parse_sweep(text), backend="reference")
    for var in ("energy", "latency"):
        np.testing.assert_array_equal(cpu[var].values, ref[var].values)
    with_clip = text.replace('input_profile = ["laplace", "independent"]', "input_clip = [2.0, 6.0]")
    cpu = evaluate(parse_sweep(with_clip))
    ref = evaluate(parse_sweep(with_clip), backend="reference")
    np.testing.assert_array_equal(cpu.latency.values, ref.latency.values)


GIVEN = """
name = "given"
[workload]
layer = [{name = "a", kind = "conv", C = 8, K = 16, R = 3, S = 3, H = 8, W = 8, pad = 1},
         {name = "b", kind = "linear", C = 256, K = 10}]
[arch]
input_bits_per_cycle = BPC
[sparsity]
input_density = 0.5
PROFILE
[mapping]
macro_grid = "square"
loop_order = "vectors-cols-rows"
duplicate = true
compress = "auto"
"""


def test_a_given_bit_profile_prices_as_the_model_it_equals():
    """input_profile = "given": each bit position's probability of a 1. Given the Laplace model's own
    per-bit probabilities, one bit per cycle prices as the model (the model's bits are then skipped one
    position at a time, and a given profile's positions are independent); empty high-order planes run
    fewer cycles than a flat profile; cpu == reference over a swept pair of profiles."""
    clip = clip_of(8)
    ones = [1.0 - zero(L.PROFILE_LAPLACE, 8, b, 1, 0.5, clip) for b in range(8)]
    text = ",".join(repr(p) for p in ones)
    model = evaluate(parse_sweep(GIVEN.replace("BPC", "1").replace("PROFILE", 'input_profile = "laplace"')))
    given = evaluate(parse_sweep(GIVEN.replace("BPC", "1").replace(
        "PROFILE", f'input_profile = "given"\ninput_bit_ones = "{text}"')))
    for var in ("energy", "latency", "compute_cycles"):
        np.testing.assert_allclose(given[var].values, model[var].values, rtol=1e-12)
    swept = GIVEN.replace("BPC", "2").replace("PROFILE", 'input_profile = "given"\ninput_bit_ones = '
                                              '["0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5", "0.5,0.4,0.3,0.2,0.1,0.0,0.0,0.0"]')
    cpu = evaluate(parse_sweep(swept))
    ref = evaluate(parse_sweep(swept), backend="reference")
    np.testing.assert_array_equal(cpu.latency.values, ref.latency.values)
    np.testing.assert_allclose(cpu.energy.values, ref.energy.values, rtol=1e-12)
    flat, empty_high = cpu.compute_cycles.values
    assert empty_high < flat


@pytest.mark.parametrize(("profile", "words"), [
    ('input_profile = "given"', "needs sparsity.input_bit_ones"),
    ('input_profile = "given"\ninput_bit_ones = "0.5,0.4"', "has 2 bit positions"),
    ('input_profile = "given"\ninput_bit_ones = "0.5,1.5,0,0,0,0,0,0"', "outside 0 to 1"),
    ('input_bit_ones = "0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5"', 'unless sparsity.input_profile = "given"'),
])
def test_a_given_profile_is_checked_by_name(profile, words):
    with pytest.raises(SpecError, match=words):
        parse_sweep(GIVEN.replace("BPC", "1").replace("PROFILE", profile))
