"""The reference model on hand-worked layers and the behaviour the model must show."""

import math

import pytest

from ciminus.kernels import layout as L
from ciminus.reference import StatsCache, price_point
from ciminus.resolve import Resolver
from ciminus.validate import parse_sweep

# The digital-28nm template (MIREDO 28 nm), per bit (pJ) and the 1-bit logic.
DRAM, GB_R, GB_W = 7.91, 0.197874, 0.142806
OB_R, OB_W, IB_R, IB_W = 0.039509, 0.046945, 0.029533, 0.032815
ADD, REG, WW, LEAK = 0.003402, 0.001701, 0.02575, 0.0359309e3 / 8


def price(text: str, index=None):
    sweep = parse_sweep(text)
    index = index or (0,) * len(sweep.axes)
    res = Resolver(sweep)
    return price_point(res.specs_at(index), res.candidates_at(index), sweep.select, sweep.objective,
                       StatsCache())


FC = """
name = "hand"
[workload]
layer = [{name = "fc", kind = "linear", C = 64, K = 32, tokens = 100}]
[arch]
template = "digital-28nm"
"""


def test_dense_linear_layer_priced_by_hand():
    """64 -> 32 linear layer, 100 tokens, on 8 macros of 32 x 16 (grid 4 x 2) at 25.619328 pJ/activation."""
    r = price(FC + '[mapping]\nmacro_grid = "4x2"\n[energy]\nadder_tree_model = "miredo"\nactivity = "full"\n')
    c = r.cost
    assert c.reason == L.REASON_OK
    tiles = 2 * 2  # ceil(64/32) row tiles x ceil(32/16) column tiles
    activations = tiles * 100
    # Four tiles in one round; two copies fit the 4-row grid, each taking 50 tokens.
    assert r.layers[0].rounds == 1 and r.layers[0].duplication == 2
    macro = c.energy["array"] + c.energy["adder_tree"] + c.energy["shift_add"]
    assert macro == pytest.approx(activations * 25.619328, rel=1e-12)
    assert c.compute_cycles == 50 * 8  # 8 cycles per activation on the critical macro
    assert c.energy["accumulator"] == pytest.approx(100 * 32 * 16 * (ADD + REG), rel=1e-12)  # one add per output
    inputs_read = 100 * 128 * 8  # two column tiles each read 64 rows of 8 bit per token
    psums = 100 * 64 * 16
    assert c.energy["register"] == pytest.approx((inputs_read + psums) * REG, rel=1e-12)
    assert c.energy["input_buffer"] == pytest.approx(inputs_read * (IB_R + IB_W), rel=1e-12)  # no reuse in a linear layer
    partials = 100 * 32 * 16  # both row tiles of a column sit in one grid column: reduced before the buffer
    assert c.energy["output_buffer"] == pytest.approx(partials * (OB_W + OB_R), rel=1e-12)
    weights = 64 * 32 * 8
    fetched = inputs_read / 2  # a grid row of 2 macros shares one fetch
    outputs = 100 * 32 * 8
    # The network's input is read from DRAM and its output written there, each once.
    assert c.energy["dram"] == pytest.approx((weights + fetched + outputs) * DRAM, rel=1e-12)
    assert c.energy["global_buffer"] == pytest.approx(weights * (GB_W + GB_R), rel=1e-12)  # weights pass through
    assert c.energy["weight_write"] == pytest.approx(2 * tiles * 32 * 16 * 8 * WW, rel=1e-12)
    for comp in ("index", "mux", "zero_detect"):
        assert c.energy[comp] == 0.0
    # Latency: weights from DRAM (64 bit/cycle), then one double-buffered step.
    weight_load = weights / 64
    load = fetched / 64  # from DRAM
    compute = 50 * 8
    write_back = outputs / 64  # to DRAM
    assert c.latency == pytest.approx(weight_load + load + compute + write_back, rel=1e-12)
    assert c.energy["static"] == pytest.approx(LEAK * 8 * c.latency, rel=1e-12)
    assert c.utilization == pytest.approx(1.0)  # duplication keeps all eight macros full


def test_dense_speedup_and_saving_are_exactly_one():
    r = price(FC + '\n[sparsity]\npattern = "dense"\n')
    assert r.dense.latency / r.cost.latency == 1.0
    assert r.dense.total_energy / r.cost.total_energy == 1.0


CONV = """
name = "conv"
[workload]
layer = [{name = "c", kind = "conv", C = 128, K = 128, R = 3, S = 3, H = 28, W = 28, pad = 1}]
[sparsity]
pattern = "row-block"
ratio = RATIO
"""
ORDER = '\n[mapping]\nloop_order = "cols-rows-vectors"\nmacro_grid = "4x2"\n'


