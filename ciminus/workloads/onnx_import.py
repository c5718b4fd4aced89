"""Read a network from an ONNX file as CIMinus :class:`~ciminus.workloads.layers.Layer` records.

The built-in networks cover a handful of published models; an ONNX export lets a user price *their*
model, and its actual (possibly pruned) weights, without re-typing its shapes. Only the operations that
multiply activations by a weight matrix are mapped onto the macros:

* ``Conv`` (1-D or 2-D) becomes a ``conv`` layer. ``H, W`` come from ONNX shape inference, so the
  file needs fixed spatial input sizes; a 1-D convolution is a 2-D one with ``H = R = 1``.
* ``Gemm`` and ``MatMul`` with one constant operand become a ``linear`` layer. Its weight is stored
  as ``(K, C)`` (outputs x reduction, ``y = W @ x``) whatever the orientation in the file.
* ``Gemm`` / ``MatMul`` of two run-time tensors (attention's ``Q @ K^T`` and ``P @ V``) becomes a
  ``matmul`` layer with ``dynamic=True``: its "weights" must be written into the macros per sample.

Every other node is post-processing (activations, pooling, normalisation, reshapes, additions) and is
only listed by name, except nodes that merely produce constants (``Constant``, and ``Identity``, ``Cast``
or ``Transpose`` applied to a constant), which are folded into the weights they feed.

Ops that clearly multiply by weights but have no faithful ``Layer`` form are errors rather than silent
omissions, because dropping them would under-price the network: ``ConvTranspose``, 3-D convolutions,
recurrent cells, ``Einsum``, fused attention, quantized matmuls/convs, and any node of a non-standard
domain whose type names a conv, matmul, gemm or attention. A ``Conv`` is also an error when its weight
is not a constant, when its strides or (for kernels wider than 1) dilations differ between the axes, or
when its padding cannot be replaced by one symmetric ``pad``. Padding only enters the cost model through
the output size, so asymmetric padding (e.g. TensorFlow's "SAME" at stride 2) is accepted when a single
symmetric value gives the *same output height and width*; otherwise (e.g. pads 0/1 at stride 1) it is
rejected. Control-flow nodes (``If``, ``Loop``, ``Scan``) are rejected when their subgraphs contain any
of these ops, and are post-processing otherwise.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ciminus.workloads.layers import Layer

if TYPE_CHECKING:  # onnx is an optional dependency: imported when a file is actually read
    import onnx

PRICED_OPS: tuple[str, ...] = ("Conv", "Gemm", "MatMul")
"""ONNX op types mapped to layers (default domain only)."""

UNSUPPORTED_OPS: frozenset[str] = frozenset({
    "ConvTranspose", "ConvInteger", "QLinearConv", "DeformConv",
    "MatMulInteger", "QLinearMatMul", "Einsum",
    "RNN", "GRU", "LSTM", "Attention",
})
"""Default-domain op types that multiply by weights but have no ``Layer`` form: importing them fails."""

_STANDARD_DOMAINS = ("", "ai.onnx")
_CUSTOM_MVM = re.compile(r"Conv(?!ert)|MatMul|Gemm|Attention", re.IGNORECASE)  # suspicious custom op types
_CONST_FOLDABLE = ("Identity", "Cast", "Transpose")
_NOT_SUPPORTED = "not supported (Conv, Gemm and MatMul are priced; other ops are post-processing)"

Dims = tuple[int | None, ...]
"""A tensor shape from shape inference; ``None`` marks a symbolic or unknown dimension."""


class OnnxImportError(ValueError):
    """An ONNX file that cannot be read, or a node that cannot be priced faithfully.

    The message names the file and the node (op type and name) so the user can find it in a viewer.
    """


@dataclass(frozen=True)
class OnnxWorkload:
    """What :func:`load_onnx` found in a model.

    ``layers`` are the priced layers in graph order. ``weights[layer.name]`` is the constant weight of a
    layer (``(K, C/groups, R, S)`` for a conv, ``(K, C)`` for a linear layer; dynamic matmuls have
    none), kept so sparsity can be measured on the real tensors. ``post_ops`` lists every other node as
    ``"OpType name"``. Equality and hashing ignore ``weights`` (arrays have no single truth value).
    """

    layers: tuple[Layer, ...]
    weights: dict[str, np.ndarray] = field(compare=False)
    post_ops: tuple[str, ...]
    # layer name -> (initializer name, transpose, shape): the initializer is the layer's weight, transposed
    # when ``transpose``, reshaped to ``shape`` (how pruned weights go back into the model); a weight that
    # is not a graph initializer has no entry
    origins: dict[str, tuple[str, bool, tuple[int, ...]]] = field(default_factory=dict, compare=False)


def _onnx() -> Any:
    """Import onnx on first use, so the rest of CIMinus works without it."""
    try:
        import onnx
        import onnx.shape_inference
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("reading ONNX files needs the 'onnx' package (pip install onnx)") from exc
    return onnx


# ----- small helpers ----------------------------------------------------------------------------------
def _label(node: onnx.NodeProto) -> str:
    """How a node is named in messages: its name, or its first output when it has none."""
    if node.name:
        return f'{node.op_type} "{node.name}"'
    out = node.output[0] if node.output else "?"
    return f'{node.op_type} (unnamed, output "{out}")'


def _post_op(node: onnx.NodeProto) -> str:
    """A ``post_ops`` entry: ``"OpType name"``, the name falling back to the first output."""
    return f"{node.op_type} {node.name or (node.output[0] if node.output else '?')}"


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    """A node's attributes as plain Python values."""
    helper = _onnx().helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _shape_of(value_info: onnx.ValueInfoProto) -> Dims | None:
    """The inferred shape of a value, or ``None`` when even its rank is unknown."""
    tensor = value_info.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim)


