"""Pareto fronts of a result dataset.

A design point is on the front when no other point is at least as good on every objective and strictly
better on one. Fronts can span some dimensions and keep others apart (``over``): a front over ``macros``
and ``ratio`` for each ``pattern`` answers "which hardware is worth building for this sparsity pattern".

Two objectives, the common case, use a sort-based sweep that is O(n log n) and vectorised across all
kept-apart groups at once; three or more use a block-wise comparison against the front found so far.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence

import numpy as np
import xarray as xr

__all__ = ["nondominated", "objective", "over_dims", "pareto_front", "pareto_mask"]

# Derived objectives: name -> (factors, long name). The product's units are the factors' units joined.
DERIVED = {"edp": (("energy", "latency"), "energy-delay product (energy * latency)"),
           "edap": (("energy", "latency", "area_mm2"), "energy-delay-area product (energy * latency * area_mm2)")}
ALIASES = {"area": "area_mm2"}  # short names of variables

# Block size of the 3+-objective comparison: a block of points is compared with the front in one go.
_BLOCK = 512
_PAIR_BUDGET = 1 << 22  # booleans per comparison array (front chunk * block)


def _names(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def objective(ds: xr.Dataset, name: str) -> xr.DataArray:
    """One objective of ``ds`` as a DataArray with ``units``: a variable, or a derived one such as
    ``"edp"`` (kept separate so plots and fronts agree on what a name means)."""
    if name in ds.data_vars or name in ds.coords:
        return ds[name]
    if name in ALIASES and ALIASES[name] in ds.data_vars:
        return ds[ALIASES[name]]
    if name in DERIVED:
        factors, long_name = DERIVED[name]
        missing = [f for f in factors if f not in ds]
        if missing:
            raise KeyError(f"objective {name!r} needs the variables {', '.join(missing)}, absent from the dataset")
        out = ds[factors[0]]
        for f in factors[1:]:
            out = out * ds[f]
        units = " ".join(str(ds[f].attrs.get("units", "1")) for f in factors)
        return out.rename(name).assign_attrs(units=units, long_name=long_name)
    raise KeyError(f"objective {name!r} is neither a variable of the dataset ({', '.join(map(str, ds.data_vars))}) "
                   f"nor a derived objective ({', '.join(DERIVED)})")


def over_dims(over: str | Sequence[Hashable] | None, dims: Sequence[Hashable]) -> tuple[Hashable, ...]:
    """The dimensions a front spans: ``over`` as a tuple, or every dimension of the objectives."""
    if over is None:
        return tuple(dims)
    return (over,) if isinstance(over, str) else tuple(over)


def _as_objectives(data: xr.Dataset | xr.DataArray | Mapping[str, object] | np.ndarray,
                   objectives: Sequence[str]) -> tuple[list[str], list[xr.DataArray], xr.DataArray | None]:
    """The objectives of any accepted input, as named DataArrays, and a feasibility mask when known."""
    if isinstance(data, xr.Dataset):
        feasible = data["feasible"] if "feasible" in data.data_vars else None
        return list(objectives), [objective(data, n) for n in objectives], feasible
    if isinstance(data, Mapping):
        return [str(k) for k in data], [xr.DataArray(v) if not isinstance(v, xr.DataArray) else v
                                        for v in data.values()], None
    arr = data if isinstance(data, xr.DataArray) else xr.DataArray(np.asarray(data), dims=("point", "objective"))
    if "objective" not in arr.dims:
        raise ValueError("an array of objectives needs a dimension named 'objective' (or pass a Dataset)")
    if "objective" in arr.coords:
        names = [str(v) for v in arr["objective"].values]
    else:
        names = [str(i) for i in range(arr.sizes["objective"])]
    return names, [arr.isel(objective=i, drop=True) for i in range(arr.sizes["objective"])], None


def pareto_mask(data: xr.Dataset | xr.DataArray | Mapping[str, object] | np.ndarray,
                objectives: str | Sequence[str] = ("energy", "latency"),
                over: str | Sequence[Hashable] | None = None,
                maximize: str | Sequence[str] = ()) -> xr.DataArray:
    """True where a point is on its Pareto front: feasible, not NaN on any objective (an infinity counts
    as a value), and dominated by no other point of the same front.

    ``data`` is a result Dataset (``objectives`` name its variables or ``"edp"``), a mapping of name to
    DataArray, or an array with an ``objective`` dimension (a plain ``(points, objectives)`` array too;
    its objectives are then named ``"0"``, ``"1"``, ... for ``maximize``). ``over`` lists the dimensions a
    front spans (default: every dimension of the objectives); the other dimensions are kept apart, one
    independent front per combination. Objectives are minimised unless named in ``maximize``. Points equal
    on every objective do not dominate each other, so duplicates on the front are all kept.
    """
    names, arrays, feasible = _as_objectives(data, _names(objectives))
    maximize = _names(maximize)
    if not names:
        raise ValueError("at least one objective is needed")
    unknown = [m for m in maximize if m not in names]
    if unknown:
        raise ValueError(f"maximize names {unknown}, which are not among the objectives {names}")
    arrays = list(xr.broadcast(*arrays))
    dims = arrays[0].dims
    if feasible is not None and set(feasible.dims) <= set(dims):
        arrays = [a.where(feasible) for a in arrays]
        arrays = [a.transpose(*dims) for a in arrays]
    spans = over_dims(over, dims)
    missing = [d for d in spans if d not in dims]
    if missing:
        raise ValueError(f"over names {missing}, which are not dimensions of the objectives {list(dims)}")
    keep = tuple(d for d in dims if d not in spans)
    order = (*keep, *spans)
    n_groups = int(np.prod([arrays[0].sizes[d] for d in keep], dtype=np.int64))
    n_points = int(np.prod([arrays[0].sizes[d] for d in spans], dtype=np.int64))
    values = np.empty((n_groups, n_points, len(names)), dtype=np.float64)
    for j, (name, arr) in enumerate(zip(names, arrays, strict=True)):
        v = np.asarray(arr.transpose(*order).values, dtype=np.float64).reshape(n_groups, n_points)
        values[:, :, j] = -v if name in maximize else v
    mask = nondominated(values)
    shape = tuple(arrays[0].sizes[d] for d in order)
    out = xr.DataArray(mask.reshape(shape), dims=order,
                       coords={k: c for k, c in arrays[0].coords.items() if set(c.dims) <= set(order)})
    out = out.transpose(*dims)
    out.name = "pareto"
    out.attrs = {"long_name": "on the Pareto front of " + ", ".join(names), "units": "1",
                 "objectives": " ".join(names), "maximize": " ".join(maximize), "over": " ".join(map(str, spans))}
    return out


def nondominated(values: np.ndarray) -> np.ndarray:
    """Front membership of ``values`` shaped ``(groups, points, objectives)`` (all minimised), per group.

    Rows with a NaN are never on a front and never dominate."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 2:
        return nondominated(values[None])[0]
    g, n, k = values.shape
    valid = ~np.isnan(values).any(axis=-1)
    if n == 0 or k == 0:
        return valid
    if k == 1:
        v = np.where(valid, values[..., 0], np.inf)
        best = v.min(axis=1, keepdims=True)
        return valid & (v == best)
    if k == 2:
        return _front2(values, valid)
    out = np.zeros((g, n), dtype=bool)
    for i in range(g):
        idx = np.flatnonzero(valid[i])
        out[i, idx] = _front_k(values[i, idx])
    return out


