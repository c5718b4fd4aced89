"""Run a sweep: cut the grid into chunks, evaluate them with a backend, keep each finished chunk on disk,
and write the netCDF file hyperslab by hyperslab.

Memory is bounded by the chunk, not the grid. Finished chunks live in ``OUT.nc.partial/`` until the final
file has been written (under a temporary name, then renamed), so an interrupted sweep loses nothing it
finished and ``--resume`` continues from there.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ciminus import __version__
from ciminus.dataset import NetcdfWriter, Results, build_dataset, derive, variable_specs
from ciminus.reference import StatsCache, price_point
from ciminus.specs.sweep import Sweep
from kernels import layout as L

if TYPE_CHECKING:
    import xarray as xr

    from ciminus.lower import Lowered

BACKENDS = ("cpu", "reference", "cuda")
DEFAULT_CHUNK_POINTS = 1 << 20
CHUNK_MEMORY_LIMIT = 1 << 30  # bytes one chunk's results may take in memory
MANIFEST = "manifest.json"


class SweepSetupError(ValueError):
    """A sweep that cannot start (too big for the disk, a bad chunk size, a foreign partial folder).

    ``key`` and ``value`` name what to change, like a sweep-file problem."""

    def __init__(self, key: str, value: object, problem: str, allowed: str):
        self.key, self.value, self.problem, self.allowed = key, value, problem, allowed
        super().__init__(f"{key} = {value}: {problem}; allowed: {allowed}")


def default_output(sweep: Sweep) -> Path:
    """The file a sweep writes when no ``-o`` is given: ``[output] path``, else ``results/<name>.nc``."""
    return Path(sweep.output.path) if sweep.output.path else Path("results") / f"{sweep.name}.nc"


# ----- backends --------------------------------------------------------------------------------------
class ReferenceBackend:
    """The readable pure-Python model, point by point (slow; the yardstick for the fast backends)."""

    name = "reference"

    def __init__(self, sweep: Sweep, n_layers: int) -> None:
        self.sweep = sweep
        self.n_layers = n_layers
        self.cache = StatsCache()
        self.grid_shape = sweep.shape
        self.rows_per_point = rows_per_point(sweep)

    def points(self, p0: int, p1: int) -> Results:
        """Results of points p0 .. p1-1 as output rows (every candidate is a row with select = "all")."""
        return self.rows(p0 * self.rows_per_point, p1 * self.rows_per_point)

    def rows(self, p0: int, p1: int) -> Results:
        """Results of output rows p0 .. p1-1 (the reference evaluates whole rows of the full grid)."""
        res = Results.empty(p1 - p0, self.n_layers)
        all_mode = self.sweep.select == "all"
        cand_axes = [i for i, a in enumerate(self.sweep.axes) if a.table == "mapping"] if all_mode else []
        for r in range(p0, p1):
            idx = tuple(int(i) for i in np.unravel_index(r, self.grid_shape)) if self.grid_shape else ()
            specs = self.sweep.specs_at(idx)
            out = price_point(specs, self.sweep.candidates_at(idx), self.sweep.select, self.sweep.objective,
                              self.cache)
            row = res.points[r - p0]
            for ci, c in enumerate(L.COMPONENT_NAMES):
                row[ci] = out.cost.energy[c]
            row[L.P_LATENCY] = out.cost.latency
            row[L.P_COMPUTE] = out.cost.compute_cycles
            row[L.P_USEFUL] = out.cost.useful
            row[L.P_CAPACITY] = out.cost.capacity
            row[L.P_DENSE_ENERGY] = out.dense.total_energy
            row[L.P_DENSE_LATENCY] = out.dense.latency
            row[L.P_REASON] = out.cost.reason
            candidate = out.candidate
            if all_mode:  # every candidate is its own row: its index among the mapping axes' combinations
                sub = tuple(idx[i] for i in cand_axes)
                flat = int(np.ravel_multi_index(sub, [len(self.sweep.axes[i].values) for i in cand_axes]))
                candidate = flat if out.feasible else -1
            row[L.P_CANDIDATE] = candidate
            if res.layers is not None:
                for li, lc in enumerate(out.layers):
                    res.layers[r - p0, li, L.LY_ENERGY] = lc.total_energy
                    res.layers[r - p0, li, L.LY_LATENCY] = lc.latency
                    res.layers[r - p0, li, L.LY_CANDIDATE] = candidate if all_mode else out.layer_candidates[li]
        return res


class CpuBackend:
    """The Numba engine: every chunk in one parallel kernel call."""

    name = "cpu"

    def __init__(self, low: Lowered, n_layers: int) -> None:
        import numba

        self.low = low
        self.n_threads = numba.get_num_threads()
        self.n_layers = n_layers

    def points(self, p0: int, p1: int) -> Results:
        from kernels.price import price_points

        lw = self.low
        rows = (p1 - p0) * lw.rows_per_point
        res = Results.empty(rows, self.n_layers)
        layers = res.layers if res.layers is not None else np.empty((rows, 0, L.N_LAYER))
        price_points(p0, p1 - p0, lw.prm_axis, lw.prm_vals, lw.axis_len, lw.axis_stride, lw.stat_stride,
                     lw.n_variants, lw.wl_stride, lw.dense_stride, lw.layer_first, lw.layer_count, lw.layers,
                     lw.stats, lw.max_layers, lw.cands, lw.select, lw.objective, res.points, layers, self.n_threads)
        return res


class BackendUnavailable(RuntimeError):
    """A backend this machine cannot run (no GPU, numba-cuda missing or broken)."""


def load_cuda():  # the numba.cuda module
    """numba.cuda with a working GPU (or its simulator under NUMBA_ENABLE_CUDASIM=1), else BackendUnavailable."""
    try:
        from numba import cuda
    except Exception as exc:  # any import failure means the same to the user
        raise BackendUnavailable(
            f"--backend cuda needs numba-cuda ({type(exc).__name__}: {exc}); install it with "
            "pip install 'ciminus[cuda]' (numba-cuda with numpy < 2.5)") from exc
    try:
        available = cuda.is_available()
    except Exception as exc:  # a driver that fails to initialise
        raise BackendUnavailable(f"--backend cuda: the CUDA driver failed ({exc})") from exc
    if not available:
        raise BackendUnavailable("--backend cuda: no CUDA GPU found on this machine; use --backend cpu")
    return cuda


class CudaBackend:
    """The engine on an NVIDIA GPU: the tables are copied once, each chunk is one kernel launch."""

    name = "cuda"
    THREADS = 128

    def __init__(self, low: Lowered, n_layers: int) -> None:
        self.cuda = load_cuda()
        from kernels.price_cuda import MAX_AXES, price_points_cuda

        self.kernel = price_points_cuda
        self.low = low
        if len(self.low.axis_len) > MAX_AXES:
            raise BackendUnavailable(f"--backend cuda takes at most {MAX_AXES} swept keys")
        self.n_layers = n_layers
        lw, dev = self.low, self.cuda.to_device
        self.tables = [dev(a) for a in (lw.prm_axis, lw.prm_vals, lw.axis_len, lw.axis_stride, lw.stat_stride)]
        self.more = [dev(a) for a in (lw.wl_stride, lw.layer_first, lw.layer_count, lw.layers, lw.stats)]
        self.cands = dev(lw.cands)

    def points(self, p0: int, p1: int) -> Results:
        lw = self.low
        count = p1 - p0
        rows = count * lw.rows_per_point
        res = Results.empty(rows, self.n_layers)
        out_points = self.cuda.to_device(res.points)
        host_layers = res.layers if res.layers is not None else np.empty((rows, 0, L.N_LAYER))
        out_layers = self.cuda.to_device(host_layers)
        blocks = max(1, min(-(-count // self.THREADS), 1 << 16))
        self.kernel[blocks, self.THREADS](p0, count, *self.tables, lw.n_variants, *self.more, lw.max_layers,
                                          self.cands, lw.select, lw.objective, out_points, out_layers)
        out_points.copy_to_host(res.points)
        if res.layers is not None:
            out_layers.copy_to_host(res.layers)
        return res


def prepare_job(sweep: Sweep, backend: str):
    """What a chunk task needs: the lowered arrays for the engines, the sweep for the reference model."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    if backend == "reference":
        return sweep
    from ciminus.lower import lower

    return lower(sweep)


