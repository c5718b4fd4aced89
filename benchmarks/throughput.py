"""Throughput of the sweep engine against the reference model, on the same sweep, in one run.

    python benchmarks/throughput.py            # 10^6-point ResNet-18 sweep: kernel, end to end, reference;
                                               # the geometry x sparsity and mapping-heavy sweeps end to end
    python benchmarks/throughput.py --huge     # also a 10^8-point sweep streamed to disk (minutes, ~0.7 GiB)
    python benchmarks/throughput.py --dask     # also 10^7 points on 1 and 2 local Dask workers

Reports (design point x layer) evaluations per second of the ``cpu`` engine (kernel alone, best of
``--repeats``) and of the ``reference`` model (on the first ``--reference-points`` points of the same
sweep), their ratio, the end-to-end wall time of ``ciminus sweep`` (start-up, JIT from cache, netCDF
written) with its peak RSS, CPU time / wall time and the time of each phase, and the machine. Two more
sweeps run end to end: a designer's 10^6-point sweep of array geometry x macros x sparsity x DRAM energy
(``geometry_1m.toml``: every point has its own tile statistics) and a mapping-candidate-heavy one
(``mapping_heavy.toml``: 40 listed candidates x 4 loop orders per point). These pin one mapping per point;
``search_1e5.toml`` measures the default search (every macro organisation x every loop order), kernel and
end to end, in design points/s and candidate evaluations/s. Paste the Markdown it prints into
docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from ciminus.backends.cpu import kernel_args, price_points
from ciminus.backends.reference import ReferenceEngine
from ciminus.kernels import layout as L
from ciminus.lower import lower
from ciminus.resolve import Resolver
from ciminus.sweep import layer_names
from ciminus.validate import load_sweep

RSS_PROBE = (  # the ``ciminus`` command (ciminus.cli.run), reporting its peak RSS before it exits
    "import resource, sys; from ciminus.cli import exit_now, main; rc = main(sys.argv[1:]); "
    "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); exit_now(rc)"
)


def machine() -> dict[str, object]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1])
        mem = f"{kb / 2**20:.0f} GiB"
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "numba_threads": numba.get_num_threads(), "memory": mem,
            "python": platform.python_version(), "numba": numba.__version__, "numpy": np.__version__,
            "os": platform.platform()}


def kernel_rate(sweep_path: Path, repeats: int) -> dict[str, float]:
    """Evaluations per second of the compiled kernel alone (lowering excluded), best of ``repeats``."""
    sweep = load_sweep(sweep_path)
    t0 = time.perf_counter()
    low = lower(sweep)
    lowering = time.perf_counter() - t0
    n = low.n_points
    layers = int(low.layer_count.max())
    out = np.empty((n * low.rows_per_point, L.N_POINT_BASE))
    out_layers = np.empty((n * low.rows_per_point, 0, L.N_LAYER))
    threads = numba.get_num_threads()
    price_points(*kernel_args(low, 0, min(n, 1000), out, out_layers, threads))  # load from the cache first
    args = kernel_args(low, 0, n, out, out_layers, threads)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        price_points(*args)
        times.append(time.perf_counter() - t0)
    evals = n * layers * low.cands.shape[0]
    return {"points": n, "layers": layers, "candidates": int(low.cands.shape[0]), "lowering_s": lowering,
            "best_s": min(times), "median_s": float(np.median(times)), "evals_per_s": evals / min(times),
            "evals_per_s_median": evals / float(np.median(times))}


def reference_rate(sweep_path: Path, n_points: int) -> dict[str, float]:
    """Evaluations per second of the readable reference model on the first points of the same sweep."""
    sweep = load_sweep(sweep_path)
    backend = ReferenceEngine(sweep, len(layer_names(sweep)))
    backend.rows(0, 2)  # statistics of the first combination, imports
    t0 = time.perf_counter()
    backend.rows(0, n_points)
    dt = time.perf_counter() - t0
    layers = len(Resolver(sweep).specs_at((0,) * len(sweep.axes)).layers)
    return {"points": n_points, "seconds": dt, "evals_per_s": n_points * layers * sweep.n_candidates / dt}


def end_to_end(sweep_path: Path, out: Path) -> dict[str, object]:
    """Wall time, CPU time / wall time, phases (wall and CPU time each) and peak RSS of ``ciminus sweep`` in a
    fresh process (the JIT loaded from the cache), and (design point x layer x candidate) evaluations per second
    of the whole."""
    import resource

    cmd = [sys.executable, "-c", RSS_PROBE, "sweep", str(sweep_path), "-o", str(out)]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)  # warm the cache and the disk
    out.unlink()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    run = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rss = int(run.stderr.split("PEAK_RSS_KB")[1].split()[0])
    phases, phase_cpu = {}, {}
    for line in run.stderr.splitlines():  # "ciminus: PHASE: done in N s, CPU time M s" (stderr is no terminal)
        if ": done in " in line:
            name, _, secs = line.removeprefix("ciminus: ").rpartition(": done in ")
            name = name.split(" /")[0].split(" results")[0]
            phases[name] = float(secs.split()[0].rstrip(","))
            phase_cpu[name] = float(secs.split("CPU time ")[1].split()[0])
    size = out.stat().st_size
    out.unlink()
    sweep = load_sweep(sweep_path)
    layers = len(Resolver(sweep).specs_at((0,) * len(sweep.axes)).layers)
    evals = sweep.size * layers * sweep.n_candidates
    # what no phase covers: start-up (imports, reading the sweep, Numba loading its kernels) and exit
    outside = (wall - sum(phases.values()), cpu - sum(phase_cpu.values()))
    return {"points": sweep.size, "layers": layers, "candidates": sweep.n_candidates, "wall_s": wall,
            "cpu_over_wall": cpu / wall, "evals_per_s": evals / wall, "phases": phases, "phase_cpu": phase_cpu,
            "outside_phases_s": outside[0], "outside_phases_cpu_s": outside[1],
            "peak_rss_mib": rss / 1024, "file_mib": size / 2**20}


def distributed(sweep_path: Path, workers: int, out: Path) -> dict[str, float]:
    """A sweep on a local Dask cluster: the whole run, and the span from the first to the last finished
    chunk (the parallel part, without cluster start-up, lowering and the final file)."""
    from ciminus.sweep import run_sweep

    stamps: list[float] = []
    t0 = time.perf_counter()
    run_sweep(load_sweep(sweep_path), out, progress=False, chunk_points=1 << 18, scheduler="local", workers=workers,
              on_chunk=lambda _k: stamps.append(time.perf_counter()))
    wall = time.perf_counter() - t0
    out.unlink()
    return {"workers": workers, "wall_s": wall, "chunks": len(stamps), "compute_span_s": stamps[-1] - stamps[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--reference-points", type=int, default=200)
    ap.add_argument("--huge", action="store_true", help="also stream the 10^8-point sweep to disk")
    ap.add_argument("--dask", action="store_true", help="also run the 10^7-point sweep on 1 and 2 local Dask workers")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = ap.parse_args()

    results: dict[str, object] = {"machine": machine()}
    sweep = HERE / "resnet18_1m.toml"
    cpu = kernel_rate(sweep, args.repeats)
    ref = reference_rate(sweep, args.reference_points)
    results.update(cpu=cpu, reference=ref, ratio=cpu["evals_per_s"] / ref["evals_per_s"])
    with tempfile.TemporaryDirectory(dir=ROOT / "results") as tmp:
        results["end_to_end_1m"] = end_to_end(sweep, Path(tmp) / "r.nc")
        results["geometry_1m"] = end_to_end(HERE / "geometry_1m.toml", Path(tmp) / "g.nc")
        results["mapping_heavy"] = end_to_end(HERE / "mapping_heavy.toml", Path(tmp) / "m.nc")
        results["search_kernel"] = kernel_rate(HERE / "search_1e5.toml", args.repeats)
        results["search"] = end_to_end(HERE / "search_1e5.toml", Path(tmp) / "s.nc")
        if args.huge:
            results["end_to_end_1e8"] = end_to_end(HERE / "huge_1e8.toml", Path(tmp) / "h.nc")
        if args.dask:
            results["dask"] = [distributed(HERE / "resnet18_1e7.toml", w, Path(tmp) / f"d{w}.nc") for w in (1, 2)]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))

    m = results["machine"]
    print(f"Machine: {m['cpu']}, {m['cores']} cores ({m['numba_threads']} Numba threads), {m['memory']}; "
          f"Python {m['python']}, Numba {m['numba']}, NumPy {m['numpy']}.\n")
    print("| measure | value |\n| --- | --- |")
    print(f"| sweep | {cpu['points']:,} points x {cpu['layers']} layers x {cpu['candidates']} mapping |")
    print(f"| cpu kernel, best of {args.repeats} | {cpu['evals_per_s']:.3g} evaluations/s ({cpu['best_s']:.2f} s) |")
    print(f"| cpu kernel, median | {cpu['evals_per_s_median']:.3g} evaluations/s ({cpu['median_s']:.2f} s) |")
    print(f"| lowering (tile statistics) | {cpu['lowering_s']:.2f} s |")
    print(f"| reference, {ref['points']} points | {ref['evals_per_s']:.3g} evaluations/s |")
    print(f"| cpu / reference | {results['ratio']:,.0f}x |")
    s = results["search_kernel"]
    print(f"| default search, cpu kernel ({s['points']:,} points x {s['layers']} layers x {s['candidates']} "
          f"candidates) | {s['points'] / s['best_s']:.3g} design points/s = {s['evals_per_s']:.3g} candidate "
          f"evaluations/s ({s['best_s']:.2f} s) |")
    for key, title in (("end_to_end_1m", "10^6 points"), ("geometry_1m", "geometry x sparsity, 10^6 points"),
                       ("mapping_heavy", "mapping-heavy"), ("search", "default search")):
        e = results[key]
        phases = ", ".join(f"{k} {v:.2f} s (CPU/wall {e['phase_cpu'][k] / max(v, 1e-9):.2f})"
                           for k, v in e["phases"].items())
        phases += (f", outside the phases {e['outside_phases_s']:.2f} s (CPU/wall "
                   f"{e['outside_phases_cpu_s'] / max(e['outside_phases_s'], 1e-9):.2f})")
        print(f"| `ciminus sweep` {title} ({e['points']:,} x {e['layers']} layers x {e['candidates']} candidates), "
              f"end to end | {e['wall_s']:.1f} s = {e['evals_per_s']:.3g} evaluations/s, CPU/wall "
              f"{e['cpu_over_wall']:.2f}, peak RSS {e['peak_rss_mib']:.0f} MiB, file {e['file_mib']:.0f} MiB; "
              f"{phases} |")
    for d in results.get("dask", []):
        print(f"| 10^7 points on {d['workers']} local Dask worker(s) | {d['wall_s']:.1f} s in all; chunks "
              f"{d['compute_span_s']:.1f} s from first to last |")
    if "end_to_end_1e8" in results:
        h = results["end_to_end_1e8"]
        print(f"| `ciminus sweep` 10^8 points, end to end | {h['wall_s']:.0f} s, peak RSS {h['peak_rss_mib']:.0f} MiB, "
              f"file {h['file_mib'] / 1024:.1f} GiB |")


if __name__ == "__main__":  # Dask's worker processes re-import this module
    main()
