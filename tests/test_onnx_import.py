"""ONNX import: layer shapes, weight orientation, post-ops and error messages, on graphs built here."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from ciminus.workloads.layers import Layer
from ciminus.workloads.onnx_import import OnnxImportError, OnnxWorkload, load_onnx

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
FLOAT = TensorProto.FLOAT


# ----- helpers -----------------------------------------------------------------------------------------
def _vi(name: str, shape):
    return helper.make_tensor_value_info(name, FLOAT, shape)


def _init(name: str, array: np.ndarray):
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def _typed_outputs(model):
    """The checker wants typed graph outputs: let shape inference fill in the ones left untyped."""
    return onnx.shape_inference.infer_shapes(model)


def _model(nodes, inputs, outputs, inits=(), opset: int = 17):
    graph = helper.make_graph(nodes, "g", [_vi(n, s) for n, s in inputs], [_vi(n, None) for n in outputs],
                              initializer=list(inits))
    return _typed_outputs(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]))


def _load(tmp_path: Path, model, batch_dim: int = 1) -> OnnxWorkload:
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    return load_onnx(path, batch_dim=batch_dim)


def _inferred_shape(model, name: str) -> list:
    inferred = onnx.shape_inference.infer_shapes(model)
    for vi in (*inferred.graph.value_info, *inferred.graph.output):
        if vi.name == name:
            return [d.dim_value for d in vi.type.tensor_type.shape.dim]
    raise KeyError(name)


def _run(model, **feeds) -> np.ndarray:
    """The ONNX semantics of a model, from onnx's own reference evaluator."""
    return ReferenceEvaluator(model).run(None, {k: v.astype(np.float32) for k, v in feeds.items()})[0]


RNG = np.random.default_rng(7)


# ----- convolutions ------------------------------------------------------------------------------------
def test_grouped_strided_dilated_conv_matches_hand_written_layer(tmp_path):
    w = RNG.standard_normal((12, 4, 3, 3))
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="c1", group=2, strides=[2, 2],
                            pads=[1, 1, 1, 1], dilations=[2, 2])
    model = _model([node], [("x", [1, 8, 20, 18])], ["y"], [_init("w", w)])
    wl = _load(tmp_path, model)
    expected = Layer(name="c1", kind="conv", C=8, K=12, R=3, S=3, H=20, W=18, stride=2, pad=1,
                     dilation=2, groups=2)
    assert len(wl.layers) == 1
    got = wl.layers[0]
    for f in dataclasses.fields(Layer):
        assert getattr(got, f.name) == getattr(expected, f.name), f.name
    assert [1, got.K, got.E, got.F] == _inferred_shape(model, "y")
    assert wl.weights["c1"].shape == (12, 4, 3, 3)
    np.testing.assert_array_equal(wl.weights["c1"], w.astype(np.float32))
    assert wl.post_ops == ()


def test_depthwise_conv(tmp_path):
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="dw", group=16, pads=[1, 1, 1, 1])
    model = _model([node], [("x", [1, 16, 14, 14])], ["y"],
                   [_init("w", RNG.standard_normal((16, 1, 3, 3))), _init("b", np.zeros(16))])
    (layer,) = _load(tmp_path, model).layers
    assert layer == Layer(name="dw", kind="conv", C=16, K=16, R=3, S=3, H=14, W=14, pad=1, groups=16)
    assert (layer.rows, layer.cols, layer.weights) == (9, 1, 144)


def test_conv_weight_from_constant_node_and_identity(tmp_path):
    w = RNG.standard_normal((4, 3, 1, 1)).astype(np.float32)
    nodes = [
        helper.make_node("Constant", [], ["w0"], name="const_w", value=numpy_helper.from_array(w)),
        helper.make_node("Identity", ["w0"], ["w"], name="tie"),
        helper.make_node("Conv", ["x", "w"], ["y"], name="pw"),
    ]
    wl = _load(tmp_path, _model(nodes, [("x", [1, 3, 5, 5])], ["y"]))
    assert [layer.name for layer in wl.layers] == ["pw"]
    np.testing.assert_array_equal(wl.weights["pw"], w)
    assert wl.post_ops == ()  # nodes that only produce constants are folded, not post-processing


