"""Pruning to evaluation: each pruned model's accuracy, run with ONNX Runtime, beside its energy and latency."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from conftest import ROOT
from onnx import numpy_helper

from ciminus import accuracy as acc
from ciminus.analysis.pareto import pareto_mask
from ciminus.kernels import layout as L
from ciminus.output import partial_dir
from ciminus.sparsity.flexblock import resolve
from ciminus.sparsity.sources import onnx_model
from ciminus.sparsity.weights import prune
from ciminus.sweep import evaluate, run_sweep
from ciminus.validate import SpecError, load_sweep, parse_sweep

MODEL = ROOT / "examples" / "digits_mlp.onnx"
DATA = ROOT / "examples" / "digits_val.npz"


def sweep_text(data: str = str(DATA), extra: str = "", patterns: str = '["row-block", "nm"]',
               ratios: str = "[0.0, 0.5, 0.75]") -> str:
    return f"""name = "acc"
[workload]
onnx = "{MODEL}"
[sparsity]
source = "weights"
prune = true
pattern = {patterns}
ratio = {ratios}
[accuracy]
data = "{data}"
{extra}
"""


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CIMINUS_CACHE_DIR", str(tmp_path / "cache"))


def test_the_shipped_example_reports_accuracy_falling_with_the_ratio():
    ds = evaluate(load_sweep(ROOT / "sweeps" / "accuracy-digits.toml"))
    a = ds["accuracy"]
    assert set(a.dims) == {"pattern", "ratio"} and bool(np.isfinite(a).all())
    dense = a.attrs["dense_accuracy"]
    assert dense > 0.95  # the trained network
    np.testing.assert_array_equal(a.sel(ratio=0.0).values, dense)  # ratio 0 is the dense model, exactly
    assert (a.diff("ratio") <= 0).all()  # pruning more never helps on this model
    assert (a.sel(ratio=0.875) < dense - 0.3).all()
    np.testing.assert_allclose(ds["accuracy_drop"], dense - a)
    front = pareto_mask(ds, ("energy", "accuracy"), maximize=("accuracy",))
    assert front.any() and not front.all()


def direct_accuracy(pattern: str, ratio: float) -> float:
    """The same pruning written into the model by hand and run with ONNX Runtime directly."""
    from ciminus.specs.sparsity import SparsitySpec

    model = onnx.load(str(MODEL))
    work = onnx_model(str(MODEL))
    inits = {i.name: i for i in model.graph.initializer}
    for layer in work.layers:
        flex = resolve(SparsitySpec(pattern=pattern, ratio=ratio), layer, 32, 16, "CRS", "auto")
        w = prune(work.weights[layer.name], layer, flex, "CRS")  # (K, C): the Gemm's transB weight
        inits[f"{layer.name}.weight"].CopyFrom(numpy_helper.from_array(w.astype(np.float32), f"{layer.name}.weight"))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    with np.load(DATA) as z:
        logits = session.run(None, {"x": z["inputs"]})[0]
        return float(np.mean(logits.argmax(axis=1) == z["labels"]))


def test_agrees_with_a_direct_onnx_runtime_run():
    ds = evaluate(parse_sweep(sweep_text()))
    for pattern in ("row-block", "nm"):
        for ratio in (0.5, 0.75):
            assert float(ds["accuracy"].sel(pattern=pattern, ratio=ratio)) == direct_accuracy(pattern, ratio)


def test_a_second_sweep_evaluates_nothing_again():
    before = acc.EVALUATIONS[0]
    evaluate(parse_sweep(sweep_text()))
    first = acc.EVALUATIONS[0] - before
    assert first == 6  # 2 patterns x 3 ratios, each pruned copy once
    again = evaluate(parse_sweep(sweep_text()))  # a new sweep object: only the disk cache can answer
    assert acc.EVALUATIONS[0] - before == first and np.isfinite(again["accuracy"]).all()


def test_an_interrupted_sweep_resumes_with_its_accuracy(tmp_path):
    sweep = parse_sweep(sweep_text())
    out = tmp_path / "acc.nc"

    def stop(_k):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, out, progress=False, chunk_points=2, on_chunk=stop)
    assert partial_dir(out).exists()
    run_sweep(parse_sweep(sweep_text()), out, progress=False, chunk_points=2, resume=True)
    import xarray as xr

    with xr.open_dataset(out) as ds:
        expected = evaluate(parse_sweep(sweep_text()))
        np.testing.assert_array_equal(ds["accuracy"].values, expected["accuracy"].values)
        assert ds["accuracy"].attrs["metric"] == "top1"


def test_an_accuracy_floor_marks_points_infeasible():
    ds = evaluate(parse_sweep(sweep_text(extra="[constraints]\naccuracy = 0.9")))
    low = ds["accuracy"] < 0.9
    assert bool(low.any()) and not bool(ds["feasible"].where(low, False).any())
    names = {L.REASON_NAMES[int(r)] for r in ds["reason"].values[low.values]}
    assert names == {"under_accuracy_floor"} and bool(ds["feasible"].where(~low, True).all())


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


@pytest.mark.parametrize(("arrays", "message"), [
    (lambda: {"inputs": np.zeros((5, 63), np.float32), "labels": np.zeros(5, np.int64)},
     "\"inputs\" of shape [5, 63] do not fit the model's input 'x' of shape ['N', 64]"),
    (lambda: {"inputs": np.zeros((5, 64), np.float32), "labels": np.array([0, 1, 2, 3, 10])},
     '"labels" range over 0 .. 10, but the model has 10 outputs (classes 0 .. 9)'),
    (lambda: {"inputs": np.zeros((5, 64), np.float32)}, 'has no "labels" array, which metric "top1" needs'),
])
def test_data_that_does_not_fit_is_refused_before_pricing(tmp_path, arrays, message):
    data = write_npz(tmp_path / "bad.npz", **arrays())
    with pytest.raises(SpecError) as err:
        parse_sweep(sweep_text(data=data))
    assert str(err.value).startswith(f'accuracy.data = "{data}": ') and message in str(err.value)


def test_a_model_the_runtime_cannot_run_is_refused(tmp_path):
    from onnx import TensorProto, helper

    model = onnx.load(str(MODEL))  # a valid graph whose last op cannot run: 539 x 10 logits into 3 rows
    graph = model.graph
    graph.initializer.append(numpy_helper.from_array(np.array([3, -1], np.int64), "bad_shape"))
    graph.node.append(helper.make_node("Reshape", ["logits", "bad_shape"], ["out"], name="reshape"))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("out", TensorProto.FLOAT, [3, "M"]))
    bad = tmp_path / "bad.onnx"
    onnx.save(model, str(bad))
    text = sweep_text().replace(str(MODEL), str(bad))
    with pytest.raises(SpecError) as err:
        parse_sweep(text)
    assert "ONNX Runtime cannot run the model on the inputs" in str(err.value)
    assert "cannot be reshaped" in str(err.value) and "\n" not in str(err.value)


def test_the_cli_exits_2_with_one_message(cli, tmp_path):
    data = write_npz(tmp_path / "bad.npz", inputs=np.zeros((5, 64), np.float32), labels=np.full(5, -1))
    path = tmp_path / "s.toml"
    path.write_text(sweep_text(data=data))
    run = cli("sweep", str(path), "-o", str(tmp_path / "o.nc"), "-q")
    assert run.returncode == 2 and "labels" in run.stderr and "Traceback" not in run.stderr


def test_accuracy_needs_the_models_own_weights():
    text = sweep_text().replace('source = "weights"\n', "")
    with pytest.raises(SpecError) as err:
        parse_sweep(text)
    assert 'sparsity.source = "random"' in str(err.value) and '"weights" (with prune = true)' in str(err.value)
    with pytest.raises(SpecError) as err:
        parse_sweep(sweep_text().replace("[accuracy]", "[mapping]\nflatten = [\"CRS\", \"RSC\"]\n[accuracy]"))
    assert "mapping.flatten" in str(err.value)
    with pytest.raises(SpecError) as err:  # a tiling size sizes the blocks, so it decides the pruned model too
        parse_sweep(sweep_text().replace("[accuracy]", "[mapping]\ntile_rows = [\"array\", \"half\"]\n[accuracy]"))
    assert "mapping.tile_rows" in str(err.value)


def test_sampled_sweeps_report_the_sensitivity_of_accuracy():
    text = sweep_text(patterns='"row-block"', ratios="0.5").replace('ratio = 0.5\n', "") + """