def _constant_value(node: onnx.NodeProto) -> np.ndarray | None:
    """The tensor a ``Constant`` node produces (``None`` for the sparse form, which is not a weight)."""
    numpy_helper = _onnx().numpy_helper
    for attr in node.attribute:
        if attr.name == "value":
            return numpy_helper.to_array(attr.t)
        if attr.name == "value_float":
            return np.asarray(attr.f, dtype=np.float32)
        if attr.name == "value_floats":
            return np.asarray(list(attr.floats), dtype=np.float32)
        if attr.name == "value_int":
            return np.asarray(attr.i, dtype=np.int64)
        if attr.name == "value_ints":
            return np.asarray(list(attr.ints), dtype=np.int64)
    return None


def _fold(node: onnx.NodeProto, consts: dict[str, np.ndarray]) -> np.ndarray | None:
    """Evaluate the few ops that exporters put between an initializer and its consumer."""
    if node.op_type == "Constant":
        return _constant_value(node)
    if node.op_type not in _CONST_FOLDABLE or not node.input or node.input[0] not in consts:
        return None
    value = consts[node.input[0]]
    if node.op_type == "Identity":
        return value
    if node.op_type == "Transpose":
        return np.transpose(value, _attrs(node).get("perm"))
    to = _attrs(node).get("to")
    return value.astype(_onnx().helper.tensor_dtype_to_np_dtype(to)) if to is not None else None


def _contains_mvm(graph: onnx.GraphProto) -> str | None:
    """First priced or unsupported op type inside a (nested) subgraph, if any."""
    for node in graph.node:
        if node.op_type in PRICED_OPS or node.op_type in UNSUPPORTED_OPS:
            return node.op_type
        for sub in _subgraphs(node):
            found = _contains_mvm(sub)
            if found:
                return found
    return None


def _subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    """Graphs held in a node's attributes (the bodies of If / Loop / Scan)."""
    graphs = []
    for attr in node.attribute:
        if attr.HasField("g"):
            graphs.append(attr.g)
        graphs.extend(attr.graphs)
    return graphs


