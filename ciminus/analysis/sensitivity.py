"""Global sensitivity analysis with SALib, split as SALib splits it: :func:`sample` -> evaluate -> :func:`analyse`.

Evaluation is left to the caller (build one sweep point per sample row, or any model), so the same samples
can be priced by any backend and the analysis rerun without re-evaluating. Results come back as an
``xarray.Dataset`` over a ``parameter`` dimension (and ``output`` when several outputs are analysed),
with units and provenance, like every other CIMinus result.

Problems are SALib dictionaries (``num_vars``, ``names``, ``bounds``) with two optional keys of ours:
``integer`` (names of integer parameters, e.g. ``macros``) and ``outputs`` (names of the outputs, also
understood by SALib). Every random step takes an explicit seed so an analysis can be repeated exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

__all__ = ["METHODS", "analyse", "sample"]

METHODS = ("sobol", "morris", "lhs")

# How each method's number of model runs relates to its base sample size N, for D parameters.
_RUNS = {"sobol": lambda d, second: d + 2 if not second else 2 * d + 2, "morris": lambda d, _: d + 1,
         "lhs": lambda d, _: 1}


def _method(method: str) -> str:
    m = method.lower()
    if m not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    return m


def _check_problem(problem: Mapping) -> tuple[list[str], np.ndarray, list[str]]:
    """Names, bounds (D, 2) and integer names of a problem, checked so mistakes surface before sampling."""
    if "groups" in problem and problem["groups"] is not None:
        raise ValueError("parameter groups are not supported; analyse each parameter on its own")
    names = [str(n) for n in problem["names"]]
    bounds = np.asarray(problem["bounds"], dtype=np.float64)
    d = int(problem.get("num_vars", len(names)))
    if len(names) != d or bounds.shape != (d, 2):
        raise ValueError(f"problem has num_vars = {d}, {len(names)} names and bounds of shape {bounds.shape}; "
                         f"expected {d} names and ({d}, 2) bounds")
    if len(set(names)) != d:
        raise ValueError("parameter names must be unique")
    integer = [str(n) for n in problem.get("integer", ())]
    unknown = [n for n in integer if n not in names]
    if unknown:
        raise ValueError(f"integer names {unknown}, which are not parameters {names}")
    return names, bounds, integer


def _salib_problem(problem: Mapping, names: list[str], bounds: np.ndarray) -> dict:
    """A plain SALib problem, without the keys SALib does not know."""
    out = {"num_vars": len(names), "names": names, "bounds": bounds.tolist()}
    if "dists" in problem:
        out["dists"] = list(problem["dists"])
    return out


def _is_uniform(problem: Mapping, i: int) -> bool:
    dists = problem.get("dists")
    return dists is None or str(dists[i]) == "unif"


def sample(method: str, problem: Mapping, n: int, seed: int, *, calc_second_order: bool = False,
           num_levels: int = 4) -> np.ndarray:
    """Sample rows of parameter values, one model run per row.

    ``n`` is SALib's base sample size: Sobol gives ``n * (D + 2)`` rows (``n * (2D + 2)`` with second
    order; ``n`` should be a power of two), Morris ``n`` trajectories of ``D + 1`` rows with ``num_levels``
    levels, LHS ``n`` rows. Integer parameters are sampled over ``[lo - 0.5, hi + 0.5]`` and rounded, so
    each integer in ``[lo, hi]`` is equally likely (with non-uniform ``dists`` they are only rounded).
    """
    m = _method(method)
    names, bounds, integer = _check_problem(problem)
    widened = bounds.copy()
    for name in integer:
        i = names.index(name)
        if _is_uniform(problem, i):
            widened[i] += (-0.5, 0.5)
    sp = _salib_problem(problem, names, widened)
    if m == "sobol":
        from SALib.sample import sobol as sobol_sample

        X = sobol_sample.sample(sp, int(n), calc_second_order=calc_second_order, seed=seed)
    elif m == "morris":
        from SALib.sample import morris as morris_sample

        X = morris_sample.sample(sp, int(n), num_levels=num_levels, seed=seed)
    else:
        from SALib.sample import latin

        X = latin.sample(sp, int(n), seed=seed)
    X = np.asarray(X, dtype=np.float64)
    for name in integer:
        i = names.index(name)
        X[:, i] = np.clip(np.floor(X[:, i] + 0.5), bounds[i, 0], bounds[i, 1])
    if m == "morris" and integer:
        # Morris finds which parameter moved at each step from the inputs; rounding must not erase a step.
        steps = np.diff(X.reshape(int(n), len(names) + 1, len(names)), axis=1)
        if not ((steps != 0).sum(axis=-1) == 1).all():
            raise ValueError(f"integer parameters {integer} have too few values for {num_levels} Morris levels: "
                             "a rounded step does not move; widen their bounds or lower num_levels")
    return X


def _outputs(Y: object, problem: Mapping, outputs: Sequence[str] | None
             ) -> tuple[np.ndarray, list[str] | None, list[str | None]]:
    """Y as a (runs, outputs) matrix, the output names (None for a single unnamed output) and units."""
    if isinstance(Y, xr.Dataset):
        names = [str(k) for k in Y.data_vars]
        cols = [np.asarray(Y[k].values, dtype=np.float64).ravel() for k in names]
        return np.column_stack(cols), names, [Y[k].attrs.get("units") for k in names]
    if isinstance(Y, Mapping):
        names = [str(k) for k in Y]
        cols = [np.asarray(getattr(v, "values", v), dtype=np.float64).ravel() for v in Y.values()]
        return np.column_stack(cols), names, [getattr(v, "attrs", {}).get("units") for v in Y.values()]
    units = Y.attrs.get("units") if isinstance(Y, xr.DataArray) else None
    if isinstance(Y, xr.DataArray) and Y.ndim == 2:
        out_dim = Y.dims[1]
        names = [str(v) for v in Y[out_dim].values] if out_dim in Y.coords else None
    else:
        names = None
    arr = np.asarray(getattr(Y, "values", Y), dtype=np.float64)
    given = outputs if outputs is not None else problem.get("outputs")
    if arr.ndim == 1:  # one output: named (an output dimension) only when a single name is given
        named = [str(given[0])] if given is not None and len(given) == 1 else None
        return arr[:, None], named, [units]
    if arr.ndim != 2:
        raise ValueError(f"Y must have one column per output: got shape {arr.shape}")
    if given is not None:
        names = [str(v) for v in given]
    if names is None:
        names = [f"y{j}" for j in range(arr.shape[1])]
    if len(names) != arr.shape[1]:
        raise ValueError(f"{len(names)} output names for {arr.shape[1]} columns of Y")
    return arr, names, [units] * arr.shape[1]


def _sobol(problem: dict, X: np.ndarray, y: np.ndarray, d: int, seed: int, second: bool, num_resamples: int,
           conf_level: float) -> dict[str, np.ndarray]:
    from SALib.analyze import sobol as sobol_analyze

    res = sobol_analyze.analyze(problem, y, calc_second_order=second, num_resamples=num_resamples,
                                conf_level=conf_level, seed=seed)
    out = {k: np.asarray(res[k], dtype=np.float64) for k in ("S1", "S1_conf", "ST", "ST_conf")}
    if second:
        out["S2"] = np.asarray(res["S2"], dtype=np.float64)
        out["S2_conf"] = np.asarray(res["S2_conf"], dtype=np.float64)
    return out


def _morris(problem: dict, X: np.ndarray, y: np.ndarray, d: int, seed: int, num_levels: int, num_resamples: int,
            conf_level: float) -> dict[str, np.ndarray]:
    from SALib.analyze import morris as morris_analyze

    res = morris_analyze.analyze(problem, X, y, num_resamples=num_resamples, conf_level=conf_level,
                                 num_levels=num_levels, seed=seed)
    return {k: np.asarray(res[k], dtype=np.float64) for k in ("mu", "mu_star", "sigma", "mu_star_conf")}


def _regression(X: np.ndarray, y: np.ndarray, seed: int, num_resamples: int, conf_level: float
                ) -> dict[str, np.ndarray]:
    """Standardised regression coefficients and Spearman rank correlations, with bootstrap half-widths."""
    from scipy.stats import norm, rankdata

    keep = np.isfinite(y)
    X, y = X[keep], y[keep]
    d = X.shape[1]

    def src(x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, float]:
        sx, st = x.std(axis=0), t.std()
        if st == 0 or x.shape[0] <= d:
            return np.full(d, np.nan), np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(sx > 0, (x - x.mean(axis=0)) / np.where(sx > 0, sx, 1), 0.0)
        zt = (t - t.mean()) / st
        coef, *_ = np.linalg.lstsq(z, zt, rcond=None)
        resid = zt - z @ coef
        return np.where(sx > 0, coef, np.nan), 1.0 - float(resid @ resid) / float(zt @ zt)

    def spearman(x: np.ndarray, t: np.ndarray) -> np.ndarray:
        rx = np.apply_along_axis(rankdata, 0, x)
        rt = rankdata(t)
        rx = rx - rx.mean(axis=0)
        rt = rt - rt.mean()
        with np.errstate(divide="ignore", invalid="ignore"):
            return (rx * rt[:, None]).sum(axis=0) / np.sqrt((rx ** 2).sum(axis=0) * (rt ** 2).sum())

    coef, r2 = src(X, y)
    rho = spearman(X, y)
    rng = np.random.default_rng(seed)
    boot_c = np.empty((num_resamples, d))
    boot_r = np.empty((num_resamples, d))
    for b in range(num_resamples):
        idx = rng.integers(0, X.shape[0], X.shape[0])
        boot_c[b] = src(X[idx], y[idx])[0]
        boot_r[b] = spearman(X[idx], y[idx])
    z = float(norm.ppf(0.5 + conf_level / 2))
    with np.errstate(invalid="ignore"):
        return {"SRC": coef, "SRC_conf": z * np.nanstd(boot_c, axis=0), "spearman": rho,
                "spearman_conf": z * np.nanstd(boot_r, axis=0), "R2": np.array(r2), "runs_used": np.array(X.shape[0])}


_DESCRIPTIONS = {
    "S1": "first-order Sobol index", "S1_conf": "confidence half-width of S1",
    "ST": "total-order Sobol index", "ST_conf": "confidence half-width of ST",
    "S2": "second-order Sobol index", "S2_conf": "confidence half-width of S2",
    "mu": "Morris mean elementary effect", "mu_star": "Morris mean absolute elementary effect",
    "sigma": "standard deviation of the Morris elementary effects",
    "mu_star_conf": "confidence half-width of mu_star",
    "SRC": "standardised regression coefficient (linear fit on z-scores)",
    "SRC_conf": "bootstrap confidence half-width of SRC",
    "spearman": "Spearman rank correlation of the parameter with the output",
    "spearman_conf": "bootstrap confidence half-width of spearman",
    "R2": "coefficient of determination of the linear fit behind SRC",
    "runs_used": "runs with a finite output (the others are left out)",
}
_IN_OUTPUT_UNITS = {"mu", "mu_star", "sigma", "mu_star_conf"}


def analyse(method: str, problem: Mapping, X: np.ndarray, Y: object, seed: int, *, calc_second_order: bool = False,
            num_levels: int = 4, num_resamples: int = 100, conf_level: float = 0.95,
            outputs: Sequence[str] | None = None) -> xr.Dataset:
    """Sensitivity indices of the outputs ``Y`` to the parameters sampled in ``X`` (rows as from :func:`sample`).

    - ``"sobol"``: ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` (and ``S2``, ``S2_conf`` over ``parameter`` x
      ``parameter_2`` with ``calc_second_order``), from ``SALib.analyze.sobol``.
    - ``"morris"``: ``mu``, ``mu_star``, ``sigma``, ``mu_star_conf`` from ``SALib.analyze.morris``;
      elementary effects are per the whole normalised range, so they carry the output's units.
    - ``"lhs"``: SALib has no LHS analyser, so both the standardised regression coefficients ``SRC``
      (signed, linear effect in standard deviations of the output per standard deviation of the
      parameter; trust them when ``R2`` is near 1) and the Spearman rank correlations ``spearman``
      (signed, any monotone effect) are returned, with bootstrap half-widths. Runs with a NaN output
      (infeasible points) are left out; Sobol and Morris refuse them since their designs need every run.

    ``Y`` is one output per run (1-D: no ``output`` dimension unless one name is given), or several: a
    (runs, outputs) array named by ``outputs`` or ``problem["outputs"]``, a mapping of name to values, or
    a Dataset of variables. ``seed`` drives the bootstrap confidence intervals.
    """
    m = _method(method)
    names, bounds, integer = _check_problem(problem)
    d = len(names)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != d:
        raise ValueError(f"X must have one column per parameter ({d}); got shape {X.shape}")
    Ym, out_names, out_units = _outputs(Y, problem, outputs)
    if Ym.shape[0] != X.shape[0]:
        raise ValueError(f"Y has {Ym.shape[0]} runs but X has {X.shape[0]} rows")
    per = _RUNS[m](d, calc_second_order)
    if X.shape[0] % per:
        raise ValueError(f"{X.shape[0]} runs is not a whole number of {m} blocks of {per} runs")
    if m != "lhs" and not np.isfinite(Ym).all():
        raise ValueError(f"{m} needs a finite output for every run; {int((~np.isfinite(Ym)).sum())} are not "
                         "(infeasible points?): narrow the bounds to feasible designs, or use 'lhs'")
    sp = _salib_problem(problem, names, bounds)
    results = []
    for j in range(Ym.shape[1]):
        y = Ym[:, j]
        if m == "sobol":
            results.append(_sobol(sp, X, y, d, seed, calc_second_order, num_resamples, conf_level))
        elif m == "morris":
            results.append(_morris(sp, X, y, d, seed, num_levels, num_resamples, conf_level))
        else:
            results.append(_regression(X, y, seed, num_resamples, conf_level))

    # Elementary effects carry the output's units: one for all outputs when they agree, else "1" with
    # each output's units in the output_units coordinate.
    effect_units = out_units[0] if out_units[0] and len(set(out_units)) == 1 else "1"
    data = {}
    for key in results[0]:
        stacked = np.stack([r[key] for r in results])
        dims: tuple[str, ...] = {0: (), 1: ("parameter",), 2: ("parameter", "parameter_2")}[stacked.ndim - 1]
        if out_names is not None:
            dims, arr = ("output", *dims), stacked
        else:
            arr = stacked[0]
        attrs = {"units": effect_units if key in _IN_OUTPUT_UNITS else "1", "long_name": _DESCRIPTIONS[key]}
        if key in _IN_OUTPUT_UNITS and effect_units == "1" and any(out_units):
            attrs["long_name"] += " (in the units of each output: see output_units)"
        data[key] = (dims, arr, attrs)
    coords: dict[str, tuple] = {
        "parameter": ("parameter", np.array(names, dtype=object), {"long_name": "sampled parameter"}),
        "lower": ("parameter", bounds[:, 0], {"long_name": "lower bound of the parameter"}),
        "upper": ("parameter", bounds[:, 1], {"long_name": "upper bound of the parameter"}),
        "integer": ("parameter", np.array([n in integer for n in names]), {"long_name": "sampled as integers"}),
    }
    if calc_second_order and m == "sobol":
        coords["parameter_2"] = ("parameter_2", np.array(names, dtype=object), {"long_name": "second parameter"})
    if out_names is not None:
        coords["output"] = ("output", np.array(out_names, dtype=object), {"long_name": "model output"})
        if any(out_units):
            coords["output_units"] = ("output", np.array([u or "" for u in out_units], dtype=object),
                                      {"long_name": "units of the output"})
    ds = xr.Dataset(data, coords=coords)
    ds.attrs = {"title": f"{m} sensitivity analysis", "method": m, "N": int(X.shape[0] // per),
                "runs": int(X.shape[0]), "seed": int(seed), "num_resamples": int(num_resamples),
                "conf_level": float(conf_level)}
    if m == "sobol":
        ds.attrs["calc_second_order"] = int(calc_second_order)
    if m == "morris":
        ds.attrs["num_levels"] = int(num_levels)
    if m == "lhs":
        ds.attrs["coefficients"] = "SRC: standardised regression coefficients; spearman: Spearman rank correlations"
    return ds
