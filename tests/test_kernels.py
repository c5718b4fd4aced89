"""The Numba engine equals the reference model on random sweeps, infeasible points included."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_actions import assert_actions_identity

from ciminus.kernels.layout import LOOP_ORDERS
from ciminus.specs.fields import toml_repr
from ciminus.sweep import evaluate
from ciminus.validate import SpecError, parse_sweep

PATTERNS = ["dense", "unstructured", "row-wise", "row-block", "column-wise", "column-block", "channel-wise", "nm",
            "hybrid", "flexblock"]


@st.composite
def layers(draw):
    kind = draw(st.sampled_from(["conv", "conv", "linear", "matmul"]))
    if kind == "conv":
        groups = draw(st.sampled_from([1, 1, 2, 4]))
        depthwise = draw(st.booleans()) and groups == 1
        C = draw(st.integers(1, 40)) * groups
        K = C if depthwise else draw(st.integers(1, 40)) * groups
        R = draw(st.sampled_from([1, 3, 5]))
        H = draw(st.integers(R, 20))
        layer = dict(kind="conv", C=C, K=K, R=R, S=R, H=H, W=draw(st.integers(R, 20)),
                     stride=draw(st.sampled_from([1, 2])), pad=draw(st.integers(0, R // 2)),
                     groups=C if depthwise else groups)
    else:
        layer = dict(kind=kind, C=draw(st.integers(1, 300)), K=draw(st.integers(1, 200)),
                     tokens=draw(st.integers(1, 64)), dynamic=kind == "matmul" and draw(st.booleans()))
    if draw(st.booleans()):
        layer["count"] = draw(st.integers(1, 3))
    if draw(st.booleans()):
        layer["input_density"] = draw(st.floats(0.05, 1.0))
    return layer


def maybe_list(draw, strategy, n=2):
    """A value, or (sometimes) a swept list of distinct values."""
    if draw(st.booleans()):
        return draw(st.lists(strategy, min_size=2, max_size=n, unique=True))
    return draw(strategy)


@st.composite
def sweeps(draw):
    rows = draw(st.sampled_from([8, 16, 32, 64, 128]))
    cols = draw(st.sampled_from([4, 8, 16, 32]))
    macros = maybe_list(draw, st.sampled_from([1, 2, 4, 6, 8, 16]))
    arch = {
        "template": draw(st.sampled_from(["digital-28nm", "ciminus-case-study"])),
        "macros": macros,
        "array_rows": rows,
        "array_cols": cols,
        "subarray_rows": draw(st.sampled_from([d for d in (1, 2, 4, 8, 16, 32) if rows % d == 0])),
        "subarray_cols": draw(st.sampled_from([d for d in (1, 2, 4, 8) if cols % d == 0])),
        "input_bits": draw(st.sampled_from([2, 4, 8])),
        "input_bits_per_cycle": draw(st.sampled_from([1, 2, 3])),
        "input_buffer_kb": maybe_list(draw, st.sampled_from([0.02, 0.5, 8.0, 64.0])),
        "global_buffer_kb": draw(st.sampled_from([1.0, 64.0, 4096.0])),
        "index_memory_kb": draw(st.sampled_from([0.0, 0.01, 1.0])),
        "double_buffer": draw(st.booleans()),
        "weight_double_buffer": draw(st.booleans()),
        "freq_mhz": maybe_list(draw, st.sampled_from([0.0, 200.0, 1000.0, "auto"])),
        "node_nm": maybe_list(draw, st.sampled_from([28.0, 65.0])),
    }
    energy = {"adder_tree_model": draw(st.sampled_from(["miredo", "full"])),
              "activity": maybe_list(draw, st.sampled_from(["data", "full"])),
              # energy-only axes: the engine walks them innermost and re-prices the same counts
              "dram_read_pj_per_bit": maybe_list(draw, st.sampled_from([7.91, 3.0, 40.0])),
              "leakage_pj_per_cycle_per_macro": maybe_list(draw, st.sampled_from([4.49, 0.0, 50.0]))}
    if draw(st.booleans()):
        energy["mux_pj_per_level"] = draw(st.floats(0.0, 0.01))
    pattern = maybe_list(draw, st.sampled_from(PATTERNS), 3)
    sparsity = {
        "pattern": pattern,
        "ratio": maybe_list(draw, st.sampled_from([0.0, 0.3, 0.5, 0.75, 0.95])),
        "input_density": maybe_list(draw, st.sampled_from([1.0, 0.6, 0.1])),
        "input_skip": draw(st.sampled_from(["auto", True, False])),
        # the bits of non-zero inputs and weights: they set the sparse and the dense twin's activity alike
        "weight_bit_density": maybe_list(draw, st.sampled_from([0.5, 0.2, 1.0])),
        "input_profile": maybe_list(draw, st.sampled_from(["laplace", "independent"])),
        "first": maybe_list(draw, st.sampled_from(["none", "row-wise", "channel-wise", "column-wise"])),
        "first_ratio": draw(st.sampled_from([0.0, 0.3, 0.9])),
        "nm_m": draw(st.sampled_from([2, 4, 8])),
    }
    sparsity["nm_n"] = draw(st.integers(1, sparsity["nm_m"]))
    if pattern == "flexblock":
        sparsity["block_rows"] = draw(st.sampled_from([1, 2, 3, "kernel", "array", "all"]))
        sparsity["block_cols"] = draw(st.sampled_from([1, 4, 5, "array", "all"]))
    counts = macros if isinstance(macros, list) else [macros]
    shapes = sorted({"square", *(f"{r}x{m // r}" for m in counts for r in range(1, m + 1) if m % r == 0)})
    grids = draw(st.lists(st.sampled_from(shapes), min_size=1, max_size=3, unique=True))
    if draw(st.integers(0, 3)) == 0:
        grids = ["auto"]  # the search over every organisation
    mapping = {
        "flatten": maybe_list(draw, st.sampled_from(["CRS", "RSC", "SCR"])),
        "compress": maybe_list(draw, st.sampled_from(["auto", "row", "col"])),
        "rearrange": maybe_list(draw, st.sampled_from(["pad", "slice"])),
        "index_format": draw(st.sampled_from(["auto", "coordinate", "bitmap"])),
        "macro_grid": grids if len(grids) > 1 else grids[0],
        "duplicate": maybe_list(draw, st.booleans()),
        "step_vectors": draw(st.sampled_from([0, 0, 1, 7, 1000])),
        "loop_order": draw(st.sampled_from([*LOOP_ORDERS, list(LOOP_ORDERS[1:3]), "auto"])),
        "select": draw(st.sampled_from(["best", "best-per-layer", "all"])),
        "objective": draw(st.sampled_from(["energy", "latency", "edp"])),
    }
    workload = {"batch": maybe_list(draw, st.sampled_from([1, 3]))}
    per_layer = draw(st.booleans())
    actions = draw(st.booleans())
    text = ['name = "prop"', "[workload]"]
    text += [f"{k} = {toml_repr(v)}" for k, v in workload.items()]
    for table, values in (("arch", arch), ("energy", energy), ("sparsity", sparsity), ("mapping", mapping)):
        text.append(f"[{table}]")
        text += [f"{k} = {toml_repr(v)}" for k, v in values.items()]
    text.append(f"[output]\nper_layer = {toml_repr(per_layer)}\nactions = {toml_repr(actions)}")
    for i, layer in enumerate(draw(st.lists(layers(), min_size=1, max_size=3))):
        text.append("[[workload.layer]]")
        text.append(f'name = "l{i}"')
        text += [f"{k} = {toml_repr(v)}" for k, v in layer.items()]
    return "\n".join(text) + "\n"


def assert_same(a, b):
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.data_vars:
        x, y = a[name].values, b[name].values
        if x.dtype.kind == "f":
            assert np.array_equal(np.isnan(x), np.isnan(y)), name
            ok = ~np.isnan(x)
            np.testing.assert_allclose(x[ok], y[ok], rtol=1e-9, atol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(x, y, err_msg=name)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(sweeps())
def test_cpu_equals_reference(text):
    try:
        sweep = parse_sweep(text)
    except SpecError:
        assume(False)
    assume(sweep.size * max(1, sweep.n_candidates) <= 64)
    cpu, ref = evaluate(sweep, "cpu"), evaluate(sweep, "reference")
    assert_same(cpu, ref)
    if sweep.output.actions:
        assert_actions_identity(cpu)
        assert_actions_identity(ref)


@pytest.mark.slow
def test_a_large_mixed_sweep_agrees():
    """A built-in network, several swept axes in every table, candidates: every variable agrees."""
    sweep = parse_sweep("""
