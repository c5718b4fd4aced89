"""The result dataset of the contract: dimensions, coordinates, units, provenance, netCDF round trip."""

import numpy as np
import xarray as xr
from conftest import without_run_attrs

from ciminus import __version__
from ciminus.dataset import hyperslab
from ciminus.kernels.layout import COMPONENT_NAMES, LOOP_ORDERS, REASON_NAMES
from ciminus.sweep import evaluate, run_sweep
from ciminus.validate import parse_sweep

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
copies = [0, 2]
[output]
per_layer = true
"""

CONTRACT_COMPONENTS = ["array", "adder_tree", "shift_add", "accumulator", "index", "mux", "zero_detect",
                       "input_buffer", "output_buffer", "global_buffer", "dram", "weight_write", "static"]


def test_dataset_follows_the_contract(tmp_path):
    sweep = parse_sweep(TEXT)
    ds = evaluate(sweep, backend="reference")
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
    # rearrange and copies (listed) x row/column compression x the 4 organisations of 4 or 8 macros x the 4
    # loop orders (searched), the last fastest
    assert list(ds.candidate_rearrange.values) == ["pad"] * 64 + ["slice"] * 64
    assert list(ds.candidate_copies.values) == [c for c in (0, 2) for _ in range(32)] * 2
    assert list(ds.candidate_compress.values) == (["row"] * 16 + ["col"] * 16) * 4
    assert list(ds.candidate_macro_grid.values) == [f"auto:{k}" for k in range(1, 5) for _ in range(4)] * 8
    assert list(ds.candidate_loop_order.values) == list(LOOP_ORDERS) * 32
    # the chosen organisation is one of the point's own: 8 macros as 1x8, 2x4, 4x2 or 8x1; 4 as 1x4, 2x2, 4x1
    rows = good.macro_grid_rows
    assert set(rows.sel(macros=8).values.ravel()) <= {1, 2, 4, 8} and set(rows.sel(macros=4).values.ravel()) <= {1, 2, 4}
    assert ds.reason.attrs["flag_meanings"].split() == list(REASON_NAMES)


def test_streamed_file_equals_the_in_memory_dataset(tmp_path):
    """The file written hyperslab by hyperslab reads back as exactly the dataset built in memory."""
    sweep = parse_sweep(TEXT)
    for chunk in (None, 1, 3):
        path = tmp_path / f"x{chunk}.nc"
        run_sweep(sweep, path, backend="cpu", progress=False, chunk_points=chunk)
        assert not list(tmp_path.glob(".*tmp")) and not list(tmp_path.glob("*.partial"))
        with xr.open_dataset(path) as back:
            xr.testing.assert_identical(without_run_attrs(back.load()), without_run_attrs(evaluate(sweep, "cpu")))


def test_hyperslab_of_row_ranges():
    shape = (2, 3, 4)
    assert hyperslab(shape, 0, 24) == (slice(0, 2), slice(0, 3), slice(0, 4))
    assert hyperslab(shape, 12, 8) == (slice(1, 2), slice(0, 2), slice(0, 4))
    assert hyperslab(shape, 20, 2) == (slice(1, 2), slice(2, 3), slice(0, 2))
    grid = np.arange(24).reshape(shape)
    for r0, n in ((4, 8), (16, 4), (23, 1), (0, 12)):
        assert list(grid[hyperslab(shape, r0, n)].ravel()) == list(range(r0, r0 + n))


def test_columns_are_the_rows_as_numpy_would_derive_them():
    """The one-pass column kernel gives what NumPy's masked arithmetic gives, zero divisors included."""
    from ciminus.dataset import Results, derive
    from ciminus.kernels import layout as L

    rng = np.random.default_rng(3)
    n = 500
    pts = rng.uniform(0.0, 10.0, (n, L.N_POINT_BASE))
    pts[rng.random(n) < 0.1, : L.N_COMPONENTS] = 0.0  # energy 0
    for col in (L.P_LATENCY, L.P_CAPACITY, L.P_DENSE_LATENCY, L.P_DENSE_ENERGY, L.P_USEFUL):
        pts[rng.random(n) < 0.1, col] = 0.0
    pts[rng.random(n) < 0.05, L.P_DENSE_LATENCY] = np.nan
    pts[:, L.P_REASON] = np.where(rng.random(n) < 0.2, L.REASON_OVER_AREA, L.REASON_OK)
    out = derive(parse_sweep(TEXT), Results(pts), 0)
    ok = pts[:, L.P_REASON] == L.REASON_OK
    energy = pts[:, : L.N_COMPONENTS].sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        expect = {
            "energy": energy, "latency": pts[:, L.P_LATENCY], "compute_cycles": pts[:, L.P_COMPUTE],
            "speedup": pts[:, L.P_DENSE_LATENCY] / pts[:, L.P_LATENCY],
            "energy_saving": pts[:, L.P_DENSE_ENERGY] / energy,
            "utilization": np.where(pts[:, L.P_CAPACITY] > 0, pts[:, L.P_USEFUL] / pts[:, L.P_CAPACITY], 0.0),
            "dense_energy": pts[:, L.P_DENSE_ENERGY], "dense_latency": pts[:, L.P_DENSE_LATENCY],
            "macro_grid_rows": pts[:, L.P_GRID_ROWS],
        }
    for name, value in expect.items():
        np.testing.assert_allclose(out[name], np.where(ok, value, np.nan), rtol=1e-14, err_msg=name)
    assert np.isinf(out["speedup"]).any() and np.isnan(out["energy_saving"][ok]).any()  # the cases were drawn
    np.testing.assert_array_equal(out["energy_breakdown"], np.where(ok[:, None], pts[:, : L.N_COMPONENTS], np.nan))
    assert (out["feasible"] == ok).all()
