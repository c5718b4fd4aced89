"""The analysis layer: Pareto fronts against brute force, sensitivity indices of functions whose answer is
known, and figures that carry units and save as real PNG, SVG and PDF files."""

from __future__ import annotations

import importlib.util
import itertools
import sys

import numpy as np
import pytest
import xarray as xr

from ciminus.analysis import pareto_front, pareto_mask
from ciminus.analysis.pareto import nondominated

needs_salib = pytest.mark.skipif(importlib.util.find_spec("SALib") is None, reason="SALib is not installed")
needs_mpl = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="matplotlib is not installed")

REAL_SWEEP = """
name = "analysis"
[workload]
network = "mobilenetv2"
dataset = "cifar10"
[arch]
macros = [2, 4, 8, 16, 32, 64]
freq_mhz = 200
input_buffer_kb = [0.01, 8]
[sparsity]
pattern = ["dense", "row-block", "hybrid"]
ratio = [0.25, 0.5, 0.75]
[mapping]
rearrange = ["pad", "slice"]
"""


@pytest.fixture(scope="module")
def real():
    """A small real sweep: trade-offs between macros and latency, and a half of infeasible points."""
    from ciminus.sweep import evaluate
    from ciminus.validate import parse_sweep

    return evaluate(parse_sweep(REAL_SWEEP), "cpu")


# ----- Pareto ----------------------------------------------------------------------------------------
def brute_front(points: np.ndarray, maximize: tuple[bool, ...]) -> np.ndarray:
    """On-front flags by the definition, point against point, written for clarity, not speed."""
    n = len(points)
    out = np.zeros(n, dtype=bool)

    def at_least_as_good(a: float, b: float, up: bool) -> bool:
        return a >= b if up else a <= b

    def better(a: float, b: float, up: bool) -> bool:
        return a > b if up else a < b

    for i in range(n):
        if np.isnan(points[i]).any():
            continue
        dominated = False
        for j in range(n):
            if j == i or np.isnan(points[j]).any():
                continue
            if all(at_least_as_good(points[j, k], points[i, k], maximize[k]) for k in range(points.shape[1])) and \
                    any(better(points[j, k], points[i, k], maximize[k]) for k in range(points.shape[1])):
                dominated = True
                break
        out[i] = not dominated
    return out


def brute_mask(ds: xr.Dataset, objectives: tuple[str, ...], over: tuple[str, ...], maximize: tuple[str, ...]
               ) -> xr.DataArray:
    """The mask of :func:`pareto_mask` by brute force, one kept-apart combination at a time."""
    dims = ds[objectives[0]].dims
    keep = [d for d in dims if d not in over]
    out = xr.zeros_like(ds[objectives[0]], dtype=bool)
    feasible = ds["feasible"] if "feasible" in ds else xr.ones_like(out)
    for idx in itertools.product(*(range(ds.sizes[d]) for d in keep)):
        sel = dict(zip(keep, idx, strict=True))
        sub = ds.isel(sel)
        flat = np.stack([sub[o].where(feasible.isel(sel)).transpose(*over).values.ravel() for o in objectives], axis=1)
        on = brute_front(flat, tuple(o in maximize for o in objectives))
        shape = tuple(ds.sizes[d] for d in over)
        out[sel] = xr.DataArray(on.reshape(shape), dims=over).transpose(*out.isel(sel).dims)
    return out


def random_dataset(rng: np.random.Generator, shape: tuple[int, ...], k: int, levels: int, nan: float) -> xr.Dataset:
    """Objectives f0.. on few levels (many ties and duplicates) with NaN holes, over dims a, b, c, ..."""
    dims = tuple("abcd"[: len(shape)])
    data = {}
    for j in range(k):
        v = rng.integers(0, levels, size=shape).astype(float)
        v[rng.random(shape) < nan] = np.nan
        data[f"f{j}"] = (dims, v, {"units": "pJ"})
    coords = {d: np.arange(s) * 10 for d, s in zip(dims, shape, strict=True)}
    return xr.Dataset(data, coords=coords)


