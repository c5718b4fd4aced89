"""The compile policy: the engine equals the reference with the JIT off (one source for both), and the
on-disk cache works when Dask worker processes compile into an empty cache at the same time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_same_results

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_cpu_equals_reference_with_the_jit_disabled():
    """NUMBA_DISABLE_JIT=1 runs every kernel as plain Python: the cpu-vs-reference tests must still pass,
    so no result depends on compilation (and the kernels stay valid Python)."""
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_kernels.py",
                          "tests/test_actions.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert " passed" in run.stdout and "failed" not in run.stdout


SWEEP = """
name = "cache"
[workload]
network = "resnet18"
dataset = "cifar10"
[arch]
macros = [4, 8]
[sparsity]
pattern = ["dense", "hybrid"]
ratio = [0.25, 0.5, 0.75]
"""


@pytest.mark.slow
def test_the_disk_cache_works_under_dask_worker_processes(tmp_path):
    pytest.importorskip("distributed")
    sweep = tmp_path / "s.toml"
    sweep.write_text(SWEEP)
    cache = tmp_path / "numba-cache"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    for name in ("first", "second"):  # two workers compile into an empty cache at once, then both load it
        run = subprocess.run([sys.executable, "-m", "ciminus", "sweep", str(sweep), "--scheduler", "local",
                              "--workers", "2", "--chunk-points", "2", "-q", "-o", str(tmp_path / f"{name}.nc")],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, run.stderr[-3000:]
        assert "Traceback" not in run.stderr
    assert any("price_steps" in p.name for p in cache.rglob("*.nbi")), "the engine was not cached"
    assert_same_results(tmp_path / "first.nc", tmp_path / "second.nc")
    plain = subprocess.run([sys.executable, "-m", "ciminus", "sweep", str(sweep), "-q", "-o", str(tmp_path / "p.nc")],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert_same_results(tmp_path / "first.nc", tmp_path / "p.nc")


@pytest.mark.slow
def test_the_first_run_says_it_compiles_and_later_runs_do_not(tmp_path):
    sweep = tmp_path / "s.toml"
    sweep.write_text(SWEEP)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache"), "PYTHONPATH": str(ROOT)}
    runs = [subprocess.run([sys.executable, "-m", "ciminus", "sweep", str(sweep), "-o", str(tmp_path / f"{i}.nc")],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=900) for i in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr + runs[1].stderr
    assert "compiling the kernels (first run after an install only" in runs[0].stderr
    assert "compiling" not in runs[1].stderr
    for phase in ("tile statistics", "pricing with the cpu backend", "writing"):  # not a terminal: plain lines
        assert f"ciminus: {phase}" in runs[1].stderr
    assert_same_results(tmp_path / "0.nc", tmp_path / "1.nc")


def test_the_compiling_child_imports_this_ciminus(tmp_path):
    """The first run's child must cache the kernels this process loads, not those of a ciminus in the
    working folder (a checkout with the package installed beside it)."""
    from ciminus.warmup import child_argv

    fake = tmp_path / "ciminus"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "warmup.py").write_text("")
    import ciminus

    run = subprocess.run(child_argv("print(sys.modules['ciminus'].__file__, compile_engine.__module__)"),
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    path, module = run.stdout.split()
    assert os.path.samefile(path, ciminus.__file__)
    assert module == "ciminus.warmup"