def test_one_d_conv_is_a_one_pixel_high_conv(tmp_path):
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="c", strides=[2])
    model = _model([node], [("x", [1, 4, 50])], ["y"], [_init("w", RNG.standard_normal((6, 4, 5)))])
    wl = _load(tmp_path, model)
    (layer,) = wl.layers
    assert layer == Layer(name="c", kind="conv", C=4, K=6, R=1, S=5, H=1, W=50, stride=2)
    assert [1, layer.K, layer.F] == _inferred_shape(model, "y") and layer.E == 1
    assert wl.weights["c"].shape == (6, 4, 1, 5)


def test_asymmetric_same_padding_at_stride_two_is_one_symmetric_pad(tmp_path):
    # TensorFlow "SAME" at stride 2 on an even map pads 0 before and 1 after; pad=1 gives the same 16x16.
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="tf", strides=[2, 2], pads=[0, 0, 1, 1])
    model = _model([node], [("x", [1, 3, 32, 32])], ["y"], [_init("w", RNG.standard_normal((8, 3, 3, 3)))])
    (layer,) = _load(tmp_path, model).layers
    assert layer.pad == 1
    assert [1, 8, layer.E, layer.F] == _inferred_shape(model, "y") == [1, 8, 16, 16]


@pytest.mark.parametrize("auto_pad, size, kernel, stride, pad, out", [
    ("SAME_UPPER", 9, 5, 1, 2, 9), ("SAME_LOWER", 32, 3, 2, 1, 16), ("VALID", 9, 3, 1, 0, 7)])
def test_auto_pad(tmp_path, auto_pad, size, kernel, stride, pad, out):
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="s", auto_pad=auto_pad, strides=[stride] * 2)
    model = _model([node], [("x", [1, 3, size, size])], ["y"],
                   [_init("w", RNG.standard_normal((2, 3, kernel, kernel)))])
    (layer,) = _load(tmp_path, model).layers
    assert (layer.pad, layer.E, layer.F) == (pad, out, out)
    assert _inferred_shape(model, "y") == [1, 2, out, out]


def test_symmetric_pad_choice_is_closest_to_the_real_padding(tmp_path):
    # Stride 4, 1x1 kernel, pads 0/3 on an 8x8 map: 3 outputs; pad 1 and pad 2 both give 3, and are
    # equally far from the real total of 3, so the smaller one is taken.
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="s", strides=[4, 4], pads=[0, 0, 3, 3])
    model = _model([node], [("x", [1, 3, 8, 8])], ["y"], [_init("w", np.ones((2, 3, 1, 1)))])
    (layer,) = _load(tmp_path, model).layers
    assert (layer.pad, layer.E) == (1, 3)


# ----- Gemm and MatMul ---------------------------------------------------------------------------------
@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_weight_is_out_by_in_and_reproduces_onnx(tmp_path, trans_b):
    w_out_in = RNG.standard_normal((10, 64)).astype(np.float32)
    b = w_out_in.T if trans_b == 0 else w_out_in  # the file stores (in, out) unless transB=1
    bias = RNG.standard_normal(10).astype(np.float32)
    node = helper.make_node("Gemm", ["x", "B", "bias"], ["y"], name="fc", transB=trans_b)
    model = _model([node], [("x", [1, 64])], ["y"], [_init("B", b), _init("bias", bias)])
    wl = _load(tmp_path, model)
    assert wl.layers == (Layer(name="fc", kind="linear", C=64, K=10, tokens=1),)
    W = wl.weights["fc"]
    assert W.shape == (10, 64)
    x = RNG.standard_normal((1, 64)).astype(np.float32)
    np.testing.assert_allclose(W @ x[0] + bias, _run(model, x=x)[0], rtol=1e-5, atol=1e-5)


def test_matmul_with_constant_weight_on_a_sequence(tmp_path):
    w_in_out = RNG.standard_normal((32, 48)).astype(np.float32)
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="proj")
    model = _model([node], [("x", [1, 7, 32])], ["y"], [_init("w", w_in_out)])
    wl = _load(tmp_path, model)
    assert wl.layers == (Layer(name="proj", kind="linear", C=32, K=48, tokens=7),)
    W = wl.weights["proj"]
    assert W.shape == (48, 32)
    x = RNG.standard_normal((1, 7, 32)).astype(np.float32)
    np.testing.assert_allclose(x[0] @ W.T, _run(model, x=x)[0], rtol=1e-5, atol=1e-5)