def make_backend(name: str, job, n_layers: int):  # one of the backends above
    if name == "cpu":
        return CpuBackend(job, n_layers)
    if name == "cuda":
        return CudaBackend(job, n_layers)
    return ReferenceBackend(job, n_layers)


_ENGINES: dict[tuple[str, str], object] = {}  # one engine per process (and Dask worker) and sweep


def chunk_task(job, backend: str, digest: str, p0: int, p1: int, n_layers: int) -> Results:
    """Evaluate points p0 .. p1-1: the unit of work, in this process or on a Dask worker."""
    key = (digest, backend)
    engine = _ENGINES.get(key)
    if engine is None:
        _ENGINES.clear()
        engine = _ENGINES[key] = make_backend(backend, job, n_layers)
    return engine.points(p0, p1)


def chunk_to_file(job, backend: str, digest: str, p0: int, p1: int, n_layers: int, folder: str, k: int) -> int:
    """Evaluate a chunk and keep it as chunk file ``k`` of ``folder`` (a worker that shares the client's
    disk writes its own rows instead of sending them back); returns ``k``."""
    _save_chunk(Path(folder), k, chunk_task(job, backend, digest, p0, p1, n_layers))
    return k


def rows_per_point(sweep: Sweep) -> int:
    """Output rows per point of the engine's point space (every candidate is a row with select = all)."""
    if sweep.select != "all":
        return 1
    n = 1
    for a in sweep.axes:
        if a.table == "mapping":
            n *= len(a.values)
    return n


