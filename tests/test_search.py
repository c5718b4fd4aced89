"""The default mapping search: every macro organisation and loop order, as good as an exhaustive explicit list."""

import itertools
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ciminus.kernels import layout as L
from ciminus.kernels.equations import kth_divisor
from ciminus.kernels.jit import python
from ciminus.specs.mapping import tile_rows_of
from ciminus.sweep import evaluate
from ciminus.validate import parse_sweep

CONV = """
name = "search"
[workload]
layer = [{name = "c", kind = "conv", C = 64, K = 64, R = 3, S = 3, H = 56, W = 56, pad = 1}]
[arch]
macros = MACROS
[mapping]
objective = "OBJECTIVE"
"""


@given(st.integers(1, 5000))
def test_kth_divisor_walks_the_divisors_in_order(n):
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    kth = python(kth_divisor)
    assert [kth(n, k) for k in range(1, len(divisors) + 1)] == divisors
    assert kth(n, len(divisors) + 1) == 0


@pytest.mark.parametrize("objective", ["latency", "energy", "edp"])
def test_default_search_equals_the_exhaustive_list(objective):
    """A dense 64->64 3x3 56x56 conv on 8 macros of 32x16 has 18 row tiles x 4 column tiles: the squarest grid
    (4x2) needs 5 x 2 = 10 rounds where 2x4 needs 9. The default search finds the best of every grid and loop
    order listed by hand, on every objective."""
    text = CONV.replace("MACROS", "8").replace("OBJECTIVE", objective)
    searched = evaluate(parse_sweep(text))
    grids = '["1x8", "2x4", "4x2", "8x1"]'
    orders = str(list(L.LOOP_ORDERS)).replace("'", '"')
    listed = evaluate(parse_sweep(text + f"copies = [0, 1, 2, 4]\nmacro_grid = {grids}\nloop_order = {orders}\n"))
    square = evaluate(parse_sweep(text + 'macro_grid = "square"\n'))
    key = {"latency": "latency", "energy": "energy"}.get(objective)
    value = (lambda ds: float(ds[key])) if key else (lambda ds: float(ds.energy * ds.latency))
    assert value(searched) == pytest.approx(value(listed), rel=1e-12)
    assert value(searched) <= value(square) * (1 + 1e-12)
    winner = int(listed.mapping)
    copies, grid, order = list(itertools.product([0, 1, 2, 4], range(4), L.LOOP_ORDERS))[winner]
    assert int(searched.candidate_copies[int(searched.mapping)]) == copies
    assert float(searched.macro_grid_rows) == [1, 2, 4, 8][grid]
    assert str(searched.candidate_loop_order[int(searched.mapping)].values) == order


def test_compute_bound_search_beats_the_squarest_grid():
    """With bandwidth to spare the layer is compute-bound, and the search finds the 9-round organisation."""
    fast = "\n".join(f"{k} = 8192" for k in ("dram_bw", "global_buffer_bw", "input_buffer_bw", "output_buffer_bw",
                                             "weight_load_bw"))
    text = CONV.replace("MACROS", "8\n" + fast).replace("OBJECTIVE", "latency")
    searched = evaluate(parse_sweep(text))
    square = evaluate(parse_sweep(text + 'macro_grid = "square"\n'))
    assert float(searched.compute_cycles) < float(square.compute_cycles)  # 9 rounds instead of 10
    assert float(searched.latency) < float(square.latency)


def test_a_swept_macro_count_searches_its_own_organisations():
    """macros = [6, 8]: 6 has 4 organisations (1x6, 2x3, 3x2, 6x1), 8 has 4; 12 would have 6. Each point
    chooses among its own, and organisations past a point's last one are never chosen."""
    ds = evaluate(parse_sweep(CONV.replace("MACROS", "[6, 8, 12]").replace("OBJECTIVE", "edp")))
    assert ds.sizes["candidate"] == 4 * 6 * 4  # duplication limits x organisations x loop orders
    assert ds.attrs["mapping_candidates_per_point"] == 96  # the size of the space searched, in the result
    assert ds.attrs["mapping_searched"] == '{"copies": 4, "macro_grid": 6, "loop_order": 4}'
    for macros in (6, 8, 12):
        rows = float(ds.macro_grid_rows.sel(macros=macros))
        assert macros % rows == 0 and bool(ds.feasible.sel(macros=macros))