def test_matmul_with_constant_left_operand(tmp_path):
    w = RNG.standard_normal((5, 12)).astype(np.float32)
    node = helper.make_node("MatMul", ["w", "x"], ["y"], name="mix")
    model = _model([node], [("x", [1, 12, 9])], ["y"], [_init("w", w)])
    wl = _load(tmp_path, model)
    assert wl.layers == (Layer(name="mix", kind="linear", C=12, K=5, tokens=9),)
    x = RNG.standard_normal((1, 12, 9)).astype(np.float32)
    np.testing.assert_allclose(wl.weights["mix"] @ x[0], _run(model, x=x)[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("batch, dims, batch_dim", [(1, [1, 7, 32], 1), (4, [4, 7, 32], 4),
                                                    (None, ["N", 7, 32], 1), (None, ["N", 7, 32], 3)])
def test_tokens_are_per_sample(tmp_path, batch, dims, batch_dim):
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="proj")
    model = _model([node], [("x", dims)], ["y"], [_init("w", np.ones((32, 8)))])
    assert _load(tmp_path, model, batch_dim=batch_dim).layers[0].tokens == 7


def test_gemm_with_symbolic_batch_has_one_token(tmp_path):
    node = helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)
    model = _model([node], [("x", ["N", 16])], ["y"], [_init("w", np.ones((4, 16)))])
    assert _load(tmp_path, model, batch_dim=8).layers[0].tokens == 1


def test_attention_matmuls_are_dynamic_with_heads_as_count(tmp_path):
    heads, seq, d = 4, 10, 16
    nodes = [
        helper.make_node("Transpose", ["k"], ["kT"], name="k_t", perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kT"], ["scores"], name="qk"),
        helper.make_node("Softmax", ["scores"], ["probs"], name="softmax", axis=-1),
        helper.make_node("MatMul", ["probs", "v"], ["ctx"], name="pv"),
    ]
    shape = [1, heads, seq, d]
    model = _model(nodes, [("q", shape), ("k", shape), ("v", shape)], ["ctx"])
    wl = _load(tmp_path, model)
    assert wl.layers == (
        Layer(name="qk", kind="matmul", C=d, K=seq, tokens=seq, count=heads, dynamic=True),
        Layer(name="pv", kind="matmul", C=seq, K=d, tokens=seq, count=heads, dynamic=True),
    )
    assert wl.weights == {}
    assert wl.post_ops == ("Transpose k_t", "Softmax softmax")


def test_attention_with_heads_folded_into_the_batch(tmp_path):
    node = helper.make_node("MatMul", ["q", "kT"], ["s"], name="qk")
    model = _model([node], [("q", [6, 10, 16]), ("kT", [6, 16, 12])], ["s"])
    (layer,) = _load(tmp_path, model, batch_dim=2).layers
    assert (layer.C, layer.K, layer.tokens, layer.count, layer.dynamic) == (16, 12, 10, 3, True)


def test_gemm_of_two_activations_is_dynamic_and_constant_matmul_is_not_priced(tmp_path):
    nodes = [
        helper.make_node("Gemm", ["a", "b"], ["y"], name="act_gemm", transB=1),
        helper.make_node("MatMul", ["c1", "c2"], ["z"], name="folded"),
    ]
    model = _model(nodes, [("a", [6, 16]), ("b", [9, 16])], ["y", "z"],
                   [_init("c1", np.ones((2, 3))), _init("c2", np.ones((3, 4)))])
    wl = _load(tmp_path, model)
    assert wl.layers == (Layer(name="act_gemm", kind="matmul", C=16, K=9, tokens=6, dynamic=True),)
    assert wl.post_ops == ("MatMul folded",)


# ----- a small network ---------------------------------------------------------------------------------
def test_conv_relu_pool_flatten_gemm_chain(tmp_path):
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "w2"], ["y"], name="fc", transB=1),
    ]
    inits = [_init("w1", RNG.standard_normal((6, 3, 3, 3))), _init("w2", RNG.standard_normal((10, 6 * 4 * 4)))]
    wl = _load(tmp_path, _model(nodes, [("x", [1, 3, 8, 8])], ["y"], inits))
    assert [layer.name for layer in wl.layers] == ["conv", "fc"]
    assert wl.layers[1] == Layer(name="fc", kind="linear", C=96, K=10, tokens=1)  # 6 ch x 4 x 4 after pool
    assert wl.post_ops == ("Relu relu", "MaxPool pool", "Flatten flat")