def point_shape(sweep: Sweep) -> tuple[int, ...]:
    """The shape of the engine's point space: the sweep's axes without the kept-apart mapping axes."""
    if sweep.select == "all":
        return tuple(len(a.values) for a in sweep.axes if a.table != "mapping")
    return sweep.shape


# ----- chunks ----------------------------------------------------------------------------------------
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


def bytes_per_row(sweep: Sweep, n_layers: int) -> tuple[int, int]:
    """(raw bytes a chunk file keeps per output row, bytes of derived variables per output row)."""
    raw = L.N_POINT * 8 + n_layers * L.N_LAYER * 8
    sizes = {"component": L.N_COMPONENTS, "layer": n_layers}
    derived = 0
    for spec in variable_specs(sweep, n_layers):
        items = int(np.prod([sizes[d] for d in spec.suffix], dtype=np.int64)) if spec.suffix else 1
        derived += items * np.dtype("i1" if spec.dtype == "bool" else spec.dtype).itemsize
    return raw, derived


def layer_names(sweep: Sweep) -> tuple[str, ...]:
    """Names of the layers kept per layer (a single layer list; validation guarantees it)."""
    if not sweep.output.per_layer:
        return ()
    return tuple(layer.name for layer in sweep.specs_at((0,) * len(sweep.axes)).layers)