def test_auto_inside_a_list_is_refused():
    from ciminus.validate import SpecError

    with pytest.raises(SpecError, match='"auto" inside a list'):
        parse_sweep(CONV.replace("MACROS", "8").replace("OBJECTIVE", "edp") + 'macro_grid = ["auto", "4x2"]\n')
    with pytest.raises(SpecError, match='"auto" inside a list'):
        parse_sweep(CONV.replace("MACROS", "8").replace("OBJECTIVE", "edp")
                    + 'loop_order = ["auto", "cols-rows-vectors"]\n')


NET = """
name = "twins"
[workload]
layer = [{name = "a", kind = "conv", C = 3, K = 16, R = 3, S = 3, H = 16, W = 16, pad = 1},
         {name = "b", kind = "conv", C = 16, K = 40, R = 3, S = 3, H = 16, W = 16, pad = 1},
         {name = "c", kind = "linear", C = 640, K = 10}]
[arch]
macros = [2, 16]
subarray_rows = 8
subarray_cols = 4
global_buffer_kb = [2, 256]
[sparsity]
pattern = ["dense", "channel-wise", "hybrid"]
ratio = 0.5
[mapping]
select = "SELECT"
objective = "OBJECTIVE"
flatten = ["CRS", "RSC"]
compress = ["row", "col"]
rearrange = ["pad", "slice"]
duplicate = [true, false]
copies = [0, 2]
"""


@pytest.mark.parametrize(("select", "objective"), [("best", "edp"), ("best", "energy"), ("best-per-layer", "latency"),
                                                   ("all", "edp")])
def test_copied_layers_equal_priced_ones(select, objective):
    """Layers whose statistics or duplication cannot tell two candidates apart are copied from the earlier one,
    not priced again: the cpu engine (which copies) and the reference (which prices every candidate) agree
    exactly, over statistics variants that are equal (dense weights, flattening of IntraBlock) and differ,
    duplication that makes copies (16 macros) and none (2), and a spilled map that changes a layer's context."""
    text = NET.replace("SELECT", select).replace("OBJECTIVE", objective)
    cpu = evaluate(parse_sweep(text))
    ref = evaluate(parse_sweep(text), backend="reference")
    for var in ("energy", "latency", "feasible", "reason"):
        assert (cpu[var].values == ref[var].values).all() or var in ("energy", "latency") and bool(
            ((cpu[var] - ref[var]) / ref[var]).pipe(abs).max() < 1e-12), var
    if "mapping" in cpu:
        assert (cpu.mapping.values == ref.mapping.values).all()


def test_a_copy_limit_of_one_is_no_duplication_and_two_lies_between():
    """A small layer on 16 macros fits many copies: at most 2 copies is between none and all of them in
    latency, and a limit of 1 prices exactly as no duplication."""
    text = CONV.replace("MACROS", "16").replace("OBJECTIVE", "latency").replace(
        "C = 64, K = 64, R = 3, S = 3, H = 56, W = 56", "C = 8, K = 16, R = 3, S = 3, H = 28, W = 28") + (
        'macro_grid = "4x4"\nloop_order = "vectors-cols-rows"\n')
    for backend in ("cpu", "reference"):
        runs = {c: evaluate(parse_sweep(text + f"copies = {c}\n"), backend=backend) for c in (0, 1, 2)}
        off = evaluate(parse_sweep(text + "duplicate = false\n"), backend=backend)
        assert float(runs[1].energy) == float(off.energy) and float(runs[1].latency) == float(off.latency)
        assert float(runs[0].latency) < float(runs[2].latency) < float(runs[1].latency)


