"""Where a sweep writes, safely: what may be overwritten, one writer per output, and what a resume must match.

- The sweep file itself is never overwritten, nor a directory; any other existing file that is not a
  finished CIMinus result needs ``--force``; an earlier run's ``OUT.nc.partial/`` is never deleted
  silently (``--resume`` continues it, ``--force`` discards it).
- ``OUT.nc.lock`` holds an exclusive ``flock`` while a sweep writes ``OUT.nc``: a second sweep to the same
  output is refused, naming the holder. The kernel releases the lock however the holder ends (kill -9
  included), so a stale lock file never blocks anyone.
- A resume must match the interrupted run's *meaning* (the parsed sweep, not its comments) and the
  content of every file it reads (ONNX, weights, activations), named when one changed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from ciminus import __version__
from ciminus.specs.sweep import Sweep


class SweepSetupError(ValueError):
    """A sweep that cannot start (too big for the disk, a bad chunk size, a foreign partial folder, an
    output that must not be written). ``key`` and ``value`` name what to change, like a sweep-file problem."""

    def __init__(self, key: str, value: object, problem: str, allowed: str):
        self.key, self.value, self.problem, self.allowed = key, value, problem, allowed
        super().__init__(f"{key} = {value}: {problem}; allowed: {allowed}")


class OutputError(SweepSetupError):
    """An output that must not be written (exit 2), naming the key and what to do instead."""


def partial_dir(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def lock_path(out: Path) -> Path:
    return out.with_name(out.name + ".lock")


def temp_path(out: Path) -> Path:
    """The hidden name the netCDF file is written under before it is renamed into place."""
    return out.with_name(f".{out.name}.{os.getpid()}.tmp")


def is_ciminus_result(path: Path) -> bool:
    """Whether ``path`` is a netCDF file written by CIMinus (a finished one, or one from an older version)."""
    try:
        import netCDF4

        with netCDF4.Dataset(str(path)) as nc:
            attrs = set(nc.ncattrs())
            return "ciminus_version" in attrs and (
                "ciminus_status" not in attrs or nc.getncattr("ciminus_status") == "complete")
    except (OSError, RuntimeError, ValueError):
        return False


def check_target(out: Path, sweep: Sweep, force: bool) -> None:
    """Refuse an output that would destroy something: the sweep file, a directory, a foreign file."""
    quoted = f'"{out}"'
    if sweep.source and sweep.source != "<string>":
        with contextlib.suppress(OSError):
            if out.exists() and out.resolve() == Path(sweep.source).resolve():
                raise OutputError("output.path", quoted, "is the sweep file itself", "another path (-o OUT.nc)")
    if out.is_dir():
        raise OutputError("output.path", quoted, "is a directory", "a file path such as results/NAME.nc")
    if out.exists() and not force and not is_ciminus_result(out):
        raise OutputError("output.path", quoted, "exists and is not a CIMinus result",
                          "another path, or --force to overwrite it")


@contextlib.contextmanager
def exclusive(out: Path, sweep: Sweep) -> Iterator[None]:
    """Hold ``OUT.nc.lock`` while the block runs; refuse at once if another sweep holds it."""
    path = lock_path(out)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise OutputError("output.path", f'"{out}"', f"is being written by another sweep ({holder})",
                              "another path, or wait until that sweep ends") from None
        try:  # the holder before us may have removed the file between our open and our lock: try again
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"sweep {sweep.name!r}, pid {os.getpid()} on {socket.gethostname()}, started "
                      f"{time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
        for stale in out.parent.glob(f".{out.name}.*.tmp"):  # left by a killed run: we hold the lock
            stale.unlink(missing_ok=True)
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def input_digests(sweep: Sweep) -> dict[str, str]:
    """The content hash of every file the sweep reads, by its absolute path."""
    return {path: _file_digest(path) for path in sorted(set(sweep.files.values())) if os.path.isfile(path)}


def meaning(sweep: Sweep) -> str:
    """The sweep's parsed values as canonical JSON: what it computes, without its comments or layout."""

    def plain(value: object) -> object:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    doc = {"fixed": plain(dict(sweep.fixed)), "axes": [[a.table, a.key, plain(a.values)] for a in sweep.axes],
           "candidates": [[a.table, a.key, plain(a.values)] for a in sweep.candidate_axes],
           "output": plain(sweep.output), "layers": plain(sweep.layers),
           "layer_input_density": plain(dict(sweep.layer_input_density)),
           "sampled": [[t, k, plain(v)] for (t, k), v in sorted(sweep.sampled.items())],
           "sampling": plain(sweep.sampling)}
    return json.dumps(doc, sort_keys=True, default=str)


def fingerprint(sweep: Sweep, backend: str, chunks: list[tuple[int, int]]) -> str:
    """What a resume must match: the sweep's meaning, the backend, the version and the chunk plan."""
    h = hashlib.sha256()
    h.update(meaning(sweep).encode())
    h.update(json.dumps([backend, __version__, chunks[:1], len(chunks)]).encode())
    return h.hexdigest()


def changed_inputs(sweep: Sweep, recorded: dict[str, str]) -> list[str]:
    """The input files whose content differs from what an interrupted run recorded."""
    now = input_digests(sweep)
    return sorted(p for p in set(now) | set(recorded) if now.get(p) != recorded.get(p))