def choose_chunk_points(sweep: Sweep, requested: int | None, n_layers: int) -> int:
    """Points per chunk: as requested (refused if a chunk would not fit in memory) or automatic."""
    raw, derived = bytes_per_row(sweep, n_layers)
    per_point = (raw + 2 * derived) * rows_per_point(sweep)
    fits = max(1, CHUNK_MEMORY_LIMIT // per_point)
    if requested is not None and requested < 0:
        raise SweepSetupError("--chunk-points", requested, "negative", f"1 to {fits} points per chunk, or 0 for automatic")
    if requested:
        if requested > fits:
            raise SweepSetupError("output.chunk_points", requested,
                                  f"a chunk would need {requested * per_point / 2**30:.1f} GiB of memory",
                                  f"at most {fits} points per chunk for this sweep, or 0 for automatic")
        return requested
    return int(min(DEFAULT_CHUNK_POINTS, fits))


# ----- the partial folder ----------------------------------------------------------------------------
def sweep_digest(sweep: Sweep, backend: str, chunks: list[tuple[int, int]]) -> str:
    h = hashlib.sha256()
    h.update(sweep.text.encode())
    h.update(json.dumps([backend, __version__, chunks[:1], len(chunks)]).encode())
    return h.hexdigest()


def partial_dir(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def chunk_file(folder: Path, k: int) -> Path:
    return folder / f"chunk-{k:06d}.npz"


def _save_chunk(folder: Path, k: int, res: Results) -> None:
    tmp = folder / f".chunk-{k:06d}.{os.getpid()}.tmp.npz"
    arrays = {"points": res.points}
    if res.layers is not None:
        arrays["layers"] = res.layers
    np.savez(tmp, **arrays)
    os.replace(tmp, chunk_file(folder, k))


def _load_chunk(folder: Path, k: int) -> Results:
    with np.load(chunk_file(folder, k)) as z:
        return Results(z["points"], z["layers"] if "layers" in z.files else None)


@dataclass
class RunSummary:
    """What a finished sweep reports."""

    path: Path
    points: int
    rows: int
    feasible: int
    chunks: int
    resumed_chunks: int
    seconds: float
    backend: str


class Progress:
    """A progress bar on stderr (points per second, time left) when it is a terminal."""

    def __init__(self, total: int, enabled: bool = True, initial: int = 0) -> None:
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="pt", unit_scale=True, dynamic_ncols=True,
                            mininterval=0.5, delay=1.0, file=sys.stderr)

    def __call__(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def check_disk(out: Path, sweep: Sweep, n_layers: int, rows: int) -> None:
    """Refuse a sweep whose chunk files and final file would not fit on the output's disk."""
    raw, derived = bytes_per_row(sweep, n_layers)
    need = rows * (raw + derived) + (64 << 20)
    free = shutil.disk_usage(out.parent).free
    if need > free:
        raise SweepSetupError("output.path", f'"{out}"',
                              f"the sweep needs about {need / 1e9:.1f} GB there (chunk files and the result) "
                              f"but {free / 1e9:.1f} GB are free",
                              "a folder with more room, fewer swept points, or output.per_layer = false")


def run_sweep(sweep: Sweep, out: str | Path, backend: str = "cpu", resume: bool = False, progress: bool = True,
              chunk_points: int | None = None, on_chunk: Callable[[int], None] | None = None,
              scheduler: str | None = None, workers: int | None = None) -> RunSummary:
    """Evaluate ``sweep`` chunk by chunk and write ``out`` (netCDF4); see the module docstring."""
    start = time.perf_counter()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    names = layer_names(sweep)
    shape = point_shape(sweep)
    n_points = int(np.prod(shape, dtype=np.int64)) if shape else 1
    k_rows = rows_per_point(sweep)
    requested = chunk_points if chunk_points is not None else (sweep.output.chunk_points or None)
    chunk_points = choose_chunk_points(sweep, requested, len(names))
    chunks = plan_chunks(shape, chunk_points)
    check_disk(out, sweep, len(names), n_points * k_rows)
    folder = partial_dir(out)
    digest = sweep_digest(sweep, backend, chunks)
    done: set[int] = set()
    if folder.exists() and resume:
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError):
            manifest = {}
        if manifest.get("digest") != digest:
            raise SweepSetupError("--resume", f'"{folder}"',
                                  "holds chunks of a different sweep, backend or chunk size",
                                  "the same sweep file and options as the interrupted run, or no --resume")
        done = {k for k in range(len(chunks)) if chunk_file(folder, k).exists()}
    elif folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).write_text(json.dumps({"digest": digest, "chunks": len(chunks), "points": n_points,
                                               "backend": backend, "version": __version__}))
    for stray in folder.glob(".*.tmp.npz"):
        stray.unlink()

    bar = Progress(n_points, progress, initial=sum(chunks[k][1] - chunks[k][0] for k in done))
    try:
        todo = [k for k in range(len(chunks)) if k not in done]
        if todo:
            job = prepare_job(sweep, backend)
            if scheduler:
                from ciminus.distributed import distributed_chunks

                results = distributed_chunks(job, backend, digest, chunks, todo, len(names), scheduler, workers,
                                             folder)
            else:
                engine = make_backend(backend, job, len(names))
                results = ((k, engine.points(*chunks[k])) for k in todo)
            for k, res in results:
                if res is not None:  # else a worker on this disk has written the chunk file
                    _save_chunk(folder, k, res)
                bar(chunks[k][1] - chunks[k][0])
                if on_chunk is not None:
                    on_chunk(k)
    finally:
        bar.close()

    # Every chunk is on disk: write the result under a temporary name, then rename it into place.
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    feasible = 0
    writer = NetcdfWriter(tmp, sweep, backend, names, sweep.output.compression)
    try:
        for k, (p0, _p1) in enumerate(chunks):
            feasible += writer.write(p0 * k_rows, _load_chunk(folder, k))
        if sweep.sampling is not None:
            rows = np.concatenate([_load_chunk(folder, k).points for k in range(len(chunks))])
            indices, problem = sensitivity(sweep, rows)
            if indices is not None:
                writer.add(indices)
                writer.set_attrs(**sensitivity_attrs(indices))
            else:
                writer.set_attrs(sensitivity_error=problem)
        writer.set_attrs(wall_seconds=round(time.perf_counter() - start, 3))
        writer.close()
        os.replace(tmp, out)
    finally:
        if writer.nc.isopen():
            writer.close()
        if tmp.exists():
            tmp.unlink()
    shutil.rmtree(folder)
    return RunSummary(out, n_points, n_points * k_rows, feasible, len(chunks), len(done),
                      time.perf_counter() - start, backend)


