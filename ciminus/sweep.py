"""Run a sweep: evaluate every point with a backend and return (and write) the dataset."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import xarray as xr

from ciminus.dataset import Results, build_dataset, write_netcdf
from ciminus.reference import StatsCache, price_point
from ciminus.specs.sweep import Sweep
from kernels import layout as L

BACKENDS = ("reference",)


def default_output(sweep: Sweep) -> Path:
    """The file a sweep writes when no ``-o`` is given: ``[output] path``, else ``results/<name>.nc``."""
    return Path(sweep.output.path) if sweep.output.path else Path("results") / f"{sweep.name}.nc"


def layer_names(sweep: Sweep) -> tuple[str, ...]:
    """Names of the layers kept per layer (a single layer list; validation guarantees it)."""
    if not sweep.output.per_layer:
        return ()
    return tuple(layer.name for layer in sweep.specs_at((0,) * len(sweep.axes)).layers)


def run_reference(sweep: Sweep, progress: Callable[[int], None] | None = None) -> Results:
    """Price every point with the readable reference model (slow; the yardstick for the fast backends)."""
    names = layer_names(sweep)
    res = Results.empty(sweep.size, names)
    cache = StatsCache()
    for flat, idx in enumerate(sweep.indices()):
        specs = sweep.specs_at(idx)
        r = price_point(specs, sweep.candidates_at(idx), sweep.select, sweep.objective, cache)
        row = res.points[flat]
        for ci, c in enumerate(L.COMPONENT_NAMES):
            row[ci] = r.cost.energy[c]
        row[L.P_LATENCY] = r.cost.latency
        row[L.P_COMPUTE] = r.cost.compute_cycles
        row[L.P_USEFUL] = r.cost.useful
        row[L.P_CAPACITY] = r.cost.capacity
        row[L.P_DENSE_ENERGY] = r.dense.total_energy
        row[L.P_DENSE_LATENCY] = r.dense.latency
        row[L.P_REASON] = r.cost.reason
        row[L.P_CANDIDATE] = r.candidate
        if res.layers is not None:
            for li, lc in enumerate(r.layers):
                res.layers[flat, li, L.LY_ENERGY] = lc.total_energy
                res.layers[flat, li, L.LY_LATENCY] = lc.latency
                res.layers[flat, li, L.LY_CANDIDATE] = r.layer_candidates[li]
        if progress is not None:
            progress(1)
    return res


class Progress:
    """A progress bar on stderr for runs that last more than a moment (points per second, time left)."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.total = total
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="pt", unit_scale=True, dynamic_ncols=True, mininterval=0.5,
                            delay=1.0, file=sys.stderr)

    def __call__(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_sweep(sweep: Sweep, backend: str = "reference", out: str | Path | None = None,
              progress: bool = True) -> tuple[xr.Dataset, Path | None]:
    """Evaluate ``sweep`` with ``backend``; write the netCDF file unless ``out`` is False-y and not given."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    bar = Progress(sweep.size, progress)
    start = time.perf_counter()
    try:
        res = run_reference(sweep, bar)
    finally:
        bar.close()
    ds = build_dataset(sweep, res, backend)
    ds.attrs["wall_seconds"] = round(time.perf_counter() - start, 3)
    path = None
    if out is not None:
        path = write_netcdf(ds, out)
    return ds, path
