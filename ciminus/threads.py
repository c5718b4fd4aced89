"""Disjoint ranges of a GIL-free kernel on every core (``kernels/jit.py::threaded``).

The kernels are plain compiled loops over ``lo .. hi-1`` rather than ``prange`` loops, because Numba
compiles a ``prange`` body into three more libraries that each optimise and emit what it calls again (for
stage 1 and pricing, the whole model). The parallelism is here instead: the range is cut into a few
pieces per thread, and threads take the next piece as they finish one, so a thread that drew cheap items
(infeasible points, dense layers) does not idle while another finishes a costly piece.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

PIECES_PER_THREAD = 4  # pieces a range is cut into, per thread: balance against per-call set-up

_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def _helpers(n: int) -> ThreadPoolExecutor:
    """A pool of at least ``n`` threads, kept for the life of the process (threads are cheap to keep idle)."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < n:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="ciminus")
            _pool_size = n
        return _pool


def pieces(count: int, n_threads: int, per_thread: int = PIECES_PER_THREAD) -> list[int]:
    """Bounds ``b[0] = 0 < b[1] < ... < b[-1] = count`` of the pieces ``count`` items are cut into."""
    n = max(1, min(count, per_thread * n_threads if n_threads > 1 else 1))
    return [count * k // n for k in range(n + 1)]


def on_every_core(kernel: Callable[..., None], count: int, *args) -> None:
    """:func:`in_threads` on ``numba.get_num_threads()`` threads (every core, or what the user or a Dask
    worker set)."""
    import numba

    in_threads(kernel, count, numba.get_num_threads(), *args)


def in_threads(kernel: Callable[..., None], count: int, n_threads: int, *args,
               per_thread: int = PIECES_PER_THREAD) -> None:
    """``kernel(lo, hi, *args)`` over disjoint pieces of ``0 .. count-1`` on ``n_threads`` threads (this one
    included). Pieces must write disjoint outputs. An exception in any piece stops the others taking new
    pieces and is raised here."""
    if count <= 0:
        return
    bounds = pieces(count, n_threads, per_thread)
    if len(bounds) == 2:
        kernel(0, count, *args)
        return
    todo = iter(range(len(bounds) - 1))
    lock = threading.Lock()
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            with lock:
                k = next(todo, None)
            if k is None:
                return
            try:
                kernel(bounds[k], bounds[k + 1], *args)
            except BaseException:
                stop.set()
                raise

    helpers = min(n_threads, len(bounds) - 1) - 1
    futures = [_helpers(helpers).submit(work) for _ in range(helpers)]
    try:
        work()
    finally:
        wait(futures)  # even when this thread failed: the helpers write into the caller's arrays
    for f in futures:
        f.result()