name = "mixed"
[workload]
network = ["resnet18", "mobilenetv2"]
dataset = "cifar10"
batch = [1, 4]
[arch]
template = ["digital-28nm", "ciminus-case-study"]
macros = [4, 16]
input_buffer_kb = [0.05, 16]
[energy]
dram_read_pj_per_bit = [7.91, 3.0]
[sparsity]
pattern = ["dense", "row-block", "hybrid", "column-wise"]
ratio = [0.0, 0.6]
input_density = [1.0, 0.4]
[mapping]
rearrange = ["pad", "slice"]
macro_grid = ["square", "2x2", "4x4"]
loop_order = ["cols-rows-vectors", "vectors-cols-rows"]  # the search of all four: the property test above
duplicate = true  # the duplication and compression searches: tests/test_search.py (the reference prices
compress = "auto"  # every candidate, so each searched key multiplies this test's time)
objective = "energy"
""")
    assert_same(evaluate(sweep, "cpu"), evaluate(sweep, "reference"))


def test_a_threads_odometer_walks_a_box_as_division_does():
    """A thread steps through its points as an odometer (only the innermost axes move); at any step, and
    from any first step, the indices, the flat index and the axes reported moved are what dividing gives."""
    from ciminus.kernels.price import _box_point

    rng = np.random.default_rng(7)
    for _ in range(20):
        n = int(rng.integers(1, 6))
        length = rng.integers(1, 5, n)
        full = length + rng.integers(0, 3, n)  # the box inside a larger grid
        lo = np.array([int(rng.integers(0, f - b + 1)) for f, b in zip(full, length, strict=True)])
        stride = np.array([int(np.prod(full[a + 1:])) for a in range(n)], dtype=np.int64)
        order = rng.permutation(n).astype(np.int64)
        total = int(np.prod(length))
        first = int(rng.integers(0, total))
        walked = np.zeros((1, n + 8), dtype=np.int64)
        last = np.full(8, -2, dtype=np.int64)
        before = None
        for j in range(first, total):
            pt, moved = _box_point(j, walked, 0, order, lo, length, stride, last)
            fresh = np.zeros((1, n + 8), dtype=np.int64)
            pt2, moved2 = _box_point(j, fresh, 0, order, lo, length, stride, np.full(8, -2, dtype=np.int64))
            assert moved2 == -1 and pt == pt2 and (walked == fresh).all()
            if before is None:
                assert moved == -1
            else:  # the axes before ``moved`` in the walk did not move, the one at ``moved`` did
                assert (walked[0, order[:moved]] == before[order[:moved]]).all()
                assert walked[0, order[moved]] != before[order[moved]]
            before = walked[0].copy()


def test_the_dense_twin_is_keyed_by_the_axes_that_change_it():
    """A point re-prices its dense twin only when an axis moved that changes the twin's counts. An energy
    axis walked innermost (each count shared by its values) must not make every count re-price the twin
    too, which once cost the 10^6-point ResNet-18 benchmark 40 % of its kernel time; nor must pruning or
    input density (the twin has dense weights and inputs). The bits of non-zero inputs and weights set the
    twin's switching activity, though: keyed by no sparsity axis at all, the twin of their first value was
    reused for the others, and the energy saving disagreed with the reference."""
    from ciminus.lower import lower

    sweep = parse_sweep("""