def _reject_reason(node: onnx.NodeProto) -> str | None:
    """Why a non-priced node must stop the import (it does MVMs we would silently drop), else ``None``."""
    standard = node.domain in _STANDARD_DOMAINS
    if standard and node.op_type in UNSUPPORTED_OPS:
        return _NOT_SUPPORTED
    if not standard and _CUSTOM_MVM.search(node.op_type):
        return f"op of domain {node.domain!r} {_NOT_SUPPORTED}"
    for sub in _subgraphs(node):
        inner = _contains_mvm(sub)
        if inner:
            return f"its subgraph contains {inner}, which cannot be priced inside control flow"
    return None


# ----- the importer -----------------------------------------------------------------------------------
class _Importer:
    """State of one import: constants, inferred shapes, and the layers found so far."""

    def __init__(self, graph: onnx.GraphProto, batch_dim: int, source: str) -> None:
        self.batch = batch_dim
        self.source = source
        self.consts: dict[str, np.ndarray] = {}
        numpy_helper = _onnx().numpy_helper
        for init in graph.initializer:
            self.consts[init.name] = numpy_helper.to_array(init)
        self.initializers = set(self.consts)
        self.origins: dict[str, tuple[str, bool, tuple[int, ...]]] = {}
        self.shapes: dict[str, Dims | None] = {}
        for vi in (*graph.input, *graph.value_info, *graph.output):
            self.shapes[vi.name] = _shape_of(vi)
        self.layers: list[Layer] = []
        self.weights: dict[str, np.ndarray] = {}
        self.post_ops: list[str] = []
        self._names: set[str] = set()

    # errors and names ---------------------------------------------------------------------------
    def error(self, node: onnx.NodeProto, what: str) -> OnnxImportError:
        """An error naming the file and the node, so the user can find it in a model viewer."""
        return OnnxImportError(f"{self.source}: {_label(node)}: {what}")

    def unique_name(self, node: onnx.NodeProto, index: int) -> str:
        """The node's name (else its first output), suffixed ``_1``, ``_2``, ... if already taken."""
        base = node.name or (node.output[0] if node.output else "") or f"{node.op_type}_{index}"
        name, n = base, 0
        while name in self._names:
            n += 1
            name = f"{base}_{n}"
        self._names.add(name)
        return name

    def shape(self, node: onnx.NodeProto, tensor: str) -> Dims:
        """Shape of an input tensor: a constant's, else the inferred one; unknown rank is an error."""
        if tensor in self.consts:
            return tuple(int(d) for d in self.consts[tensor].shape)
        dims = self.shapes.get(tensor)
        if dims is None:
            raise self.error(node, f'shape of input "{tensor}" unknown after shape inference '
                                   "(export the model with fixed input shapes)")
        return dims

    def fixed(self, node: onnx.NodeProto, dims: Dims, what: str, batch_first: bool = False) -> list[int]:
        """Concrete dims; a symbolic first dim of a batched tensor is the batch, any other is an error."""
        out = []
        for i, d in enumerate(dims):
            if d is None and i == 0 and batch_first:
                d = self.batch
            if d is None:
                raise self.error(node, f"{what} has a dimension that is not fixed ({_fmt(dims)}); "
                                       "export the model with fixed shapes")
            out.append(int(d))
        return out

    def per_sample(self, total: int) -> int:
        """Divide a count that includes the batch by the batch the model was exported with (>= 1)."""
        return max(1, total // self.batch)

    def add(self, node: onnx.NodeProto, index: int, weight: np.ndarray | None,
            origin: tuple[str, bool] | None = None, **fields: Any) -> None:
        """Record a layer and a read-only copy of its weight (the workload is frozen), and where the weight
        lives in the model (``origin``: the tensor and whether the layer's weight is its transpose)."""
        name = self.unique_name(node, index)
        self.layers.append(Layer(name=name, **fields))
        if weight is not None:
            w = np.array(weight, copy=True)
            w.setflags(write=False)
            self.weights[name] = w
            if origin is not None and origin[0] in self.initializers:
                self.origins[name] = (origin[0], origin[1], tuple(int(d) for d in self.consts[origin[0]].shape))

    # the walk -----------------------------------------------------------------------------------
    def run(self, graph: onnx.GraphProto) -> OnnxWorkload:
        for index, node in enumerate(graph.node):
            folded = _fold(node, self.consts)
            if folded is not None:
                self.consts[node.output[0]] = folded
                continue
            if node.domain in _STANDARD_DOMAINS and node.op_type == "Conv":
                self.conv(node, index)
            elif node.domain in _STANDARD_DOMAINS and node.op_type in ("Gemm", "MatMul"):
                self.mvm(node, index)
            else:
                reason = _reject_reason(node)
                if reason:
                    raise self.error(node, reason)
                self.post_ops.append(_post_op(node))
        return OnnxWorkload(tuple(self.layers), self.weights, tuple(self.post_ops), self.origins)

    # Conv -----------------------------------------------------------------------------------------
    def conv(self, node: onnx.NodeProto, index: int) -> None:
        if len(node.input) < 2 or node.input[1] not in self.consts:
            weight_name = node.input[1] if len(node.input) > 1 else "?"
            raise self.error(node, f'weight "{weight_name}" is not a constant (initializer or Constant '
                                   "node); only fixed weights can be mapped onto the macros")
        w = self.consts[node.input[1]]
        spatial = w.ndim - 2
        if spatial == 3:
            raise self.error(node, "3-D convolution not supported (only 1-D and 2-D convolutions map to "
                                   "a conv layer)")
        if spatial not in (1, 2):
            raise self.error(node, f"weight of rank {w.ndim} not supported (expected 3 or 4)")
        a = _attrs(node)
        groups = int(a.get("group", 1))
        kernel = [int(k) for k in w.shape[2:]]
        if "kernel_shape" in a and list(a["kernel_shape"]) != kernel:
            raise self.error(node, f"kernel_shape {list(a['kernel_shape'])} disagrees with the weight's "
                                   f"{kernel}")
        strides = [int(s) for s in a.get("strides", [1] * spatial)]
        dilations = [int(d) for d in a.get("dilations", [1] * spatial)]
        x_dims = self.shape(node, node.input[0])
        if len(x_dims) != spatial + 2:
            raise self.error(node, f"input of rank {len(x_dims)} does not match a {spatial}-D kernel")
        _, C, *sizes = self.fixed(node, x_dims, "input", batch_first=True)
        K = int(w.shape[0])
        if C != int(w.shape[1]) * groups or K % groups:
            raise self.error(node, f"{C} input channels, weight {list(w.shape)} and group={groups} "
                                   "are inconsistent")
        if len(set(strides)) != 1:
            raise self.error(node, f"strides {strides} differ between axes; a conv layer has one stride")
        wide = [d for d, k in zip(dilations, kernel) if k > 1]
        if len(set(wide)) > 1:
            raise self.error(node, f"dilations {dilations} differ between axes; a conv layer has one "
                                   "dilation")
        stride, dilation = strides[0], (wide[0] if wide else 1)
        begins, ends = self.pads(node, a, sizes, kernel, strides, dilations)
        if spatial == 1:  # a 1-D conv is a 2-D one over a 1-pixel-high map with a 1-tap-high kernel
            sizes, kernel, begins, ends = [1, *sizes], [1, *kernel], [0, *begins], [0, *ends]
            dilations = [1, *dilations]
            w = w.reshape(K, w.shape[1], 1, kernel[1])
        pad = self.symmetric_pad(node, sizes, kernel, stride, dilations, begins, ends)
        self.add(node, index, w, (node.input[1], False), kind="conv", C=C, K=K, R=kernel[0], S=kernel[1], H=sizes[0],
                 W=sizes[1], stride=stride, pad=pad, dilation=dilation, groups=groups)

    def pads(self, node: onnx.NodeProto, a: dict[str, Any], sizes: list[int], kernel: list[int],
             strides: list[int], dilations: list[int]) -> tuple[list[int], list[int]]:
        """Begin and end padding per spatial axis, resolving ``auto_pad`` the way ONNX defines it."""
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else str(auto)
        n = len(sizes)
        if auto in ("NOTSET", ""):
            pads = [int(p) for p in a.get("pads", [0] * 2 * n)]
            return pads[:n], pads[n:]
        if auto == "VALID":
            return [0] * n, [0] * n
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            begins, ends = [], []
            for size, k, s, d in zip(sizes, kernel, strides, dilations):
                total = max(0, (math.ceil(size / s) - 1) * s + d * (k - 1) + 1 - size)
                small, big = total // 2, total - total // 2
                begins.append(small if auto == "SAME_UPPER" else big)
                ends.append(big if auto == "SAME_UPPER" else small)
            return begins, ends
        raise self.error(node, f"auto_pad {auto!r} not recognised")

    def symmetric_pad(self, node: onnx.NodeProto, sizes: list[int], kernel: list[int], stride: int,
                      dilations: list[int], begins: list[int], ends: list[int]) -> int:
        """One pad value giving the true output size on every axis (padding matters only through it)."""
        def out(size: int, k: int, d: int, total: int) -> int:
            return (size + total - d * (k - 1) - 1) // stride + 1

        axes = list(zip(sizes, kernel, dilations, begins, ends))
        want = [out(size, k, d, b + e) for size, k, d, b, e in axes]
        if min(want) < 1:
            raise self.error(node, f"output size {want} is empty")
        fits = [p for p in range(max([*begins, *ends, 0]) + 1)
                if all(out(size, k, d, 2 * p) == o for (size, k, d, _, _), o in zip(axes, want))]
        if not fits:
            raise self.error(node, f"pads begin {begins} / end {ends} cannot be expressed as one "
                                   f"symmetric pad giving the same output size {want}")
        return min(fits, key=lambda p: (sum(abs(2 * p - b - e) for _, _, _, b, e in axes), p))

    # Gemm / MatMul --------------------------------------------------------------------------------
    def mvm(self, node: onnx.NodeProto, index: int) -> None:
        """Map ``left @ right`` to a linear layer (one constant operand) or a dynamic matmul (none)."""
        if len(node.input) < 2:
            raise self.error(node, "needs two inputs")
        names = node.input[0], node.input[1]
        dims = [list(self.shape(node, t)) for t in names]
        values = [self.consts.get(t) for t in names]
        if node.op_type == "Gemm":
            a = _attrs(node)
            for i, flag in enumerate(("transA", "transB")):
                if len(dims[i]) != 2:
                    raise self.error(node, f"Gemm input of rank {len(dims[i])} (expected 2)")
                if a.get(flag, 0):
                    dims[i] = dims[i][::-1]
                    if values[i] is not None:
                        values[i] = values[i].T
        else:  # MatMul follows numpy.matmul: a 1-D operand is a row (left) or a column (right)
            if len(dims[0]) == 1:
                dims[0] = [1, *dims[0]]
                values[0] = None if values[0] is None else values[0][None, :]
            if len(dims[1]) == 1:
                dims[1] = [*dims[1], 1]
                values[1] = None if values[1] is None else values[1][:, None]
        left, right = dims
        if left[-1] is not None and right[-2] is not None and left[-1] != right[-2]:
            raise self.error(node, f"inner dimensions disagree ({_fmt(left)} @ {_fmt(right)})")
        if values[0] is not None and values[1] is not None:
            self.post_ops.append(_post_op(node))  # both operands constant: nothing runs on the macros
            return
        if values[1] is not None:  # x @ W: one vector per row of the activation
            w = self.matrix(node, values[1], "right")
            tokens = math.prod(self.fixed(node, left[:-1], "left operand", batch_first=True))
            flip = not (node.op_type == "Gemm" and _attrs(node).get("transB", 0))
            self.add(node, index, w.T, (names[1], flip), kind="linear", C=w.shape[0], K=w.shape[1],
                     tokens=self.per_sample(tokens))
        elif values[0] is not None:  # W @ x: one vector per column of the activation
            w = self.matrix(node, values[0], "left")
            batch_dims = self.fixed(node, right[:-2], "right operand", batch_first=True)
            columns = self.fixed(node, right[-1:], "right operand")[0]
            flip = bool(node.op_type == "Gemm" and _attrs(node).get("transA", 0))
            self.add(node, index, w, (names[0], flip), kind="linear", C=w.shape[1], K=w.shape[0],
                     tokens=self.per_sample(math.prod(batch_dims) * columns))
        else:
            C, K = self.fixed(node, [left[-1] if left[-1] is not None else right[-2], right[-1]],
                              "operands")
            tokens = self.fixed(node, left[-2:-1], "left operand")[0]
            stack = _broadcast(left[:-2], right[:-2])
            count = self.per_sample(math.prod(self.fixed(node, stack, "batch dimensions",
                                                         batch_first=True)))
            self.add(node, index, None, kind="matmul", C=C, K=K, tokens=tokens, count=count,
                     dynamic=True)

    def matrix(self, node: onnx.NodeProto, value: np.ndarray, side: str) -> np.ndarray:
        """A constant operand as a 2-D matrix; leading unit dims are dropped, real stacks are errors."""
        while value.ndim > 2 and value.shape[0] == 1:
            value = value[0]
        if value.ndim != 2:
            raise self.error(node, f"constant {side} operand of shape {list(value.shape)} (a stack of "
                                   "weight matrices) not supported")
        return value


def _broadcast(a: list[int | None], b: list[int | None]) -> list[int | None]:
    """numpy-style broadcast of two batch shapes where a dimension may be unknown."""
    n = max(len(a), len(b))
    a, b = [1] * (n - len(a)) + list(a), [1] * (n - len(b)) + list(b)
    out: list[int | None] = []
    for x, y in zip(a, b):
        if x == 1:
            out.append(y)
        elif y == 1 or y is None:
            out.append(x)
        else:
            out.append(y if x is None else max(x, y))
    return out


def _fmt(dims: Any) -> str:
    """A shape for messages, ``?`` standing for a dimension shape inference could not fix."""
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


# ----- public entry points ----------------------------------------------------------------------------
def workload_from_model(model: onnx.ModelProto, batch_dim: int = 1, source: str = "<model>") -> OnnxWorkload:
    """Import an in-memory model (see :func:`load_onnx`); ``source`` names it in error messages."""
    onnx_mod = _onnx()
    if isinstance(batch_dim, bool) or not isinstance(batch_dim, int) or batch_dim < 1:
        raise ValueError(f"batch_dim must be a positive integer, got {batch_dim!r}")
    try:
        onnx_mod.checker.check_model(model)
    except Exception as exc:
        raise OnnxImportError(f"{source}: not a valid ONNX model ({exc})") from exc
    try:
        inferred = onnx_mod.shape_inference.infer_shapes(model, data_prop=True)
    except Exception as exc:
        raise OnnxImportError(f"{source}: ONNX shape inference failed ({exc})") from exc
    return _Importer(inferred.graph, batch_dim, source).run(inferred.graph)


def load_onnx(path: str | Path, batch_dim: int = 1) -> OnnxWorkload:
    """Every Conv / Gemm / MatMul of an ONNX file as a layer, with its weight and the other ops' names.

    ``batch_dim`` is the batch size the file was exported with: token and head counts are per sample,
    so the product of an activation's leading dims is divided by it (a symbolic first dimension is taken
    to be the batch). Raises :class:`OnnxImportError` for an unreadable or invalid file and for nodes
    that would be priced wrongly (see the module docstring).
    """
    onnx_mod = _onnx()
    try:
        model = onnx_mod.load(str(path))
    except Exception as exc:
        raise OnnxImportError(f"{path}: cannot read an ONNX model ({type(exc).__name__}: {exc})") from exc
    return workload_from_model(model, batch_dim, str(path))
