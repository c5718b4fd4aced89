"""Ctrl-C during a sweep that cannot be lost.

Python delivers SIGINT as a ``KeyboardInterrupt`` raised wherever the main thread happens to be. When that is
a ``__del__`` method (Numba's and llvmlite's objects free themselves in finalisers, and the garbage collector
runs them at any bytecode), Python prints "Exception ignored" with a traceback and carries on: the sweep would
then finish and exit 0 as if the user had not pressed Ctrl-C. While a sweep runs, :func:`watch` installs a
handler that also *records* the request, and the sweep calls :func:`checkpoint` between its steps (after each
chunk, each file hyperslab), which raises again if an earlier ``KeyboardInterrupt`` was swallowed; the
swallowed one is not printed (other errors in finalisers still are).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_requested = False


def _on_sigint(signum: int, frame: object) -> None:
    global _requested
    _requested = True
    raise KeyboardInterrupt


def _quiet_interrupts(previous: Callable[[Any], object]) -> Callable[[Any], None]:
    """``sys.unraisablehook`` during a sweep: a Ctrl-C swallowed by a finaliser is recorded (by the signal
    handler), not printed; anything else goes to the hook that was there before."""

    def hook(unraisable: Any) -> None:
        if not isinstance(getattr(unraisable, "exc_value", None), KeyboardInterrupt):
            previous(unraisable)

    return hook


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
    hook = sys.unraisablehook
    signal.signal(signal.SIGINT, _on_sigint)
    sys.unraisablehook = _quiet_interrupts(hook)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.unraisablehook = hook
        _requested = False
