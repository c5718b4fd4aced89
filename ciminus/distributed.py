"""Chunks of a sweep as tasks on a Dask ``distributed`` cluster.

The client lowers the sweep once and hands the arrays to the cluster as one task; each chunk is one task that
runs the backend's kernel. On a remote cluster the task returns its rows and the client keeps each finished
chunk in the partial folder as it arrives, exactly as a local run does (so ``--resume`` works across
schedulers and workers need no shared disk). The worker processes of ``--scheduler local`` share the
client's disk, so they write their chunk files themselves and return only the chunk's number: the rows
are not serialised, sent and written again by one client process competing with the workers for the
same cores. A worker that dies mid-chunk loses nothing: the scheduler runs its task again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ciminus.chunks import chunk_task, chunk_to_file
from ciminus.dataset import Results

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


def _local_chunk(job, backend: str, digest: str, p0: int, p1: int, n_layers: int, folder: str, k: int) -> int:
    """A chunk on a worker of ``--scheduler local``: one Numba thread (the workers are the parallelism;
    Numba may have been imported, with every core, before the worker's environment was applied, and its
    thread count is per calling thread), rows written to the shared disk."""
    import numba

    numba.set_num_threads(1)
    return chunk_to_file(job, backend, digest, p0, p1, n_layers, folder, k)


def _job(job):
    """The sweep's lowered arrays as a task result: unlike scattered data, a task the scheduler can run
    again when the worker holding its result dies."""
    return job


def distributed_chunks(job, backend: str, digest: str, chunks: list[tuple[int, int]], todo: list[int],
                       n_layers: int, client, cluster, folder: Path) -> Iterator[tuple[int, Results | None]]:
    """Yield (chunk index, results) as the cluster of ``client`` (from :func:`connect`) finishes the chunks
    in ``todo``; results are None where a local worker has already written the chunk file into ``folder``.
    The caller owns the client (:func:`close` it)."""
    from distributed import as_completed

    local = cluster is not None
    shared = client.submit(_job, job, key=f"ciminus-job-{digest[:12]}", pure=False)
    futures = {}
    for k in todo:
        task, extra = (_local_chunk, (str(folder), k)) if local else (chunk_task, ())
        futures[client.submit(task, shared, backend, digest, *chunks[k], n_layers, *extra,
                              key=f"ciminus-{digest[:12]}-{k}", retries=RETRIES, pure=False)] = k
    for future in as_completed(futures):
        k = futures[future]
        result = future.result()
        yield k, None if local else result
        future.release()


def close(client, cluster) -> None:
    """Close a client of :func:`connect` and the local cluster it started, if any."""
    client.close()
    if cluster is not None:
        cluster.close()
