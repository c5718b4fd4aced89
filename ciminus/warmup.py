"""The first run after an install compiles the kernels; every later run loads them from Numba's disk cache.

Compiling takes most of a minute on two cores, and Numba compiles one function at a time per process.
So when the engine is not cached yet, a child process compiles the pricing kernel (on a one-layer sweep
of the same argument types) while this process lowers the sweep — which compiles the stage-1 kernel — and
then the kernels that write the result file; the compilations share the cores. The user is told once, on stderr, instead of waiting in silence.
"""

from __future__ import annotations

import os
import subprocess
import sys

TINY = 'name = "warm"\n[workload]\nlayer = [{name = "l", C = 4, K = 4, R = 3, S = 3, H = 4, W = 4}]\n'


def is_cached(dispatcher) -> bool:
    """Whether a compiled function has an entry in the on-disk cache (True when that cannot be told)."""
    try:
        return os.path.exists(dispatcher._cache._cache_file._index_path)
    except AttributeError:
        return True


def engine_cached() -> bool:
    from ciminus.kernels.price import price_steps

    return is_cached(price_steps)


def stage_one_cached() -> bool:
    from ciminus.kernels.tile_stats import stats_rows

    return is_cached(stats_rows)


def start_engine_compile() -> subprocess.Popen | None:
    """Compile the pricing kernel in a child process (None when it is cached or the JIT is off)."""
    from ciminus.kernels.jit import CACHE

    if not CACHE or os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0") or engine_cached():
        return None  # nothing a child could leave on disk for us, or nothing to compile
    return subprocess.Popen(child_argv("compile_engine()"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def child_argv(call: str) -> list[str]:
    """A Python command line that runs ``call`` after ``from ciminus.warmup import *``, importing this very
    ciminus. ``python -m ciminus.warmup`` would import the one in the working folder first: run from a
    checkout with the package installed (the README's quick start), the child compiled and cached the
    checkout's kernels while this process, importing the installed ones, found none and compiled them again."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return [sys.executable, "-c", f"import sys; sys.path.insert(0, {root!r}); from ciminus.warmup import *; {call}"]


def compile_engine() -> None:
    """Price a one-layer sweep with the cpu engine: compiles and caches ``price_steps`` (what the child
    does; the caller compiles the rest with :func:`compile_output` meanwhile)."""
    import numpy as np

    from ciminus.backends.cpu import CpuEngine
    from ciminus.dataset import Results
    from ciminus.kernels import layout as L
    from ciminus.lower import lower
    from ciminus.validate import parse_sweep

    low = lower(parse_sweep(TINY), statistics=False)
    # Rows from np.empty, not Results.empty: its NaN filler is compiled by the caller (compile_output).
    CpuEngine(low, 0).price_into(0, 1, Results(np.empty((low.rows_per_point, L.N_POINT_BASE)), None))


def compile_output() -> None:
    """Derive the result columns of one NaN point and the silicon of a one-layer sweep: compiles and
    caches the kernels the result file is written with. Only argument types matter to a compile, and they
    are those of any sweep."""
    from ciminus.dataset import Results, derive, silicon
    from ciminus.lower import lower
    from ciminus.validate import parse_sweep

    sweep = parse_sweep(TINY)
    low = lower(sweep, statistics=False)
    derive(sweep, Results.empty(low.rows_per_point, 0, low.keep_actions), 0)  # NaN rows: compiles the filler
    silicon(sweep)


if __name__ == "__main__":  # the child's compile by hand (how docs/performance.md measures it)
    compile_engine()
