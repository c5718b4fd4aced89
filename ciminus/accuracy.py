"""The accuracy of each pruned model: its pruned weights written into the ONNX model and run on validation
data with ONNX Runtime.

A sweep that prices real weights magnitude-pruned into its patterns (``sparsity.source = "weights"``,
``prune = true``) and names validation data in ``[accuracy]`` gains ``accuracy`` and ``accuracy_drop``
over the keys that change the pruned weights: the sparsity keys, the flattening order and compression,
and the array shape (FullBlock blocks default to array sides). Each distinct pruned model is evaluated
once and kept in an on-disk cache keyed by the content of the model, the data, the metric and the pruning
(``CIMINUS_CACHE_DIR``, default ``~/.cache/ciminus``), so a second sweep, or a resumed one, evaluates
nothing again. Evaluations run in parallel threads (ONNX Runtime releases the GIL).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ciminus.specs.accuracy import AccuracySpec
    from ciminus.specs.sweep import Sweep

# The keys that decide a layer's pruned weights (the resolved FlexBlock and the flattening order).
PRUNING_KEYS = (("sparsity", "pattern"), ("sparsity", "ratio"), ("sparsity", "block_rows"),
                ("sparsity", "block_cols"), ("sparsity", "nm_n"), ("sparsity", "nm_m"), ("sparsity", "intrablock_masks"),
                ("sparsity", "intrablock_cols"),
                ("sparsity", "order"), ("sparsity", "first"), ("sparsity", "first_ratio"), ("sparsity", "prune"),
                ("mapping", "flatten"), ("mapping", "compress"), ("mapping", "tile_rows"), ("mapping", "tile_cols"),
                ("arch", "array_rows"), ("arch", "array_cols"), ("arch", "subarray_rows"))
EVALUATIONS = [0]  # ONNX Runtime runs of pruned models in this process (the cache's tests read it)


class AccuracyError(ValueError):
    """Validation data or a model that cannot give an accuracy (the message names what and why)."""


@dataclass(frozen=True)
class Validation:
    """Validation data read once: inputs, labels (None for "agreement") and the dense model's outputs."""

    inputs: np.ndarray
    labels: np.ndarray | None
    dense_outputs: np.ndarray  # the dense model's outputs on the inputs
    dense_top: np.ndarray  # the class "agreement" compares with: the dense model's, or the given outputs
    digest: str  # content of model, data and metric


def cache_dir() -> Path:
    return Path(os.environ.get("CIMINUS_CACHE_DIR") or Path.home() / ".cache" / "ciminus") / "accuracy"


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(hashlib.sha256(p).digest())
    return h.hexdigest()


@lru_cache(maxsize=8)
def _model_bytes(onnx_path: str) -> bytes:
    return Path(onnx_path).read_bytes()


def _session(model_bytes: bytes):
    """An ONNX Runtime session of one thread (the evaluations themselves run in parallel) whose errors reach
    the caller as exceptions, not as log lines."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 4
    return ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])


def _run(session, inputs: np.ndarray) -> np.ndarray:
    """The session's first output on ``inputs`` (batch first), one row per input."""
    feed = session.get_inputs()[0]
    batch = feed.shape[0] if feed.shape and isinstance(feed.shape[0], int) else len(inputs)
    outs = []
    for i in range(0, len(inputs), max(1, batch)):
        part = inputs[i: i + batch]
        if len(part) < batch:  # a fixed batch dimension: pad the last batch
            part = np.concatenate([part, np.repeat(part[-1:], batch - len(part), axis=0)])
        outs.append(session.run(None, {feed.name: part})[0][: len(inputs) - i])
    out = np.concatenate(outs)
    return out.reshape(len(inputs), -1)


