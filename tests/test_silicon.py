"""Area and clock: counts times the [area] table, pipeline stages in [timing] delays, budgets and objectives."""

import math

import numpy as np
import pytest

from ciminus.analysis.pareto import objective, pareto_mask
from ciminus.kernels import equations as E
from ciminus.kernels import layout as L
from ciminus.sweep import evaluate
from ciminus.templates import template_table
from ciminus.validate import SpecError, parse_sweep

LAYER = """
[[workload.layer]]
name = "conv"
kind = "conv"
C = 32
K = 32
R = 3
S = 3
H = 8
W = 8
stride = 1
pad = 1
"""
PINNED = '[mapping]\nmacro_grid = "square"\nloop_order = "vectors-cols-rows"\n'


def sweep(arch: str = "", extra: str = "", mapping: str = PINNED):
    return parse_sweep(f'name = "silicon"\n{LAYER}\n[arch]\n{arch}\n{extra}\n{mapping}')


def test_digital_28nm_area_and_clock_by_hand():
    """The template's macro counted by hand: 32 x 16 weights of 8 bits, ripple trees, 28 nm from 45 nm."""
    a = template_table("digital-28nm", "area")
    t = template_table("digital-28nm", "timing")
    ds = evaluate(sweep())
    scale = (28 / 45) ** 2 / 1e6  # um^2 at 45 nm -> mm^2 at 28 nm
    fa_reg = a["full_adder_um2"] + a["register_um2"]
    sram = 8192 * a["sram_um2_per_bit"]
    per_macro = {
        "array": 4096 * a["bitcell_um2"] + 4096 * a["gate_um2"] + (32 + 128) * a["driver_um2"],
        "adder_tree": 16 * (32 * 9 - (8 + 5 + 1)) * a["full_adder_um2"],
        "shift_add": 16 * (8 + 8 + 5) * fa_reg,
        "accumulator": 16 * 16 * fa_reg,
        "register": 32 * 8 * a["register_um2"],
        "zero_detect": 32 * a["gate_um2"],  # input_skip = "auto": the detector exists
        "index": 1 * sram,
        "input_buffer": 8 * sram,
        "output_buffer": 16 * sram,
    }
    got = ds["area_breakdown"].to_series()
    for comp, um2 in per_macro.items():
        assert got[comp] == pytest.approx(8 * um2 * scale, rel=1e-12), comp
    assert got["global_buffer"] == pytest.approx(256 * sram * scale, rel=1e-12)
    assert got["mux"] == got["dram"] == got["static"] == got["weight_write"] == 0
    assert float(ds["area_mm2"]) == pytest.approx(got.sum(), rel=1e-12)
    core = sum(per_macro[c] for c in ("array", "adder_tree", "shift_add", "register", "zero_detect"))
    assert float(ds["macro_area_mm2"]) == pytest.approx(core * scale, rel=1e-12)
    assert ds["area_mm2"].attrs["units"] == "mm^2" and ds["tclk_ns"].attrs["units"] == "ns"

    alpha, vth = t["alpha"], t["threshold_v"]
    moved = 28 / 45 * (0.9 / (0.9 - vth) ** alpha) / (1.1 / (1.1 - vth) ** alpha)
    tree = 4 * t["sum_ns"] + 12 * t["carry_ns"]  # D = 5 levels of 8-bit products: 4 sums, 8 + 4 carries
    shift = 21 * t["carry_ns"]
    stage = max(2 * t["gate_ns"] + tree, shift)  # pipelined: the slower of the two stages
    assert float(ds["tclk_ns"]) == pytest.approx((t["register_ns"] + stage) * moved, rel=1e-12)
    assert "latency_s" not in ds  # no clock given: cycles only


def test_area_grows_with_macros_and_array_size_and_only_hardware_axes_shape_it():
    ds = evaluate(sweep("macros = [2, 4]\narray_rows = [16, 32]\narray_cols = [8, 16]",
                        '[sparsity]\npattern = "row-block"\nratio = [0.0, 0.5]'))
    area = ds["area_mm2"]
    assert area.dims == ("macros", "array_rows", "array_cols")  # the ratio does not change the silicon
    for dim in area.dims:
        assert (area.diff(dim) > 0).all(), dim
    assert np.allclose(ds["area_breakdown"].sum("component"), area)
    assert (ds["tclk_ns"].diff("array_rows") > 0).all()  # a deeper tree is slower
    assert (ds["tclk_ns"].diff("macros") == 0).all()


def test_selection_hardware_and_cell_groups_cost_area():
    dense = evaluate(sweep(extra='[sparsity]\ninput_skip = false'))
    nm = evaluate(sweep(extra='[sparsity]\npattern = "nm"\nratio = 0.5\nnm_m = 8\ninput_skip = false'))
    a = template_table("digital-28nm", "area")
    scale = (28 / 45) ** 2 / 1e6
    mux = float(nm["area_breakdown"].sel(component="mux"))
    assert mux == pytest.approx(8 * 32 * 16 * 7 * a["mux2_um2"] * scale)  # an 8:1 mux = 7 2:1 muxes per weight
    assert float(dense["area_breakdown"].sel(component="mux")) == 0
    assert float(dense["area_breakdown"].sel(component="zero_detect")) == 0  # input_skip = false: no detector
    grouped = evaluate(sweep("cell_group = 4", '[sparsity]\ninput_skip = false'))
    extra_cells = 8 * 4096 * 3 * a["bitcell_um2"] + 8 * 32 * 3 * a["driver_um2"]
    assert float(grouped["area_mm2"] - dense["area_mm2"]) == pytest.approx(extra_cells * scale)
    assert float(grouped["energy"]) == float(dense["energy"])  # storage only: the per-batch model is unchanged


