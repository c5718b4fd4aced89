"""Chunked, streamed, resumable sweeps: plans, refusals, interruption and resume."""

import signal
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import assert_same_results

from ciminus import sweep as runner
from ciminus.chunks import plan_chunks
from ciminus.dataset import hyperslab
from ciminus.sweep import SweepSetupError, run_sweep
from ciminus.validate import parse_sweep

ROOT = Path(__file__).resolve().parents[1]

SLOW = """
name = "slow"
[workload]
network = "resnet18"
dataset = "cifar10"
[arch]
macros = [2, 4, 8, 16]
global_buffer_kb = [64, 256, 1024]
[sparsity]
pattern = ["dense", "row-block", "nm", "hybrid", "column-wise"]
ratio = [0.25, 0.5, 0.75]
[mapping]  # one mapping: these tests are about chunks, not the search
macro_grid = "square"
loop_order = "vectors-cols-rows"
"""

# 50 times SLOW (tens of seconds with the reference backend): an interrupt after a few chunks always lands
# mid-sweep, however fast the machine.
LONG = SLOW.replace("global_buffer_kb = [64, 256, 1024]",
                    "global_buffer_kb = [64, 256, 1024]\ninput_buffer_kb = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]\n"
                    "dram_bw = [16, 32, 64, 128, 256]")


@pytest.mark.parametrize("shape,target", [((7,), 3), ((4, 5), 7), ((3, 4, 5), 4), ((3, 4, 5), 21), ((2, 3), 100),
                                          ((6, 1, 4), 1), ((5, 7, 3), 11)])
def test_chunk_plans_are_contiguous_hyperslabs(shape, target):
    chunks = plan_chunks(shape, target)
    total = int(np.prod(shape))
    assert chunks[0][0] == 0 and chunks[-1][1] == total
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:], strict=False))
    assert all(0 < p1 - p0 <= target for p0, p1 in chunks)
    grid = np.arange(total).reshape(shape)
    for p0, p1 in chunks:
        assert list(grid[hyperslab(shape, p0, p1 - p0)].ravel()) == list(range(p0, p1))


def test_chunk_size_does_not_change_results(tmp_path):
    sweep = parse_sweep(SLOW)
    run_sweep(sweep, tmp_path / "one.nc", progress=False)
    seen = []
    run_sweep(sweep, tmp_path / "many.nc", progress=False, chunk_points=7, on_chunk=seen.append)
    assert len(seen) == len(plan_chunks(sweep.shape, 7)) > 1
    assert_same_results(tmp_path / "one.nc", tmp_path / "many.nc")


def test_chunks_priced_into_reused_arrays_hold_nothing_of_the_chunk_before(tmp_path):
    """One point per chunk: the third chunk (infeasible: a 10-byte input buffer) is priced into the arrays
    the first (feasible) was written from; its NaN columns, per-layer results and action counts are its own."""
    text = """
name = "reuse"
[workload]
network = "mobilenetv2"
dataset = "cifar10"
[arch]
input_buffer_kb = [8, 16, 0.01]
[sparsity]
pattern = "hybrid"
ratio = 0.5
[output]
per_layer = true
actions = true
"""
    sweep = parse_sweep(text)
    run_sweep(sweep, tmp_path / "one.nc", progress=False)
    run_sweep(sweep, tmp_path / "each.nc", progress=False, chunk_points=1)
    assert_same_results(tmp_path / "one.nc", tmp_path / "each.nc")
    with xr.open_dataset(tmp_path / "each.nc") as ds:
        assert list(ds.feasible.values) == [True, True, False]
        assert np.isnan(ds.layer_energy.values[2]).all() and np.isnan(ds.action_count.values[2]).all()