@lru_cache(maxsize=8)
def validation(onnx_path: str, data_path: str, metric: str) -> Validation:
    """Read and check the data against the model (raises :class:`AccuracyError` naming the problem)."""
    try:
        with np.load(data_path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise AccuracyError(f"cannot be read as .npz ({exc})") from exc
    if "inputs" not in arrays:
        raise AccuracyError(f'has no "inputs" array (it has {", ".join(arrays) or "none"})')
    labels = arrays.get("labels")
    if metric != "agreement" and labels is None:
        raise AccuracyError(f'has no "labels" array, which metric "{metric}" needs')
    try:
        session = _session(_model_bytes(onnx_path))
    except Exception as exc:  # whatever the runtime rejects, said in one line
        raise AccuracyError(f"ONNX Runtime cannot run the model {onnx_path} ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
    feed = session.get_inputs()[0]
    dtype = {"tensor(float)": np.float32, "tensor(double)": np.float64}.get(feed.type)
    if dtype is None:
        raise AccuracyError(f"the model's input {feed.name!r} is {feed.type}; a float input is needed")
    inputs = np.asarray(arrays["inputs"]).astype(dtype, copy=False)
    want = [d if isinstance(d, int) else None for d in feed.shape]
    if inputs.ndim != len(want) or any(w is not None and w != s for w, s in zip(want[1:], inputs.shape[1:])):
        raise AccuracyError(f'"inputs" of shape {list(inputs.shape)} do not fit the model\'s input {feed.name!r} '
                            f"of shape {feed.shape}")
    try:
        dense = _run(session, inputs)
    except Exception as exc:  # whatever the runtime rejects, said in one line
        raise AccuracyError(f"ONNX Runtime cannot run the model on the inputs ({_runtime_message(exc)})") from exc
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(inputs),) or labels.dtype.kind not in "iu":
            raise AccuracyError(f'"labels" must be {len(inputs)} integers (one per input); got shape '
                                f"{list(labels.shape)} of {labels.dtype}")
        if labels.min(initial=0) < 0 or labels.max(initial=0) >= dense.shape[1]:
            raise AccuracyError(f'"labels" range over {labels.min()} .. {labels.max()}, but the model has '
                                f"{dense.shape[1]} outputs (classes 0 .. {dense.shape[1] - 1})")
    reference = dense.argmax(axis=1)
    if metric == "agreement" and "outputs" in arrays:  # reference outputs given: agree with them instead
        given = np.asarray(arrays["outputs"]).reshape(len(inputs), -1) if len(arrays["outputs"]) == len(inputs) \
            else None
        if given is None or given.shape[1] != dense.shape[1]:
            raise AccuracyError(f'"outputs" of shape {list(np.shape(arrays["outputs"]))} do not match the model\'s '
                                f"{len(inputs)} x {dense.shape[1]} outputs")
        reference = given.argmax(axis=1)
    data_bytes = Path(data_path).read_bytes()
    return Validation(inputs, labels, dense, reference, _digest(_model_bytes(onnx_path), data_bytes,
                                                                 metric.encode()))


def _runtime_message(exc: Exception) -> str:
    """ONNX Runtime's reason in one line: the node it ran and what it said, without source paths."""
    text = " ".join(str(exc).split())
    node = re.search(r"running (\w+) node\. Name:'([^']*)'", text)
    said = re.search(r"Status Message: (?:\S+:\d+ .*? was false\. )?(.*)", text)
    if node and said:
        return f"node {node.group(2)!r} ({node.group(1)}): {said.group(1)[:240]}"
    return f"{type(exc).__name__}: {text[:240]}"


def score(outputs: np.ndarray, data: Validation, metric: str) -> float:
    if metric == "agreement":
        return float(np.mean(outputs.argmax(axis=1) == data.dense_top))
    k = 1 if metric == "top1" else min(5, outputs.shape[1])
    top = np.argsort(-outputs, axis=1, kind="stable")[:, :k]
    return float(np.mean((top == data.labels[:, None]).any(axis=1)))


def pruned_model(onnx_path: str, pruned: dict[str, np.ndarray]) -> bytes:
    """The model with each named layer's weight replaced by ``pruned[layer]`` (layer layout)."""
    import onnx
    from onnx import numpy_helper

    from ciminus.sparsity.sources import onnx_model

    origins = onnx_model(onnx_path).origins
    model = onnx.load_from_string(_model_bytes(onnx_path))
    by_name = {init.name: init for init in model.graph.initializer}
    for layer, w in pruned.items():
        tensor, transpose, shape = origins[layer]
        init = by_name[tensor]
        dtype = numpy_helper.to_array(init).dtype
        raw = (w.T if transpose else w).reshape(shape).astype(dtype)
        init.CopyFrom(numpy_helper.from_array(raw, tensor))
    return model.SerializeToString()


def variant_pruning(sweep: Sweep, index: tuple[int, ...]) -> tuple[tuple[Any, ...], str]:
    """(how every layer is pruned at a point, as a hashable key: the FlexBlock numbers pruning reads and
    the flattening order, None for weights kept as they are; the flattening order)."""
    from ciminus.sparsity.flexblock import resolve
    from ciminus.specs.mapping import tile_shape_of

    res = _resolver(sweep)
    specs = res.specs_at(index)
    mapping = res.values_at(index)["mapping"]
    flatten, compress = mapping["flatten"], mapping["compress"]
    a, sp = specs.arch, specs.sparsity
    rows, cols = tile_shape_of(mapping["tile_rows"], mapping["tile_cols"], a.array_rows, a.array_cols,
                               a.subarray_rows)  # blocks sized to the tile
    key = []
    for layer in specs.layers:
        if layer.dynamic:
            continue
        flex = resolve(sp, layer, rows, cols, flatten, compress)
        key.append((layer.name, flex if sp.prune else None, flatten))
    return tuple(key), flatten


def _resolver(sweep: Sweep):
    from ciminus.resolve import Resolver, per_sweep

    return per_sweep("resolver", sweep, Resolver)


def _cache_key(key: tuple[Any, ...]) -> bytes:
    """What decides a pruned model: per layer the FlexBlock numbers pruning reads, and the flattening."""
    return repr(tuple((name, None if f is None else (f.block_rows, f.block_cols, f.ratio, f.ib_keep, f.ib_segment,
                                                        f.ib_period, f.ib_masks, f.first, f.first_kept,
                                                        f.ib_cols),
                       flatten) for name, f, flatten in key)).encode()


def evaluate_variant(onnx_path: str, data: Validation, metric: str, key: tuple[Any, ...], flatten: str) -> float:
    """The accuracy of one pruned model (from the cache when it was evaluated before)."""
    from ciminus.sparsity.sources import onnx_model
    from ciminus.sparsity.weights import prune

    path = cache_dir() / f"{_digest(data.digest.encode(), _cache_key(key))}.json"
    try:
        return float(json.loads(path.read_text())["accuracy"])
    except (OSError, ValueError, KeyError):
        pass
    model = onnx_model(onnx_path)
    pruned = {}
    for name, flex, _ in key:
        if flex is None:
            continue
        layer = next(layer for layer in model.layers if layer.name == name)
        pruned[name] = prune(model.weights[name], layer, flex, flatten)
    outputs = _run(_session(pruned_model(onnx_path, pruned)), data.inputs)
    EVALUATIONS[0] += 1
    value = score(outputs, data, metric)
    try:  # a cache that cannot be written only costs a later evaluation
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"accuracy": value, "metric": metric}))
        os.replace(tmp, path)
    except OSError:
        pass
    return value