CASES = [  # shape, objectives, over, maximize, levels, nan fraction
    ((40,), 2, ("a",), (), 6, 0.1),
    ((6, 7), 2, None, (), 4, 0.1),
    ((6, 7), 2, ("b",), (), 5, 0.2),
    ((3, 5, 4), 2, ("a", "c"), ("f1",), 3, 0.1),
    ((5, 8), 3, None, (), 4, 0.1),
    ((4, 3, 6), 3, ("c",), ("f0", "f2"), 3, 0.15),
    ((30,), 1, None, (), 5, 0.1),
    ((4, 9), 4, ("b",), ("f3",), 3, 0.0),
    ((5, 6), 2, (), (), 3, 0.1),  # every point its own front
]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("shape,k,over,maximize,levels,nan", CASES)
def test_mask_matches_brute_force(seed, shape, k, over, maximize, levels, nan):
    rng = np.random.default_rng(seed)
    ds = random_dataset(rng, shape, k, levels, nan)
    objectives = tuple(f"f{j}" for j in range(k))
    got = pareto_mask(ds, objectives, over=over, maximize=maximize)
    over_dims = tuple(ds.f0.dims) if over is None else over
    want = brute_mask(ds, objectives, over_dims, maximize)
    assert got.dims == ds.f0.dims and got.dtype == bool
    np.testing.assert_array_equal(got.values, want.values)
    assert not got.where(ds.f0.isnull(), False).any(), "a NaN point is on a front"


def test_duplicates_ties_and_infinities():
    ds = xr.Dataset({"energy": ("p", [1.0, 1.0, 2.0, 1.0, np.inf, 0.5, np.nan, 0.5]),
                     "latency": ("p", [3.0, 3.0, 1.0, 4.0, 0.5, np.inf, 0.1, np.inf])})
    got = pareto_mask(ds).values
    # equal points stay together; (1, 4) loses to (1, 3) on a tie; inf is a value, NaN is not
    assert got.tolist() == [True, True, True, False, True, True, False, True]
    assert got.tolist() == brute_front(np.stack([ds.energy.values, ds.latency.values], 1), (False, False)).tolist()


def test_feasible_flag_excludes_points_even_with_numbers():
    ds = xr.Dataset({"energy": ("p", [1.0, 2.0, 3.0]), "latency": ("p", [1.0, 0.5, 0.1]),
                     "feasible": ("p", [False, True, True])})
    assert pareto_mask(ds).values.tolist() == [False, True, True]


def test_array_inputs_and_maximize_by_name():
    rng = np.random.default_rng(7)
    pts = rng.integers(0, 6, size=(80, 3)).astype(float)
    got = pareto_mask(pts, maximize="1")
    assert got.dims == ("point",)
    assert got.values.tolist() == brute_front(pts, (False, True, False)).tolist()
    da = xr.DataArray(pts, dims=("point", "objective"), coords={"objective": ["energy", "speedup", "area"]})
    assert (pareto_mask(da, maximize=["speedup"]).values == got.values).all()
    with pytest.raises(ValueError, match="maximize"):
        pareto_mask(da, maximize=["spedup"])


def test_two_objective_sweep_agrees_with_general_method_at_scale():
    """The O(n log n) sweep and the block method (used for 3+ objectives, here with a constant third) are
    separate code; they must agree on many points and many groups."""
    rng = np.random.default_rng(3)
    v = rng.random((50, 4000, 2))
    v[..., 1] = np.round(v[..., 1], 2)  # ties
    v[rng.random(v.shape[:2]) < 0.05] = np.nan
    fast = nondominated(v)
    general = nondominated(np.concatenate([v, np.zeros(v.shape[:2] + (1,))], axis=-1))
    np.testing.assert_array_equal(fast, general)
    big = rng.random((1, 10**6, 2))
    on = nondominated(big)[0]
    front = big[0, on]
    assert 0 < on.sum() < 100
    order = np.argsort(front[:, 0])
    assert (np.diff(front[order, 1]) < 0).all(), "a 2-D front falls strictly as its first objective rises"
    # nothing is left below the front: every point has a front point at least as good on both objectives
    sample = big[0, rng.choice(big.shape[1], 2000, replace=False)]
    covered = ((front[None, :, 0] <= sample[:, None, 0]) & (front[None, :, 1] <= sample[:, None, 1])).any(axis=1)
    assert covered.all()


