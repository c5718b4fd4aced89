"""One cost model: action counts x a per-action energy table, in every backend and in the result."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from ciminus.kernels import actions as A
from ciminus.kernels import layout as L
from ciminus.resolve import Resolver
from ciminus.sparsity.cache import stats_key
from ciminus.specs import ArchSpec, MappingSpec, SparsitySpec
from ciminus.specs.fields import stats_keys
from ciminus.sweep import evaluate, run_sweep
from ciminus.validate import parse_sweep
from ciminus.workloads.layers import Layer

ROOT = Path(__file__).resolve().parents[1]

MIXED = """
name = "actions"
[workload]
network = "resnet18"
dataset = "cifar10"
[arch]
template = ["digital-28nm", "ciminus-case-study"]
macros = [4, 16]
[energy]
dram_read_pj_per_bit = [7.91, 3.0]
[sparsity]
pattern = ["dense", "row-block", "hybrid"]
ratio = [0.0, 0.6]
input_density = [1.0, 0.4]
[mapping]
rearrange = ["pad", "slice"]
copies = [0, 2]
compress = "auto"
objective = "SELECT_ON"
[output]
actions = true
"""


def assert_actions_identity(ds: xr.Dataset) -> None:
    """energy == (action_count * action_energy_pj).sum("action") on every feasible point, and each
    component of the breakdown is the sum of its actions."""
    priced = (ds.action_count * ds.action_energy_pj).sum("action")
    ok = ds.feasible.values
    np.testing.assert_allclose(priced.transpose(*ds.energy.dims).values[ok], ds.energy.values[ok], rtol=1e-9, atol=0)
    by_component = (ds.action_count * ds.action_energy_pj).groupby("action_component").sum()
    for comp in np.unique(ds.action_component.values):
        got = by_component.sel(action_component=comp).transpose(*ds.energy.dims).values[ok]
        np.testing.assert_allclose(got, ds.energy_breakdown.sel(component=comp).values[ok], rtol=1e-9, atol=1e-9)
    assert np.isnan(ds.action_count.values[~ok]).all()


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_energy_is_counts_times_the_energy_table(backend):
    text = MIXED.replace("SELECT_ON", "energy")
    if backend == "reference":  # the slow model on a slice of the grid
        text = text.replace("macros = [4, 16]", "macros = 8")
    ds = evaluate(parse_sweep(text), backend)
    assert ds.action_count.dims[-1] == "action" and list(ds.action.values) == list(L.ACTION_NAMES)
    assert int(ds.feasible.sum()) > 0
    assert_actions_identity(ds)


def test_the_energy_table_varies_only_along_energy_axes():
    ds = evaluate(parse_sweep(MIXED.replace("SELECT_ON", "energy")), "cpu")
    assert ds.action_energy_pj.dims == ("template", "dram_read_pj_per_bit", "action")
    assert ds.action_energy_pj.attrs["units"] == "pJ"
    dram = ds.action_energy_pj.sel(action="dram_read", template="digital-28nm")
    np.testing.assert_allclose(dram.values, [7.91, 3.0])
    # derived energies: index memory like the input buffer, a mux level like a 1-bit register
    t = ds.action_energy_pj.sel(template="digital-28nm", dram_read_pj_per_bit=7.91)
    assert float(t.sel(action="index_read")) == float(t.sel(action="input_buffer_read"))
    assert float(t.sel(action="shift_add")) == pytest.approx(0.003402 + 0.001701)


def test_a_finished_sweep_can_be_repriced_with_another_table():
    """Counts do not depend on energies (at a fixed mapping objective of latency), so a new table
    re-prices the counts exactly as a new sweep would."""
    text = MIXED.replace("SELECT_ON", "latency")
    ds = evaluate(parse_sweep(text), "cpu")
    cheap = evaluate(parse_sweep(text.replace("dram_read_pj_per_bit = [7.91, 3.0]",
                                              "dram_read_pj_per_bit = [7.91, 3.0]\nglobal_buffer_read_pj_per_bit = 0.05")),
                     "cpu")
    table = ds.action_energy_pj.copy()
    table.loc[{"action": "global_buffer_read"}] = 0.05
    repriced = (ds.action_count * table).sum("action").transpose(*ds.energy.dims)
    ok = ds.feasible.values
    np.testing.assert_allclose(repriced.values[ok], cheap.energy.values[ok], rtol=1e-9)
    assert (repriced.values[ok] < ds.energy.values[ok]).all()


def test_actions_survive_the_netcdf_round_trip(tmp_path):
    sweep = parse_sweep(MIXED.replace("SELECT_ON", "edp"))
    run_sweep(sweep, tmp_path / "a.nc", progress=False, chunk_points=7)
    with xr.open_dataset(tmp_path / "a.nc") as ds:
        assert_actions_identity(ds.load())
        assert ds.action_count.attrs["units"] == "1" and "action_unit" in ds.coords
        mem = evaluate(sweep, "cpu")
        xr.testing.assert_allclose(ds.action_count, mem.action_count)


def test_no_action_variables_unless_asked():
    ds = evaluate(parse_sweep(MIXED.replace("SELECT_ON", "edp").replace("actions = true", "actions = false")), "cpu")
    assert "action_count" not in ds and "action_energy_pj" not in ds and "action" not in ds.dims


@pytest.mark.skipif(importlib.util.find_spec("SALib") is None, reason="SALib is not installed")
def test_a_sampled_clock_gives_latency_in_seconds():
    ds = evaluate(parse_sweep("""
