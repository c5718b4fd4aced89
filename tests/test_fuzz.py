"""Fuzzing the front door: sweep files with random keys and values (within and just outside the documented
ranges) and random layer shapes, through the ``ciminus sweep`` command. Every run ends with exit 0 and a
result whose feasible points have finite, non-negative costs, or exit 2 with one line per problem — never
a traceback."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import xarray as xr
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ciminus.cli import main
from ciminus.specs import ArchSpec, EnergySpec, MappingSpec, SparsitySpec
from ciminus.specs.fields import BOOL, BOOL_OR_AUTO, CHOICE, INT, INT_OR_CHOICE, Field, spec_fields, toml_repr

TABLES = {"arch": ArchSpec, "energy": EnergySpec, "sparsity": SparsitySpec, "mapping": MappingSpec}
SKIP = {("arch", "template"), ("sparsity", "source"), ("sparsity", "activations"), ("sparsity", "samples"),
        ("sparsity", "stats")}  # files, and Monte-Carlo runs that are slow by design (tested elsewhere)
COSTS = ("energy", "latency", "compute_cycles", "energy_breakdown", "speedup", "energy_saving", "utilization")


def values_of(f: Field, hostile: bool) -> st.SearchStrategy:
    """Values a user might write for a key: its edges and typical values; a hostile user also writes some
    just outside the range, or of another kind."""
    if f.kind in (BOOL, BOOL_OR_AUTO):
        return st.sampled_from([True, False, "auto"] if f.kind == BOOL_OR_AUTO else [True, False])
    if f.kind == CHOICE:
        return st.sampled_from([*f.choices, *(["bogus"] if hostile else [])])
    lo = f.lo if f.lo is not None else 0
    hi = f.hi if f.hi is not None else 1e6
    if f.kind in (INT, INT_OR_CHOICE):
        edges = [v for v in (int(lo), int(lo) + 1, 2, 4, 7, 16, 64, int(min(hi, 1 << 20)), int(hi)) if lo <= v <= hi]
        edges += [int(hi) + 1, int(lo) - 1, 2.5] if hostile else []
        pool = st.sampled_from(edges)
        return st.one_of(pool, st.sampled_from(list(f.choices))) if f.choices else pool
    inside = [v for v in (lo, 1e-3, 0.5, 1.0, 7.91, 1e6, hi) if lo <= v <= hi and not (v == lo and f.lo_open)
              and not (v == hi and f.hi_open)]
    return st.sampled_from(inside + ([-1.0, math.inf, "x"] if hostile else []))


@st.composite
def sweep_files(draw) -> str:
    lines = ['name = "fuzz"', "[workload]", f"batch = {draw(st.sampled_from([1, 2, 1 << 20]))}"]
    for i in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["conv", "linear", "matmul"]))
        C, K = draw(st.sampled_from([1, 3, 16, 64])), draw(st.sampled_from([1, 5, 16, 64]))
        lines += ["[[workload.layer]]", f'name = "l{i}"', f'kind = "{kind}"', f"C = {C}", f"K = {K}"]
        if kind == "conv":
            R = draw(st.sampled_from([1, 3, 5]))
            H = draw(st.sampled_from([R, 8, 1 << 12]))
            lines += [f"R = {R}", f"S = {R}", f"H = {H}", f"W = {H}",
                      f"stride = {draw(st.sampled_from([1, 2]))}", f"pad = {draw(st.sampled_from([0, 1]))}"]
        else:
            lines.append(f"tokens = {draw(st.sampled_from([1, 7, 1 << 16]))}")
            if kind == "matmul":
                lines.append(f"dynamic = {toml_repr(draw(st.booleans()))}")
    hostile = draw(st.booleans())
    for table, cls in TABLES.items():
        fields = {k: f for k, f in spec_fields(cls).items() if (table, k) not in SKIP}
        chosen = draw(st.lists(st.sampled_from(sorted(fields)), max_size=4, unique=True))
        lines.append(f"[{table}]")
        for key in chosen:
            f = fields[key]
            value = draw(values_of(f, hostile))
            if f.sweepable and draw(st.booleans()):
                other = draw(values_of(f, hostile))
                value = [value, other] if other != value else [value]
            if isinstance(value, float) and math.isinf(value):
                lines.append(f"{key} = inf")
            else:
                lines.append(f"{key} = {toml_repr(value)}")
    return "\n".join(lines) + "\n"


def run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse and load_sweep exit with a status
            code = int(exc.code or 0)
    return code, err.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                 HealthCheck.function_scoped_fixture])
@given(sweep_files())
def test_a_sweep_file_ends_in_a_result_or_one_line_per_problem(tmp_path, text):
    path = tmp_path / "fuzz.toml"
    path.write_text(text)
    out = tmp_path / "fuzz.nc"
    out.unlink(missing_ok=True)
    code, err = run(["sweep", str(path), "-o", str(out), "-q", "--force"])
    assert "Traceback" not in err, err
    assert code in (0, 2), (code, err)
    event(f"exit {code}")
    if code == 2:
        assert err and all(line.startswith("ciminus: error: ") for line in err.splitlines()), err
        return
    with xr.open_dataset(out) as ds:
        ok = ds["feasible"].values
        for name in COSTS:
            a = ds[name].values
            mask = np.broadcast_to(ok.reshape(ok.shape + (1,) * (a.ndim - ok.ndim)), a.shape)
            assert np.isfinite(a[mask]).all() and (a[mask] >= 0).all(), (name, text)