def test_edp_and_unknown_objectives():
    ds = xr.Dataset({"energy": ("p", [1.0, 2.0, 4.0]), "latency": ("p", [4.0, 1.0, 0.1])})
    assert pareto_mask(ds, "edp").values.tolist() == [False, False, True]
    with pytest.raises(KeyError, match="area"):
        pareto_mask(ds, ("energy", "area"))
    with pytest.raises(ValueError, match="over"):
        pareto_mask(ds, over=("macros",))


@pytest.mark.parametrize("over", [None, ("macros", "ratio"), ("macros",), ("macros", "pattern", "ratio")])
def test_mask_on_a_real_sweep(real, over):
    got = pareto_mask(real, ("energy", "latency"), over=over)
    over_dims = tuple(real.energy.dims) if over is None else over
    want = brute_mask(real, ("energy", "latency"), over_dims, ())
    np.testing.assert_array_equal(got.values, want.values)
    assert not (got & ~real.feasible).any()
    assert got.sel(input_buffer_kb=8).any() and not got.sel(input_buffer_kb=0.01).any()
    three = pareto_mask(real, ("energy", "latency", "speedup"), over=over, maximize="speedup")
    want3 = brute_mask(real, ("energy", "latency", "speedup"), over_dims, ("speedup",))
    np.testing.assert_array_equal(three.values, want3.values)


def test_front_structure(real):
    over = ("macros", "ratio")
    mask = pareto_mask(real, over=over)
    front = pareto_front(real, over=over)
    assert set(front.dims) == {"point", "component", "candidate"}
    assert front.sizes["point"] == int(mask.sum())
    assert list(front.indexes["point"].names) == ["input_buffer_kb", "pattern", "macros", "ratio"]
    assert front.feasible.all() and np.isfinite(front.energy).all()
    assert front.energy_breakdown.dims == ("component", "point") or set(front.energy_breakdown.dims) == {"component",
                                                                                                         "point"}
    assert front.attrs["pareto_objectives"] == "energy latency" and front.attrs["pareto_over"] == "macros ratio"
    assert front.attrs["pareto_kept_apart"] == "input_buffer_kb pattern"
    assert front.energy.attrs["units"] == "pJ"
    # every point keeps its coordinates and its values
    for i in range(front.sizes["point"]):
        p = front.isel(point=i)
        where = {d: p[d].item() for d in ("input_buffer_kb", "pattern", "macros", "ratio")}
        assert mask.sel(where).item()
        assert p.energy.item() == real.energy.sel(where).item()
        np.testing.assert_array_equal(p.energy_breakdown.values, real.energy_breakdown.sel(where).values)
    # grouped by the kept-apart dims, each front sorted by the first objective
    one = front.sel(input_buffer_kb=8, pattern="hybrid")
    assert one.sizes["point"] == int(mask.sel(input_buffer_kb=8, pattern="hybrid").sum()) > 1
    assert (np.diff(one.energy.values) >= 0).all() and (np.diff(one.latency.values) <= 0).all()
    groups = [(a, b) for a, b in zip(front.input_buffer_kb.values, front.pattern.values, strict=True)]
    assert groups == sorted(groups, key=lambda g: (list(real.input_buffer_kb.values).index(g[0]),
                                                   list(real.pattern.values).index(g[1])))
    # sorted even when the grid order runs the other way; maximised objectives sort best first
    grid = xr.Dataset({"energy": ("p", [5.0, 4.0, 3.0, 9.0, 1.0]), "latency": ("p", [1.0, 2.0, 3.0, 9.0, 4.0]),
                       "speedup": ("p", [1.0, 2.0, 3.0, 0.5, 4.0])}, coords={"p": [10, 20, 30, 40, 50]})
    assert pareto_front(grid).p.values.tolist() == [50, 30, 20, 10]
    assert pareto_front(grid, ("speedup", "latency"), maximize="speedup").p.values.tolist() == [50, 30, 20, 10]
    whole = pareto_front(real, ("edp",))
    assert "edp" in whole and whole.edp.attrs["units"] == "pJ cycles"
    assert np.isclose(whole.edp.min(), (real.energy * real.latency).min())
    assert whole.reset_index("point").point.size == whole.sizes["point"]


# ----- sensitivity -----------------------------------------------------------------------------------
ISHIGAMI = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}


