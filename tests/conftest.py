"""Shared fixtures: small sweep texts and a CLI runner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