TILED = """
name = "tile"
[workload]
layer = [{name = "a", kind = "conv", C = 5, K = 20, R = 3, S = 3, H = 16, W = 16, pad = 1},
         {name = "b", kind = "conv", C = 16, K = 24, R = 3, S = 3, H = 16, W = 16, pad = 1}]
[arch]
macros = 8
subarray_rows = 8
subarray_cols = 4
[sparsity]
pattern = ["dense", "row-block"]
ratio = 0.5
input_density = 0.3
[mapping]
macro_grid = "square"
loop_order = "vectors-cols-rows"
copies = 0
compress = "auto"
select = "all"
"""


def test_a_tiling_size_smaller_than_the_array():
    """tile_rows / tile_cols put a smaller sub-matrix in each macro: the array's own size is the default, a
    size that is no whole number of sub-arrays is infeasible, and smaller tiles need more of them (lower
    utilisation) on both backends alike."""
    text = TILED + "tile_rows = [0, 32, 16, 20]\ntile_cols = [0, 8]\n"
    cpu = evaluate(parse_sweep(text))
    ref = evaluate(parse_sweep(text), backend="reference")
    for var in ("energy", "dense_energy", "dense_latency"):
        np.testing.assert_allclose(cpu[var].values, ref[var].values, rtol=1e-12)
    np.testing.assert_array_equal(cpu.reason.values, ref.reason.values)
    for var in ("energy", "latency"):
        np.testing.assert_array_equal(cpu[var].sel(tile_rows=32).values, cpu[var].sel(tile_rows=0).values)
    assert (cpu.reason.sel(tile_rows=20) == L.REASON_SUBARRAY_MISMATCH).all()
    u = cpu.utilization.sel(pattern="dense", tile_cols=0)
    assert float(u.sel(tile_rows=16)) < float(u.sel(tile_rows=0))
    assert float(cpu.utilization.sel(pattern="dense", tile_rows=0, tile_cols=8)) < float(u.sel(tile_rows=0))
    mc = evaluate(parse_sweep(text.replace("input_density = 0.3", 'input_density = 0.3\nstats = "monte-carlo"\n'
                                                                     "samples = 200")))
    ok = cpu.feasible.values
    np.testing.assert_allclose(mc.energy.values[ok], cpu.energy.values[ok], rtol=0.03)


def test_tiling_size_is_searched_where_shorter_tiles_can_pay():
    """With sub-arrays shorter than the array and sparse inputs, the default search tries the array's rows and
    half of them ("half": whole sub-arrays) and equals the explicit list; with dense inputs, or one sub-array
    per array, there is nothing a shorter tile can win and it is not searched."""
    base = TILED.replace('select = "all"\n', "").replace('copies = 0\ncompress = "auto"\n', "")
    auto = parse_sweep(base)
    assert json.loads(evaluate(auto).attrs["mapping_searched"])["tile_rows"] == 2
    listed = evaluate(parse_sweep(base + 'tile_rows = ["array", "half"]\n'))
    runs = {backend: evaluate(auto, backend=backend) for backend in ("cpu", "reference")}
    for ds in runs.values():
        np.testing.assert_allclose(ds.energy.values, listed.energy.values, rtol=1e-12)
        np.testing.assert_allclose(ds.latency.values, listed.latency.values, rtol=1e-12)
    # the dense twin under a tiling size has its own statistics: never copied from another size's
    for var in ("dense_energy", "dense_latency", "speedup"):
        np.testing.assert_allclose(runs["cpu"][var].values, runs["reference"][var].values, rtol=1e-12)
    for change in (("input_density = 0.3", "input_density = 1.0"), ("subarray_rows = 8", "subarray_rows = 32")):
        assert "tile_rows" not in {a.key for a in parse_sweep(base.replace(*change)).candidate_axes}


@pytest.mark.parametrize(("rows", "sub", "value", "tile"), [(32, 8, "half", 16), (32, 32, "half", 32), (48, 16, "half", 16),
                                                          (32, 8, "array", 32), (32, 8, 0, 32), (32, 8, 64, 32)])
def test_tile_rows_values(rows, sub, value, tile):
    assert tile_rows_of(value, rows, sub) == tile
