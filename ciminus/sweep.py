"""Run a sweep: cut the grid into chunks, evaluate them with a backend, keep each finished chunk on disk,
and write the netCDF file hyperslab by hyperslab — each chunk in a thread while the next one is priced.

Memory is bounded by the chunk (two in flight), not the grid. Finished chunks live in ``OUT.nc.partial/`` until the final
file has been written (under a temporary name, then renamed), so an interrupted sweep loses nothing it
finished and ``--resume`` continues from there.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ciminus import __version__
from ciminus.backends import BACKENDS, BackendUnavailable, Engine, make_engine, prepare_job
from ciminus.backends import backend as backend_spec
from ciminus.chunks import chunk_file, load_chunk, plan_chunks, save_chunk
from ciminus.dataset import NetcdfWriter, Results, build_dataset, derive, silicon_rows, variable_specs
from ciminus.interrupt import checkpoint, watch
from ciminus.kernels import layout as L
from ciminus.kernels.jit import CACHE
from ciminus.output import (
    SweepSetupError,
    changed_inputs,
    check_target,
    exclusive,
    fingerprint,
    input_digests,
    partial_dir,
    temp_path,
)
from ciminus.progress import Report
from ciminus.resolve import Resolver
from ciminus.specs.sweep import Sweep
from ciminus.warmup import compile_output, stage_one_cached, start_engine_compile

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["BACKENDS", "BackendUnavailable", "RunSummary", "SweepSetupError", "evaluate", "run_sweep"]
DEFAULT_CHUNK_POINTS = 1 << 20
CHUNK_MEMORY_LIMIT = 1 << 30  # bytes one chunk's results may take in memory
MANIFEST = "manifest.json"


def default_output(sweep: Sweep) -> Path:
    """The file a sweep writes when no ``-o`` is given: ``[output] path``, else ``results/<name>.nc``.

    A path written in a sweep file is relative to that file's folder, like every other path in it (ONNX
    models, weights, activations); ``-o`` and the default are relative to the working directory."""
    if not sweep.output.path:
        return Path("results") / f"{sweep.name}.nc"
    path = Path(sweep.output.path)
    if not path.is_absolute() and sweep.source != "<string>" and Path(sweep.source).is_file():
        path = Path(os.path.relpath(Path(sweep.source).resolve().parent / path))
    return path


# ----- chunks ----------------------------------------------------------------------------------------
def bytes_per_row(sweep: Sweep, n_layers: int) -> tuple[int, int]:
    """(raw bytes a chunk file keeps per output row, bytes of derived variables per output row)."""
    raw = (L.N_POINT if sweep.output.actions else L.N_POINT_BASE) * 8 + n_layers * L.N_LAYER * 8
    sizes = {"component": L.N_COMPONENTS, "layer": n_layers, "action": L.N_ACTIONS}
    derived = 0
    for spec in variable_specs(sweep, n_layers):
        items = int(np.prod([sizes[d] for d in spec.suffix], dtype=np.int64)) if spec.suffix else 1
        derived += items * np.dtype("i1" if spec.dtype == "bool" else spec.dtype).itemsize
    return raw, derived


def layer_names(sweep: Sweep) -> tuple[str, ...]:
    """Names of the layers kept per layer (a single layer list; validation guarantees it)."""
    if not sweep.output.per_layer:
        return ()
    return tuple(layer.name for layer in Resolver(sweep).specs_at((0,) * len(sweep.axes)).layers)


def choose_chunk_points(sweep: Sweep, requested: int | None, n_layers: int) -> int:
    """Points per chunk: as requested (refused if a chunk would not fit in memory) or automatic."""
    raw, derived = bytes_per_row(sweep, n_layers)
    per_point = (raw + 2 * derived) * sweep.rows_per_point
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

    def describe(self, name: str) -> str:
        """The closing line, in words: what was priced, how much of it can run, how long it took, where it is."""
        if self.rows == self.points:
            what = f"{self.points:,} design point{'s' if self.points != 1 else ''}"
            total = self.points
        else:  # select = "all": every mapping candidate of every point is a result of its own
            what = (f"{self.points:,} design points x {self.rows // self.points:,} mapping candidates = "
                    f"{self.rows:,} results")
            total = self.rows
        ok = "all feasible" if self.feasible == total else f"{self.feasible:,} feasible, {total - self.feasible:,} not"
        resumed = f", {self.resumed_chunks} of {self.chunks} chunks resumed" if self.resumed_chunks else ""
        return f"{name}: {what} ({ok}) priced with the {self.backend} backend in {self.seconds:.2f} s{resumed} -> {self.path}"


def workload_notes(sweep: Sweep) -> list[str]:
    """What a user should know before reading the results: weight sparsity that cannot apply."""
    resolver = Resolver(sweep)
    patterns = resolver[("sparsity", "pattern")].values
    layers = resolver.specs_at((0,) * len(sweep.axes)).layers
    if layers and all(layer.dynamic for layer in layers) and any(p != "dense" for p in patterns):
        return ["every layer of this workload multiplies two run-time operands (dynamic MatMul): weight "
                "sparsity patterns do not apply to them, so every pattern gives the dense result"]
    return []


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
              scheduler: str | None = None, workers: int | None = None, force: bool = False) -> RunSummary:
    """Evaluate ``sweep`` chunk by chunk and write ``out`` (netCDF4); see the module docstring.

    ``force`` overwrites an existing file that is not a CIMinus result and discards an earlier run's
    partial folder; without it both are refused (``ciminus.output``)."""
    start = time.perf_counter()
    out = Path(out)
    backend_spec(backend).check()  # a backend this machine cannot run is refused before any work or litter
    check_target(out, sweep, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    with watch(), exclusive(out, sweep):
        if not scheduler:
            return _run(sweep, out, backend, resume, progress, chunk_points, on_chunk, None, start, force)
        from ciminus.distributed import close, connect

        cluster = connect(scheduler, workers)  # an unreachable scheduler is refused before any work or litter
        try:
            return _run(sweep, out, backend, resume, progress, chunk_points, on_chunk, cluster, start, force)
        finally:
            close(*cluster)


def _usable_chunk(folder: Path, k: int, rows: int) -> bool:
    """Whether chunk file ``k`` of an interrupted run is whole (``rows`` result rows)."""
    try:
        with open(chunk_file(folder, k), "rb") as fh, np.load(fh) as z:
            return z["points"].shape[0] == rows
    except Exception:  # a truncated or foreign file, whatever numpy says about it
        return False


def _run(sweep: Sweep, out: Path, backend: str, resume: bool, progress: bool, chunk_points: int | None,
         on_chunk: Callable[[int], None] | None, cluster: tuple | None, start: float, force: bool) -> RunSummary:
    names = layer_names(sweep)
    shape = sweep.point_shape
    n_points = int(np.prod(shape, dtype=np.int64)) if shape else 1
    k_rows = sweep.rows_per_point
    requested = chunk_points if chunk_points is not None else (sweep.output.chunk_points or None)
    chunk_points = choose_chunk_points(sweep, requested, len(names))
    chunks = plan_chunks(shape, chunk_points)
    check_disk(out, sweep, len(names), n_points * k_rows)
    folder = partial_dir(out)
    digest = fingerprint(sweep, backend, chunks)
    report = Report(progress)
    done: set[int] = set()
    if folder.exists() and resume:
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError):
            manifest = {}
        if manifest.get("digest") != digest:
            raise SweepSetupError("--resume", f'"{folder}"',
                                  "holds chunks of a different sweep, backend or chunk size",
                                  "the same sweep (comments aside) and options as the interrupted run, or no --resume")
        changed = changed_inputs(sweep, manifest.get("inputs", {}))
        if changed:
            raise SweepSetupError("--resume", f'"{changed[0]}"', "this input file changed since the interrupted run",
                                  "the same file contents, or a new run with --force")
        for k in range(len(chunks)):
            if chunk_file(folder, k).exists():
                if _usable_chunk(folder, k, (chunks[k][1] - chunks[k][0]) * k_rows):
                    done.add(k)
                else:
                    report.note(f"{chunk_file(folder, k)} is damaged (truncated?): priced again")
                    chunk_file(folder, k).unlink()
    elif folder.exists():
        if not force:
            kept = len(list(folder.glob("chunk-*.npz")))
            raise SweepSetupError("output.path", f'"{out}"',
                                  f"{folder} holds {kept} finished chunk(s) of an earlier run",
                                  "--resume to continue it, or --force to discard it")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).write_text(json.dumps({"digest": digest, "chunks": len(chunks), "points": n_points,
                                               "backend": backend, "version": __version__,
                                               "inputs": input_digests(sweep)}))
    for stray in folder.glob(".*.tmp.npz"):
        stray.unlink()

    for note in workload_notes(sweep):
        report.note(note)
    todo = [k for k in range(len(chunks)) if k not in done]
    feasible = _price_and_write(sweep, out, backend, cluster, chunks, todo, done, names, n_points, k_rows, folder,
                                digest, report, on_chunk, start)
    shutil.rmtree(folder)
    return RunSummary(out, n_points, n_points * k_rows, feasible, len(chunks), len(done),
                      time.perf_counter() - start, backend)


class Background:
    """One piece of I/O in a thread of its own (the GIL is released while it writes), joined before its
    result is needed; its error, if any, is raised by :meth:`join`."""

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self, fn: Callable[..., None], *args: object) -> None:
        def run() -> None:
            try:
                fn(*args)
            except BaseException as exc:  # noqa: BLE001 -- handed to the joining thread
                self.error = exc

        self.thread = threading.Thread(target=run, name="ciminus-keep-chunk", daemon=False)
        self.thread.start()

    def join(self, raise_error: bool = True) -> None:
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        error, self.error = self.error, None
        if error is not None and raise_error:
            raise error


def _price_and_write(sweep: Sweep, out: Path, backend: str, cluster: tuple | None, chunks: list, todo: list[int],
                     done: set[int], names: tuple[str, ...], n_points: int, k_rows: int, folder: Path, digest: str,
                     report: Report, on_chunk: Callable[[int], None] | None, start: float) -> int:
    """Price the chunks still to do, keeping each on disk and writing it into the result file (under a
    temporary name) in a thread while the next one is priced; then finish the file. Returns how many points
    are feasible."""
    job = None
    if todo:
        compiling = None
        if backend == "cpu" and cluster is None:
            compiling = start_engine_compile()  # a child compiles the engine while this process lowers
            if compiling is not None or (CACHE and not stage_one_cached()):
                report.note("compiling the kernels (first run after an install only; about a minute on two cores, "
                            "then they load from the disk cache)")
        with report.phase("tile statistics" if cluster is None else "lowering (the workers compute the statistics)"):
            job = prepare_job(sweep, backend, distributed=cluster is not None)
        checkpoint()
        if compiling is not None:
            with report.phase("compiling the pricing kernel"):
                compile_output()  # this process's share, while the child finishes
                compiling.wait()
            checkpoint()

    if sweep.accuracy is not None:  # each distinct pruned model run once (cached on disk across sweeps)
        from ciminus.accuracy import accuracy_table, n_variants

        with report.phase("accuracy of the pruned models (ONNX Runtime)", n_variants(sweep),
                          unit="sparsity variants") as adv:
            accuracy_table(sweep, adv)

    tmp = temp_path(out)
    writer = NetcdfWriter(tmp, sweep, backend, names, sweep.output.compression)
    written = {"feasible": 0, "chunks": 0}

    def keep_and_write(ks: list[int], res: Results | None) -> None:
        """Chunks ``ks`` into the file: ``res`` (one chunk, kept on disk by a thread of its own meanwhile),
        else each from its file."""
        for k in ks:
            keeping = Background()
            if res is not None:
                keeping.start(save_chunk, folder, k, res)
            try:
                rows = res if res is not None else load_chunk(folder, k)
                written["feasible"] += writer.write(chunks[k][0] * k_rows, rows)
                written["chunks"] += 1
            except BaseException:
                keeping.join(raise_error=False)
                raise
            keeping.join()

    def finish() -> None:
        writer.set_attrs(wall_seconds=round(time.perf_counter() - start, 3))
        writer.finish()  # closing flushes the file: part of writing it

    # One chunk at a time is kept on disk and written into the file in a thread (both release the GIL)
    # while the next is priced; the thread is joined before the next chunk starts, before the file is
    # finished, and on any error or interrupt (so a priced chunk is always kept).
    writing = Background()
    try:
        if done:
            writing.start(keep_and_write, sorted(done), None)  # an interrupted run's chunks, from their files
        if todo:
            if cluster is not None:
                from ciminus.distributed import distributed_chunks

                results = distributed_chunks(job, backend, digest, chunks, todo, len(names), *cluster, folder)
            else:
                results = _priced(make_engine(backend, job, len(names)), chunks, todo, k_rows)
            with report.phase(f"pricing with the {backend} backend", n_points,
                              initial=sum(chunks[k][1] - chunks[k][0] for k in done)) as advance:
                for k, res in results:  # res None: a worker on this disk has written the chunk file
                    writing.join()
                    writing.start(keep_and_write, [k], res)
                    advance(chunks[k][1] - chunks[k][0])
                    if on_chunk is not None:
                        on_chunk(k)
                    checkpoint()  # a Ctrl-C swallowed by a finaliser still stops the sweep here

        before = written["chunks"]  # the rest are still being written
        with report.phase(f"writing {out}", len(chunks), unit="chunks", initial=before) as advance:
            writing.join()
            advance(written["chunks"] - before)
            if sweep.sampling is None:
                finish()
        if sweep.sampling is not None:
            with report.phase("sensitivity indices"):
                rows = np.concatenate([load_chunk(folder, k).points for k in range(len(chunks))])
                indices, problem = sensitivity(sweep, rows)
            if indices is not None:
                writer.add(indices)
                writer.set_attrs(**sensitivity_attrs(indices))
            else:
                writer.set_attrs(sensitivity_error=problem)
            finish()
        checkpoint()
        os.replace(tmp, out)
    except BaseException:
        writing.join(raise_error=False)  # the file is closed only once no thread writes it
        raise
    finally:
        if writer.nc.isopen():
            writer.close()
        if tmp.exists():
            tmp.unlink()
    return written["feasible"]


def _priced(engine: Engine, chunks: list, todo: list[int], k_rows: int) -> Iterator[tuple[int, Results]]:
    """(chunk, its results) for every chunk to do. An engine that prices into given rows gets two sets of
    arrays in turn: chunk ``k`` is priced while ``k - 1`` is being written, into the arrays ``k - 2`` was
    written from (the caller hands a chunk to its writer only once the previous one is written), so that a
    long sweep does not page in fresh memory for every chunk."""
    if not hasattr(engine, "price_into"):
        for k in todo:
            yield k, engine.points(*chunks[k])
        return
    spare: list[Results | None] = [None, None]
    for i, k in enumerate(todo):
        p0, p1 = chunks[k]
        rows = (p1 - p0) * k_rows
        have = spare[i % 2]
        if have is None or have.points.shape[0] < rows:
            have = spare[i % 2] = engine.points(p0, p1)  # fresh arrays, priced
            yield k, have
        else:
            yield k, engine.price_into(p0, p1, have.first(rows))


def evaluate(sweep: Sweep, backend: str = "cpu") -> xr.Dataset:
    """The whole sweep as an in-memory dataset (for notebooks and tests; mind the size)."""
    names = layer_names(sweep)
    engine = make_engine(backend, prepare_job(sweep, backend), len(names))
    shape = sweep.point_shape
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
    """SALib indices of energy, latency, EDP, EDAP (and area where it varies) to every sampled key (rows: the raw results, in order).

    Sobol and Morris need every run: with infeasible samples the indices are not computed and the reason is
    returned instead (narrow the ranges); Latin hypercube regressions leave those runs out."""
    from ciminus.analysis.sensitivity import analyse
    from ciminus.specs.sampling import OUTPUTS

    spec = sweep.sampling
    X = np.column_stack([np.asarray(sweep.sampled[tuple(name.split(".", 1))], dtype=float) for name in spec.names])
    values = derive(sweep, Results(rows, None), 0)  # the dataset's own energy and latency (NaN if infeasible)
    feasible = values["feasible"]
    area = silicon_rows(sweep, 0, len(rows))[:, : L.N_COMPONENTS].sum(axis=-1)
    outputs = {"energy": values["energy"], "latency": values["latency"],
               "edp": values["energy"] * values["latency"], "area_mm2": np.where(feasible, area, np.nan),
               "edap": values["energy"] * values["latency"] * area}
    # area is an output only where a sampled key changes it (a constant has no variance to apportion)
    names = [k for k in OUTPUTS if k != "area_mm2" or np.ptp(area) > 0]
    if sweep.accuracy is not None:  # the pruned model's accuracy, where [accuracy] measures it
        from ciminus.dataset import accuracy_rows

        outputs["accuracy"] = np.where(feasible, accuracy_rows(sweep, 0, len(rows)), np.nan)
        names.append("accuracy")
    try:
        ds = analyse(spec.sample, spec.problem, X, {k: outputs[k] for k in names}, spec.seed)
    except ValueError as exc:
        bad = int((~feasible).sum())
        return None, (f"{bad} of {len(rows)} samples are infeasible; {spec.sample} indices need every run "
                      f"({exc}); narrow [sweep.ranges]" if bad else str(exc))
    short = [n.split(".", 1)[1] for n in spec.names]
    labels = short if len(set(short)) == len(short) else spec.names  # "table.key" only where keys clash
    return ds.assign_coords(parameter=labels), ""