def test_auto_clock_prices_seconds_at_the_modelled_clock():
    ds = evaluate(sweep('freq_mhz = ["auto", 250.0]\narray_rows = [32, 256]'))
    assert set(ds["clock_mhz"].dims) == {"freq_mhz", "array_rows"}
    auto = ds.sel(freq_mhz="auto")
    assert np.allclose(auto["clock_mhz"], 1000 / auto["tclk_ns"])
    assert np.allclose(auto["latency_s"], auto["latency"] * auto["tclk_ns"] * 1e-9)
    fixed = ds.sel(freq_mhz="250.0")
    assert np.allclose(fixed["clock_mhz"], 250.0)
    assert np.allclose(fixed["latency_s"], fixed["latency"] / 250e6)
    assert np.allclose(ds["power_mw"], ds["energy"] * 1e-9 / ds["latency_s"])


def test_lower_supply_is_slower_and_a_smaller_node_faster():
    ds = evaluate(sweep("vdd = [0.7, 0.9]\nnode_nm = [22.0, 28.0]"))
    t = ds["tclk_ns"]
    assert float(t.sel(vdd=0.7, node_nm=28.0)) > float(t.sel(vdd=0.9, node_nm=28.0))
    assert float(t.sel(vdd=0.9, node_nm=22.0)) == pytest.approx(float(t.sel(vdd=0.9, node_nm=28.0)) * 22 / 28)
    area = ds["area_mm2"]
    assert float(area.sel(vdd=0.9, node_nm=22.0)) == pytest.approx(float(area.sel(vdd=0.9, node_nm=28.0))
                                                                   * (22 / 28) ** 2)


def test_budgets_mark_points_infeasible_with_their_reason():
    free = evaluate(sweep('macros = [2, 8]\nfreq_mhz = "auto"'))
    area = free["area_mm2"].values
    budget = float(area.mean())
    ds = evaluate(sweep('macros = [2, 8]\nfreq_mhz = "auto"', f"[constraints]\narea_mm2 = {budget}"))
    names = np.array(L.REASON_NAMES)
    assert bool(ds["feasible"].sel(macros=2)) and not bool(ds["feasible"].sel(macros=8))
    assert names[int(ds["reason"].sel(macros=8))] == "over_area_budget"
    assert math.isnan(float(ds["energy"].sel(macros=8))) and float(ds["area_mm2"].sel(macros=8)) > budget

    power = free["power_mw"].values
    ds = evaluate(sweep('macros = [2, 8]\nfreq_mhz = "auto"', f"[constraints]\npower_mw = {power.min() * 1.0001}"))
    assert int(ds["feasible"].sum()) == 1
    assert names[int(ds["reason"].sel(macros=int(ds.macros[np.argmax(power)])))] == "over_power_budget"

    seconds = free["latency_s"].values
    ds = evaluate(sweep('macros = [2, 8]\nfreq_mhz = "auto"', f"[constraints]\nlatency_s = {seconds.min() * 1.0001}"))
    slow = int(ds.macros[np.argmax(seconds)])
    assert names[int(ds["reason"].sel(macros=slow))] == "over_latency_budget"


def test_a_budget_in_seconds_needs_a_clock():
    with pytest.raises(SpecError) as err:
        sweep("", "[constraints]\npower_mw = 10.0")
    assert "constraints.power_mw" in str(err.value) and 'arch.freq_mhz > 0 or "auto"' in str(err.value)
    with pytest.raises(SpecError) as err:
        sweep("", "[constraints]\narea_mm2 = -1.0")
    assert "constraints.area_mm2" in str(err.value)


def test_edap_and_area_objectives():
    arch = 'macros = [2, 8]\narray_rows = [32, 64]'
    cands = '[mapping]\nloop_order = ["vectors-cols-rows", "cols-rows-vectors"]\nmacro_grid = "square"\n'
    edp = evaluate(sweep(arch, mapping=cands + 'objective = "edp"'))
    for name in ("edap", "area"):
        other = evaluate(sweep(arch, mapping=cands + f'objective = "{name}"'))
        assert (other["mapping"] == edp["mapping"]).all()  # the silicon is the same for every candidate
    e = objective(edp, "edap")
    assert np.allclose(e, edp["energy"] * edp["latency"] * edp["area_mm2"])
    assert objective(edp, "area").name == "area_mm2"
    front = pareto_mask(edp, ("energy", "latency", "area"))
    assert front.any()


def test_silicon_equations():
    assert [E.tree_levels_3to2(n) for n in (2, 3, 4, 6, 7, 9, 13, 28)] == [0, 1, 2, 3, 4, 4, 5, 7]
    assert E.adder_tree_delay(1, 8, L.ADDER_TREE_RIPPLE, 2.0, 1.0) == 0.0
    assert E.adder_tree_delay(2, 8, L.ADDER_TREE_RIPPLE, 2.0, 1.0) == 8.0  # one 8-bit ripple adder
    assert E.adder_tree_delay(32, 8, L.ADDER_TREE_RIPPLE, 2.0, 1.0) == 4 * 2.0 + 12 * 1.0
    assert E.adder_tree_delay(32, 8, L.ADDER_TREE_COMPRESSOR, 2.0, 1.0) == 8 * 2.0 + 12 * 1.0  # 32 rows: 8 Dadda levels
    assert E.delay_scale(28, 28, 0.9, 0.9, 0.35, 1.3) == pytest.approx(1.0)
    assert E.delay_scale(14, 28, 0.9, 0.9, 0.35, 1.3) == pytest.approx(0.5)
    assert math.isinf(E.delay_scale(28, 28, 0.3, 0.9, 0.35, 1.3))
    assert E.area_scale(14, 28) == pytest.approx(0.25)
