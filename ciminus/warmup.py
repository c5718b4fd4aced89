"""The first run after an install compiles the kernels; every later run loads them from Numba's disk cache.

Compiling takes most of a minute on two cores, and Numba compiles one function at a time per process.
So when the engine is not cached yet, a child process compiles it (on a one-layer sweep of the same
argument types) while this process lowers the sweep — which compiles the stage-1 kernel — and the two
compilations share the cores. The user is told once, on stderr, instead of waiting in silence.
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
    from ciminus.kernels.price import price_points

    return is_cached(price_points)


def stage_one_cached() -> bool:
    from ciminus.kernels.tile_stats import stats_table

    return is_cached(stats_table)


def start_engine_compile() -> subprocess.Popen | None:
    """Compile the pricing kernel in a child process (None when it is cached or the JIT is off)."""
    from ciminus.kernels.jit import CACHE

    if not CACHE or os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0") or engine_cached():
        return None  # nothing a child could leave on disk for us, or nothing to compile
    return subprocess.Popen([sys.executable, "-m", "ciminus.warmup"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def compile_engine() -> None:
    """Price a one-layer sweep with the cpu engine and derive its result columns: compiles and caches
    ``price_points`` and the column kernel the result file is written with."""
    from ciminus.backends.cpu import CpuEngine
    from ciminus.dataset import derive
    from ciminus.lower import lower
    from ciminus.validate import parse_sweep

    sweep = parse_sweep(TINY)
    derive(sweep, CpuEngine(lower(sweep, statistics=False), 0).points(0, 1), 0)


if __name__ == "__main__":
    compile_engine()
