"""The standard figures of a sweep: energy breakdown, Pareto front, heatmap, sensitivity indices.

Figures are built as ``matplotlib.figure.Figure`` objects on an Agg canvas, never through ``pyplot``, so
they need no display, leave the caller's backend and global figure list alone, and are safe in batch
jobs. Every function returns the Figure (a notebook shows it) and saves it when given ``path``; the
format follows the extension (``.png``, ``.svg``, ``.pdf``). Axis labels carry the dataset's units.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from ciminus.analysis.pareto import objective, over_dims, pareto_mask

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn, so importing this module needs none
    from matplotlib.figure import Figure

__all__ = ["plot_breakdown", "plot_heatmap", "plot_pareto", "plot_sensitivity", "save_figure"]

FORMATS = (".png", ".svg", ".pdf")
DPI = 100

# Variables where larger is better: a front of them maximises them unless told otherwise.
HIGHER_IS_BETTER = ("speedup", "energy_saving", "utilization", "accuracy")

_PREFIXES = {"p": 1e-12, "n": 1e-9, "µ": 1e-6, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9,
             "T": 1e12}
_BASES = ("cycles", "bit", "Hz", "J", "W", "s", "B")


def _parse_unit(unit: str) -> tuple[float, str] | None:
    for base in _BASES:  # longest first where one ends another ("cycles" before "s")
        if unit.endswith(base) and unit[: -len(base)] in _PREFIXES:
            return _PREFIXES[unit[: -len(base)]], base
    return None


def unit_factor(src: str, dst: str) -> float:
    """The factor turning values in ``src`` units into ``dst`` units (SI prefixes of one base unit)."""
    if src == dst:
        return 1.0
    a, b = _parse_unit(src), _parse_unit(dst)
    if a is None or b is None or a[1] != b[1]:
        raise ValueError(f"cannot convert {src!r} to {dst!r}")
    return a[0] / b[0]


def _label(name: str, units: str | None) -> str:
    return f"{name} ({units})" if units else name


def _coord_units(ds: xr.Dataset | xr.DataArray, dim: Hashable) -> str | None:
    """Units of a swept dimension: its own ``units``, else the sweep key's (``long_name`` is
    ``table.key``), so a ``input_buffer_kb`` axis reads "input_buffer_kb (KiB)"."""
    if dim not in ds.coords:
        return None
    coord = ds.coords[dim]
    if coord.attrs.get("units"):
        return str(coord.attrs["units"])
    table, _, key = str(coord.attrs.get("long_name", "")).partition(".")
    try:
        from ciminus.specs.fields import spec_fields
        from ciminus.specs.sweep import SPEC_CLASSES

        field = spec_fields(SPEC_CLASSES[table]).get(key)
    except (ImportError, KeyError, TypeError):
        return None
    return getattr(field, "unit", None) or None


def _dim_label(ds: xr.Dataset | xr.DataArray, dim: Hashable) -> str:
    return _label(str(dim), _coord_units(ds, dim))


def _fmt(v: object) -> str:
    if isinstance(v, float | np.floating):
        return f"{float(v):g}"
    return str(v)


def _figure(figsize: tuple[float, float] | None, default: tuple[float, float]) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize or default, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path | None) -> None:
    """Save ``fig`` at its own size and dpi (so a PNG is exactly figsize x dpi pixels), format by extension."""
    if path is None:
        return
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"cannot save {path.name}: use one of {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format=path.suffix.lower()[1:], dpi=fig.dpi)


def _log_worthy(values: np.ndarray) -> bool:
    """Whether values span more than two decades (and are all positive), where a linear axis hides most."""
    v = values[np.isfinite(values)]
    return v.size > 1 and bool((v > 0).all()) and v.max() / v.min() > 100


def _selection(ds: xr.Dataset, sel: Mapping[Hashable, object] | None) -> xr.Dataset:
    return ds.sel(dict(sel)) if sel else ds


def _sel_note(sel: Mapping[Hashable, object] | None) -> str:
    return ", ".join(f"{k}={_fmt(v)}" for k, v in sel.items()) if sel else ""


# ----- energy breakdown ------------------------------------------------------------------------------
def plot_breakdown(ds: xr.Dataset, sel: Mapping[Hashable, object] | None = None, by: str | None = None, *,
                   unit: str = "µJ", path: str | Path | None = None,
                   figsize: tuple[float, float] | None = None) -> Figure:
    """Stacked bars of ``energy_breakdown``, one bar per design, one colour per component.

    The designs are the values along ``by`` (every other swept dimension must then be fixed by ``sel``),
    or, without ``by``, every point left after ``sel``. Components that are zero in every bar shown are
    left out of the legend; an infeasible design gets an empty slot marked "infeasible". ``unit`` is any
    SI prefix of the data's unit (pJ, nJ, µJ or uJ, mJ, J).
    """
    da = _selection(ds, sel)["energy_breakdown"]
    src_units = str(da.attrs.get("units", "pJ"))
    factor = unit_factor(src_units, unit)
    rest = [d for d in da.dims if d != "component"]
    if by is not None:
        if by not in rest:
            raise ValueError(f"by={by!r} is not a dimension left after sel: {rest}")
        others = [d for d in rest if d != by and da.sizes[d] > 1]
        if others:
            raise ValueError(f"fix {others} with sel to draw one bar per {by}")
        da = da.squeeze([d for d in rest if d != by], drop=False).transpose(by, "component")
        labels = [_fmt(v) for v in da[by].values]
        xlabel = _dim_label(ds, by)
        values = da.values
    elif rest:
        stacked = da.stack(design=rest).transpose("design", "component")
        labels = [", ".join(_fmt(v) for v in (idx if isinstance(idx, tuple) else (idx,)))
                  for idx in stacked["design"].values]
        xlabel = ", ".join(map(str, rest))
        values = stacked.values
    else:
        labels = [_sel_note(sel) or "design"]
        xlabel = "design"
        values = da.values[None, :]
    values = values * factor
    components = [str(c) for c in da["component"].values]
    used = [j for j in range(values.shape[1]) if np.nansum(np.abs(values[:, j])) > 0]

    fig = _figure(figsize, (max(4.0, 1.0 + 0.45 * len(labels)), 4.0))
    ax = fig.add_subplot()
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    x = np.arange(len(labels))
    bottom = np.zeros(len(labels))
    for j in used:
        h = np.nan_to_num(values[:, j])
        # a component's colour is its own, whichever others are zero: the same in every figure
        ax.bar(x, h, bottom=bottom, color=cmap(j % 20), label=components[j], width=0.7)
        bottom += h
    infeasible = np.isnan(values).all(axis=1)
    for i in np.flatnonzero(infeasible):
        ax.text(x[i], 0, "infeasible", rotation=90, ha="center", va="bottom", fontsize=8, color="0.4")
    ax.set_xticks(x, labels, rotation=45 if len(labels) > 6 or max(map(len, labels), default=0) > 8 else 0,
                  ha="right" if len(labels) > 6 else "center")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(_label("energy", unit))
    note = _sel_note(sel)
    ax.set_title("energy breakdown" + (f" ({note})" if note else ""), wrap=True, fontsize=10)
    if used:
        ax.legend(title="component", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save_figure(fig, path)
    return fig


# ----- Pareto front ----------------------------------------------------------------------------------
def _groups(mask: xr.DataArray, keep: Sequence[Hashable]) -> list[tuple[str, dict]]:
    """Label and index of every combination of the kept-apart dimensions."""
    if not keep:
        return [("Pareto front", {})]
    out = []
    for idx in np.ndindex(*(mask.sizes[d] for d in keep)):
        isel = dict(zip(keep, idx, strict=True))
        label = ", ".join(f"{d}={_fmt(mask[d].values[i])}" if d in mask.coords else f"{d}={i}"
                          for d, i in isel.items())
        out.append((label, isel))
    return out


def plot_pareto(ds: xr.Dataset, x: str = "latency", y: str = "energy", over: str | Sequence[Hashable] | None = None,
                color: str | None = None, *, maximize: Sequence[str] | None = None,
                path: str | Path | None = None, figsize: tuple[float, float] | None = None,
                note: str = "") -> Figure:
    """Scatter of the feasible points of ``y`` against ``x`` with the Pareto front drawn over them.

    ``over`` is as in :func:`pareto_mask`: the dimensions a front spans; every combination of the others
    gets its own front, drawn in the colour of its points. ``color`` names a dimension or variable to
    colour the points by instead (a legend for a few categories, a colourbar with units otherwise).
    ``maximize`` defaults to whichever of x and y are higher-is-better (speedup, energy_saving,
    utilization). Axes turn logarithmic when the data span more than two decades.
    """
    from matplotlib.lines import Line2D

    if maximize is None:
        maximize = tuple(n for n in (x, y) if n in HIGHER_IS_BETTER)
    xa, ya = xr.broadcast(objective(ds, x), objective(ds, y))
    ya = ya.transpose(*xa.dims)
    mask = pareto_mask(ds, (x, y), over=over, maximize=maximize).transpose(*xa.dims)
    valid = np.isfinite(xa) & np.isfinite(ya)
    if "feasible" in ds and set(ds["feasible"].dims) <= set(xa.dims):
        valid = valid & ds["feasible"]
    valid = valid.broadcast_like(xa).transpose(*xa.dims)
    spans = over_dims(over, xa.dims)
    keep = [d for d in xa.dims if d not in spans]
    groups = _groups(mask, keep)
    if color is not None and keep == [color]:
        color = None  # the groups are the categories: colour by group, fronts matching their points

    fig = _figure(figsize, (6.0, 4.5))
    ax = fig.add_subplot()
    xs, ys = xa.values[valid.values], ya.values[valid.values]
    big = xs.size > 5000
    style = {"s": 12, "alpha": 0.6, "rasterized": big, "linewidths": 0}
    if color is None and len(groups) == 1:
        ax.scatter(xs, ys, color="0.6", label="feasible points", **style)
    elif color is None:
        for n, (label, isel) in enumerate(groups):
            v = valid.isel(isel).values
            ax.scatter(xa.isel(isel).values[v], ya.isel(isel).values[v], color=f"C{n % 10}", label=label, **style)
    else:
        ca = objective(ds, color)
        c = ca.broadcast_like(xa).transpose(*xa.dims).values[valid.values]
        if c.dtype.kind in "OUSb" or (color in ds.dims and np.unique(c).size <= 10):
            for i, cat in enumerate(dict.fromkeys(c.tolist())):
                pick = c == cat
                ax.scatter(xs[pick], ys[pick], color=f"C{i % 10}", label=f"{color}={_fmt(cat)}", **style)
        else:
            sc = ax.scatter(xs, ys, c=c.astype(float), cmap="viridis", **style)
            fig.colorbar(sc, ax=ax, label=_label(color, ca.attrs.get("units") or _coord_units(ds, color)))
    for n, (label, isel) in enumerate(groups):
        m = mask.isel(isel).values
        gx, gy = xa.isel(isel).values[m], ya.isel(isel).values[m]
        order = np.lexsort((gy, gx))
        line_color = "C3" if len(groups) == 1 else f"C{n % 10}"
        line_label = "Pareto front" if len(groups) == 1 else (f"front: {label}" if color is not None else None)
        ax.plot(gx[order], gy[order], "-o", color=line_color, ms=5, lw=1.5, mec="k", mew=0.5, label=line_label,
                zorder=3)
    if _log_worthy(xs):
        ax.set_xscale("log")
    if _log_worthy(ys):
        ax.set_yscale("log")
    ax.set_xlabel(_label(x, xa.attrs.get("units") or _coord_units(ds, x)))
    ax.set_ylabel(_label(y, ya.attrs.get("units") or _coord_units(ds, y)))
    ax.set_title(f"{y} vs {x}" + (f", a front per {', '.join(map(str, keep))}" if keep else "")
                 + (f" ({note})" if note else ""), wrap=True, fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    if len(groups) > 1 and color is None:
        handles.append(Line2D([], [], color="k", marker="o", ms=5, lw=1.5, mfc="w"))
        labels.append("Pareto front")
    if len(handles) <= 16:  # beyond that a legend hides the data
        ax.legend(handles, labels, fontsize=8)
    ax.grid(True, which="major", alpha=0.3)
    save_figure(fig, path)
    return fig


# ----- heatmap ---------------------------------------------------------------------------------------
def plot_heatmap(ds: xr.Dataset, var: str, x: str, y: str, sel: Mapping[Hashable, object] | None = None, *,
                 path: str | Path | None = None, figsize: tuple[float, float] | None = None) -> Figure:
    """``var`` over two swept dimensions as coloured cells, coordinate values as tick labels.

    Other dimensions are fixed by ``sel`` or, when left, reduced by their minimum (the best case, noted
    in the title). Cells without a feasible point are grey; values are written in the cells when the grid
    is small; the colour scale turns logarithmic when the values span more than two decades.
    """
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm

    da = objective(_selection(ds, sel), var)
    for d in (x, y):
        if d not in da.dims:
            raise ValueError(f"{d!r} is not a dimension of {var} after sel: {list(da.dims)}")
    if x == y:
        raise ValueError("x and y must be different dimensions")
    reduced = [d for d in da.dims if d not in (x, y)]
    attrs = dict(da.attrs)
    if reduced:
        da = da.min(reduced, skipna=True)
    da = da.transpose(y, x)
    values = np.asarray(da.values, dtype=np.float64)

    fig = _figure(figsize, (max(4.5, 1.6 + 0.7 * da.sizes[x]), max(3.5, 1.2 + 0.45 * da.sizes[y])))
    ax = fig.add_subplot()
    cmap = colormaps["viridis"].with_extremes(bad="0.85")
    finite = values[np.isfinite(values)]
    norm = LogNorm(finite.min(), finite.max()) if _log_worthy(values) else None
    im = ax.imshow(np.ma.masked_invalid(values), origin="lower", aspect="auto", cmap=cmap, norm=norm,
                   interpolation="nearest")
    ax.set_xticks(np.arange(da.sizes[x]), [_fmt(v) for v in da[x].values])
    ax.set_yticks(np.arange(da.sizes[y]), [_fmt(v) for v in da[y].values])
    ax.set_xlabel(_dim_label(ds, x))
    ax.set_ylabel(_dim_label(ds, y))
    fig.colorbar(im, ax=ax, label=_label(var, attrs.get("units")))
    if values.size <= 144 and finite.size:
        mid = (np.log(finite.min()) + np.log(finite.max())) / 2 if norm else (finite.min() + finite.max()) / 2
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                bright = (np.log(v) if norm else v) > mid
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=7, color="k" if bright else "w")
    notes = [n for n in (_sel_note(sel), f"min over {', '.join(map(str, reduced))}" if reduced else "",
                         "grey: infeasible" if np.isnan(values).any() else "") if n]
    ax.set_title(var + (f" ({'; '.join(notes)})" if notes else ""), fontsize=10)
    save_figure(fig, path)
    return fig


# ----- sensitivity -----------------------------------------------------------------------------------
_BARS = {  # method -> ((variable, its error variable or None) per bar, y-axis quantity)
    "sobol": ((("S1", "S1_conf"), ("ST", "ST_conf")), "Sobol index"),
    "morris": ((("mu_star", "mu_star_conf"), ("sigma", None)), "elementary effect"),
    "lhs": ((("SRC", "SRC_conf"), ("spearman", "spearman_conf")), "coefficient"),
}


def plot_sensitivity(result: xr.Dataset, *, path: str | Path | None = None,
                     figsize: tuple[float, float] | None = None) -> Figure:
    """Grouped bars per parameter of a result of :func:`~ciminus.analysis.sensitivity.analyse`: S1 and ST
    (Sobol), mu* and sigma (Morris) or SRC and Spearman coefficients (LHS), with confidence whiskers;
    one panel per output."""
    method = result.attrs.get("method")
    if method not in _BARS:
        method = next((m for m, (bars, _) in _BARS.items() if bars[0][0] in result), None)
    if method is None:
        raise ValueError("not a sensitivity result: no S1, mu_star or SRC variable")
    bars, ylabel = _BARS[method]
    outputs = [str(v) for v in result["output"].values] if "output" in result.dims else [None]
    params = [str(p) for p in result["parameter"].values]
    fig = _figure(figsize, (max(4.0, 1.5 + 0.6 * len(params)) * min(len(outputs), 3),
                            3.6 * int(np.ceil(len(outputs) / 3))))
    ncols = min(len(outputs), 3)
    nrows = int(np.ceil(len(outputs) / ncols))
    x = np.arange(len(params))
    width = 0.8 / len(bars)
    for k, out in enumerate(outputs):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        r = result.sel(output=out) if out is not None else result
        for b, (name, err) in enumerate(bars):
            h = r[name].values
            e = r[err].values if err is not None and err in r else None
            ax.bar(x + (b - (len(bars) - 1) / 2) * width, h, width, yerr=e, capsize=3, label=name,
                   color=f"C{b}", error_kw={"lw": 0.8})
        if method == "lhs":
            ax.axhline(0, color="k", lw=0.6)
        crowded = len(params) > 5 or sum(len(p) for p in params) > 32  # labels would overlap side by side
        ax.set_xticks(x, params, rotation=30 if crowded else 0, ha="right" if crowded else "center",
                      rotation_mode="anchor")
        ax.set_xlabel("parameter")
        units = r[bars[0][0]].attrs.get("units", "1")
        if method == "morris" and "output_units" in r.coords and str(r["output_units"].values):
            units = str(r["output_units"].values)  # effects carry each output's own units
        ax.set_ylabel(_label(ylabel, units))
        title = f"{method}" + (f": {out}" if out is not None else "")
        if method == "lhs" and "R2" in r:
            title += f" (R² = {float(r['R2']):.2f})"
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
    save_figure(fig, path)
    return fig
