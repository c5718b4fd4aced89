"""The compile policy of every kernel, decided once.

Kernels are compiled with the on-disk cache (a second run starts at once), without ``fastmath`` (the
engine must agree with the reference model to rounding) and with small helpers inlined where the hot
loop calls them. ``CIMINUS_JIT_CACHE=0`` turns the on-disk cache off (a read-only install, or to rule
the cache out when debugging); Numba's own ``NUMBA_DISABLE_JIT=1`` runs every kernel as plain Python,
which the test suite uses to hold the reference model and the engine to the same source.
"""

import os

from numba import njit

CACHE = os.environ.get("CIMINUS_JIT_CACHE", "1").strip().lower() not in ("0", "false", "no", "off")
FASTMATH = False


def jit(fn=None, *, inline: bool = False):
    """A scalar function or helper: ``@jit`` or ``@jit(inline=True)`` (inlined into its callers' IR)."""
    options = dict(cache=CACHE, fastmath=FASTMATH)
    if inline:
        options["inline"] = "always"
    if fn is None:
        return njit(**options)
    return njit(**options)(fn)


def parallel(fn):
    """A loop over independent items: ``prange`` over the outermost axis, one thread per core."""
    return njit(parallel=True, cache=CACHE, fastmath=FASTMATH)(fn)


def python(fn):
    """The plain-Python body of a compiled function (readable tracebacks, the same arithmetic); the
    function itself when the JIT is disabled."""
    return getattr(fn, "py_func", fn)
