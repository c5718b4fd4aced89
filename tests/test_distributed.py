"""Dask-distributed sweeps: the same dataset as a local run, even when a worker dies mid-chunk."""

import os

import pytest
from conftest import assert_same_results

from ciminus.sweep import run_sweep
from ciminus.validate import parse_sweep

pytest.importorskip("distributed")

SWEEP = """
name = "dist"
[workload]
network = "resnet18"
dataset = "cifar10"
[arch]
macros = [4, 8, 16]
input_buffer_kb = [0.05, 8]
[sparsity]
pattern = ["dense", "row-block", "nm", "hybrid"]
ratio = [0.25, 0.5, 0.75]
[mapping]  # two candidates; the rest pinned (the reference model prices every candidate of the search)
rearrange = ["pad", "slice"]
macro_grid = "square"
loop_order = "vectors-cols-rows"
duplicate = true
compress = "auto"
"""


def test_local_cluster_equals_a_local_run(tmp_path):
    sweep = parse_sweep(SWEEP)
    run_sweep(sweep, tmp_path / "plain.nc", progress=False)
    summary = run_sweep(sweep, tmp_path / "dask.nc", progress=False, chunk_points=5, scheduler="local", workers=2)
    assert summary.chunks > 4
    assert_same_results(tmp_path / "plain.nc", tmp_path / "dask.nc")


def test_a_running_scheduler_by_address_sends_rows_back(tmp_path):
    """Workers of a cluster joined by address may not share the disk: they return rows, the client writes."""
    from distributed import LocalCluster

    sweep = parse_sweep(SWEEP)
    run_sweep(sweep, tmp_path / "plain.nc", progress=False)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        summary = run_sweep(sweep, tmp_path / "joined.nc", progress=False, chunk_points=7,
                            scheduler=cluster.scheduler_address)
    assert summary.chunks > 2
    assert_same_results(tmp_path / "plain.nc", tmp_path / "joined.nc")


async def _crash() -> None:  # client.run(..., wait=False) takes coroutines only
    os._exit(1)  # as abrupt as a lost machine


def test_a_dead_worker_loses_nothing(tmp_path):
    sweep = parse_sweep(SWEEP)
    run_sweep(sweep, tmp_path / "plain.nc", backend="reference", progress=False)
    killed = []

    def kill_a_worker(_chunk):
        if killed:
            return
        from distributed import default_client

        client = default_client()
        victim = sorted(client.scheduler_info()["workers"])[0]
        client.run(_crash, workers=[victim], wait=False)
        killed.append(victim)

    run_sweep(sweep, tmp_path / "dask.nc", backend="reference", progress=False, chunk_points=2, scheduler="local",
              workers=2, on_chunk=kill_a_worker)
    assert killed
    assert_same_results(tmp_path / "plain.nc", tmp_path / "dask.nc")


@pytest.mark.slow
def test_an_unreachable_scheduler_is_a_clear_error(cli, write_sweep, tmp_path):
    run = cli("sweep", str(write_sweep(SWEEP)), "--scheduler", "tcp://127.0.0.1:9", "-o", str(tmp_path / "x.nc"))
    assert run.returncode == 2
    assert run.stderr.startswith("ciminus: error: --scheduler tcp://127.0.0.1:9: cannot connect")
    assert "Traceback" not in run.stderr
    run = cli("sweep", str(write_sweep(SWEEP)), "--workers", "2", "-o", str(tmp_path / "x.nc"))
    assert run.returncode == 2 and "--workers = 2: only with --scheduler local" in run.stderr