def _front2(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Two objectives, every group at once: sort by (group, f1, f2); a point is on its front when it has
    the least f2 among points with its f1 and less f2 than every point with a smaller f1 in its group."""
    g, n, _ = values.shape
    flat = np.flatnonzero(valid.ravel())
    out = np.zeros(g * n, dtype=bool)
    if flat.size == 0:
        return out.reshape(g, n)
    group = flat // n
    f1 = values[..., 0].ravel()[flat]
    f2 = values[..., 1].ravel()[flat]
    order = np.lexsort((f2, f1, group)) if g > 1 else np.lexsort((f2, f1))
    group, f1, f2 = group[order], f1[order], f2[order]
    if g > 1:
        # f2 as a dense rank, shifted so each group's keys lie below every earlier group's: one running
        # minimum then restarts at every group boundary.
        _, rank = np.unique(f2, return_inverse=True)
        m = int(rank.max()) + 1
        key = rank.astype(np.int64) - group.astype(np.int64) * m
    else:
        key = f2
    running = np.minimum.accumulate(key)
    new = np.ones(key.size, dtype=bool)
    new[1:] = (group[1:] != group[:-1]) | (f1[1:] != f1[:-1])  # start of a run of equal (group, f1)
    start = np.flatnonzero(new)
    run = np.cumsum(new) - 1
    # The running minimum before a run covers the smaller f1 of its group, and (through the shifted keys)
    # earlier groups only with values above every key of this group: only the very first run has no past.
    prev = running[np.maximum(start - 1, 0)]
    first = start == 0
    on = (key == key[start][run]) & (first[run] | (key < prev[run]))
    out[flat[order]] = on
    return out.reshape(g, n)


def _dominated_by(front: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Which ``points`` some row of ``front`` dominates, comparing chunk by chunk to bound memory."""
    hit = np.zeros(points.shape[0], dtype=bool)
    if front.shape[0] == 0 or points.shape[0] == 0:
        return hit
    step = max(1, _PAIR_BUDGET // points.shape[0])
    for s in range(0, front.shape[0], step):
        f = front[s:s + step]
        le = np.ones((f.shape[0], points.shape[0]), dtype=bool)
        lt = np.zeros_like(le)
        for j in range(points.shape[1]):  # one objective at a time: reductions over a tiny axis are slow
            a, b = f[:, j, None], points[None, :, j]
            le &= a <= b
            lt |= a < b
        hit |= (le & lt).any(axis=0)
    return hit


def _front_k(values: np.ndarray) -> np.ndarray:
    """Any number of objectives, one group, no NaN. A dominator always sorts lexicographically before
    the point it dominates, and dominance is transitive, so comparing each point with the front of the
    points before it (and its own block) is enough."""
    n = values.shape[0]
    out = np.zeros(n, dtype=bool)
    if n == 0:
        return out
    order = np.lexsort(values.T[::-1])
    v = values[order]
    front = np.empty((0, values.shape[1]))
    for s in range(0, n, _BLOCK):
        block = v[s:s + _BLOCK]
        on = ~_dominated_by(front, block)
        on[on] = ~_dominated_by(block[on], block[on])  # a dominated dominator is itself beaten by the front
        out[order[s:s + _BLOCK]] = on
        front = np.concatenate([front, block[on]])
    return out


def pareto_front(ds: xr.Dataset, objectives: str | Sequence[str] = ("energy", "latency"),
                 over: str | Sequence[Hashable] | None = None, maximize: str | Sequence[str] = ()) -> xr.Dataset:
    """The points of ``ds`` on their Pareto fronts, along a new dimension ``point``.

    ``point`` stacks the kept-apart dimensions and then ``over`` (a MultiIndex, so ``front.sel(pattern=
    "nm")`` picks one front and every point keeps its coordinates); points are grouped by the kept-apart
    dimensions and sorted by the first objective within each front (ties by the next objectives).
    Variables without those dimensions (``component``, ``candidate_*``, ...) are unchanged. Derived
    objectives such as ``"edp"`` are added as variables. ``reset_index("point")`` makes it writable as netCDF.
    """
    objectives = _names(objectives)
    maximize = _names(maximize)
    mask = pareto_mask(ds, objectives, over, maximize)
    spans = over_dims(over, mask.dims)
    keep = tuple(d for d in mask.dims if d not in spans)
    ds = ds.copy()
    for name in objectives:
        if name not in ds:
            ds[name] = objective(ds, name)
    stack_dims = (*keep, *spans)
    if not stack_dims:
        raise ValueError("the objectives have no dimensions to take a front over")
    stacked = ds.stack(point=stack_dims)
    on = mask.stack(point=stack_dims).values
    idx = np.flatnonzero(on)
    # sort by front (the kept-apart dims lead the stack, so a front is a run of n_over points), then by
    # the objectives, best first
    group = idx // int(np.prod([mask.sizes[d] for d in spans], dtype=np.int64))
    keys = []
    for name in reversed(objectives):
        v = np.asarray(objective(ds, name).broadcast_like(mask).transpose(*mask.dims)
                       .stack(point=stack_dims).values, dtype=np.float64)[idx]
        keys.append(-v if name in maximize else v)
    order = np.lexsort((*keys, group))
    front = stacked.isel(point=idx[order])
    front.attrs = {**ds.attrs, "pareto_objectives": " ".join(objectives), "pareto_maximize": " ".join(maximize),
                   "pareto_over": " ".join(map(str, spans)), "pareto_kept_apart": " ".join(map(str, keep))}
    return front
