"""Chunks of a sweep as tasks on a Dask ``distributed`` cluster.

The client lowers the sweep once and hands the arrays to the cluster as one task; each chunk is one task that
runs the backend's kernel and returns its rows, and the client keeps each finished chunk in the partial
folder as it arrives, exactly as a local run does (so ``--resume`` works across schedulers and workers
need no shared disk). A worker that dies mid-chunk loses nothing: the scheduler runs its task again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from ciminus.dataset import Results
from ciminus.sweep import chunk_task

RETRIES = 3  # a task may fail this many times (a crashing worker) before the sweep gives up


class SchedulerError(RuntimeError):
    """The scheduler cannot be reached or started."""


def connect(scheduler: str, workers: int | None):
    """A client of a new local cluster (``"local"``) or of a running scheduler (``tcp://host:port``)."""
    from distributed import Client, LocalCluster

    if scheduler == "local":
        n = workers or os.cpu_count() or 1
        # One thread per worker process and per Numba kernel: the workers are the parallelism.
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                               env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                                    "OPENBLAS_NUM_THREADS": "1"})
        return Client(cluster), cluster
    try:
        return Client(scheduler, timeout="20s"), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerError(f"--scheduler {scheduler}: cannot connect ({exc})") from exc


def _job(job):
    """The sweep's lowered arrays as a task result: unlike scattered data, a task the scheduler can run
    again when the worker holding its result dies."""
    return job


def distributed_chunks(job, backend: str, digest: str, chunks: list[tuple[int, int]], todo: list[int],
                       n_layers: int, scheduler: str, workers: int | None) -> Iterator[tuple[int, Results]]:
    """Yield (chunk index, results) as the cluster finishes the chunks in ``todo``."""
    from distributed import as_completed

    client, cluster = connect(scheduler, workers)
    try:
        shared = client.submit(_job, job, key=f"ciminus-job-{digest[:12]}", pure=False)
        futures = {client.submit(chunk_task, shared, backend, digest, *chunks[k], n_layers,
                                 key=f"ciminus-{digest[:12]}-{k}", retries=RETRIES, pure=False): k for k in todo}
        for future in as_completed(futures):
            k = futures[future]
            yield k, future.result()
            future.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
