"""Results as a labelled ``xarray.Dataset``, and netCDF4 writing.

Every backend returns the same flat arrays (``kernels.layout.P_*`` per point, ``LY_*`` per layer); this
module gives them dimensions named after the swept keys, coordinates, units and provenance.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import xarray as xr

from ciminus import __version__
from ciminus.specs.sweep import Sweep
from kernels import layout as L


@dataclass
class Results:
    """Raw results of a sweep, flattened over its points in C order."""

    points: np.ndarray  # (n_points, N_POINT) float64
    layers: np.ndarray | None = None  # (n_points, n_layers, N_LAYER) float64, when per-layer results are kept
    layer_names: tuple[str, ...] = ()

    @classmethod
    def empty(cls, n_points: int, layer_names: tuple[str, ...] = ()) -> Results:
        pts = np.full((n_points, L.N_POINT), np.nan)
        lay = np.full((n_points, len(layer_names), L.N_LAYER), np.nan) if layer_names else None
        return cls(pts, lay, layer_names)


def _attrs(units: str, long_name: str, **extra: object) -> dict[str, object]:
    return {"units": units, "long_name": long_name, **extra}


def _coord_values(values: tuple) -> np.ndarray:
    if all(isinstance(v, bool) for v in values):
        return np.array(values, dtype=bool)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return np.array(values, dtype=np.int64)
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return np.array(values, dtype=np.float64)
    return np.array([str(v) for v in values], dtype=object)


def build_dataset(sweep: Sweep, res: Results, backend: str) -> xr.Dataset:
    """The dataset of the contract: one dimension per swept key, ``component`` for breakdowns."""
    dims = tuple(a.name for a in sweep.axes)
    shape = sweep.shape
    coords: dict[str, object] = {a.name: (a.name, _coord_values(a.values), {"long_name": f"{a.table}.{a.key}"})
                                 for a in sweep.axes}
    coords["component"] = ("component", np.array(L.COMPONENT_NAMES, dtype=object),
                           {"long_name": "energy component"})
    pts = res.points

    def grid(col: int) -> np.ndarray:
        return pts[:, col].reshape(shape)

    reason = np.nan_to_num(grid(L.P_REASON), nan=0).astype(np.uint8)
    feasible = reason == L.REASON_OK
    breakdown = pts[:, : L.N_COMPONENTS].reshape(*shape, L.N_COMPONENTS)
    energy = breakdown.sum(axis=-1)
    latency = grid(L.P_LATENCY)
    with np.errstate(divide="ignore", invalid="ignore"):
        speedup = np.where(feasible, grid(L.P_DENSE_LATENCY) / latency, np.nan)
        saving = np.where(feasible, grid(L.P_DENSE_ENERGY) / energy, np.nan)
        util = np.where(feasible, grid(L.P_USEFUL) / grid(L.P_CAPACITY), np.nan)
    nan_if = lambda a: np.where(feasible, a, np.nan)  # noqa: E731
    data = {
        "energy": (dims, nan_if(energy), _attrs("pJ", "energy of the workload (one batch)")),
        "latency": (dims, nan_if(latency), _attrs("cycles", "latency of the workload (one batch)")),
        "compute_cycles": (dims, nan_if(grid(L.P_COMPUTE)),
                           _attrs("cycles", "bit-serial compute cycles on the critical macro, without stalls")),
        "energy_breakdown": ((*dims, "component"), np.where(feasible[..., None], breakdown, np.nan),
                             _attrs("pJ", "energy by component")),
        "speedup": (dims, speedup, _attrs("1", "dense latency / latency, same hardware and mapping")),
        "energy_saving": (dims, saving, _attrs("1", "dense energy / energy, same hardware and mapping")),
        "utilization": (dims, util, _attrs("1", "occupied cell-activations / available cell-activations")),
        "dense_energy": (dims, nan_if(grid(L.P_DENSE_ENERGY)), _attrs("pJ", "energy of the dense weights")),
        "dense_latency": (dims, nan_if(grid(L.P_DENSE_LATENCY)), _attrs("cycles", "latency of the dense weights")),
        "feasible": (dims, feasible, _attrs("1", "the design point can run")),
        "reason": (dims, reason, _attrs("1", "why a point is infeasible (0: feasible)",
                                        flag_values=np.arange(len(L.REASON_NAMES), dtype=np.uint8),
                                        flag_meanings=" ".join(L.REASON_NAMES))),
    }
    freq = _freq_grid(sweep)
    if freq is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            seconds = np.where(freq > 0, nan_if(latency) / (freq * 1e6), np.nan)
        data["latency_s"] = (dims, seconds, _attrs("s", "latency at arch.freq_mhz"))
    if sweep.candidate_axes:
        cand_dim = "candidate"
        data["mapping"] = (dims, grid(L.P_CANDIDATE).astype(np.int16),
                           _attrs("1", "index of the winning mapping candidate (-1: chosen per layer)"))
        combos = np.array(np.meshgrid(*(np.arange(len(a.values)) for a in sweep.candidate_axes), indexing="ij"))
        combos = combos.reshape(len(sweep.candidate_axes), -1)
        coords[cand_dim] = (cand_dim, np.arange(combos.shape[1]), {"long_name": "mapping candidate"})
        for a, idx in zip(sweep.candidate_axes, combos, strict=True):
            coords[f"candidate_{a.key}"] = (cand_dim, _coord_values(tuple(a.values[i] for i in idx)),
                                            {"long_name": f"mapping.{a.key} of each candidate"})
    if res.layers is not None:
        coords["layer"] = ("layer", np.array(res.layer_names, dtype=object), {"long_name": "layer name"})
        lay = res.layers.reshape(*shape, len(res.layer_names), L.N_LAYER)
        lf = feasible[..., None]
        data["layer_energy"] = ((*dims, "layer"), np.where(lf, lay[..., L.LY_ENERGY], np.nan),
                                _attrs("pJ", "energy per layer"))
        data["layer_latency"] = ((*dims, "layer"), np.where(lf, lay[..., L.LY_LATENCY], np.nan),
                                 _attrs("cycles", "latency per layer"))
        if sweep.candidate_axes:
            data["layer_mapping"] = ((*dims, "layer"), np.nan_to_num(lay[..., L.LY_CANDIDATE], nan=-1).astype(np.int16),
                                     _attrs("1", "mapping candidate chosen for each layer"))
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update({
        "title": f"CIMinus sweep {sweep.name}",
        "name": sweep.name,
        "sweep": sweep.text,
        "sweep_source": sweep.source,
        "ciminus_version": __version__,
        "backend": backend,
        "select": sweep.select,
        "objective": sweep.objective,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "Conventions": "CF-1.8",
        "axes": json.dumps([f"{a.table}.{a.key}" for a in sweep.axes]),
    })
    return ds


def _freq_grid(sweep: Sweep) -> np.ndarray | None:
    """arch.freq_mhz at every point (broadcast to the sweep's shape), or None when no point has a clock."""
    axis = sweep.axis("freq_mhz")
    if axis is not None and axis.table == "arch":
        shape = [1] * len(sweep.axes)
        shape[sweep.axes.index(axis)] = len(axis.values)
        freq = np.array(axis.values, dtype=float).reshape(shape)
        return np.broadcast_to(freq, sweep.shape) if np.any(freq > 0) else None
    # Templates carry no clock (tests hold them to that), so a fixed value or none is all there is.
    f = float(sweep.fixed["arch"].get("freq_mhz", 0.0))
    return np.full(sweep.shape, f) if f > 0 else None


def write_netcdf(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` as netCDF4, atomically: a temporary name in the same folder, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    encoding = {name: {"zlib": True, "complevel": 1} for name, v in ds.data_vars.items() if v.dtype.kind in "fiub"}
    try:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=encoding)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