def evaluate(sweep: Sweep, backend: str = "cpu") -> xr.Dataset:
    """The whole sweep as an in-memory dataset (for notebooks and tests; mind the size)."""
    names = layer_names(sweep)
    engine = make_backend(backend, prepare_job(sweep, backend), len(names))
    shape = point_shape(sweep)
    n_points = int(np.prod(shape, dtype=np.int64)) if shape else 1
    res = engine.points(0, n_points)
    ds = build_dataset(sweep, res, backend, names)
    if sweep.sampling is not None:
        indices, problem = sensitivity(sweep, res.points)
        if indices is not None:
            ds = ds.merge(indices)
            ds.attrs.update(sensitivity_attrs(indices))
        else:
            ds.attrs["sensitivity_error"] = problem
    return ds


def sensitivity_attrs(indices: xr.Dataset) -> dict[str, object]:
    """The analysis settings, kept on the result as ``sensitivity_<name>`` attributes."""
    return {f"sensitivity_{k}": v for k, v in indices.attrs.items() if isinstance(v, str | int | float)}


def sensitivity(sweep: Sweep, rows: np.ndarray) -> tuple[xr.Dataset | None, str]:
    """SALib indices of energy, latency and EDP to every sampled key (rows: the raw results, in order).

    Sobol and Morris need every run: with infeasible samples the indices are not computed and the reason is
    returned instead (narrow the ranges); Latin hypercube regressions leave those runs out."""
    from ciminus.analysis.sensitivity import analyse
    from ciminus.specs.sampling import OUTPUTS

    spec = sweep.sampling
    X = np.column_stack([np.asarray(sweep.sampled[tuple(name.split(".", 1))], dtype=float) for name in spec.names])
    values = derive(sweep, Results(rows, None), 0)  # the dataset's own energy and latency (NaN if infeasible)
    feasible = values["feasible"]
    outputs = {"energy": values["energy"], "latency": values["latency"],
               "edp": values["energy"] * values["latency"]}
    try:
        ds = analyse(spec.sample, spec.problem, X, {k: outputs[k] for k in OUTPUTS}, spec.seed)
    except ValueError as exc:
        bad = int((~feasible).sum())
        return None, (f"{bad} of {len(rows)} samples are infeasible; {spec.sample} indices need every run "
                      f"({exc}); narrow [sweep.ranges]" if bad else str(exc))
    short = [n.split(".", 1)[1] for n in spec.names]
    labels = short if len(set(short)) == len(short) else spec.names  # "table.key" only where keys clash
    return ds.assign_coords(parameter=labels), ""