name = "clock"
[workload]
network = "resnet18"
dataset = "cifar10"
[sweep]
sample = "lhs"
samples = 12
seed = 1
[sweep.ranges]
"arch.freq_mhz" = [100.0, 800.0]
"arch.macros" = [4, 16]
"""), "cpu")
    assert "latency_s" in ds and ds.latency_s.attrs["units"] == "s"
    np.testing.assert_allclose(ds.latency_s.values, ds.latency.values / (ds.freq_mhz.values * 1e6), rtol=1e-12)


def test_the_energy_table_reads_only_its_columns():
    rng = np.random.default_rng(0)
    prm = rng.uniform(0.1, 2.0, size=(2, L.N_PRM))
    others = [p for p in range(L.N_PRM) if p not in L.ENERGY_PRMS]
    prm[1, others] = rng.uniform(5.0, 9.0, size=len(others))
    prm[1, list(L.ENERGY_PRMS)] = prm[0, list(L.ENERGY_PRMS)]
    ae = np.zeros((2, L.N_ACTIONS))
    A.energy_tables(prm, ae)
    np.testing.assert_array_equal(ae[0], ae[1])


def test_every_stats_key_changes_the_statistics_cache_key():
    layer = Layer(name="c", kind="conv", C=8, K=8, R=3, S=3, H=6, W=6)
    arch = Resolver(parse_sweep('name = "x"\n[workload]\nnetwork = "resnet18"\n')).specs_at(()).arch
    sp, mp = SparsitySpec(), MappingSpec()
    base = stats_key(layer, sp, arch, mp, None)
    other = {"pattern": "nm", "ratio": 0.5, "block_rows": 4, "block_cols": 2, "nm_n": 1, "nm_m": 8,
             "intrablock_masks": "1100,0011", "intrablock_cols": 4,
             "order": "full-first", "first": "channel-wise", "first_ratio": 0.5, "first_block_rows": 8,
             "first_block_cols": 4, "source": "w.npz",
             "prune": True, "activations": "a.npz", "stats": "monte-carlo", "samples": 7, "seed": 3,
             "array_rows": 64, "array_cols": 8, "subarray_rows": 8, "subarray_cols": 4, "input_bits": 4,
             "input_bits_per_cycle": 2, "flatten": "RSC", "compress": "col", "rearrange": "slice",
             "index_format": "bitmap", "tile_rows": 16, "tile_cols": 8}
    import dataclasses

    for cls, spec in ((SparsitySpec, sp), (ArchSpec, arch), (MappingSpec, mp)):
        for key in stats_keys(cls):
            changed = dataclasses.replace(spec, **{key: other[key]})
            args = {SparsitySpec: (layer, changed, arch, mp), ArchSpec: (layer, sp, changed, mp),
                    MappingSpec: (layer, sp, arch, changed)}[cls]
            assert stats_key(*args, None) != base, f"{cls.__name__}.{key}"


def _imports(path: Path, package: str) -> set[str]:
    """Every ciminus module a source file imports (module level and inside functions)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                mod = f"{base}.{node.module}" if node.module else base
                found.update([mod] if node.module else [f"{base}.{a.name}" for a in node.names])
            elif node.module:
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def _module_graph() -> dict[str, set[str]]:
    files = {}
    for path in (ROOT / "ciminus").rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = name if parts[-1] == "__init__" else name.rsplit(".", 1)[0]
        files[name] = (path, package)
    graph = {}
    for name, (path, package) in files.items():
        graph[name] = {m for m in _imports(path, package) if m in files and m != name}
    return graph


