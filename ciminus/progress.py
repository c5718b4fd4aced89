"""What a running sweep tells its user on stderr, phase by phase.

On a terminal each phase with a known size gets a progress bar (rate, time left); elsewhere (a log file,
a batch job, CI) every phase prints a plain line when it starts and ends, and a line about every
``interval`` seconds while it runs, so a long sweep is never silent. ``-q`` turns all of it off.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO


class Report:
    """Phase reporting for one sweep."""

    def __init__(self, enabled: bool = True, stream: TextIO | None = None, interval: float = 10.0) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.interval = interval
        self.tty = enabled and self.stream.isatty()

    def note(self, text: str) -> None:
        """One line, now."""
        if self.enabled:
            print(f"ciminus: {text}", file=self.stream, flush=True)

    @contextmanager
    def phase(self, name: str, total: int | None = None, unit: str = "points", initial: int = 0
              ) -> Iterator[Callable[[int], None]]:
        """A phase: yields ``advance(n)``; says when it started, how far it is and how long it took (wall time,
        and this process's CPU time on every core: how many cores the phase kept busy)."""
        start = time.perf_counter()
        cpu = time.process_time()
        done = initial
        last = start
        bar = None
        if self.tty and total:
            from tqdm import tqdm

            bar = tqdm(total=total, initial=initial, unit=unit[:-1] if unit.endswith("s") else unit,
                       unit_scale=True, dynamic_ncols=True, mininterval=0.5, delay=1.0, file=self.stream,
                       desc=name)
        elif self.enabled and not self.tty:
            size = f" ({total:,} {unit if total != 1 else unit.rstrip('s')})" if total else ""
            self.note(f"{name}{size} ...")

        def advance(n: int) -> None:
            nonlocal done, last
            done += n
            if bar is not None:
                bar.update(n)
            elif self.enabled and not self.tty and total and time.perf_counter() - last >= self.interval:
                last = time.perf_counter()
                self.note(f"{name}: {done:,} of {total:,} {unit} ({100 * done / total:.0f} %), "
                          f"{last - start:.0f} s")

        try:
            yield advance
        finally:
            if bar is not None:
                bar.close()
            if self.enabled and not self.tty:
                self.note(f"{name}: done in {time.perf_counter() - start:.2f} s, CPU time "
                          f"{time.process_time() - cpu:.2f} s")
