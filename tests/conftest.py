"""Shared fixtures: small sweep texts and a CLI runner; seeded property tests; the JIT warmed once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]

# Property tests draw the same examples on every run and machine (a failure reproduces); set
# HYPOTHESIS_PROFILE=explore to draw new ones.
settings.register_profile("ciminus", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ciminus"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run the tests marked slow (CI always does)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` run in CI (``CI`` set) or with ``--run-slow``; a plain ``python -m pytest``
    on a 2-core machine stays within a few minutes."""
    if config.getoption("--run-slow") or os.environ.get("CI", "").lower() not in ("", "0", "false"):
        return
    skip = pytest.mark.skip(reason="slow: runs in CI (CI=true) or with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def warm_jit():
    """Compile (or load from the on-disk cache) the engine once, before any test or child process needs
    it: the first test does not carry the compile time, and children load what the parent cached."""
    from ciminus.sweep import evaluate
    from ciminus.validate import parse_sweep
    from ciminus.warmup import TINY

    evaluate(parse_sweep(TINY + '[sparsity]\npattern = "hybrid"\nratio = 0.5\n'), "cpu")


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
