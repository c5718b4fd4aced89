"""The sweeps users copy from ``sweeps/`` are valid, and the case studies run and show what they are for."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ciminus.kernels import layout as L
from ciminus.sweep import evaluate
from ciminus.validate import load_sweep

SWEEPS = sorted((Path(__file__).resolve().parents[1] / "sweeps").glob("*.toml"))


def test_there_are_ready_sweeps():
    names = {p.stem for p in SWEEPS}
    assert {"quickstart", "case-study-sparsity", "case-study-mapping", "case-study-runtime", "sensitivity"} <= names


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_every_ready_sweep_validates(path):
    sweep = load_sweep(path)
    assert sweep.name == path.stem
    assert sweep.output.path.endswith(f"results/{path.stem}.nc")


def test_sparsity_case_study():
    ds = evaluate(load_sweep(SWEEPS[[p.stem for p in SWEEPS].index("case-study-sparsity")]))
    assert set(ds.network.values) == {"vgg16", "resnet18", "resnet50", "mobilenetv2"}
    assert ds.attrs["sweep_source"].endswith("case-study-sparsity.toml")
    # every point runs but nm at the ratios no k of 4 makes (0.6 ... 0.9), which say why
    nm_off = (ds.pattern == "nm") & (ds.ratio != 0.5)
    assert bool(ds.feasible.where(~nm_off, True).all()) and not bool(ds.feasible.where(nm_off, False).any())
    off = nm_off.broadcast_like(ds.reason).values
    assert {L.REASON_NAMES[int(r)] for r in ds.reason.values[off]} == {"nm_ratio_is_not_k_of_m"}
    dense = ds.energy_saving.sel(pattern="dense")
    np.testing.assert_allclose(dense.values, 1.0)
    # structured FullBlock savings grow with the ratio but stay under the nominal 1 / (1 - ratio)
    rb = ds.energy_saving.sel(pattern="row-block")
    assert (rb.diff("ratio") > 0).all() and (rb < 1 / (1 - ds.ratio)).all()


def test_mapping_case_study_keeps_every_strategy():
    ds = evaluate(load_sweep(SWEEPS[[p.stem for p in SWEEPS].index("case-study-mapping")]))
    assert list(ds.macro_grid.values) == ["8x2", "4x4", "2x8"]
    assert {"duplicate", "rearrange"} <= set(ds.energy.dims)
    # duplication fills idle macros: utilisation rises and latency falls, on every network and grid
    dup, alone = ds.sel(duplicate=True), ds.sel(duplicate=False)
    assert (dup.utilization >= alone.utilization).all() and (dup.latency < alone.latency).all()
    # and its extra weight writes cost energy: weight_write grows with duplication
    ww = ds.energy_breakdown.sel(component="weight_write")
    assert (ww.sel(duplicate=True) > ww.sel(duplicate=False)).all()
