"""Shared fixtures: small sweep texts and a CLI runner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m ciminus`` the way a user runs ``ciminus``."""
    return subprocess.run([sys.executable, "-m", "ciminus", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=600)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def write_sweep(tmp_path):
    """Write a sweep text to a file and return its path."""

    def _write(text: str, name: str = "s.toml") -> Path:
        p = tmp_path / name
        p.write_text(text)
        return p

    return _write


RUN_ATTRS = ("created", "wall_seconds")  # differ between two runs of the same sweep


def without_run_attrs(ds: xr.Dataset) -> xr.Dataset:
    """A copy of ``ds`` without the attributes that record when and how long a run took."""
    ds = ds.copy()
    for k in RUN_ATTRS:
        ds.attrs.pop(k, None)
    return ds


def assert_same_results(a_path: Path, b_path: Path) -> None:
    """Two result files hold identical data, coordinates and attributes (run times aside)."""
    with xr.open_dataset(a_path) as a, xr.open_dataset(b_path) as b:
        xr.testing.assert_identical(without_run_attrs(a.load()), without_run_attrs(b.load()))