def _interruptible() -> None:
    """Ctrl-C reaches the child as it reaches a user's run, even when the tests themselves were started in
    the background of a non-interactive shell (which starts its jobs with SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(args, cwd):
    return subprocess.Popen([sys.executable, "-m", "ciminus", "sweep", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_interruptible)


def _wait_for_chunks(folder, n, proc, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        if folder.exists() and len(list(folder.glob("chunk-*.npz"))) >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("no chunks appeared")


def test_killed_sweep_resumes_to_the_same_dataset(tmp_path):
    sweep_file = tmp_path / "slow.toml"
    sweep_file.write_text(SLOW)
    args = [str(sweep_file), "--backend", "reference", "--chunk-points", "5", "-q"]
    whole = tmp_path / "whole.nc"
    assert subprocess.run([sys.executable, "-m", "ciminus", "sweep", *args, "-o", str(whole)], cwd=ROOT,
                          capture_output=True).returncode == 0
    out = tmp_path / "killed.nc"
    proc = _start([*args, "-o", str(out)], ROOT)
    _wait_for_chunks(tmp_path / "killed.nc.partial", 3, proc)
    proc.kill()  # as abrupt as a crash or a lost machine
    proc.communicate()
    assert not out.exists()
    kept = len(list((tmp_path / "killed.nc.partial").glob("chunk-*.npz")))
    assert 3 <= kept < len(plan_chunks(parse_sweep(SLOW).shape, 5))
    done = subprocess.run([sys.executable, "-m", "ciminus", "sweep", *args, "-o", str(out), "--resume"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"{kept} of {len(plan_chunks(parse_sweep(SLOW).shape, 5))} chunks resumed" in done.stdout
    assert not (tmp_path / "killed.nc.partial").exists()
    assert_same_results(whole, out)


def test_ctrl_c_keeps_finished_chunks_and_says_how_to_resume(tmp_path):
    sweep_file = tmp_path / "long.toml"
    sweep_file.write_text(LONG)
    out = tmp_path / "int.nc"
    proc = _start([str(sweep_file), "--backend", "reference", "--chunk-points", "5", "-q", "-o", str(out)], ROOT)
    _wait_for_chunks(tmp_path / "int.nc.partial", 2, proc)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "finished chunk(s) kept in" in stderr and "--resume" in stderr and "--chunk-points 5" in stderr
    assert list((tmp_path / "int.nc.partial").glob("chunk-*.npz"))


def test_resume_refuses_chunks_of_another_sweep(tmp_path, cli):
    sweep_file = tmp_path / "slow.toml"
    sweep_file.write_text(SLOW)
    out = tmp_path / "x.nc"
    proc = _start([str(sweep_file), "--backend", "reference", "--chunk-points", "5", "-q", "-o", str(out)], ROOT)
    _wait_for_chunks(tmp_path / "x.nc.partial", 1, proc)
    proc.kill()
    proc.communicate()
    sweep_file.write_text(SLOW.replace("[2, 4, 8, 16]", "[2, 4, 8, 32]"))
    run = cli("sweep", str(sweep_file), "--backend", "reference", "--chunk-points", "5", "-o", str(out), "--resume")
    assert run.returncode == 2
    assert "holds chunks of a different sweep, backend or chunk size" in run.stderr and "Traceback" not in run.stderr


def test_bad_chunk_settings_are_refused_up_front(tmp_path, cli, write_sweep):
    sweep_file = write_sweep(SLOW)
    run = cli("sweep", str(sweep_file), "--chunk-points", "-3", "-o", str(tmp_path / "a.nc"))
    assert run.returncode == 2 and run.stderr.startswith("ciminus: error: --chunk-points = -3: negative; allowed:")
    big = SLOW + "[output]\nper_layer = true\nchunk_points = 100000000\n"
    run = cli("sweep", str(write_sweep(big, "big.toml")), "-o", str(tmp_path / "b.nc"))
    assert run.returncode == 2
    assert run.stderr.startswith("ciminus: error: output.chunk_points = 100000000: a chunk would need")
    assert not (tmp_path / "b.nc").exists() and not (tmp_path / "b.nc.partial").exists()


def test_a_sweep_too_large_for_the_disk_is_refused(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(runner.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 10**6, 10**6))
    with pytest.raises(SweepSetupError) as err:
        run_sweep(parse_sweep(SLOW), tmp_path / "x.nc", progress=False)
    assert "GB are free" in str(err.value) and err.value.key == "output.path"
    assert not (tmp_path / "x.nc.partial").exists()


def test_huge_sweeps_plan_bounded_chunks():
    """A 10^9-point grid is cut into chunks of the automatic size, without materialising anything."""
    thousand = str(list(range(1, 1001)))
    sweep = parse_sweep(f"""
