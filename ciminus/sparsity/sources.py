"""Where a layer's zeros come from: random masks, its real (optionally pruned) weights, and real activations.

Files are read once per process (an ONNX model's initializers, an ``.npz`` of weights or of activation
samples by layer name) and shared by every point that names them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ciminus.workloads.layers import Layer


class SourceError(ValueError):
    """A weights or activations file that cannot be used (unreadable, a layer missing, a wrong shape)."""


@lru_cache(maxsize=16)
def npz_arrays(path: str) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, by name."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot be read as .npz ({exc})") from exc


@lru_cache(maxsize=16)
def onnx_model(path: str):  # an OnnxWorkload
    """The layers, weights and post-processing ops of an ONNX file."""
    from ciminus.workloads.onnx_import import load_onnx

    return load_onnx(path)


def layer_weights(source: str, onnx_path: str | None, layer: Layer) -> np.ndarray | None:
    """The weight tensor of ``layer`` from ``source`` ("weights": the ONNX model's; else an ``.npz`` path).

    None for a dynamic layer (its operand is an activation, produced at run time)."""
    if layer.dynamic:
        return None
    if source == "weights":
        if onnx_path is None:
            raise SourceError("the workload has no weights (a built-in network or inline layers)")
        table = onnx_model(onnx_path).weights
    else:
        table = npz_arrays(source)
    if layer.name not in table:
        raise SourceError(f"no weights for layer {layer.name!r}")
    return table[layer.name]


def layer_activations(path: str, layer: Layer) -> np.ndarray | None:
    """Activation samples of ``layer`` from an ``.npz`` by layer name (None when the file has none)."""
    return npz_arrays(path).get(layer.name)


def resolve_path(value: str, base: Path) -> Path | None:
    """A file named in a sweep: relative to the sweep file's folder first, then the working directory."""
    p = Path(value).expanduser()
    if p.is_absolute():
        return p if p.exists() else None
    for candidate in (base / p, Path.cwd() / p):
        if candidate.exists():
            return candidate.resolve()
    return None
