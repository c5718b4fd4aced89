"""Ctrl-C during a sweep that cannot be lost.

Python delivers SIGINT as a ``KeyboardInterrupt`` raised wherever the main thread happens to be. When that is
a ``__del__`` method (Numba's and llvmlite's objects free themselves in finalisers, and the garbage collector
runs them at any bytecode), Python prints "Exception ignored" and carries on: the sweep would then finish and
exit 0 as if the user had not pressed Ctrl-C. While a sweep runs, :func:`watch` installs a handler that also
*records* the request, and the sweep calls :func:`checkpoint` between its steps (after each chunk, each file
hyperslab), which raises again if an earlier ``KeyboardInterrupt`` was swallowed.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_requested = False


def _on_sigint(signum: int, frame: object) -> None:
    global _requested
    _requested = True
    raise KeyboardInterrupt


def requested() -> bool:
    """Whether Ctrl-C was pressed since the current :func:`watch` began."""
    return _requested


def checkpoint() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed, even if the first one was swallowed."""
    if _requested:
        raise KeyboardInterrupt


@contextmanager
def watch() -> Iterator[None]:
    """Record Ctrl-C for :func:`checkpoint` for the duration of the block.

    Only Python's own handler is replaced (from the main thread): a program that ignores SIGINT, or handles
    it itself, keeps its behaviour."""
    global _requested
    mine = (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    _requested = False
    if not mine:
        yield
        return
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _requested = False
