"""Results as a labelled ``xarray.Dataset``, and netCDF4 writing that streams chunk by chunk.

Every backend returns the same flat rows (``kernels.layout.P_*`` per output row, ``LY_*`` per layer); this
module gives them dimensions named after the swept keys, coordinates, units and provenance. The same
variable definitions (:func:`variable_specs`) and derivations (:func:`derive`) serve the in-memory
dataset (:func:`build_dataset`) and the file written hyperslab by hyperslab (:class:`NetcdfWriter`), so
the two are identical.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ciminus import __version__
from ciminus.kernels import layout as L
from ciminus.kernels.columns import (
    D_ENERGY,
    D_SAVING,
    D_SPEEDUP,
    D_UTILIZATION,
    N_DERIVED,
    masked_block,
    masked_field,
    point_columns,
)
from ciminus.resolve import clock_mhz, energy_table, per_sweep, silicon_table
from ciminus.specs.sweep import Sweep
from ciminus.threads import on_every_core

if TYPE_CHECKING:  # xarray is imported where a dataset is built, not on the streaming path
    import xarray as xr


@dataclass
class Results:
    """Raw results of consecutive output rows (points in C order; with ``select = "all"`` one row per
    point and candidate)."""

    points: np.ndarray  # (rows, N_POINT_BASE) float64, or (rows, N_POINT) with the action counts
    layers: np.ndarray | None = None  # (rows, n_layers, N_LAYER) float64, when per-layer results are kept

    @classmethod
    def empty(cls, rows: int, n_layers: int = 0, actions: bool = False) -> Results:
        """NaN-filled rows (a column no engine writes stays NaN), filled by every core."""
        pts = np.empty((rows, L.N_POINT if actions else L.N_POINT_BASE))
        lay = np.empty((rows, n_layers, L.N_LAYER)) if n_layers else None
        return cls(pts, lay).first(rows)

    def first(self, rows: int) -> Results:
        """The first ``rows`` rows, NaN-filled again: these arrays reused for a chunk no larger (memory the
        process already has costs no page faults, ~7 µs per fresh 4 KiB page on some machines)."""
        from ciminus.kernels.price import fill_nan

        pts = self.points[:rows]
        on_every_core(fill_nan, pts.size, pts.reshape(-1))
        lay = None
        if self.layers is not None:
            lay = self.layers[:rows]
            on_every_core(fill_nan, lay.size, lay.reshape(-1))
        return Results(pts, lay)


@dataclass(frozen=True)
class VarSpec:
    """A data variable: its name, the dimensions after the sweep's, its dtype and attributes."""

    name: str
    suffix: tuple[str, ...]
    dtype: str
    attrs: dict = field(default_factory=dict)


def _attrs(units: str, long_name: str, **extra: object) -> dict[str, object]:
    return {"units": units, "long_name": long_name, **extra}


def coord_values(values: tuple) -> np.ndarray:
    """Swept values as a coordinate array (bool, int, float or str)."""
    if all(isinstance(v, bool) for v in values):
        return np.array(values, dtype=bool)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return np.array(values, dtype=np.int64)
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return np.array(values, dtype=np.float64)
    return np.array([str(v) for v in values], dtype=object)


def has_clock(sweep: Sweep) -> bool:
    """Whether any point has a clock: ``arch.freq_mhz`` > 0 or "auto" (fixed, swept or sampled)."""
    return any(v == "auto" or float(v) > 0 for v in clock_mhz(sweep).values)


# ----- silicon: per design point, over only the axes the hardware varies along --------------------------
def silicon(sweep: Sweep) -> tuple[tuple[int, ...], np.ndarray]:
    """:func:`ciminus.resolve.silicon_table` of a sweep, computed once per sweep object (every chunk reads it)."""
    return per_sweep("silicon", sweep, silicon_table)


