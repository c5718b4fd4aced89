"""``ciminus plot``: every kind writes a real figure with labelled axes; every bad argument exits 2 with one
line and writes nothing."""

from __future__ import annotations

import importlib.util
import re

import pytest
from conftest import run_cli

pytestmark = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="matplotlib is not installed")

GRID = """
name = "plotted"
[workload]
network = "resnet18"
dataset = "cifar10"
[arch]
macros = [4, 8, 16]
freq_mhz = 200
[sparsity]
pattern = ["dense", "row-block"]
ratio = [0.25, 0.5]
"""

SAMPLED = """
name = "plotted-sobol"
[workload]
network = "resnet18"
dataset = "cifar10"
[sparsity]
pattern = "row-block"
[sweep]
sample = "sobol"
samples = 8
[sweep.ranges]
"arch.macros" = [4, 32]
"sparsity.ratio" = [0.0, 0.9]
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plot")
    out = {}
    for name, text in (("grid", GRID), ("sobol", SAMPLED)):
        (folder / f"{name}.toml").write_text(text)
        run = run_cli("sweep", str(folder / f"{name}.toml"), "-o", str(folder / f"{name}.nc"), "-q")
        assert run.returncode == 0, run.stderr
        out[name] = folder / f"{name}.nc"
    return out


def svg_texts(path) -> list[str]:
    """The text items of a matplotlib SVG (each glyph run is preceded by a comment holding its text)."""
    return re.findall(r"<!-- (.*?) -->", path.read_text())


@pytest.mark.parametrize(("kind", "args", "expected"), [
    ("pareto", [], ["latency (cycles)", "energy (pJ)", "Pareto front", "area_mm2 (mm^2)"]),  # coloured by area
    ("pareto", ["--x", "latency_s", "--y", "edp", "--color", "macros"], ["latency_s (s)", "edp (pJ cycles)", "macros=4", "macros=16"]),
    ("breakdown", ["--by", "macros", "--sel", "pattern=row-block", "ratio=0.5"], ["macros", "energy (µJ)"]),
    ("heatmap", ["--var", "utilization", "--x", "macros", "--y", "ratio", "--sel", "pattern=row-block"],
     ["macros", "ratio", "utilization (1)"]),
])
def test_grid_figures_have_their_axes(cli, results, tmp_path, kind, args, expected):
    svg = tmp_path / f"{kind}.svg"
    run = cli("plot", str(results["grid"]), "--kind", kind, "-o", str(svg), *args)
    assert run.returncode == 0, run.stderr
    assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()
    texts = svg_texts(svg)
    for label in expected:
        assert label in texts, (label, texts)


def test_sensitivity_figure_and_every_format(cli, results, tmp_path):
    import matplotlib.image

    svg = tmp_path / "s.svg"
    assert cli("plot", str(results["sobol"]), "--kind", "sensitivity", "-o", str(svg)).returncode == 0
    texts = svg_texts(svg)
    assert "Sobol index (1)" in texts and {"macros", "ratio", "S1", "ST"} <= set(texts)
    for ext, magic in ((".png", b"\x89PNG"), (".pdf", b"%PDF")):
        path = tmp_path / f"s{ext}"
        run = cli("plot", str(results["sobol"]), "--kind", "sensitivity", "-o", str(path))
        assert run.returncode == 0 and path.read_bytes().startswith(magic), run.stderr
    img = matplotlib.image.imread(tmp_path / "s.png")
    assert img.ndim == 3 and min(img.shape[:2]) > 200 and img.std() > 0  # a drawn picture, not a blank one


@pytest.mark.parametrize(("which", "args", "words"), [
    ("grid", ["--kind", "sensitivity"], "not a sampled sweep"),
    ("grid", ["--kind", "heatmap", "--sel", "ratio=0.3"], "allowed: 0.25, 0.5"),
    ("grid", ["--kind", "heatmap", "--sel", "colour=red"], "allowed dimensions"),
    ("grid", ["--kind", "pareto", "--x", "bogus"], "bogus"),
    ("grid", ["--kind", "breakdown", "--by", "macros"], "sel"),
    ("sobol", ["--kind", "heatmap"], "two swept dimensions"),
    ("grid", ["--kind", "heatmap", "--sel", "ratio=0.25", "--sel", "ratio=0.5"], "ratio is already selected"),
])
def test_bad_arguments_exit_2_with_one_line(cli, results, tmp_path, which, args, words):
    out = tmp_path / "x.png"
    run = cli("plot", str(results[which]), "-o", str(out), *args)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.count("ciminus: error:") == 1 and words in run.stderr, run.stderr
    assert not out.exists()


def test_bad_files_exit_2(cli, results, tmp_path):
    run = cli("plot", str(results["grid"]), "--kind", "pareto", "-o", str(tmp_path / "x.jpg"))
    assert run.returncode == 2 and ".png, .svg or .pdf" in run.stderr
    run = cli("plot", str(tmp_path / "missing.nc"), "--kind", "pareto", "-o", str(tmp_path / "x.png"))
    assert run.returncode == 2 and "no such result file" in run.stderr
    (tmp_path / "junk.nc").write_text("not netCDF")
    run = cli("plot", str(tmp_path / "junk.nc"), "--kind", "pareto", "-o", str(tmp_path / "x.png"))
    assert run.returncode == 2 and "Traceback" not in run.stderr and "netCDF" in run.stderr


def test_figures_keep_their_titles_inside_and_components_their_colours(results):
    """A long breakdown title is wrapped inside the figure; a component has one colour in every figure,
    whichever components are zero there; the Pareto title says what --sel fixed."""
    import xarray as xr

    from ciminus.analysis import plots

    with xr.open_dataset(results["grid"]) as ds:
        ds = ds.load()
    colours = {}
    for sel in ({"pattern": "dense"}, {"pattern": "row-block"}):  # row-block has index and mux energy, dense none
        rest = {d: ds[d].values[0] for d in ds["energy"].dims if d not in ("macros", *sel)}
        fig = plots.plot_breakdown(ds, sel={**sel, **rest}, by="macros")
        fig.canvas.draw()
        ax = fig.axes[0]
        box = ax.title.get_window_extent(fig.canvas.get_renderer())
        assert box.x0 >= 0 and box.x1 <= fig.bbox.width, (box, fig.bbox)
        for patch, label in zip(ax.get_legend().get_patches(), ax.get_legend().get_texts(), strict=True):
            colours.setdefault(label.get_text(), set()).add(tuple(patch.get_facecolor()))
    assert all(len(c) == 1 for c in colours.values()), colours
    fig = plots.plot_pareto(ds.sel(macros=8), note="macros=8")
    assert "(macros=8)" in fig.axes[0].get_title()