name = "twin"
[workload]
layer = [{name = "l", C = 16, K = 16, R = 3, S = 3, H = 8, W = 8}]
[arch]
macros = [2, 4]
[energy]
dram_read_pj_per_bit = [3.0, 7.91]
activity = "data"
[sparsity]
pattern = ["dense", "row-block"]
ratio = [0.25, 0.5]
weight_bit_density = [0.2, 0.5]
input_profile = ["laplace", "independent"]
input_density = [1.0, 0.5]
""")
    low = lower(sweep, statistics=False)
    names = [f"{a.table}.{a.key}" for a in low.point_axes]
    stride = dict(zip(names, low.dense_stride, strict=True))
    count = dict(zip(names, low.count_stride, strict=True))
    assert stride["arch.macros"] != 0 and count["arch.macros"] != 0
    assert count["energy.dram_read_pj_per_bit"] == 0 and stride["energy.dram_read_pj_per_bit"] == 0
    assert stride["sparsity.pattern"] == stride["sparsity.ratio"] == stride["sparsity.input_density"] == 0
    assert stride["sparsity.weight_bit_density"] != 0 and stride["sparsity.input_profile"] != 0
    cpu = evaluate(sweep, "cpu")
    assert_same(cpu, evaluate(sweep, "reference"))
    saving = cpu.energy_saving.sel(pattern="row-block", ratio=0.5, input_density=1.0, input_profile="laplace",
                                   macros=2, dram_read_pj_per_bit=3.0)
    assert float(saving.sel(weight_bit_density=0.2)) != float(saving.sel(weight_bit_density=0.5))