def test_layer_names_fall_back_to_outputs_and_are_unique(tmp_path):
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h1"], name="fc"),
        helper.make_node("MatMul", ["h1", "w"], ["h2"], name="fc"),
        helper.make_node("MatMul", ["h2", "w"], ["h3"]),
        helper.make_node("Relu", ["h3"], ["y"]),
    ]
    wl = _load(tmp_path, _model(nodes, [("x", [1, 8])], ["y"], [_init("w", np.eye(8))]))
    assert [layer.name for layer in wl.layers] == ["fc", "fc_1", "h3"]
    assert set(wl.weights) == {"fc", "fc_1", "h3"}
    assert wl.post_ops == ("Relu y",)


# ----- errors ------------------------------------------------------------------------------------------
def _raises(tmp_path, model, pattern: str):
    with pytest.raises(OnnxImportError, match=pattern) as info:
        _load(tmp_path, model)
    assert str(tmp_path / "m.onnx") in str(info.value)
    return info.value


def test_conv_transpose_is_an_error(tmp_path):
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up1", strides=[2, 2])
    model = _model([node], [("x", [1, 4, 8, 8])], ["y"], [_init("w", np.ones((4, 2, 2, 2)))])
    _raises(tmp_path, model, re.escape('ConvTranspose "up1": not supported (Conv, Gemm and MatMul are '
                                       "priced; other ops are post-processing)"))


def test_unnamed_node_is_named_by_its_output(tmp_path):
    node = helper.make_node("ConvTranspose", ["x", "w"], ["upsampled"])
    model = _model([node], [("x", [1, 4, 8, 8])], ["upsampled"], [_init("w", np.ones((4, 2, 2, 2)))])
    _raises(tmp_path, model, re.escape('ConvTranspose (unnamed, output "upsampled"): not supported'))


def test_three_d_conv_is_an_error(tmp_path):
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="c3d")
    model = _model([node], [("x", [1, 2, 4, 8, 8])], ["y"], [_init("w", np.ones((3, 2, 3, 3, 3)))])
    _raises(tmp_path, model, re.escape('Conv "c3d": 3-D convolution not supported'))


def test_conv_with_runtime_weight_is_an_error(tmp_path):
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="dyn")
    model = _model([node], [("x", [1, 2, 8, 8]), ("w", [3, 2, 3, 3])], ["y"])
    _raises(tmp_path, model, re.escape('Conv "dyn": weight "w" is not a constant'))


def test_inexpressible_asymmetric_pads_are_an_error(tmp_path):
    # Stride 1 with 0 before and 1 after: the output grows by one pixel, no symmetric pad does that.
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="asym", pads=[0, 0, 1, 1])
    model = _model([node], [("x", [1, 2, 8, 8])], ["y"], [_init("w", np.ones((3, 2, 3, 3)))])
    _raises(tmp_path, model, re.escape('Conv "asym": pads begin [0, 0] / end [1, 1] cannot be expressed as '
                                       "one symmetric pad"))


def test_unequal_strides_are_an_error(tmp_path):
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="st", strides=[1, 2])
    model = _model([node], [("x", [1, 2, 8, 8])], ["y"], [_init("w", np.ones((3, 2, 3, 3)))])
    _raises(tmp_path, model, re.escape('Conv "st": strides [1, 2] differ between axes'))


