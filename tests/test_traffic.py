"""Data movement from the loop nest: re-reads, spills and reloads exactly when a loop order forces them,
compulsory DRAM traffic under the default search, and no buffer ever holding more than it has."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ciminus.kernels import layout as L
from ciminus.reference import StatsCache, price_network, price_point
from ciminus.resolve import Resolver
from ciminus.validate import parse_sweep

# A 64 -> 32 linear layer, 16 tokens, on one 32 x 16 macro: 2 row folds x 2 column folds, steps of 4 tokens.
# One step: 4 x 32 inputs x 8 bit = 1024 bits in the input buffer, 4 x 16 partial sums x 16 bit = 1024 bits
# in the output buffer. Buffers of 0.125 KiB hold exactly one step; 8 KiB hold everything.
SMALL = """
name = "nest"
[workload]
layer = [{{name = "fc", kind = "linear", C = 64, K = 32, tokens = 16}}]
[arch]
template = "digital-28nm"
macros = 1
double_buffer = false
input_buffer_kb = {buf}
output_buffer_kb = {buf}
global_buffer_kb = {gb}
[mapping]
step_vectors = 4
loop_order = "{order}"
"""
INPUT = 16 * 64 * 8  # the layer's input, once
WEIGHTS = 64 * 32 * 8
OUTPUT = 16 * 32 * 8
PSUMS = 16 * 32 * 16  # every output's partial sum, once
STEPS = 4


def layer_cost(order: str, buf: float = 0.125, gb: float = 64):
    sweep = parse_sweep(SMALL.format(order=order, buf=buf, gb=gb))
    res = Resolver(sweep)
    cost = price_point(res.specs_at(()), res.candidates_at(()), "best", "edp", StatsCache()).cost
    assert cost.reason == L.REASON_OK
    return cost


# order -> (input passes from the global buffer, partial sums spilled once between the 2 row folds,
#           weight loads = vector chunks, inputs staged in the global buffer)
FORCED = {
    "cols-rows-vectors": (2, True, 1),  # all inputs alive across column folds, all partial sums across row folds
    "rows-cols-vectors": (2, True, 1),
    "vectors-cols-rows": (2, False, STEPS),  # one-step chunks: partial sums fit; inputs of both row folds do not
    "vectors-rows-cols": (1, True, STEPS),  # one-step chunks: inputs fit; partial sums of both column folds do not
}


@pytest.mark.parametrize("order", L.LOOP_ORDERS)
def test_each_order_pays_what_it_forces(order):
    passes, spills, chunks = FORCED[order]
    c = layer_cost(order)
    staged = passes > 1  # re-read inputs come from the global buffer, read from DRAM once
    spill = PSUMS if spills else 0
    assert c.count("dram_read") == INPUT + WEIGHTS  # compulsory: the input and the weights, once each
    assert c.count("dram_write") == OUTPUT
    assert c.count("global_buffer_write") == (INPUT if staged else 0) + WEIGHTS + spill
    reloads = (chunks - 1) * WEIGHTS  # kept in the global buffer after the first pass
    assert c.count("global_buffer_read") == (passes * INPUT if staged else 0) + WEIGHTS + reloads + spill
    assert c.count("weight_write") == chunks * 4 * 32 * 16 * 8  # four tiles per load
    assert c.rounds == 4 * chunks
    assert c.count("output_buffer_write") == 16 * 64 * 16 + spill  # two partial sums per output, plus the spill
    assert c.count("input_buffer_write") == (2 if passes > 1 else 1) * INPUT


@pytest.mark.parametrize("order", L.LOOP_ORDERS)
def test_big_buffers_keep_everything(order):
    c = layer_cost(order, buf=8)
    assert c.count("dram_read") == INPUT + WEIGHTS and c.count("dram_write") == OUTPUT
    assert c.count("global_buffer_write") == WEIGHTS  # nothing staged, nothing spilled
    assert c.rounds == 4 or order.startswith("vectors")  # the chunked orders still split the vectors
    assert c.count("input_buffer_write") == INPUT


@pytest.mark.parametrize("order", L.LOOP_ORDERS)
def test_a_global_buffer_too_small_sends_everything_to_dram(order):
    passes, spills, chunks = FORCED[order]
    c = layer_cost(order, gb=0.01)
    spill = PSUMS if spills else 0
    assert c.count("dram_read") == passes * INPUT + chunks * WEIGHTS + spill
    assert c.count("dram_write") == OUTPUT + spill
    assert c.count("global_buffer_read") == chunks * WEIGHTS  # weights still pass through it


# Dense ResNet-style layers, each alone (input from DRAM, output to DRAM) on the digital-28nm template.
RESNET = [(3, 64, 7, 224, 2, 3), (64, 64, 3, 56, 1, 1), (128, 128, 3, 28, 1, 1), (256, 256, 3, 14, 1, 1),
          (512, 512, 3, 7, 1, 1), (64, 128, 1, 56, 2, 0), (256, 512, 3, 14, 2, 1)]


@pytest.mark.parametrize(("C", "K", "R", "H", "stride", "pad"), RESNET)
def test_default_search_moves_compulsory_dram_traffic(C, K, R, H, stride, pad):
    text = f"""
