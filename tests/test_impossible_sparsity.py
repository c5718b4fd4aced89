"""A sparsity that some points of a sweep cannot build makes those points infeasible, with a reason; one
that no point can build is refused when the sweep is read."""

import numpy as np
import pytest

from ciminus.kernels import layout as L
from ciminus.kernels.jit import python
from ciminus.kernels.tile_stats import sparsity_reason
from ciminus.sweep import evaluate
from ciminus.validate import SpecError, parse_sweep

LAYER = '[[workload.layer]]\nname = "fc"\nkind = "linear"\nC = 96\nK = 40\n'
PINNED = '[mapping]\nmacro_grid = "square"\nloop_order = "vectors-cols-rows"\n'


def reasons(ds) -> np.ndarray:
    return np.array(L.REASON_NAMES)[ds.reason.values.astype(int)]


def test_the_rule():
    def why(*args):
        return python(sparsity_reason)(*args, 0, 0)  # no mask set
    assert why(L.PATTERN_NM, 0.75, 2, 4) == L.REASON_OK  # 1:4
    assert why(L.PATTERN_NM, 0.9, 2, 4) == L.REASON_NM_RATIO  # was silently 1:4
    assert why(L.PATTERN_NM, 0.9, 2, 10) == L.REASON_OK  # 1:10
    assert why(L.PATTERN_NM, 0.0, 2, 4) == L.REASON_OK  # 4:4, dense
    assert why(L.PATTERN_HYBRID, 0.5, 8, 4) == L.REASON_NM_N_OVER_M
    assert why(L.PATTERN_FLEXBLOCK, 0.5, 4, 4) == L.REASON_OK  # keeps the whole segment: no IntraBlock
    assert why(L.PATTERN_ROW_BLOCK, 0.37, 8, 4) == L.REASON_OK  # nm_n / nm_m unused


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_only_the_impossible_points_are_infeasible(backend):
    text = f"""{LAYER}
[sparsity]
pattern = ["nm", "hybrid", "row-block"]
ratio = [0.5, 0.6]
nm_n = [2, 8]
{PINNED}"""
    ds = evaluate(parse_sweep(text), backend)
    names = reasons(ds)
    nm_bad = (ds.pattern == "nm") & (ds.ratio == 0.6)
    hybrid_bad = (ds.pattern == "hybrid") & (ds.nm_n == 8)
    bad = (nm_bad | hybrid_bad).broadcast_like(ds.reason).transpose(*ds.reason.dims).values
    assert not ds.feasible.values[bad].any() and ds.feasible.values[~bad].all()
    assert set(names[(nm_bad & ~hybrid_bad).broadcast_like(ds.reason).transpose(*ds.reason.dims).values]) == {
        "nm_ratio_is_not_k_of_m"}
    assert set(names[hybrid_bad.broadcast_like(ds.reason).transpose(*ds.reason.dims).values]) == {
        "intrablock_keeps_more_than_its_segment"}
    assert np.isnan(ds.energy.values[bad]).all()


def test_monte_carlo_statistics_follow_the_same_rule():
    text = f'{LAYER}\n[sparsity]\npattern = "nm"\nratio = [0.5, 0.6]\nstats = "monte-carlo"\nsamples = 4\n{PINNED}'
    ds = evaluate(parse_sweep(text))
    assert list(reasons(ds)) == ["ok", "nm_ratio_is_not_k_of_m"]


@pytest.mark.parametrize(("sparsity", "message"), [
    ('pattern = "nm"\nratio = 0.9',
     'sparsity.ratio = 0.9: is no whole k of sparsity.nm_m = 4 for pattern "nm"; allowed: one of 0, 0.25, 0.5, 0.75'),
    ('pattern = "hybrid"\nnm_n = 8\nnm_m = 4',
     "sparsity.nm_n = 8: keeps more than the segment length sparsity.nm_m = 4; allowed: an integer from 1 to 4"),
])
def test_a_sparsity_no_point_can_build_is_refused(sparsity, message):
    with pytest.raises(SpecError) as err:
        parse_sweep(f"{LAYER}\n[sparsity]\n{sparsity}\n")
    assert str(err.value) == message