def test_kernels_import_only_numpy_and_numba():
    for path in (ROOT / "kernels").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                mods = [node.module]
            else:
                continue
            for m in mods:
                assert m.split(".")[0] in ("hashlib", "math", "os", "pathlib", "numpy", "numba"), f"{path.name} imports {m}"


def test_the_module_graph_has_no_cycles():
    graph = _module_graph()
    # package __init__ files are the parents of their modules, not their importers
    edges = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(edges[m]):
            assert state.get(d) != 1, "import cycle: " + " -> ".join([*path, m, d])
            if d not in state:
                visit(d, [*path, m])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [])


@pytest.mark.parametrize("macros", [4, 16, 64])
def test_layouts_with_equal_folds_and_copies_are_priced_once_and_equal_their_mixture(macros):
    """A fractional expected tile count is priced at the whole counts around it; where those layouts have
    the same folds and copies the model prices one, and that is what weighting all of them gives."""
    from ciminus.kernels.jit import python
    from ciminus.lower import layer_row
    from ciminus.reference import Point

    specs = Resolver(parse_sweep(f'name = "x"\n[workload]\nnetwork = "resnet18"\n[arch]\nmacros = {macros}\n'
                                 '[sparsity]\npattern = "row-block"\nratio = 0.5\n')).specs_at(())
    point = Point.of(specs)
    layer_actions, priced_layer = python(A.layer_actions), python(A.priced_layer)
    grid_rows, grid_cols = {4: (2, 2), 16: (4, 4), 64: (8, 8)}[macros]
    shortcut = 0
    for frac in (0.25, 0.5):
        for rows in (1.0, 2.0, 3.0, 7.0):
            for cols in (1.0, 2.0):
                stats = np.zeros((1, 2 * L.N_STATS))
                for off in (0, L.N_STATS):
                    stats[0, off + L.S_TILES] = (rows + frac) * cols
                    stats[0, off + L.S_ROW_TILES] = rows + frac
                    stats[0, off + L.S_COL_TILES] = cols
                    stats[0, off + L.S_CRIT_ROWS] = 20.0
                    stats[0, off + L.S_FETCH] = 20.0 * stats[0, off + L.S_TILES]
                    stats[0, off + L.S_STORED] = 100.0 * stats[0, off + L.S_TILES]
                    stats[0, off + L.S_PSUM] = stats[0, off + L.S_OUT_NZ] = 16.0 * cols
                    stats[0, off + L.S_F_ENERGY] = stats[0, off + L.S_F_CRIT] = np.nan
                    stats[0, off + L.S_BIT_ONES] = np.nan
                lay = layer_row(specs.layers[3], {}).reshape(1, -1)
                got = np.zeros((1, L.N_RESULTS))
                priced_layer(point.prm, point.pc, 0, stats, 0, lay, 0, grid_rows, grid_cols, 0, 0,
                             L.LOOP_ORDERS.index("vectors-cols-rows"), 1, 1, 0, True, got, 0,
                             np.zeros((1, L.N_RESULTS)), 0)
                parts = []
                for whole_rows, w in ((rows, 1.0 - frac), (rows + 1.0, frac)):
                    part = np.zeros((1, L.N_RESULTS))
                    layer_actions(point.prm, point.pc, 0, stats, 0, L.N_STATS, lay, 0, grid_rows, grid_cols, 0, 0,
                                  L.LOOP_ORDERS.index("vectors-cols-rows"), 1, 1, 1.0, False, False, 0,
                                  whole_rows, cols, part, 0)
                    parts.append((part, w))
                if (parts[0][0][0, L.R_ROUNDS] == parts[1][0][0, L.R_ROUNDS]
                        and parts[0][0][0, L.R_DUPLICATION] == parts[1][0][0, L.R_DUPLICATION]):
                    shortcut += 1
                    np.testing.assert_allclose(parts[0][0], parts[1][0], rtol=1e-12)  # the layouts agree
                blend = sum(w * p for p, w in parts)
                np.testing.assert_allclose(got[0, : L.N_ACTIONS], blend[0, : L.N_ACTIONS], rtol=1e-12)
                np.testing.assert_allclose(got[0, L.R_LATENCY], blend[0, L.R_LATENCY], rtol=1e-12)
    assert shortcut > 0  # the case was met
