"""Chunks of a sweep: how the points are cut, how one chunk is priced, and how it is kept on disk.

A chunk is a contiguous range of points that is one hyperslab of the result. It is the unit of work in
this process and on a Dask worker alike (:func:`chunk_task`), and each finished chunk is kept as an
``.npz`` file in ``OUT.nc.partial/`` until the netCDF file has been written, so an interrupted sweep
loses nothing it finished.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ciminus.backends import Engine, make_engine
from ciminus.dataset import Results


def plan_chunks(shape: tuple[int, ...], target: int) -> list[tuple[int, int]]:
    """Cut the C-order points of ``shape`` into contiguous ranges of at most ``target`` points, each a
    hyperslab (leading indices fixed, a range along one axis, the later axes whole)."""
    total = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if total <= target:
        return [(0, total)]
    inner = 1
    split = len(shape)  # the axis whose range a chunk covers
    for i in range(len(shape) - 1, -1, -1):
        if inner * shape[i] > target:
            split = i
            break
        inner *= shape[i]
    per = max(1, target // inner)  # indices of the split axis per chunk
    size = shape[split]
    chunks = []
    for outer in range(total // (inner * size)):
        base = outer * inner * size
        for k in range(0, size, per):
            chunks.append((base + k * inner, base + min(size, k + per) * inner))
    return chunks


def chunk_file(folder: Path, k: int) -> Path:
    return folder / f"chunk-{k:06d}.npz"


def save_chunk(folder: Path, k: int, res: Results) -> None:
    """Keep chunk ``k`` (written under a temporary name, then renamed: never half a file)."""
    tmp = folder / f".chunk-{k:06d}.{os.getpid()}.tmp.npz"
    arrays = {"points": res.points}
    if res.layers is not None:
        arrays["layers"] = res.layers
    np.savez(tmp, **arrays)
    os.replace(tmp, chunk_file(folder, k))


def load_chunk(folder: Path, k: int) -> Results:
    with np.load(chunk_file(folder, k)) as z:
        return Results(z["points"], z["layers"] if "layers" in z.files else None)


_ENGINES: dict[tuple[str, str], Engine] = {}  # one engine per process (and Dask worker) and sweep


def chunk_task(job, backend: str, digest: str, p0: int, p1: int, n_layers: int) -> Results:
    """Evaluate points p0 .. p1-1: the unit of work, in this process or on a Dask worker."""
    key = (digest, backend)
    engine = _ENGINES.get(key)
    if engine is None:
        _ENGINES.clear()
        engine = _ENGINES[key] = make_engine(backend, job, n_layers)
    return engine.points(p0, p1)


def chunk_to_file(job, backend: str, digest: str, p0: int, p1: int, n_layers: int, folder: str, k: int) -> int:
    """Evaluate a chunk and keep it as chunk file ``k`` of ``folder`` (a worker that shares the client's
    disk writes its own rows instead of sending them back); returns ``k``."""
    save_chunk(Path(folder), k, chunk_task(job, backend, digest, p0, p1, n_layers))
    return k
