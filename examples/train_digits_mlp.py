"""Train the small network the accuracy example prices: an MLP on scikit-learn's 8 x 8 digits.

``digits_mlp.onnx`` is a 64 -> 64 -> 32 -> 10 multilayer perceptron (three ``Gemm`` layers with ReLU
between them) trained on 70 % of the 1,797 digits; ``digits_val.npz`` holds the other 30 % ("inputs",
float32 pixels scaled to 0..1, and "labels"), on which ``sweeps/accuracy-digits.toml`` measures every
pruned copy. Training is deterministic: a fixed split, fixed initial weights and full-batch Adam, in
float64 numpy (a few seconds on two cores). Run ``python examples/train_digits_mlp.py [OUT_DIR]``; it
needs scikit-learn for the data set (``pip install scikit-learn``) and onnx to write the model.
"""

from __future__ import annotations

import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 20261130
SIZES = (64, 64, 32, 10)
EPOCHS, LEARNING_RATE, WEIGHT_DECAY = 400, 0.01, 1e-4
MODEL_FILE, DATA_FILE = "digits_mlp.onnx", "digits_val.npz"
OPSET, IR_VERSION = 13, 8


def split(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    order = rng.permutation(len(x))
    cut = round(0.7 * len(x))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def forward(params: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    acts = [x]
    for i, (w, b) in enumerate(params):
        z = acts[-1] @ w.T + b  # w is (out, in), as a Gemm with transB = 1 stores it
        acts.append(np.maximum(z, 0.0) if i < len(params) - 1 else z)
    return acts[-1], acts


def train(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    params = [(rng.normal(0.0, np.sqrt(2.0 / n_in), (n_out, n_in)), np.zeros(n_out))
              for n_in, n_out in pairwise(SIZES)]
    moments = [[np.zeros_like(p) for p in layer] for layer in params]
    squares = [[np.zeros_like(p) for p in layer] for layer in params]
    onehot = np.eye(SIZES[-1])[y]
    for step in range(1, EPOCHS + 1):
        logits, acts = forward(params, x)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        grad = (p - onehot) / len(x)
        for i in range(len(params) - 1, -1, -1):
            w, b = params[i]
            gw, gb = grad.T @ acts[i] + WEIGHT_DECAY * w, grad.sum(axis=0)
            if i:
                grad = (grad @ w) * (acts[i] > 0)
            new = []
            for j, (value, g) in enumerate(((w, gw), (b, gb))):
                moments[i][j] = 0.9 * moments[i][j] + 0.1 * g
                squares[i][j] = 0.999 * squares[i][j] + 0.001 * g * g
                m_hat = moments[i][j] / (1 - 0.9**step)
                v_hat = squares[i][j] / (1 - 0.999**step)
                new.append(value - LEARNING_RATE * m_hat / (np.sqrt(v_hat) + 1e-8))
            params[i] = (new[0], new[1])
    return params


def to_onnx(params: list[tuple[np.ndarray, np.ndarray]]) -> onnx.ModelProto:
    nodes, inits = [], []
    prev = "x"
    for i, (w, b) in enumerate(params):
        name = f"fc{i + 1}"
        inits += [numpy_helper.from_array(w.astype(np.float32), f"{name}.weight"),
                  numpy_helper.from_array(b.astype(np.float32), f"{name}.bias")]
        out = "logits" if i == len(params) - 1 else f"{name}_out"
        nodes.append(helper.make_node("Gemm", [prev, f"{name}.weight", f"{name}.bias"], [out], name=name, transB=1))
        prev = out
        if i < len(params) - 1:
            nodes.append(helper.make_node("Relu", [out], [f"relu{i + 1}"], name=f"relu{i + 1}"))
            prev = f"relu{i + 1}"
    graph = helper.make_graph(nodes, "digits_mlp",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", SIZES[0]])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", SIZES[-1]])],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="ciminus examples/train_digits_mlp.py")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def main(out_dir: Path) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = digits.data.astype(np.float64) / 16.0
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(SEED)
    x_train, y_train, x_val, y_val = split(x, y, rng)
    params = train(x_train, y_train, rng)
    accuracy = float(np.mean(forward(params, x_val)[0].argmax(axis=1) == y_val))
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx.save(to_onnx(params), str(out_dir / MODEL_FILE))
    np.savez_compressed(out_dir / DATA_FILE, inputs=x_val.astype(np.float32), labels=y_val)
    print(f"{MODEL_FILE}: validation top-1 {accuracy:.4f} on {len(y_val)} digits -> {out_dir}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