name = "alone"
[workload]
[[workload.layer]]
name = "l"
kind = "conv"
C = {C}
K = {K}
R = {R}
S = {R}
H = {H}
W = {H}
stride = {stride}
pad = {pad}
[arch]
template = "digital-28nm"
"""
    sweep = parse_sweep(text)
    res = Resolver(sweep)
    c = price_point(res.specs_at(()), res.candidates_at(()), sweep.select, sweep.objective, StatsCache()).cost
    E = (H + 2 * pad - R) // stride + 1
    touched = C * H * H if R > 1 or stride == 1 else C * E * E  # a strided 1x1 conv reads every stride-th pixel
    compulsory = touched * 8 + C * K * R * R * 8 + K * E * E * 8
    dram = c.count("dram_read") + c.count("dram_write")
    assert compulsory <= dram * (1 + 1e-9) and dram <= 1.05 * compulsory


@st.composite
def nests(draw):
    kind = draw(st.sampled_from(["conv", "linear"]))
    if kind == "conv":
        R = draw(st.sampled_from([1, 3]))
        layer = dict(kind="conv", C=draw(st.integers(1, 96)), K=draw(st.integers(1, 96)), R=R, S=R,
                     H=draw(st.integers(R, 24)), W=draw(st.integers(R, 24)), stride=draw(st.sampled_from([1, 2])))
    else:
        layer = dict(kind="linear", C=draw(st.integers(1, 300)), K=draw(st.integers(1, 200)),
                     tokens=draw(st.integers(1, 200)))
    arch = dict(macros=draw(st.sampled_from([1, 2, 4, 8])), input_buffer_kb=draw(st.sampled_from([0.1, 0.5, 2.0, 8.0])),
                output_buffer_kb=draw(st.sampled_from([0.1, 0.5, 4.0, 16.0])),
                global_buffer_kb=draw(st.sampled_from([0.01, 2.0, 16.0, 256.0])),
                double_buffer=draw(st.booleans()), batch=None)
    arch.pop("batch")
    return layer, arch, draw(st.sampled_from([0, 0, 1, 5])), draw(st.integers(1, 3))


def _toml(d):
    return ", ".join(f"{k} = {str(v).lower() if isinstance(v, bool) else v!r}".replace("'", '"') for k, v in d.items())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nests())
def test_no_level_ever_holds_more_than_it_has(nest):
    """Every layer of every candidate (loop order x grid), feasible ones: what each buffer holds fits it."""
    layer, arch, step, n_layers = nest
    layers = ", ".join(f"{{name = \"l{i}\", {_toml(layer)}}}" for i in range(n_layers))
    text = (f'name = "walk"\n[workload]\nlayer = [{layers}]\n[arch]\ntemplate = "digital-28nm"\n'
            + "\n".join(f"{k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in arch.items())
            + f'\n[mapping]\nstep_vectors = {step}\nduplicate = [true, false]\n')
    sweep = parse_sweep(text)
    res = Resolver(sweep)
    specs = res.specs_at(())
    halves = 2 if arch["double_buffer"] else 1
    room = {"input_buffer": arch["input_buffer_kb"] * 8192 / halves,
            "output_buffer": arch["output_buffer_kb"] * 8192 / halves,
            "global_buffer": arch["global_buffer_kb"] * 8192}

    for mapping in res.candidates_at(()):
        _, _, per_layer, per_layer_dense = price_network(specs, mapping, StatsCache())
        for cost in [*per_layer, *per_layer_dense]:
            if cost.reason != L.REASON_OK:
                continue

            for level, bits in cost.holds.items():
                assert 0 <= bits <= room[level] * (1 + 1e-12), (mapping.loop_order, level, bits, room[level])


def test_the_result_reports_compulsory_dram_traffic():
    """``[output] actions = true`` adds ``dram_compulsory``: the default search reaches it on a standalone layer,
    the weight-stationary order alone does not (it spills partial sums to DRAM)."""
    from ciminus.sweep import evaluate

    text = """
name = "compulsory"
[workload]
layer = [{name = "l", kind = "conv", C = 64, K = 64, R = 3, S = 3, H = 56, W = 56, pad = 1}]
[mapping]
macro_grid = "square"
loop_order = ORDER
[output]
actions = true
"""
    for order, ratio in (('"auto"', 1.0), ('"cols-rows-vectors"', 8.3)):
        ds = evaluate(parse_sweep(text.replace("ORDER", order)))
        moved = ds.action_count.sel(action=["dram_read", "dram_write"]).sum("action")
        assert ds.dram_compulsory.attrs["units"] == "bit"
        assert float(ds.dram_compulsory) == (64 * 56 * 56 + 64 * 64 * 9 + 64 * 56 * 56) * 8
        assert float(moved / ds.dram_compulsory) == pytest.approx(ratio, abs=0.05)
