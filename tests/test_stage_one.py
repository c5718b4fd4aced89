"""Stage 1 at engine speed: the compiled job table gives the statistics the per-layer path gives."""

from __future__ import annotations

import numpy as np

from ciminus.kernels import layout as L
from ciminus.lower import lower
from ciminus.resolve import Resolver
from ciminus.sparsity.cache import StatsCache
from ciminus.sparsity.table import distinct_rows
from ciminus.validate import parse_sweep

SWEEP = """
name = "stage1"
[[workload.layer]]
name = "conv"
C = 13
K = 37
R = 5
S = 5
H = 9
W = 9
[[workload.layer]]
name = "dw"
C = 16
K = 16
R = 3
S = 3
H = 6
W = 6
groups = 16
[[workload.layer]]
name = "fc"
kind = "linear"
C = 300
K = 70
tokens = 3
[[workload.layer]]
name = "attn"
kind = "matmul"
C = 40
K = 12
tokens = 12
dynamic = true
[arch]
array_rows = [16, 32, 64]
array_cols = [8, 16]
subarray_rows = [4, 8]
subarray_cols = 4
[sparsity]
pattern = ["dense", "unstructured", "row-wise", "row-block", "column-wise", "column-block", "channel-wise", "nm", "hybrid", "flexblock"]
ratio = [0.0, 0.3, 0.9]
nm_n = [1, 2]
nm_m = 4
[mapping]
flatten = ["CRS", "RSC"]
compress = ["auto", "row", "col"]
rearrange = ["pad", "slice"]
index_format = "bitmap"
"""


def test_the_job_table_equals_the_per_layer_path():
    sweep = parse_sweep(SWEEP)
    low = lower(sweep)
    res = Resolver(sweep)
    cache = StatsCache()
    shape = sweep.shape
    variants = low.n_variants
    # every combination of the statistics axes (here: every axis but the mapping candidates')
    checked = 0
    for combo, index in enumerate(np.ndindex(*shape)):
        specs = res.specs_at(index)
        seen = set()
        for c, m in enumerate(res.candidates_at(index)):
            v = int(low.cands[c, L.CP_VARIANT])
            if v in seen:
                continue
            seen.add(v)
            for li, layer in enumerate(specs.layers):
                row = (combo * variants + v) * low.max_layers + li
                expect = cache.sparse(layer, specs.sparsity, specs.arch, m, None)
                np.testing.assert_allclose(low.stats[row, : L.N_STATS], expect, rtol=1e-9, atol=1e-12,
                                           err_msg=f"{index} {m} {layer.name}")
                np.testing.assert_array_equal(low.stats[row, L.N_STATS:], cache.dense(layer, specs.arch))
                checked += 1
    assert checked == sweep.size * variants * len(sweep.layers)


def test_distinct_rows_by_hash_equal_sorting():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 3, size=(40, 5)).astype(float)
    rows = base[rng.integers(0, 40, size=500)]
    unique, inverse = distinct_rows(rows)
    np.testing.assert_array_equal(unique[inverse], rows)
    assert len(unique) == len(np.unique(rows, axis=0))


def test_distinct_rows_survive_hash_collisions(monkeypatch):
    """Rows whose hashes collide are told apart (bit for bit, in parallel) and de-duplicated by sorting."""
    from ciminus.sparsity import table

    def colliding(lo, hi, bits, out):
        out[lo:hi] = bits[lo:hi, 0] % 2  # rows that differ only after their first column share a hash

    monkeypatch.setattr(table, "row_hashes", colliding)
    rows = np.array([[1.0, 2.0], [1.0, 3.0], [1.0, 2.0], [3.0, 5.0], [1.0, 3.0]])
    unique, inverse = distinct_rows(rows)
    np.testing.assert_array_equal(unique[inverse], rows)
    assert len(unique) == 3


def test_statistics_per_chunk_and_per_box_equal_one_table():
    """Deferred statistics (a large table, or a Dask worker's own chunks) computed box by box, split
    further when a box's statistics exceed the limit, give the same rows as one table."""
    from ciminus.backends.cpu import CpuEngine
    from ciminus.chunks import plan_chunks

    sweep = parse_sweep(SWEEP.replace('flatten = ["CRS", "RSC"]', 'flatten = "RSC"').replace(
        "[arch]", "[arch]\nmacros = [4, 8]") + "[energy]\ndram_read_pj_per_bit = [3.0, 7.91]\n")
    eager = lower(sweep)
    assert eager.stats is not None
    whole = CpuEngine(eager, 0).points(0, eager.n_points).points
    for size, limit in ((10**9, 1 << 30), (37, 1 << 30), (37, 1)):  # one box; chunks; every box split to the end
        engine = CpuEngine(lower(sweep, defer=True), 0, stats_limit=limit)
        assert engine.low.stats is None
        rows = np.concatenate([engine.points(p0, p1).points for p0, p1 in plan_chunks(sweep.shape, size)])
        np.testing.assert_array_equal(rows, whole)
    odd = CpuEngine(lower(sweep, defer=True), 0)  # a range that is not a box: the whole table, once
    np.testing.assert_array_equal(odd.points(5, 77).points, whole[5:77])
