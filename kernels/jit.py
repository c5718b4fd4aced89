"""The compile policy of every kernel, decided once.

Kernels are compiled with the on-disk cache (a second run starts at once), without ``fastmath`` (the
engine must agree with the reference model to rounding) and with small helpers inlined where the hot
loop calls them. ``CIMINUS_JIT_CACHE=0`` turns the on-disk cache off (a read-only install, or to rule
the cache out when debugging); Numba's own ``NUMBA_DISABLE_JIT=1`` runs every kernel as plain Python,
which the test suite uses to hold the reference model and the engine to the same source.
"""

import hashlib
import os
from pathlib import Path

from numba import njit
from numba.core import config

CACHE = os.environ.get("CIMINUS_JIT_CACHE", "1").strip().lower() not in ("0", "false", "no", "off")
FASTMATH = False
HERE = Path(__file__).resolve().parent


def _cache_dirs() -> list[Path]:
    """Where Numba keeps the compiled kernels of this folder: beside the sources, or under NUMBA_CACHE_DIR."""
    dirs = [HERE / "__pycache__"]
    if config.CACHE_DIR:
        dirs.append(Path(config.CACHE_DIR) / HERE.relative_to(HERE.anchor))
    return dirs


def _invalidate_stale_cache() -> None:
    """Numba keys a cached function on its own file only, so a kernel whose callee in another file changed
    would load stale machine code. The kernels are one unit: when any of their sources changes, every
    cached kernel of this folder is dropped (and compiled again on first use)."""
    digest = hashlib.sha256()
    for path in sorted(HERE.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    stamp = digest.hexdigest()
    for folder in _cache_dirs():
        marker = folder / "ciminus-kernels.sources"
        try:
            if marker.read_text() == stamp:
                continue
        except OSError:
            pass
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for old in [*folder.glob("*.nbi"), *folder.glob("*.nbc")]:
                old.unlink(missing_ok=True)
            marker.write_text(stamp)
        except OSError:  # a read-only install: Numba then keeps its cache elsewhere or not at all
            pass


if CACHE:
    _invalidate_stale_cache()


def jit(fn=None, *, inline: bool = False, forceinline: bool = False):
    """A scalar function or helper: ``@jit``, ``@jit(inline=True)`` (Numba copies its IR into every caller
    before typing: cheap for small helpers) or ``@jit(forceinline=True)`` (compiled once and inlined by
    LLVM at its call sites: for a large function, as fast without Numba copying its IR into each caller)."""
    options = dict(cache=CACHE, fastmath=FASTMATH)
    if inline:
        options["inline"] = "always"
    if forceinline:
        options["forceinline"] = True
    if fn is None:
        return njit(**options)
    return njit(**options)(fn)


def threaded(fn):
    """A loop over independent items ``lo .. hi-1`` (its first two arguments) that releases the GIL, so
    that ``ciminus.threads.in_threads`` runs disjoint ranges of it on every core at once.

    In place of ``prange``: Numba compiles a ``prange`` loop into three more libraries (the loop body as a
    gufunc, its wrapper and the launcher), and LLVM optimises and emits everything each one links again,
    three more times — for stage 1 and pricing, the whole model. As plain loops the model is compiled twice
    instead of five times: LLVM's share of the compile halves and the first run after an install takes
    18 s instead of 28 s, at the same speed; a small loop compiles in ~0.4 s instead of ~0.7-0.9 s
    (docs/performance.md)."""
    return njit(nogil=True, cache=CACHE, fastmath=FASTMATH)(fn)


def python(fn):
    """The plain-Python body of a compiled function (readable tracebacks, the same arithmetic); the
    function itself when the JIT is disabled."""
    return getattr(fn, "py_func", fn)
