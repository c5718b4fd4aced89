"""Sampled sweeps (``[sweep] sample = ...``): the samples, the kernels on them, the indices in the result,
and every way a ``[sweep]`` table can be wrong."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import xarray as xr

from ciminus.sweep import evaluate
from ciminus.validate import SpecError, parse_sweep

pytestmark = pytest.mark.skipif(importlib.util.find_spec("SALib") is None, reason="SALib is not installed")

BASE = """
name = "sampled"
[workload]
network = "resnet18"
dataset = "cifar10"
[sparsity]
pattern = "row-block"
"""


def sampled(sample: str, samples: int, ranges: dict[str, list], seed: int = 3, extra: str = "") -> str:
    lines = "\n".join(f'"{k}" = {v}' for k, v in ranges.items())
    return f'{BASE}{extra}\n[sweep]\nsample = "{sample}"\nsamples = {samples}\nseed = {seed}\n[sweep.ranges]\n{lines}\n'


RANGES = {"arch.macros": [4, 32], "sparsity.ratio": [0.0, 0.9], "energy.dram_read_pj_per_bit": [3.0, 12.0]}


@pytest.fixture(scope="module")
def sobol():
    return evaluate(parse_sweep(sampled("sobol", 16, RANGES)), "cpu")


def test_sobol_sweep_is_one_axis_of_samples_within_the_ranges(sobol):
    assert sobol.energy.dims == ("sample",)
    assert sobol.sizes["sample"] == 16 * (len(RANGES) + 2)  # Saltelli: N (D + 2) runs
    for name, (lo, hi) in RANGES.items():
        key = name.split(".", 1)[1]
        values = sobol[key].values
        assert values.min() >= lo and values.max() <= hi, key
        assert len(np.unique(values)) > 4, key  # really drawn, not a constant
    assert sobol.macros.dtype.kind == "i"  # integer keys stay integers
    assert list(sobol.parameter.values) == ["macros", "ratio", "dram_read_pj_per_bit"]
    np.testing.assert_array_equal(sobol.lower.values, [4, 0, 3])
    np.testing.assert_array_equal(sobol.integer.values, [True, False, False])


def test_sobol_indices_are_present_and_rank_what_matters(sobol):
    # area is an output because the macro count changes it
    assert sobol.S1.dims == ("output", "parameter")
    assert list(sobol.output.values) == ["energy", "latency", "edp", "area_mm2", "edap"]
    for var in ("S1", "S1_conf", "ST", "ST_conf"):
        assert np.isfinite(sobol[var].values).all(), var
    st = sobol.ST.sel(output="latency")
    # DRAM energy per bit changes a cycle count only through the loop order the EDP search picks: a
    # small total index on latency, far below the macro count's
    assert float(st.sel(parameter="dram_read_pj_per_bit")) < 0.01
    assert float(st.sel(parameter="macros")) > 0.05
    area = sobol.ST.sel(output="area_mm2")  # only the silicon's keys move the area
    assert float(area.sel(parameter="macros")) > 0.5  # (16 base samples: a rough estimate of 1)
    assert float(area.sel(parameter="ratio")) == 0 and float(area.sel(parameter="dram_read_pj_per_bit")) == 0
    assert sobol.attrs["sensitivity_method"] == "sobol" and sobol.attrs["sensitivity_runs"] == sobol.sizes["sample"]


def test_each_sample_is_the_grid_point_with_those_values(sobol):
    """The sample axis prices exactly what a one-point grid sweep at the sampled values prices."""
    for i in (0, 7, 40):
        point = {k.split(".", 1)[1]: sobol[k.split(".", 1)[1]].values[i].item() for k in RANGES}
        text = (BASE.replace('pattern = "row-block"', f'pattern = "row-block"\nratio = {point["ratio"]!r}')
                + f"[arch]\nmacros = {point['macros']}\n[energy]\ndram_read_pj_per_bit = {point['dram_read_pj_per_bit']!r}\n")
        one = evaluate(parse_sweep(text), "cpu")
        assert float(one.energy) == pytest.approx(float(sobol.energy[i]), rel=1e-12)
        assert float(one.latency) == pytest.approx(float(sobol.latency[i]), rel=1e-12)


def test_sampled_sweep_agrees_with_the_reference_model():
    sweep = parse_sweep(sampled("lhs", 12, RANGES, seed=11))
    fast, ref = evaluate(sweep, "cpu"), evaluate(sweep, "reference")
    for var in ("energy", "latency", "energy_breakdown", "utilization", "SRC", "spearman"):
        np.testing.assert_allclose(fast[var].values, ref[var].values, rtol=1e-9, err_msg=var)


def test_morris_and_lhs_give_their_own_indices_and_honour_the_seed():
    two = {"arch.macros": [4, 32], "sparsity.ratio": [0.0, 0.9]}
    morris = evaluate(parse_sweep(sampled("morris", 4, two)), "cpu")
    assert morris.sizes["sample"] == 4 * (2 + 1)
    assert {"mu", "mu_star", "sigma", "mu_star_conf"} <= set(morris.data_vars)
    lhs = evaluate(parse_sweep(sampled("lhs", 20, two)), "cpu")
    assert lhs.sizes["sample"] == 20 and {"SRC", "spearman"} <= set(lhs.data_vars)
    # more sparsity, less energy: the rank correlation of energy with the ratio is negative
    assert float(lhs.spearman.sel(output="energy", parameter="ratio")) < 0
    again = evaluate(parse_sweep(sampled("lhs", 20, two)), "cpu")
    other = evaluate(parse_sweep(sampled("lhs", 20, two, seed=4)), "cpu")
    np.testing.assert_array_equal(lhs.ratio.values, again.ratio.values)
    assert not np.array_equal(lhs.ratio.values, other.ratio.values)


def test_cli_writes_indices_and_keeps_infeasible_samples_labelled(cli, write_sweep, tmp_path):
    ok = write_sweep(sampled("sobol", 8, {"arch.macros": [4, 32], "sparsity.ratio": [0.0, 0.9]}), "ok.toml")
    run = cli("sweep", str(ok), "-o", str(tmp_path / "ok.nc"), "-q")
    assert run.returncode == 0, run.stderr
    with xr.open_dataset(tmp_path / "ok.nc") as ds:
        assert ds.S1.dims == ("output", "parameter") and np.isfinite(ds.ST.values).all()
        assert "sensitivity_error" not in ds.attrs
    # tiny input buffers make some samples infeasible: Sobol needs every run, so the indices are left out
    # with the reason, and every sample is still in the file with its reason code
    bad = write_sweep(sampled("sobol", 8, {"arch.input_buffer_kb": [0.01, 1.0], "sparsity.ratio": [0.0, 0.9]}),
                      "bad.toml")
    run = cli("sweep", str(bad), "-o", str(tmp_path / "bad.nc"), "-q")
    assert run.returncode == 0, run.stderr
    with xr.open_dataset(tmp_path / "bad.nc") as ds:
        assert "S1" not in ds and "infeasible" in ds.attrs["sensitivity_error"]
        assert 0 < int((~ds.feasible).sum()) < ds.sizes["sample"]
        assert (ds.reason.values[~ds.feasible.values] != 0).all()
    figure = cli("plot", str(tmp_path / "bad.nc"), "--kind", "sensitivity", "-o", str(tmp_path / "s.png"))
    assert figure.returncode == 2 and "infeasible" in figure.stderr and not (tmp_path / "s.png").exists()


@pytest.mark.parametrize(("extra", "sweep_table", "key", "words"), [
    ("", 'sample = "sobel"\n[sweep.ranges]\n"arch.macros" = [4, 8]', "sweep.sample", "sobol"),
    ("", 'samples = 8\n[sweep.ranges]\n"arch.macros" = [4, 8]', "sweep.sample", "missing"),
    ("", 'sample = "lhs"\nsamplez = 8\n[sweep.ranges]\n"arch.macros" = [4, 8]', "sweep.samplez", "samples"),
    ("", 'sample = "lhs"\nsamples = 1\n[sweep.ranges]\n"arch.macros" = [4, 8]', "sweep.samples", "2"),
    ("", 'sample = "lhs"', "sweep.ranges", "missing"),
    ("", 'sample = "lhs"\n[sweep.ranges]\n"arch.macro" = [4, 8]', '"arch.macro"', "arch.macros"),
    ("", 'sample = "lhs"\n[sweep.ranges]\n"mapping.rearrange" = [0, 1]', '"mapping.rearrange"', "numeric key"),
    ("", 'sample = "lhs"\n[sweep.ranges]\n"arch.macros" = [8, 4]', '"arch.macros"', "low < high"),
    ("", 'sample = "lhs"\n[sweep.ranges]\n"sparsity.ratio" = [0.0, 1.5]', '"sparsity.ratio"', "out of range"),
    ("", 'sample = "lhs"\n[sweep.ranges]\n"arch.macros" = 4', '"arch.macros"', "[low, high]"),
    ("[arch]\nmacros = 8\n", 'sample = "lhs"\n[sweep.ranges]\n"arch.macros" = [4, 8]', "arch.macros", "not both"),
    ("[arch]\nfreq_mhz = [100, 200]\n", 'sample = "lhs"\n[sweep.ranges]\n"arch.macros" = [4, 8]', "arch.freq_mhz",
     "cannot be swept together"),
])
def test_bad_sweep_tables_name_the_key_and_what_is_allowed(extra, sweep_table, key, words):
    with pytest.raises(SpecError) as info:
        parse_sweep(f"{BASE}{extra}\n[sweep]\n{sweep_table}\n")
    text = "\n".join(map(str, info.value.problems))
    assert key in text and words in text, text


def test_bad_sweep_table_exits_2_without_output(cli, write_sweep, tmp_path):
    path = write_sweep(f'{BASE}\n[sweep]\nsample = "lhs"\n[sweep.ranges]\n"arch.macros" = [8, 4]\n')
    run = cli("sweep", str(path), "-o", str(tmp_path / "x.nc"), "-q")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.count("ciminus: error:") == 1 and "arch.macros" in run.stderr
    assert not (tmp_path / "x.nc").exists()