def test_custom_domain_matmul_is_an_error(tmp_path):
    node = helper.make_node("FusedMatMul", ["x", "w"], ["y"], name="fm", domain="com.microsoft")
    graph = helper.make_graph([node], "g", [_vi("x", [1, 8])], [_vi("y", None)], [_init("w", np.eye(8))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.graph.output[0].CopyFrom(_vi("y", [1, 8]))
    _raises(tmp_path, model, re.escape('FusedMatMul "fm": op of domain \'com.microsoft\' not supported'))


def test_matmul_inside_control_flow_is_an_error(tmp_path):
    def branch(name: str, op: str):
        inner = helper.make_node(op, ["x", "w"] if op == "MatMul" else ["x"], [f"{name}_y"], name=f"{name}_op")
        return helper.make_graph([inner], name, [], [_vi(f"{name}_y", [1, 8])])

    node = helper.make_node("If", ["cond"], ["y"], name="branchy", then_branch=branch("then", "MatMul"),
                            else_branch=branch("else", "Relu"))
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
                                            _vi("x", [1, 8])], [_vi("y", [1, 8])], [_init("w", np.eye(8))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    _raises(tmp_path, model, re.escape('If "branchy": its subgraph contains MatMul'))


def test_missing_file_is_an_error(tmp_path):
    path = tmp_path / "nope.onnx"
    with pytest.raises(OnnxImportError, match=re.escape(f"{path}: cannot read an ONNX model")):
        load_onnx(path)


def test_garbage_file_is_an_error(tmp_path):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"this is not a protobuf \xff\xfe\x00")
    with pytest.raises(OnnxImportError, match=re.escape(str(path))):
        load_onnx(path)


def test_empty_file_is_not_a_valid_model(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    with pytest.raises(OnnxImportError, match=re.escape(f"{path}: not a valid ONNX model")):
        load_onnx(path)


def test_bad_batch_dim(tmp_path):
    with pytest.raises(ValueError, match="batch_dim"):
        _load(tmp_path, _model([helper.make_node("Relu", ["x"], ["y"])], [("x", [1])], ["y"]), batch_dim=0)


# ----- the example networks ----------------------------------------------------------------------------
def _script():
    spec = importlib.util.spec_from_file_location("make_example_onnx", EXAMPLES / "make_example_onnx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _groups_of_four(weight: np.ndarray) -> list[np.ndarray]:
    """Each output channel's reduction axis (C/g * R * S) cut into runs of 4 (the last may be shorter)."""
    flat = weight.reshape(weight.shape[0], -1)
    return [flat[:, i:i + 4] for i in range(0, flat.shape[1], 4)]


def test_example_networks_dense_and_two_of_four(tmp_path):
    dense = load_onnx(EXAMPLES / "tiny_cnn.onnx")
    pruned = load_onnx(EXAMPLES / "tiny_cnn_2of4.onnx")
    assert dense.layers == pruned.layers
    assert [layer.kind for layer in dense.layers] == ["conv"] * 5 + ["linear"]
    assert any(layer.groups == layer.C == layer.K > 1 for layer in dense.layers)  # the depthwise conv
    assert dense.layers[-1].K == 10
    assert sum(layer.weights for layer in dense.layers) <= 300_000
    for layer in dense.layers:
        wd, wp = dense.weights[layer.name], pruned.weights[layer.name]
        assert wd.shape == wp.shape
        nonzero = [np.count_nonzero(g, axis=1) for g in _groups_of_four(wp)]
        assert all((n <= 2).all() for n in nonzero), layer.name
        full = [n for g, n in zip(_groups_of_four(wp), nonzero) if g.shape[1] >= 2]
        assert all((n == 2).all() for n in full), layer.name  # random weights: exactly 2 survive
        assert any((np.count_nonzero(g, axis=1) > 2).any() for g in _groups_of_four(wd)), layer.name
        # pruning only zeroes: the survivors are the dense values, and they are each group's largest
        kept = wp != 0
        np.testing.assert_array_equal(wp[kept], wd[kept])
        for gd, gp in zip(_groups_of_four(wd), _groups_of_four(wp)):
            smallest_kept = np.where(gp != 0, np.abs(gd), np.inf).min(axis=1)
            largest_dropped = np.where(gp == 0, np.abs(gd), -np.inf).max(axis=1)
            assert (smallest_kept >= largest_dropped).all(), layer.name


def test_example_script_reproduces_the_committed_files(tmp_path):
    dense_path, pruned_path = _script().main(tmp_path)
    for fresh, committed in ((dense_path, EXAMPLES / "tiny_cnn.onnx"), (pruned_path, EXAMPLES / "tiny_cnn_2of4.onnx")):
        a, b = load_onnx(fresh), load_onnx(committed)
        assert a.layers == b.layers and a.post_ops == b.post_ops
        for name in a.weights:
            np.testing.assert_array_equal(a.weights[name], b.weights[name])
    assert (EXAMPLES / "tiny_cnn.onnx").stat().st_size + (EXAMPLES / "tiny_cnn_2of4.onnx").stat().st_size < 500_000