def _table_index(sweep: Sweep, axes: tuple[int, ...], row0: int, n: int) -> np.ndarray:
    """The flat index, in a table over ``axes`` (C order), of output rows row0 .. row0+n-1."""
    shape = sweep.shape
    rows = np.arange(row0, row0 + n, dtype=np.int64)
    index = np.zeros(n, dtype=np.int64)
    for a in axes:
        stride = int(np.prod(shape[a + 1:], dtype=np.int64))
        index = index * shape[a] + (rows // stride) % shape[a]
    return index


def silicon_rows(sweep: Sweep, row0: int, n: int) -> np.ndarray:
    """The silicon (``SO_*`` columns) of output rows row0 .. row0+n-1."""
    axes, table = silicon(sweep)
    flat = table.reshape(-1, L.N_SO)
    if not axes:
        return np.broadcast_to(flat[0], (n, L.N_SO))
    return flat[_table_index(sweep, axes, row0, n)]


def accuracy_rows(sweep: Sweep, row0: int, n: int) -> np.ndarray:
    """The pruned model's accuracy at output rows row0 .. row0+n-1 (``[accuracy]`` sweeps only)."""
    from ciminus.accuracy import accuracy_table

    axes, table, _ = accuracy_table(sweep)
    return table.reshape(-1)[_table_index(sweep, axes, row0, n)]


def accuracy_variables(sweep: Sweep) -> dict[str, tuple[tuple[str, ...], np.ndarray, dict]]:
    """``accuracy`` and ``accuracy_drop`` over the axes that change the pruned weights (none without
    ``[accuracy]``)."""
    if sweep.accuracy is None:
        return {}
    from ciminus.accuracy import accuracy_table

    axes, table, dense = accuracy_table(sweep)
    dims = tuple(sweep.axes[a].name for a in axes)
    metric, data = sweep.accuracy.metric, sweep.accuracy.data
    return {
        "accuracy": (dims, table, _attrs("1", f"{metric} of the pruned model on {data} (ONNX Runtime)",
                                         metric=metric, data=data, dense_accuracy=dense)),
        "accuracy_drop": (dims, dense - table, _attrs("1", f"dense {metric} minus the pruned model's",
                                                      dense_accuracy=dense)),
    }


def silicon_variables(sweep: Sweep) -> dict[str, tuple[tuple[str, ...], np.ndarray, dict]]:
    """Area and clock as data variables over the axes the hardware varies along (broadcast by xarray)."""
    axes, table = silicon(sweep)
    dims = tuple(sweep.axes[a].name for a in axes)
    out = {
        "area_mm2": (dims, table[..., : L.N_COMPONENTS].sum(axis=-1),
                     _attrs("mm^2", "chip area: every macro with its buffers, and the global buffer")),
        "area_breakdown": ((*dims, "component"), table[..., : L.N_COMPONENTS],
                           _attrs("mm^2", "chip area by component")),
        "macro_area_mm2": (dims, table[..., L.SO_MACRO_AREA],
                           _attrs("mm^2", "one compute macro: array, adder trees, shift-add, input registers, "
                                          "selection and zero detection (what macro papers report)")),
        "tclk_ns": (dims, table[..., L.SO_TCLK],
                    _attrs("ns", "clock period the macro pipeline allows (critical path, docs/model.md §9.2)")),
    }
    if has_clock(sweep):
        out["clock_mhz"] = (dims, table[..., L.SO_CLOCK_MHZ],
                            _attrs("MHz", 'clock latency_s is given at: arch.freq_mhz, or 1000 / tclk_ns where it '
                                          'is "auto" (0: no clock)'))
    return out


def variable_specs(sweep: Sweep, n_layers: int) -> list[VarSpec]:
    """The data variables of a sweep's dataset, in order."""
    specs = [
        VarSpec("energy", (), "f8", _attrs("pJ", "energy of the workload (one batch)")),
        VarSpec("latency", (), "f8", _attrs("cycles", "latency of the workload (one batch)")),
        VarSpec("compute_cycles", (), "f8",
                _attrs("cycles", "bit-serial compute cycles on the critical macro, without stalls")),
        VarSpec("energy_breakdown", ("component",), "f8", _attrs("pJ", "energy by component")),
        VarSpec("speedup", (), "f8",
                _attrs("1", "dense latency / latency, same hardware and mapping candidates, dense at its own best")),
        VarSpec("energy_saving", (), "f8",
                _attrs("1", "dense energy / energy, same hardware and mapping candidates, dense at its own best")),
        VarSpec("utilization", (), "f8", _attrs("1", "occupied cell-activations / available cell-activations")),
        VarSpec("dense_energy", (), "f8", _attrs("pJ", "energy of the dense weights at their own best mapping candidate")),
        VarSpec("dense_latency", (), "f8", _attrs("cycles", "latency of the dense weights at their own best mapping candidate")),
        VarSpec("feasible", (), "bool", _attrs("1", "the design point can run")),
        VarSpec("macro_grid_rows", (), "f8",
                _attrs("1", "rows of the chosen macro organisation (its columns: macros / rows; NaN when each "
                            "layer chooses its own)")),
        VarSpec("reason", (), "u1", _attrs("1", "why a point is infeasible (0: feasible)",
                                           flag_values=np.arange(len(L.REASON_NAMES), dtype=np.uint8),
                                           flag_meanings=" ".join(L.REASON_NAMES))),
    ]
    if has_clock(sweep):
        specs.append(VarSpec("latency_s", (), "f8", _attrs("s", "latency at clock_mhz")))
        specs.append(VarSpec("power_mw", (), "f8", _attrs("mW", "average power over the workload: energy / latency_s")))
    if sweep.output.actions:
        specs.append(VarSpec("action_count", ("action",), "f8",
                             _attrs("1", "how many times each action happens (units: the action coordinate's)")))
        specs.append(VarSpec("dram_compulsory", (), "f8",
                             _attrs("bit", "DRAM reads + writes if the inputs touched, the weights and the outputs "
                                           "that live in DRAM moved once each (compare dram_read + dram_write)")))
    if sweep.candidate_axes:
        specs.append(VarSpec("mapping", (), "i2",
                             _attrs("1", "index of the winning mapping candidate (-1: chosen per layer)")))
    if n_layers:
        specs.append(VarSpec("layer_energy", ("layer",), "f8", _attrs("pJ", "energy per layer")))
        specs.append(VarSpec("layer_latency", ("layer",), "f8", _attrs("cycles", "latency per layer")))
        if sweep.candidate_axes:
            specs.append(VarSpec("layer_mapping", ("layer",), "i2",
                                 _attrs("1", "mapping candidate chosen for each layer")))
    return specs


def coordinates(sweep: Sweep, layer_names: tuple[str, ...]) -> dict[str, tuple]:
    """Coordinates: one per swept key, ``component``, the candidates' keys, ``layer``."""
    coords: dict[str, tuple] = {a.name: (a.name, coord_values(a.values), {"long_name": f"{a.table}.{a.key}"})
                                for a in sweep.axes}
    for (table, key), values in sweep.sampled.items():  # the value each sampled key took at every sample
        coords[key] = ("sample", coord_values(values), {"long_name": f"{table}.{key} (sampled)"})
    coords["component"] = ("component", np.array(L.COMPONENT_NAMES, dtype=object),
                           {"long_name": "energy component"})
    if sweep.candidate_axes:
        combos = np.array(np.meshgrid(*(np.arange(len(a.values)) for a in sweep.candidate_axes), indexing="ij"))
        combos = combos.reshape(len(sweep.candidate_axes), -1)
        coords["candidate"] = ("candidate", np.arange(combos.shape[1]), {"long_name": "mapping candidate"})
        for a, idx in zip(sweep.candidate_axes, combos, strict=True):
            coords[f"candidate_{a.key}"] = ("candidate", coord_values(tuple(a.values[i] for i in idx)),
                                            {"long_name": f"mapping.{a.key} of each candidate"})
    if layer_names:
        coords["layer"] = ("layer", np.array(layer_names, dtype=object), {"long_name": "layer name"})
    if sweep.output.actions:
        coords["action"] = ("action", np.array(L.ACTION_NAMES, dtype=object), {"long_name": "action"})
        coords["action_unit"] = ("action", np.array(L.ACTION_UNITS, dtype=object),
                                 {"long_name": "what one action is"})
        coords["action_component"] = ("action", np.array([L.COMPONENT_NAMES[c] for c in L.ACTION_COMPONENT],
                                                         dtype=object),
                                      {"long_name": "energy component the action belongs to"})
    return coords


def action_energy(sweep: Sweep) -> tuple[tuple[str, ...], np.ndarray, dict[str, object]]:
    """``action_energy_pj``: (dims, values, attrs), over the swept axes the energy table varies along."""
    axes, table = energy_table(sweep)
    dims = (*(sweep.axes[a].name for a in axes), "action")
    return dims, table, _attrs("pJ", "energy per action (the energy table the point was priced with)")


def global_attrs(sweep: Sweep, backend: str) -> dict[str, str | int]:
    return {
        "title": f"CIMinus sweep {sweep.name}",
        "name": sweep.name,
        "sweep": sweep.text,
        "sweep_source": sweep.source,
        "ciminus_version": __version__,
        "ciminus_status": "complete",  # a file being written says "incomplete" until it is finished
        "backend": backend,
        "select": sweep.select,
        "objective": sweep.objective,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "Conventions": "CF-1.8",
        "axes": json.dumps([f"{a.table}.{a.key}" for a in sweep.axes]),
        # the mapping space each point searched: candidates, and the keys they combine (searched or listed)
        "mapping_candidates_per_point": sweep.n_candidates,
        "mapping_searched": json.dumps({a.key: len(a.values) for a in sweep.candidate_axes}),
    }


# Data variables copied from one result column each (NaN where infeasible), in one pass with the others.
_GATHERED = ("latency", "compute_cycles", "dense_energy", "dense_latency", "macro_grid_rows")
_GATHERED_COLS = np.array([L.P_LATENCY, L.P_COMPUTE, L.P_DENSE_ENERGY, L.P_DENSE_LATENCY, L.P_GRID_ROWS], np.int64)


def derive(sweep: Sweep, res: Results, row0: int) -> dict[str, np.ndarray]:
    """Every data variable for the rows of ``res`` (which start at output row ``row0``), flat."""
    pts = res.points
    n = pts.shape[0]
    reason = np.nan_to_num(pts[:, L.P_REASON], nan=0).astype(np.uint8)
    nan = np.nan
    clocked = has_clock(sweep)
    budget = sweep.constraints
    if clocked or budget.any:
        chip = silicon_rows(sweep, row0, n)
        energy = pts[:, : L.N_COMPONENTS].sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            freq = chip[:, L.SO_CLOCK_MHZ]
            seconds = np.where(freq > 0, pts[:, L.P_LATENCY] / (freq * 1e6), nan)
            power_mw = energy * 1e-9 / seconds  # pJ / s = 1e-12 W = 1e-9 mW
        ok = reason == L.REASON_OK  # budgets are checked last, in this order
        for bound, value, code in ((budget.area_mm2, chip[:, : L.N_COMPONENTS].sum(axis=-1), L.REASON_OVER_AREA),
                                   (budget.power_mw, power_mw, L.REASON_OVER_POWER),
                                   (budget.latency_s, seconds, L.REASON_OVER_LATENCY)):
            if bound is not None:
                over = ok & ~(value <= bound)
                reason[over] = code
                ok &= ~over
        if budget.accuracy is not None:  # a lower bound
            under = ok & ~(accuracy_rows(sweep, row0, n) >= budget.accuracy)
            reason[under] = L.REASON_UNDER_ACCURACY
    feasible = reason == L.REASON_OK
    ok = feasible.view(np.uint8)

    def where(a: np.ndarray) -> np.ndarray:
        return np.where(feasible, a, nan)

    breakdown = np.empty((n, L.N_COMPONENTS))
    gathered = np.empty((len(_GATHERED), n))
    derived = np.empty((N_DERIVED, n))
    on_every_core(point_columns, n, pts, ok, _GATHERED_COLS, breakdown, gathered, derived)
    out = {name: gathered[j] for j, name in enumerate(_GATHERED)}
    out.update({
        "energy": derived[D_ENERGY],
        "energy_breakdown": breakdown,
        "speedup": derived[D_SPEEDUP],
        "energy_saving": derived[D_SAVING],
        "utilization": derived[D_UTILIZATION],
        "feasible": feasible,
        "reason": reason,
    })
    if clocked:
        out["latency_s"] = where(seconds)
        out["power_mw"] = where(power_mw)
    if sweep.output.actions:
        actions = np.empty((n, L.N_ACTIONS))
        on_every_core(masked_block, n, pts, L.P_ACTIONS, L.P_ACTIONS + L.N_ACTIONS, ok, actions)
        out["action_count"] = actions
        out["dram_compulsory"] = where(pts[:, L.P_DRAM_COMPULSORY])
    if sweep.candidate_axes:
        out["mapping"] = np.nan_to_num(pts[:, L.P_CANDIDATE], nan=-1).astype(np.int16)
    if res.layers is not None:
        for name, f in (("layer_energy", L.LY_ENERGY), ("layer_latency", L.LY_LATENCY)):
            out[name] = np.empty(res.layers.shape[:2])
            on_every_core(masked_field, n, res.layers, f, ok, out[name])
        if sweep.candidate_axes:
            out["layer_mapping"] = np.nan_to_num(res.layers[..., L.LY_CANDIDATE], nan=-1).astype(np.int16)
    return out


def build_dataset(sweep: Sweep, res: Results, backend: str, layer_names: tuple[str, ...] = ()) -> xr.Dataset:
    """The dataset of the contract, in memory: one dimension per swept key, ``component`` for breakdowns."""
    import xarray as xr

    dims = tuple(a.name for a in sweep.axes)
    shape = sweep.shape
    values = derive(sweep, res, 0)
    sizes = {"component": L.N_COMPONENTS, "layer": len(layer_names), "action": L.N_ACTIONS}
    data = {}
    for spec in variable_specs(sweep, len(layer_names)):
        arr = values[spec.name].reshape((*shape, *(sizes[d] for d in spec.suffix)))
        data[spec.name] = ((*dims, *spec.suffix), arr, spec.attrs)
    if sweep.output.actions:
        data["action_energy_pj"] = action_energy(sweep)
    data.update(silicon_variables(sweep))
    data.update(accuracy_variables(sweep))
    ds = xr.Dataset(data, coords=coordinates(sweep, layer_names))
    ds.attrs.update(global_attrs(sweep, backend))
    return ds


def hyperslab(shape: tuple[int, ...], row0: int, n: int) -> tuple[slice, ...]:
    """The index of C-order rows row0 .. row0+n-1 of ``shape`` as one hyperslab: leading indices fixed,
    a range along one axis, the axes after it whole. Chunk plans only cut along such boundaries."""
    if not shape:
        return ()
    index: list[slice] = []
    rem = row0
    strides = [int(np.prod(shape[i + 1:], dtype=np.int64)) for i in range(len(shape))]
    for i, (size, stride) in enumerate(zip(shape, strides, strict=True)):
        if n >= stride and (rem % stride == 0) and n % stride == 0:
            start = rem // stride % size if i else rem // stride
            count = n // stride
            index.append(slice(start, start + count))
            index.extend(slice(0, s) for s in shape[i + 1:])
            return tuple(index)
        k = rem // stride % size if i else rem // stride
        index.append(slice(k, k + 1))
    return tuple(index)


def storage_chunks(shape: tuple[int, ...], target: int = 1 << 18) -> tuple[int, ...]:
    """HDF5 chunk shape for a variable written in C-order hyperslabs: whole inner dimensions while they
    hold fewer than ``target`` elements, part of the next one, single indices outside. A write then
    touches few, large chunks (netCDF's default splits an 8-D grid into tiny ones)."""
    chunks = [1] * len(shape)
    size = 1
    for i in range(len(shape) - 1, -1, -1):
        if size * shape[i] <= target:
            chunks[i] = shape[i]
            size *= shape[i]
        else:
            chunks[i] = max(1, target // size)
            break
    return tuple(chunks)


class NetcdfWriter:
    """A netCDF4 file of a sweep's dataset, created up front and filled hyperslab by hyperslab.

    The encoding follows xarray's conventions (NaN fill for floats, booleans as int8 with a ``dtype``
    attribute, variable-length strings), so ``xarray.open_dataset`` returns what :func:`build_dataset`
    builds in memory.
    """

    def __init__(self, path: str | Path, sweep: Sweep, backend: str, layer_names: tuple[str, ...] = (),
                 compression: str = "zstd") -> None:
        import netCDF4  # only needed to write files

        self.sweep = sweep
        self.shape = sweep.shape
        self.layer_names = layer_names
        self.nc = netCDF4.Dataset(str(path), "w", format="NETCDF4")
        nc = self.nc
        coords = coordinates(sweep, layer_names)
        dims: dict[str, int] = {a.name: len(a.values) for a in sweep.axes}
        dims["component"] = L.N_COMPONENTS
        if sweep.candidate_axes:
            dims["candidate"] = len(coords["candidate"][1])
        if layer_names:
            dims["layer"] = len(layer_names)
        if sweep.output.actions:
            dims["action"] = L.N_ACTIONS
        for d, size in dims.items():
            nc.createDimension(d, size)
        for name, (dim, values, attrs) in coords.items():
            self._create(name, (dim,), values, attrs)
        self.vars = {}
        grid = tuple(a.name for a in sweep.axes)
        for spec in variable_specs(sweep, len(layer_names)):
            vdims = (*grid, *spec.suffix)
            dtype = "i1" if spec.dtype == "bool" else spec.dtype
            fill = np.nan if spec.dtype == "f8" else False
            packed = compression != "none"
            shape = tuple(dims[d] for d in vdims)
            v = nc.createVariable(spec.name, dtype, vdims, compression=compression if packed else None, complevel=1,
                                  shuffle=packed, fill_value=fill, chunksizes=storage_chunks(shape) if shape else None)
            attrs = dict(spec.attrs)
            if spec.dtype == "bool":
                attrs["dtype"] = "bool"
            for k, val in attrs.items():
                v.setncattr(k, val)
            self.vars[spec.name] = v
        if sweep.output.actions:  # the energy table depends on no result: written whole, up front
            adims, table, aattrs = action_energy(sweep)
            v = nc.createVariable("action_energy_pj", "f8", adims, fill_value=np.nan)
            v[...] = table
            for k, val in aattrs.items():
                v.setncattr(k, val)
        per_axes = {**silicon_variables(sweep), **accuracy_variables(sweep)}
        for name, (sdims, values, sattrs) in per_axes.items():  # over their own axes: written up front
            v = nc.createVariable(name, "f8", sdims, fill_value=np.nan)
            v[...] = values
            for k, val in sattrs.items():
                v.setncattr(k, val)
        attrs = {**global_attrs(sweep, backend), "ciminus_status": "incomplete"}  # finish() marks it complete
        extra = [name for name, (dim, _, _) in coords.items() if name != dim]
        if extra:  # non-index coordinates no data variable names: xarray reads them from this attribute
            attrs["coordinates"] = " ".join(extra)
        nc.setncatts(attrs)

    def _create(self, name: str, dims: tuple[str, ...], values: np.ndarray, attrs: dict) -> None:
        if values.dtype == object:
            v = self.nc.createVariable(name, str, dims)
            v[:] = np.array(values, dtype=object)
        elif values.dtype == bool:
            v = self.nc.createVariable(name, "i1", dims, fill_value=False)
            v[:] = values.astype(np.int8)
            v.setncattr("dtype", "bool")
        else:
            v = self.nc.createVariable(name, values.dtype, dims, fill_value=False)
            v[:] = values
        for k, val in attrs.items():
            v.setncattr(k, val)

    def write(self, row0: int, res: Results) -> int:
        """Write the rows of ``res`` (starting at output row ``row0``); return how many are feasible."""
        n = res.points.shape[0]
        slab = hyperslab(self.shape, row0, n)
        box = tuple(s.stop - s.start for s in slab)
        values = derive(self.sweep, res, row0)
        for name, v in self.vars.items():
            arr = values[name]
            extra = arr.shape[1:]
            arr = arr.reshape((*box, *extra))
            if arr.dtype == bool:
                arr = arr.astype(np.int8)
            v[(*slab, *(slice(None),) * len(extra))] = arr
        return int(values["feasible"].sum())

    def add(self, extra: xr.Dataset) -> None:
        """Write a small dataset (sensitivity indices) into the file: its dimensions, coordinates, variables."""
        for d, size in extra.sizes.items():
            if d not in self.nc.dimensions:
                self.nc.createDimension(d, size)
        listed = self.nc.getncattr("coordinates").split() if "coordinates" in self.nc.ncattrs() else []
        for name, c in extra.coords.items():
            if name not in self.nc.variables:
                self._create(name, c.dims, np.asarray(c.values, dtype=object if c.dtype.kind in "UO" else c.dtype),
                             dict(c.attrs))
                if name not in c.dims:
                    listed.append(name)
        if listed:
            self.nc.setncattr("coordinates", " ".join(listed))
        for name, v in extra.data_vars.items():
            var = self.nc.createVariable(name, v.dtype, v.dims, fill_value=np.nan if v.dtype.kind == "f" else False)
            var[...] = v.values
            for k, val in v.attrs.items():
                var.setncattr(k, val)

    def set_attrs(self, **attrs: object) -> None:
        self.nc.setncatts(attrs)

    def finish(self) -> None:
        """Mark the file complete and close it: only then is it a result (``ciminus info`` refuses others)."""
        self.nc.setncattr("ciminus_status", "complete")
        self.nc.close()

    def close(self) -> None:
        self.nc.close()


