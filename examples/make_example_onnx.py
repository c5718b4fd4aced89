"""Write two small ONNX networks that exercise CIMinus' ONNX import: a dense and a 2:4-pruned copy.

``tiny_cnn.onnx`` is a CIFAR-sized CNN (input 1 x 3 x 32 x 32, 10 classes) with every kind of layer the
importer maps: plain 3 x 3 convolutions, a strided one, a depthwise one, a 1 x 1 pointwise one, and a
``Gemm`` classifier whose input width (32 x 4 x 4) only shape inference knows. Relu, MaxPool and Flatten
nodes sit in between as post-processing. The weights are random (He-scaled normals) because only their
shapes and zero pattern matter to the cost model, and random dense weights contain no zeros.

``tiny_cnn_2of4.onnx`` is the same graph with every conv and Gemm weight pruned to 2:4 along the
reduction dimension: each output channel's weights are flattened over ``C/groups x R x S`` (a Gemm's
over its inputs), cut into groups of 4 consecutive values, and in each group the 2 of largest magnitude
are kept and the rest set to zero. A trailing partial group (e.g. the 9 taps of a depthwise 3 x 3 give
groups of 4, 4 and 1; the 27 of the first conv end with a group of 3) keeps at most 2. This is the
pattern N:M sparse hardware expects, so the pair lets a user compare a dense and a structured-sparse
model of identical shape.

The script is deterministic (fixed seed, numpy and onnx only), writes next to itself by default, and
keeps both files small (about 125 kB each). Run ``python examples/make_example_onnx.py [OUT_DIR]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 20240611
N_KEEP, GROUP = 2, 4
"""2:4 pruning: keep ``N_KEEP`` of every ``GROUP`` consecutive weights along the reduction axis."""

DENSE_FILE, PRUNED_FILE = "tiny_cnn.onnx", "tiny_cnn_2of4.onnx"
OPSET, IR_VERSION = 13, 8  # old enough for any current runtime to open the files

# (name, in channels, out channels, kernel, stride, pad, groups, followed by a 2x2 max-pool)
CONVS: tuple[tuple[str, int, int, int, int, int, int, bool], ...] = (
    ("conv1", 3, 16, 3, 1, 1, 1, False),
    ("conv2", 16, 32, 3, 1, 1, 1, True),
    ("dwconv3", 32, 32, 3, 1, 1, 32, False),
    ("pwconv4", 32, 64, 1, 1, 0, 1, True),
    ("conv5", 64, 32, 3, 2, 1, 1, False),
)
INPUT_SIZE, CLASSES = 32, 10
FC_IN = 32 * 4 * 4  # conv5's output map after 32 -> 16 -> 8 (pools) -> 4 (stride 2)


def random_weights(seed: int = SEED) -> dict[str, np.ndarray]:
    """Dense weights and biases, He-scaled so the network's activations stay in a sane range."""
    rng = np.random.default_rng(seed)
    params: dict[str, np.ndarray] = {}
    for name, cin, cout, k, _, _, groups, _ in CONVS:
        fan_in = cin // groups * k * k
        params[f"{name}.weight"] = (rng.standard_normal((cout, cin // groups, k, k))
                                    * np.sqrt(2.0 / fan_in)).astype(np.float32)
        params[f"{name}.bias"] = (0.01 * rng.standard_normal(cout)).astype(np.float32)
    params["fc.weight"] = (rng.standard_normal((CLASSES, FC_IN)) * np.sqrt(1.0 / FC_IN)).astype(np.float32)
    params["fc.bias"] = (0.01 * rng.standard_normal(CLASSES)).astype(np.float32)
    return params


def prune_n_of_m(weight: np.ndarray, keep: int = N_KEEP, group: int = GROUP) -> np.ndarray:
    """Keep the ``keep`` largest-magnitude values in each run of ``group`` along the reduction axis.

    Axis 0 is the output channel; everything else, flattened, is the reduction axis (``C/g x R x S`` for
    a conv weight, the inputs of a ``(out, in)`` Gemm weight). Ties go to the earlier position.
    """
    flat = weight.reshape(weight.shape[0], -1)
    mask = np.zeros(flat.shape, dtype=bool)
    for start in range(0, flat.shape[1], group):
        block = np.abs(flat[:, start:start + group])
        n = min(keep, block.shape[1])
        top = np.argsort(-block, axis=1, kind="stable")[:, :n]
        np.put_along_axis(mask[:, start:start + group], top, True, axis=1)
    return np.where(mask, flat, 0).astype(weight.dtype).reshape(weight.shape)


def prune_all(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The 2:4 copy of a parameter set: weights pruned, biases (not on the macros) untouched."""
    return {k: prune_n_of_m(v) if k.endswith(".weight") else v.copy() for k, v in params.items()}


def build_model(params: dict[str, np.ndarray], name: str) -> onnx.ModelProto:
    """The tiny CNN graph with ``params`` as initializers."""
    nodes: list[onnx.NodeProto] = []
    x, size = "input", INPUT_SIZE
    for idx, (conv, _, _, k, stride, pad, groups, pool) in enumerate(CONVS, start=1):
        nodes.append(helper.make_node("Conv", [x, f"{conv}.weight", f"{conv}.bias"], [f"{conv}_out"],
                                      name=conv, kernel_shape=[k, k], strides=[stride, stride],
                                      pads=[pad] * 4, group=groups))
        nodes.append(helper.make_node("Relu", [f"{conv}_out"], [f"relu{idx}_out"], name=f"relu{idx}"))
        x = f"relu{idx}_out"
        size = (size + 2 * pad - k) // stride + 1
        if pool:
            nodes.append(helper.make_node("MaxPool", [x], [f"pool{idx}_out"], name=f"pool{idx}",
                                          kernel_shape=[2, 2], strides=[2, 2]))
            x, size = f"pool{idx}_out", size // 2
    assert CONVS[-1][2] * size * size == FC_IN
    nodes.append(helper.make_node("Flatten", [x], ["flat"], name="flatten", axis=1))
    nodes.append(helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="fc",
                                  transB=1))
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, INPUT_SIZE, INPUT_SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, CLASSES])],
        initializer=[numpy_helper.from_array(v, k) for k, v in params.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="ciminus-examples", ir_version=IR_VERSION)
    onnx.checker.check_model(model)
    return model


def main(out_dir: str | Path | None = None) -> tuple[Path, Path]:
    """Write the dense and the 2:4 model into ``out_dir`` (default: this script's folder)."""
    out = Path(out_dir) if out_dir is not None else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    dense = random_weights()
    paths = out / DENSE_FILE, out / PRUNED_FILE
    onnx.save(build_model(dense, "tiny_cnn"), paths[0])
    onnx.save(build_model(prune_all(dense), "tiny_cnn_2of4"), paths[1])
    return paths


if __name__ == "__main__":
    for written in main(sys.argv[1] if len(sys.argv) > 1 else None):
        print(f"wrote {written} ({written.stat().st_size / 1024:.0f} KiB)")