def test_row_block_half_speeds_up_a_compute_bound_layer_by_less_than_two():
    r = price(CONV.replace("RATIO", "0.5"))
    c, d = r.cost, r.dense
    assert d.compute_cycles / d.latency > 0.75  # compute-bound
    speedup = d.latency / c.latency
    assert 1.5 < speedup < 2.0
    assert c.energy["index"] > 0
    assert d.total_energy / c.total_energy > 1.0


def test_ratio_zero_costs_more_than_dense():
    # (hybrid is left out: its IntraBlock stage prunes half the weights even at ratio 0.)
    for pattern in ("row-block", "row-wise", "channel-wise", "nm", "unstructured", "column-wise", "column-block"):
        text = CONV.replace("row-block", pattern).replace("RATIO", "0.0")
        r = price(text + ORDER)  # one mapping: worse on both counts
        assert r.cost.total_energy > r.dense.total_energy, pattern
        assert r.cost.latency >= r.dense.latency, pattern
        r = price(text)  # searched: each picks its own loop order, so only the objective (EDP) is ordered
        assert r.cost.total_energy * r.cost.latency > r.dense.total_energy * r.dense.latency, pattern


def test_input_sparsity_skips_cycles_and_pays_zero_detection():
    base = FC.replace("[arch]", "[energy]\nadder_tree_model = \"ripple\"\n[arch]\narray_rows = 4\nsubarray_rows = 4")
    dense_in = price(base + "\n[sparsity]\ninput_profile = \"independent\"\n")
    sparse_in = price(base + "\n[sparsity]\ninput_profile = \"independent\"\ninput_density = 0.2\n")
    assert sparse_in.cost.compute_cycles < dense_in.cost.compute_cycles
    assert sparse_in.cost.energy["zero_detect"] > 0
    assert sparse_in.cost.energy["array"] < dense_in.cost.energy["array"]
    # A four-row tile at 10 % bit density: a cycle is skipped with probability 0.9**4.
    assert sparse_in.cost.compute_cycles == pytest.approx(dense_in.cost.compute_cycles * (1 - 0.9**4))


def test_reload_when_the_layer_does_not_fit():
    r = price(CONV.replace("RATIO", "0.0") + ORDER)
    assert r.dense.rounds == math.ceil(36 / 4) * math.ceil(8 / 2)  # 36 x 8 tiles on a 4 x 2 grid, loaded once
    assert r.layers[0].duplication == 1


def test_infeasible_points_carry_a_reason():
    tiny = FC.replace('template = "digital-28nm"', 'template = "digital-28nm"\ninput_buffer_kb = 0.01')
    assert price(tiny).cost.reason == L.REASON_INPUT_BUFFER
    wide = FC.replace('template = "digital-28nm"', 'template = "digital-28nm"\narray_rows = 8\nsubarray_rows = 8')
    wide += '[energy]\nadder_tree_model = "miredo"\n'  # the legacy count is not positive on a wide, short array
    assert price(wide).cost.reason == L.REASON_ADDER_TREE_MODEL
    sweep = parse_sweep(FC.replace('template = "digital-28nm"', 'macros = [8, 4]') + '\n[mapping]\nmacro_grid = ["4x2", "2x2"]\nselect = "all"\nloop_order = "cols-rows-vectors"\n')
    idx = (0, 1)  # 8 macros with a 2 x 2 grid
    res = Resolver(sweep)
    r = price_point(res.specs_at(idx), res.candidates_at(idx), sweep.select, sweep.objective, StatsCache())
    assert r.cost.reason == L.REASON_GRID_MISMATCH  # the all-scalar form is rejected by validation instead


def test_best_mapping_is_kept_and_recorded():
    text = CONV.replace("RATIO", "0.5") + '\n[mapping]\nmacro_grid = ["8x1", "4x2", "1x8"]\nobjective = "latency"\n'
    r = price(text)
    sweep = parse_sweep(text)
    res = Resolver(sweep)
    each = [price_point(res.specs_at(()), [m], "best", "latency", StatsCache()).cost.latency
            for m in res.candidates_at(())]
    assert len(each) == 4 * 2 * 3 * 4  # duplication limits, compression (searched) x three grids x four loop orders
    assert r.candidate == min(range(len(each)), key=each.__getitem__)
    assert r.cost.latency == min(each)


def test_best_per_layer_never_loses_to_one_mapping():
    text = """
name = "two"
[workload]
network = "resnet18"
dataset = "cifar10"
[sparsity]
pattern = "row-block"
ratio = 0.5
[mapping]
macro_grid = ["8x1", "1x8"]
objective = "energy"
select = "SELECT"
"""
    best = price(text.replace("SELECT", "best"))
    per_layer = price(text.replace("SELECT", "best-per-layer"))
    assert per_layer.cost.total_energy <= best.cost.total_energy * (1 + 1e-12)
    # duplication limits x compression x grids x loop orders
    assert per_layer.candidate == -1 and set(per_layer.layer_candidates) <= set(range(4 * 2 * 2 * 4))
