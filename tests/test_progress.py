"""Phase reporting: plain lines where stderr is not a terminal, nothing with -q."""

from __future__ import annotations

import io
import re

from ciminus.progress import Report


def test_plain_lines_per_phase_and_while_it_runs():
    out = io.StringIO()
    report = Report(True, out, interval=0.0)
    with report.phase("pricing", 10) as advance:
        advance(4)
        advance(6)
    lines = out.getvalue().splitlines()
    assert lines[0] == "ciminus: pricing (10 points) ..."
    assert "ciminus: pricing: 4 of 10 points (40 %)" in lines[1]
    assert re.fullmatch(r"ciminus: pricing: done in \d+\.\d\d s, CPU time \d+\.\d\d s", lines[-1])


def test_quiet_says_nothing():
    out = io.StringIO()
    report = Report(False, out, interval=0.0)
    report.note("x")
    with report.phase("pricing", 10) as advance:
        advance(10)
    assert out.getvalue() == ""


def test_the_closing_line_is_in_words():
    from pathlib import Path

    from ciminus.sweep import RunSummary

    one = RunSummary(Path("a.nc"), 24, 24, 24, 1, 0, 0.5, "cpu").describe("q")
    assert one == "q: 24 design points (all feasible) priced with the cpu backend in 0.50 s -> a.nc"
    every = RunSummary(Path("a.nc"), 4, 12, 10, 1, 0, 0.5, "cpu").describe("q")
    assert "4 design points x 3 mapping candidates = 12 results (10 feasible, 2 not)" in every