def ishigami(X: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(X[:, 0]) + a * np.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * np.sin(X[:, 0])


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Analytic first- and total-order indices of the Ishigami function."""
    v1 = 0.5 * (1 + b * np.pi ** 4 / 5) ** 2
    v2 = a ** 2 / 8
    v13 = b ** 2 * np.pi ** 8 * (1 / 18 - 1 / 50)
    var = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / var, np.array([v1 + v13, v2, v13]) / var


LINEAR = {"num_vars": 4, "names": ["a", "b", "c", "macros"], "bounds": [[0, 1], [0, 2], [-1, 1], [1, 16]],
          "integer": ["macros"]}
WEIGHTS = np.array([5.0, -2.0, 0.25, 0.1])  # effect over the whole range: 5, -4, 0.5, 1.5


@needs_salib
def test_sobol_ranks_ishigami():
    from ciminus.analysis import analyse, sample

    X = sample("sobol", ISHIGAMI, 1024, seed=0)
    assert X.shape == (1024 * 5, 3)
    res = analyse("sobol", ISHIGAMI, X, ishigami(X), seed=0)
    s1, st = ishigami_indices()
    assert list(res.ST.sortby(res.ST, ascending=False).parameter.values) == ["x1", "x2", "x3"]
    np.testing.assert_allclose(res.ST.values, st, atol=0.05)
    np.testing.assert_allclose(res.S1.values, s1, atol=0.06)
    for name in ("S1", "S1_conf", "ST", "ST_conf"):
        assert res[name].dims == ("parameter",)
        assert res[name].attrs["units"] == "1" and res[name].attrs["long_name"]
    assert res.attrs["method"] == "sobol" and res.attrs["N"] == 1024 and res.attrs["seed"] == 0
    np.testing.assert_array_equal(sample("sobol", ISHIGAMI, 1024, seed=0), X)
    assert not np.array_equal(sample("sobol", ISHIGAMI, 1024, seed=1), X)


@needs_salib
def test_sobol_several_outputs_and_second_order():
    from ciminus.analysis import analyse, sample

    X = sample("sobol", ISHIGAMI, 512, seed=1, calc_second_order=True)
    assert X.shape == (512 * 8, 3)
    Y = np.column_stack([ishigami(X), X[:, 2]])
    res = analyse("sobol", {**ISHIGAMI, "outputs": ["ishigami", "x3"]}, X, Y, seed=1, calc_second_order=True)
    assert res.ST.dims == ("output", "parameter") and list(res.output.values) == ["ishigami", "x3"]
    assert res.S2.dims == ("output", "parameter", "parameter_2")
    assert res.ST.sel(output="x3").argmax("parameter").item() == 2
    assert abs(res.S2.sel(output="ishigami", parameter="x1", parameter_2="x3").item() - 0.244) < 0.1


@needs_salib
def test_morris_recovers_linear_effects_with_an_integer_parameter():
    from ciminus.analysis import analyse, sample

    X = sample("morris", LINEAR, 20, seed=2)
    assert X.shape == (20 * 5, 4)
    macros = X[:, 3]
    assert (macros == np.round(macros)).all() and macros.min() >= 1 and macros.max() <= 16
    res = analyse("morris", LINEAR, X, xr.DataArray(X @ WEIGHTS, attrs={"units": "pJ"}), seed=2)
    assert list(res.mu_star.sortby(res.mu_star, ascending=False).parameter.values) == ["a", "b", "macros", "c"]
    np.testing.assert_allclose(res.mu_star.values, [5.0, 4.0, 0.5, 1.5], rtol=0.1)
    assert np.sign(res.mu.values).tolist() == [1, -1, 1, 1]
    assert np.allclose(res.sigma.sel(parameter=["a", "b", "c"]), 0, atol=1e-9)
    assert res.mu_star.attrs["units"] == "pJ" and res.attrs["num_levels"] == 4
    assert res.integer.sel(parameter="macros").item()


@needs_salib
def test_morris_refuses_integers_rounded_onto_each_other():
    from ciminus.analysis import sample

    # a Morris step jumps half the levels, so it moves any integer range but a single value
    X = sample("morris", {**LINEAR, "bounds": [[0, 1], [0, 2], [-1, 1], [1, 2]]}, 10, seed=0)
    assert set(np.unique(X[:, 3])) == {1, 2}
    with pytest.raises(ValueError, match="Morris levels"):
        sample("morris", {**LINEAR, "bounds": [[0, 1], [0, 2], [-1, 1], [4, 4]]}, 10, seed=0)


@needs_salib
def test_lhs_coefficients_have_the_signs_of_the_weights():
    from ciminus.analysis import analyse, sample

    X = sample("lhs", LINEAR, 200, seed=3)
    assert X.shape == (200, 4)
    assert set(np.unique(X[:, 3])) == set(range(1, 17)), "every integer of the range is drawn"
    y = X @ WEIGHTS
    res = analyse("lhs", LINEAR, X, {"linear": y, "cubed": y ** 3}, seed=3)
    assert res.SRC.dims == ("output", "parameter")
    for out in ("linear", "cubed"):
        assert np.sign(res.SRC.sel(output=out).values).tolist() == [1, -1, 1, 1]
        assert np.sign(res.spearman.sel(output=out).values).tolist() == [1, -1, 1, 1]
    assert res.R2.sel(output="linear").item() > 0.999
    # for independent inputs and a linear model, SRC^2 are the variance shares and sum to R2
    assert abs(float((res.SRC.sel(output="linear") ** 2).sum()) - 1.0) < 0.05
    assert res.SRC.attrs["units"] == "1" and "spearman" in res.attrs["coefficients"].lower()


@needs_salib
def test_nan_outputs():
    from ciminus.analysis import analyse, sample

    X = sample("lhs", LINEAR, 50, seed=4)
    y = X @ WEIGHTS
    y[:5] = np.nan
    res = analyse("lhs", LINEAR, X, y, seed=4)
    assert res.runs_used.item() == 45 and np.isfinite(res.SRC).all()
    Xs = sample("sobol", LINEAR, 64, seed=4)
    ys = Xs @ WEIGHTS
    ys[3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        analyse("sobol", LINEAR, Xs, ys, seed=4)
    with pytest.raises(ValueError, match="method"):
        sample("fast", LINEAR, 8, seed=0)


# ----- figures ---------------------------------------------------------------------------------------
MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".svg": b"<svg", ".pdf": b"%PDF"}


def check_saved(fig, tmp_path, stem: str) -> None:
    """Save ``fig`` in every format through the plotting function's own path argument (done by the
    caller) and check the files: magic bytes, and a PNG of exactly figsize x dpi pixels."""
    import matplotlib.image

    for ext, magic in MAGIC.items():
        path = tmp_path / f"{stem}{ext}"
        assert path.exists() and path.stat().st_size > 0, path
        head = path.read_bytes()[:4096]
        assert (head.startswith(magic) if ext != ".svg" else magic in head), path
    img = matplotlib.image.imread(tmp_path / f"{stem}.png")
    w, h = fig.get_size_inches() * fig.dpi
    assert img.shape[:2] == (round(h), round(w))


def each_format(func, tmp_path, stem: str, *args, **kwargs):
    figs = [func(*args, path=tmp_path / f"{stem}{ext}", **kwargs) for ext in MAGIC]
    check_saved(figs[0], tmp_path, stem)
    return figs[0]


@needs_mpl
def test_breakdown(real, tmp_path):
    from matplotlib.figure import Figure

    from ciminus.analysis import plot_breakdown

    sel = {"input_buffer_kb": 8, "ratio": 0.5, "pattern": "hybrid"}
    fig = each_format(plot_breakdown, tmp_path, "breakdown", real, sel=sel, by="macros")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "energy (µJ)" and ax.get_xlabel() == "macros"
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(m) for m in real.macros.values]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend and set(legend) <= set(real.component.values)
    # the stacked bars add up to the energy of each design
    tops = {}
    for patch in ax.patches:
        x = round(patch.get_x() + patch.get_width() / 2)
        tops[x] = tops.get(x, 0.0) + patch.get_height()
    want = real.energy.sel(sel).values / 1e6
    np.testing.assert_allclose([tops[i] for i in range(len(want))], want, rtol=1e-9)
    every = plot_breakdown(real, sel={"input_buffer_kb": 0.01, "macros": 8}, unit="nJ")
    assert every.axes[0].get_ylabel() == "energy (nJ)"
    assert len(every.axes[0].get_xticklabels()) == real.sizes["pattern"] * real.sizes["ratio"]
    with pytest.raises(ValueError, match="sel"):
        plot_breakdown(real, by="macros")


@needs_mpl
def test_pareto_plot(real, tmp_path):
    from ciminus.analysis import plot_pareto

    fig = each_format(plot_pareto, tmp_path, "pareto", real)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "latency (cycles)" and ax.get_ylabel() == "energy (pJ)"
    front_line = next(line for line in ax.get_lines() if line.get_label() == "Pareto front")
    assert len(front_line.get_xdata()) == int(pareto_mask(real).sum())
    per = plot_pareto(real, over=("macros", "ratio"), color="utilization")
    assert "utilization (1)" in [a.get_ylabel() for a in per.axes]
    assert len([line for line in per.axes[0].get_lines()]) == real.sizes["pattern"] * real.sizes["input_buffer_kb"]
    seconds = plot_pareto(real, x="latency_s", y="speedup")
    assert seconds.axes[0].get_xlabel() == "latency_s (s)" and seconds.axes[0].get_ylabel() == "speedup (1)"
    spread = xr.Dataset({"energy": ("p", np.geomspace(1, 1e5, 20), {"units": "pJ"}),
                         "latency": ("p", np.linspace(10, 1, 20), {"units": "cycles"})})
    ax = plot_pareto(spread).axes[0]
    assert ax.get_yscale() == "log" and ax.get_xscale() == "linear"


@needs_mpl
def test_heatmap(real, tmp_path):
    from ciminus.analysis import plot_heatmap

    fig = each_format(plot_heatmap, tmp_path, "heat", real, "energy", "macros", "pattern", sel={"input_buffer_kb": 8})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(m) for m in real.macros.values]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(real.pattern.values)
    assert fig.axes[1].get_ylabel() == "energy (pJ)"  # the colorbar
    assert "min over ratio" in ax.get_title()
    shown = ax.get_images()[0].get_array()
    want = real.energy.sel(input_buffer_kb=8).min("ratio").transpose("pattern", "macros").values
    np.testing.assert_allclose(np.ma.filled(shown, np.nan), want)
    kb = plot_heatmap(real, "latency_s", "input_buffer_kb", "ratio", sel={"macros": 4, "pattern": "dense"})
    assert kb.axes[0].get_xlabel() == "input_buffer_kb (KiB)" and kb.axes[1].get_ylabel() == "latency_s (s)"
    assert "infeasible" in kb.axes[0].get_title()


@needs_mpl
@needs_salib
def test_sensitivity_plot(tmp_path):
    from ciminus.analysis import analyse, plot_sensitivity, sample

    X = sample("sobol", ISHIGAMI, 128, seed=5)
    sobol = analyse("sobol", ISHIGAMI, X, ishigami(X), seed=5)
    fig = each_format(plot_sensitivity, tmp_path, "sobol", sobol)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "Sobol index (1)" and ax.get_xlabel() == "parameter"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x1", "x2", "x3"]
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"S1", "ST"}
    Xm = sample("morris", LINEAR, 10, seed=5)
    morris = analyse("morris", LINEAR, Xm, {"energy": xr.DataArray(Xm @ WEIGHTS, attrs={"units": "pJ"}),
                                            "latency": xr.DataArray(Xm[:, 0], attrs={"units": "cycles"})}, seed=5)
    assert morris.mu_star.attrs["units"] == "1" and list(morris.output_units.values) == ["pJ", "cycles"]
    fig = plot_sensitivity(morris)
    assert [a.get_ylabel() for a in fig.axes] == ["elementary effect (pJ)", "elementary effect (cycles)"]
    Xl = sample("lhs", LINEAR, 40, seed=5)
    lhs = plot_sensitivity(analyse("lhs", LINEAR, Xl, Xl @ WEIGHTS, seed=5))
    assert lhs.axes[0].get_ylabel() == "coefficient (1)"
    heights = [p.get_height() for p in lhs.axes[0].patches]
    assert sum(h < 0 for h in heights) == 2  # b's SRC and Spearman bars point down


@needs_mpl
def test_figures_leave_pyplot_alone(real):
    from ciminus.analysis import plot_pareto

    before = sys.modules["matplotlib.pyplot"].get_fignums() if "matplotlib.pyplot" in sys.modules else []
    plot_pareto(real)
    after = sys.modules["matplotlib.pyplot"].get_fignums() if "matplotlib.pyplot" in sys.modules else []
    assert before == after
    with pytest.raises(ValueError, match="png"):
        plot_pareto(real, path="figure.jpg")
