"""The engines that price a sweep, behind one small protocol, and the registry the CLI reads.

An engine is built once per sweep (and per Dask worker) from a *job* — the lowered arrays for the
compiled engines, the sweep itself for the reference model — and then prices any range of points into
:class:`ciminus.dataset.Results` rows. Every engine computes the same rows with the same functions of
``ciminus.kernels``; they differ only in where the loop runs.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ciminus.dataset import Results
    from ciminus.specs.sweep import Sweep


class BackendUnavailable(RuntimeError):
    """A backend this machine cannot run (no GPU, numba-cuda missing or broken)."""


class Engine(Protocol):
    """What a backend builds for one sweep."""

    name: str

    def points(self, p0: int, p1: int) -> Results:
        """The output rows of points p0 .. p1-1 (every candidate is a row with ``select = "all"``)."""


@dataclass(frozen=True)
class Backend:
    """A registered backend: its module and class, whether it reads lowered arrays, a line for ``--help``."""

    name: str
    module: str
    cls: str
    lowered: bool
    help: str

    def engine(self, job, n_layers: int) -> Engine:
        return getattr(importlib.import_module(self.module), self.cls)(job, n_layers)

    def check(self) -> None:
        """Raise :class:`BackendUnavailable` now, before any work, if this machine cannot run the backend
        (the module's ``available()``, where it has one)."""
        available = getattr(importlib.import_module(self.module), "available", None)
        if available is not None:
            available()


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("cpu", "ciminus.backends.cpu", "CpuEngine", True, "the Numba engine on every core (default)"),
        Backend("reference", "ciminus.backends.reference", "ReferenceEngine", False,
                "the readable pure-Python model, point by point (slow; the yardstick)"),
        Backend("cuda", "ciminus.backends.cuda", "CudaEngine", True,
                "the engine on an NVIDIA GPU (pip install 'ciminus[cuda]')"),
    )
}


def backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}")
    return BACKENDS[name]


def prepare_job(sweep: Sweep, name: str, distributed: bool = False):
    """What a chunk task needs: the lowered arrays for the compiled engines, the sweep for the reference.
    On a cluster the tile statistics are left to the workers, each computing those of its own chunks."""
    if not backend(name).lowered:
        return sweep
    from ciminus.lower import lower

    return lower(sweep, defer=distributed and name == "cpu")


def make_engine(name: str, job, n_layers: int) -> Engine:
    return backend(name).engine(job, n_layers)