name = "huge"
[workload]
network = "resnet18"
[arch]
macros = {thousand}
global_buffer_kb = {thousand}
input_buffer_kb = {thousand}
""")
    assert sweep.size == 10**9
    size = runner.choose_chunk_points(sweep, None, 0)
    assert size <= runner.DEFAULT_CHUNK_POINTS
    chunks = plan_chunks(sweep.shape, size)
    assert len(chunks) >= 10**9 // size and max(b - a for a, b in chunks) <= size


ENERGY_AXES = """
name = "energy-axes"
[workload]
network = "resnet18"
dataset = "cifar10"
[arch]
macros = [4, 8]
freq_mhz = [100, 400]
[energy]
dram_read_pj_per_bit = [2.0, 7.91, 30.0]
global_buffer_read_pj_per_bit = [0.2, 0.05]
[sparsity]
pattern = ["dense", "hybrid"]
ratio = [0.25, 0.75]
"""


@pytest.mark.parametrize("select", ["best", "best-per-layer", "all"])
@pytest.mark.parametrize("size", [1, 5, 7, 13, 1000])
def test_chunks_that_cut_the_energy_axes_equal_one_pass(tmp_path, select, size):
    """The engine walks count-free axes (energies, the clock) innermost inside each chunk and re-prices
    the same counts; chunks that cut those axes anywhere give the same file as one pass."""
    text = ENERGY_AXES + (
        f'[mapping]\nrearrange = ["pad", "slice"]\nduplicate = true\ncompress = "auto"\nselect = "{select}"\n'
        'objective = "energy"\n'
        "[output]\nper_layer = true\nactions = true\n")
    sweep = parse_sweep(text)
    run_sweep(sweep, tmp_path / "one.nc", progress=False)
    run_sweep(sweep, tmp_path / "many.nc", progress=False, chunk_points=size)
    assert_same_results(tmp_path / "one.nc", tmp_path / "many.nc")
    from ciminus.sweep import evaluate

    ref = evaluate(parse_sweep(text.replace("macros = [4, 8]", "macros = 8")), "reference")
    cpu = evaluate(parse_sweep(text.replace("macros = [4, 8]", "macros = 8")), "cpu")
    for name in ("energy", "latency", "latency_s", "energy_breakdown", "layer_energy", "action_count"):
        np.testing.assert_allclose(cpu[name].values, ref[name].values, rtol=1e-9, equal_nan=True, err_msg=name)


class _Finaliser:
    """Ctrl-C that lands in a finaliser, as it can in Numba's and llvmlite's: Python prints "Exception
    ignored" and carries on."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)


def test_ctrl_c_swallowed_by_a_finaliser_still_stops_the_sweep(tmp_path):
    def on_chunk(k):
        if k == 1:
            _Finaliser()  # dropped at once: its __del__ runs, and the handler's KeyboardInterrupt is ignored

    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even in a background job
    reported = []  # what reaches the hook that reports errors in finalisers (it prints them, by default)
    hook, sys.unraisablehook = sys.unraisablehook, reported.append
    try:
        with pytest.raises(KeyboardInterrupt):
            run_sweep(parse_sweep(SLOW), tmp_path / "x.nc", backend="reference", progress=False, chunk_points=5,
                      on_chunk=on_chunk)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Python's own handler is back
        assert sys.unraisablehook == reported.append  # and the hook of before
    finally:
        signal.signal(signal.SIGINT, before)
        sys.unraisablehook = hook
    assert reported == []  # the swallowed interrupt is recorded, not reported with a traceback
    assert not (tmp_path / "x.nc").exists()
    assert len(list((tmp_path / "x.nc.partial").glob("chunk-*.npz"))) == 2  # the two before the interrupt
