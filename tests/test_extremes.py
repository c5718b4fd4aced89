"""Arithmetic that cannot wrap: layers up to every key's allowed maximum give finite, non-negative costs on
every feasible point, the same in the engine and the reference model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ciminus.specs.fields import toml_repr
from ciminus.sweep import evaluate
from ciminus.validate import SpecError, parse_sweep

COSTS = ("energy", "latency", "latency_s", "compute_cycles", "energy_breakdown", "speedup", "energy_saving",
         "utilization", "dense_energy", "dense_latency")


def check(text: str) -> None:
    sweep = parse_sweep(text)
    cpu, ref = evaluate(sweep, "cpu"), evaluate(sweep, "reference")
    ok = cpu.feasible.values
    np.testing.assert_array_equal(ok, ref.feasible.values)
    for name in (n for n in COSTS if n in cpu):
        a, b = cpu[name].values, ref[name].values
        feasible = np.broadcast_to(ok.reshape(ok.shape + (1,) * (a.ndim - ok.ndim)), a.shape)
        assert np.isfinite(a[feasible]).all() and (a[feasible] >= 0).all(), (name, a[feasible])
        np.testing.assert_allclose(a[feasible], b[feasible], rtol=1e-9, err_msg=name)


def test_the_largest_layer_of_the_issue_is_priced_right():
    """C = K = 2^24, H = W = 2^20, batch = count = 2^20: once negative or NaN in the engine (int64 wrap)."""
    check("""
name = "huge"
[workload]
batch = 1048576
[[workload.layer]]
name = "huge"
C = 16777216
K = 16777216
H = 1048576
W = 1048576
count = 1048576
[arch]
macros = [8, 16]
freq_mhz = 200
""")


def test_a_matrix_too_tall_for_the_statistics_is_refused_with_its_limit():
    with pytest.raises(SpecError) as err:
        parse_sweep('name = "x"\n[[workload.layer]]\nname = "l"\nC = 16777216\nK = 4\nR = 1024\nS = 1024\n'
                    "H = 1024\nW = 1024\n")
    assert "workload.layer[0].R = 1024: makes a weight matrix of C/groups*R*S = 17,592,186,044,416 rows" in str(err.value)
    assert "at most 16,777,216 rows per group" in str(err.value)


@st.composite
def extreme_layers(draw):
    big = st.sampled_from([1, 3, 1 << 10, 1 << 16, 1 << 20])
    kind = draw(st.sampled_from(["conv", "linear"]))
    if kind == "conv":
        R = draw(st.sampled_from([1, 3, 1024]))
        C = draw(st.sampled_from([1, 64, 1 << 14, 1 << 24])) if R == 1 else draw(st.sampled_from([1, 16]))
        H = draw(st.sampled_from([R, R + 1, 1 << 20]))
        return dict(kind="conv", C=C, K=draw(st.sampled_from([1, 64, 1 << 24])), R=R, S=R, H=H, W=H,
                    stride=draw(st.sampled_from([1, 1024])), count=draw(big))
    return dict(kind="linear", C=draw(st.sampled_from([1, 1 << 24])), K=draw(st.sampled_from([1, 1 << 24])),
                tokens=draw(st.sampled_from([1, 1 << 24])), count=draw(big))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extreme_layers(), st.sampled_from([1, 1 << 20]), st.sampled_from(["dense", "row-block", "nm"]),
       st.sampled_from([1, 65536]), st.sampled_from([0.0, 1e6]))
def test_extreme_layers_are_finite_and_agree(layer, batch, pattern, macros, freq):
    lines = ['name = "x"', "[workload]", f"batch = {batch}", "[[workload.layer]]", 'name = "l"']
    lines += [f"{k} = {toml_repr(v)}" for k, v in layer.items()]
    lines += ["[arch]", f"macros = {macros}", f"freq_mhz = {freq}", "[sparsity]", f'pattern = "{pattern}"',
              "ratio = 0.5"]
    try:
        text = "\n".join(lines) + "\n"
        parse_sweep(text)
    except SpecError:
        assume(False)  # outside the documented ranges: refused with a message (tested elsewhere)
    check(text)