def accuracy_axes(sweep: Sweep) -> tuple[int, ...]:
    """The sweep axes along which the pruned weights change."""
    return tuple(_resolver(sweep).varying_axes(list(PRUNING_KEYS)))


def accuracy_table(sweep: Sweep, advance: Callable[[int], None] | None = None
                   ) -> tuple[tuple[int, ...], np.ndarray, float]:
    """(axes, accuracy over them, the dense model's accuracy): every distinct pruned model evaluated once
    (cached on disk), in parallel, once per sweep object; ``advance(n)`` reports progress in sparsity
    variants."""
    from ciminus.resolve import per_sweep

    return per_sweep("accuracy", sweep, lambda s: _accuracy_table(s, advance))


def _accuracy_table(sweep: Sweep, advance: Callable[[int], None] | None
                    ) -> tuple[tuple[int, ...], np.ndarray, float]:
    spec: AccuracySpec = sweep.accuracy
    res = _resolver(sweep)
    onnx_path = res[("workload", "onnx")].values[0]
    data = validation(onnx_path, sweep.files.get(spec.data, spec.data), spec.metric)
    dense = score(data.dense_outputs, data, spec.metric)  # the run that checked the data
    axes = accuracy_axes(sweep)
    shape = tuple(len(sweep.axes[a].values) for a in axes)
    variants: dict[tuple, tuple[list[int], str]] = {}
    index = [0] * len(sweep.axes)
    for flat, combo in enumerate(itertools.product(*(range(n) for n in shape))):
        for a, k in zip(axes, combo, strict=True):
            index[a] = k
        key, flatten = variant_pruning(sweep, tuple(index))
        variants.setdefault(key, ([], flatten))[0].append(flat)
    values = np.full(int(np.prod(shape, dtype=np.int64)) if shape else 1, np.nan)

    def one(item: tuple[tuple, tuple[list[int], str]]) -> tuple[list[int], float]:
        key, (where, flatten) = item
        return where, evaluate_variant(onnx_path, data, spec.metric, key, flatten)

    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        for where, value in pool.map(one, variants.items()):
            values[where] = value
            if advance is not None:
                advance(len(where))
    return axes, values.reshape(shape), dense


def n_variants(sweep: Sweep) -> int:
    """How many combinations of the pruning keys the sweep has (an upper bound on the models to run)."""
    return int(np.prod([len(sweep.axes[a].values) for a in accuracy_axes(sweep)], dtype=np.int64))
