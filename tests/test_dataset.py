"""The result dataset of the contract: dimensions, coordinates, units, provenance, netCDF round trip."""

import numpy as np
import xarray as xr

from ciminus import __version__
from ciminus.dataset import write_netcdf
from ciminus.sweep import run_sweep
from ciminus.validate import parse_sweep
from kernels.layout import COMPONENT_NAMES, REASON_NAMES

TEXT = """
name = "ds"
[workload]
network = "mobilenetv2"
dataset = "cifar10"
[arch]
macros = [4, 8]
freq_mhz = 250
input_buffer_kb = [0.01, 8]
[sparsity]
pattern = ["dense", "hybrid"]
ratio = 0.5
[mapping]
rearrange = ["pad", "slice"]
[output]
per_layer = true
"""

CONTRACT_COMPONENTS = ["array", "adder_tree", "shift_add", "accumulator", "index", "mux", "zero_detect",
                       "input_buffer", "output_buffer", "global_buffer", "dram", "weight_write", "static"]


def test_dataset_follows_the_contract(tmp_path):
    sweep = parse_sweep(TEXT)
    ds, _ = run_sweep(sweep, backend="reference", out=None, progress=False)
    assert ds.energy.dims == ("macros", "input_buffer_kb", "pattern")
    assert list(ds.macros.values) == [4, 8] and list(ds.pattern.values) == ["dense", "hybrid"]
    assert set(CONTRACT_COMPONENTS) <= set(ds.component.values) and list(ds.component.values) == list(COMPONENT_NAMES)
    for name in ("energy", "latency", "latency_s", "compute_cycles", "energy_breakdown", "speedup", "energy_saving",
                 "utilization", "feasible", "reason", "mapping", "layer_energy", "layer_latency", "layer_mapping"):
        assert name in ds and "units" in ds[name].attrs, name
    assert ds.energy.attrs["units"] == "pJ" and ds.latency.attrs["units"] == "cycles" and ds.latency_s.attrs["units"] == "s"
    assert ds.attrs["sweep"] == TEXT and ds.attrs["ciminus_version"] == __version__ and ds.attrs["backend"] == "reference"
    # A tiny input buffer is infeasible: labelled, not a crash, and its numbers are NaN.
    bad = ds.sel(input_buffer_kb=0.01)
    assert not bad.feasible.any() and (bad.reason == REASON_NAMES.index("input_buffer_too_small")).all()
    assert np.isnan(bad.energy).all()
    good = ds.sel(input_buffer_kb=8)
    assert good.feasible.all()
    assert np.allclose(good.energy_breakdown.sum("component"), good.energy)
    assert np.allclose(good.layer_energy.sum("layer"), good.energy)
    assert np.allclose(good.latency_s, good.latency / 250e6)
    assert (good.speedup.sel(pattern="dense") == 1.0).all()
    assert list(ds.candidate_rearrange.values) == ["pad", "slice"]
    assert ds.reason.attrs["flag_meanings"].split() == list(REASON_NAMES)


def test_netcdf_round_trip(tmp_path):
    sweep = parse_sweep(TEXT)
    ds, _ = run_sweep(sweep, backend="reference", out=None, progress=False)
    path = write_netcdf(ds, tmp_path / "x.nc")
    assert not list(tmp_path.glob(".*tmp"))  # written under a temporary name, then renamed
    with xr.open_dataset(path) as back:
        xr.testing.assert_identical(back.load(), ds)