[sweep]
sample = "lhs"
samples = 12
seed = 1
[sweep.ranges]
"sparsity.ratio" = [0.0, 0.9]
"arch.macros" = [2, 16]
"""
    ds = evaluate(parse_sweep(text))
    assert ds["accuracy"].dims == ("sample",) and "accuracy" in list(ds.output.values)
    rho = ds["spearman"].sel(output="accuracy")
    assert float(rho.sel(parameter="ratio")) < -0.9  # pruning more loses accuracy
    assert abs(float(rho.sel(parameter="macros"))) < 0.5  # the hardware does not change the model


def test_agreement_with_the_dense_model_or_with_given_outputs(tmp_path):
    ds = evaluate(parse_sweep(sweep_text(extra='metric = "agreement"')))
    np.testing.assert_array_equal(ds["accuracy"].sel(ratio=0.0).values, 1.0)  # the dense model agrees with itself
    assert float(ds["accuracy"].sel(pattern="row-block", ratio=0.75)) < 0.5
    with np.load(DATA) as z:
        inputs = z["inputs"]
    flipped = write_npz(tmp_path / "ref.npz", inputs=inputs, outputs=-np.eye(10)[np.zeros(len(inputs), int)])
    ref = evaluate(parse_sweep(sweep_text(data=flipped, extra='metric = "agreement"')))
    assert float(ref["accuracy"].sel(ratio=0.0).max()) < 0.2  # class 0 is never the reference's top output
