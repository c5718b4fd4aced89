"""Nothing lost, nothing mixed: what a sweep may overwrite, one writer per output, resume fingerprints."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import ROOT, assert_same_results

from ciminus.output import OutputError, exclusive, partial_dir
from ciminus.sweep import SweepSetupError, run_sweep
from ciminus.validate import load_sweep, parse_sweep

SWEEP = """
name = "safe"
[workload]
network = "resnet18"
dataset = "cifar10"
[arch]
macros = [4, 8]
[sparsity]
pattern = ["dense", "hybrid"]
ratio = [0.25, 0.5, 0.75]
"""


def test_the_sweep_file_is_never_overwritten(cli, write_sweep):
    path = write_sweep(SWEEP)
    run = cli("sweep", str(path), "-o", str(path), "--force")
    assert run.returncode == 2 and "is the sweep file itself" in run.stderr and "Traceback" not in run.stderr
    assert path.read_text() == SWEEP


def test_a_foreign_file_needs_force(cli, write_sweep, tmp_path):
    out = tmp_path / "notes.nc"
    out.write_text("my notes")
    run = cli("sweep", str(write_sweep(SWEEP)), "-o", str(out), "-q")
    assert run.returncode == 2 and "exists and is not a CIMinus result" in run.stderr and "--force" in run.stderr
    assert out.read_text() == "my notes"
    run = cli("sweep", str(write_sweep(SWEEP)), "-o", str(out), "-q", "--force")
    assert run.returncode == 0, run.stderr
    with xr.open_dataset(out) as ds:
        assert ds.attrs["ciminus_status"] == "complete"


def test_a_previous_result_may_be_replaced(tmp_path):
    sweep = parse_sweep(SWEEP)
    run_sweep(sweep, tmp_path / "r.nc", progress=False)
    run_sweep(sweep, tmp_path / "r.nc", progress=False)  # no --force needed for our own result


def test_a_directory_is_refused_before_any_work(cli, write_sweep, tmp_path):
    run = cli("sweep", str(write_sweep(SWEEP)), "-o", str(tmp_path), "-q")
    assert run.returncode == 2 and "is a directory" in run.stderr and "Traceback" not in run.stderr


def _interrupt_after(chunks: int):
    seen = []

    def stop(_k):
        seen.append(_k)
        if len(seen) >= chunks:
            raise KeyboardInterrupt

    return stop


def test_a_partial_folder_is_never_deleted_silently(tmp_path):
    sweep = parse_sweep(SWEEP)
    out = tmp_path / "p.nc"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, out, progress=False, chunk_points=3, on_chunk=_interrupt_after(2))
    kept = sorted(partial_dir(out).glob("chunk-*.npz"))
    assert len(kept) == 2
    with pytest.raises(SweepSetupError) as err:
        run_sweep(sweep, out, progress=False, chunk_points=3)
    assert "holds 2 finished chunk(s) of an earlier run" in str(err.value) and "--resume" in str(err.value)
    assert sorted(partial_dir(out).glob("chunk-*.npz")) == kept
    run_sweep(sweep, out, progress=False, chunk_points=3, force=True)
    assert out.exists() and not partial_dir(out).exists()


def test_the_last_chunk_is_kept_even_when_interrupted_while_it_is_written(tmp_path):
    """Each chunk is kept on disk (and written into the result file) by a thread while the next is priced;
    an interrupt right after the last is priced still leaves it whole, and --resume prices nothing again."""
    sweep = parse_sweep(SWEEP)
    out = tmp_path / "last.nc"
    n_chunks = run_sweep(sweep, tmp_path / "probe.nc", progress=False, chunk_points=3).chunks
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, out, progress=False, chunk_points=3, on_chunk=_interrupt_after(n_chunks))
    assert len(list(partial_dir(out).glob("chunk-*.npz"))) == n_chunks
    assert not list(partial_dir(out).glob(".*.tmp.npz"))
    summary = run_sweep(sweep, out, progress=False, chunk_points=3, resume=True)
    assert summary.resumed_chunks == n_chunks and out.exists() and not partial_dir(out).exists()


def test_a_second_sweep_to_a_busy_output_is_refused_naming_the_holder(cli, write_sweep, tmp_path):
    out = tmp_path / "busy.nc"
    with exclusive(out, parse_sweep(SWEEP)):
        run = cli("sweep", str(write_sweep(SWEEP)), "-o", str(out), "-q")
        assert run.returncode == 2 and "is being written by another sweep (sweep 'safe', pid" in run.stderr
        with pytest.raises(OutputError):
            run_sweep(parse_sweep(SWEEP.replace('"safe"', '"other"')), out, progress=False)
    run = cli("sweep", str(write_sweep(SWEEP)), "-o", str(out), "-q")
    assert run.returncode == 0, run.stderr
    assert not out.with_name("busy.nc.lock").exists()


def test_stale_temporary_files_are_cleared_and_never_read_as_results(cli, write_sweep, tmp_path):
    out = tmp_path / "t.nc"
    stale = tmp_path / ".t.nc.99999.tmp"
    run_sweep(parse_sweep(SWEEP), stale.with_name("whole.nc"), progress=False)
    shutil.copy(stale.with_name("whole.nc"), stale)
    import netCDF4

    with netCDF4.Dataset(stale, "a") as nc:  # as a kill -9 during the final write leaves it
        nc.setncattr("ciminus_status", "incomplete")
    info = cli("info", str(stale))
    assert info.returncode == 2 and "unfinished ciminus result" in info.stderr
    assert cli("sweep", str(write_sweep(SWEEP)), "-o", str(out), "-q").returncode == 0
    assert not stale.exists()


def test_info_on_a_netcdf_file_of_someone_else(cli, tmp_path):
    path = tmp_path / "other.nc"
    xr.Dataset({"temperature": ("x", np.arange(3.0))}).to_netcdf(path)
    run = cli("info", str(path))
    assert run.returncode == 2 and "not written by ciminus sweep" in run.stderr and "Traceback" not in run.stderr


def test_resume_ignores_comments_but_not_meaning(tmp_path):
    text = SWEEP
    out = tmp_path / "c.nc"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(parse_sweep(text), out, progress=False, chunk_points=3, on_chunk=_interrupt_after(1))
    commented = "# a note added while it ran\n" + text.replace("[arch]", "[arch]   # the chip")
    run_sweep(parse_sweep(commented), out, progress=False, chunk_points=3, resume=True)
    run_sweep(parse_sweep(text), tmp_path / "whole.nc", progress=False)
    with xr.open_dataset(out) as a, xr.open_dataset(tmp_path / "whole.nc") as b:
        xr.testing.assert_equal(a.load(), b.load())  # the same numbers (the attributes keep each run's text)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(parse_sweep(text), out, progress=False, chunk_points=3, on_chunk=_interrupt_after(1), force=True)
    with pytest.raises(SweepSetupError, match="holds chunks of a different sweep"):
        run_sweep(parse_sweep(text.replace("[4, 8]", "[4, 16]")), out, progress=False, chunk_points=3, resume=True)


def test_resume_refuses_a_changed_model_file(tmp_path):
    model = tmp_path / "model.onnx"
    shutil.copy(ROOT / "examples" / "tiny_cnn.onnx", model)
    sweep_file = tmp_path / "m.toml"
    sweep_file.write_text('name = "m"\n[workload]\nonnx = "model.onnx"\n[arch]\nmacros = [2, 4, 8]\n'
                          '[sparsity]\npattern = ["dense", "row-block"]\nratio = [0.3, 0.6]\nsource = "weights"\n'
                          "prune = true\n")
    out = tmp_path / "m.nc"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(load_sweep(sweep_file), out, progress=False, chunk_points=2, on_chunk=_interrupt_after(1))
    shutil.copy(ROOT / "examples" / "tiny_cnn_2of4.onnx", model)  # same name, other weights
    with pytest.raises(SweepSetupError) as err:
        run_sweep(load_sweep(sweep_file), out, progress=False, chunk_points=2, resume=True)
    assert str(model) in str(err.value) and "changed since the interrupted run" in str(err.value)


def test_a_damaged_chunk_is_priced_again_on_resume(tmp_path):
    sweep = parse_sweep(SWEEP)
    out = tmp_path / "d.nc"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, out, progress=False, chunk_points=3, on_chunk=_interrupt_after(2))
    first = sorted(partial_dir(out).glob("chunk-*.npz"))[0]
    first.write_bytes(first.read_bytes()[:100])  # truncated, as a full disk or a crash leaves it
    summary = run_sweep(sweep, out, progress=False, chunk_points=3, resume=True)
    assert summary.resumed_chunks == 1
    run_sweep(sweep, tmp_path / "whole.nc", progress=False)
    assert_same_results(out, tmp_path / "whole.nc")


def test_a_read_only_place_is_an_environment_error(cli, write_sweep):
    run = cli("sweep", str(write_sweep(SWEEP)), "-o", "/proc/ciminus-test.nc", "-q")
    assert run.returncode == 1 and run.stderr.startswith("ciminus: error: output.path = \"/proc/ciminus-test.nc\"")
    assert "Traceback" not in run.stderr and len(run.stderr.splitlines()) == 1


def test_a_failed_backend_start_leaves_nothing(cli, write_sweep, tmp_path):
    out = tmp_path / "g.nc"
    run = cli("sweep", str(write_sweep(SWEEP)), "-o", str(out), "--backend", "cuda", "-q")
    if run.returncode == 0:
        pytest.skip("this machine runs the cuda backend")
    assert run.returncode == 2
    assert not partial_dir(out).exists() and not out.exists() and not Path(str(out) + ".lock").exists()


def test_an_onnx_model_without_weight_layers_is_refused_up_front(cli, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    onnx.save(helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])),
              tmp_path / "relu.onnx")
    (tmp_path / "r.toml").write_text('name = "r"\n[workload]\nonnx = "relu.onnx"\n')
    run = cli("sweep", str(tmp_path / "r.toml"), "-o", str(tmp_path / "r.nc"))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert 'workload.onnx = "relu.onnx": has no Conv, Gemm or MatMul layer' in run.stderr


def test_an_oversize_sampled_sweep_is_refused_before_drawing(cli, write_sweep):
    import time

    text = ('name = "s"\n[workload]\nnetwork = "resnet18"\n[sweep]\nsample = "sobol"\nsamples = 16777216\n'
            '[sweep.ranges]\n"arch.macros" = [4, 64]\n"sparsity.ratio" = [0.1, 0.9]\n')
    t0 = time.perf_counter()
    run = cli("sweep", str(write_sweep(text)), "-q")
    assert run.returncode == 2 and time.perf_counter() - t0 < 30
    assert "sweep.samples = 16777216: sobol would draw 67,108,864 runs for 2 ranged keys" in run.stderr
    assert "sweep.samples <= 1,048,576" in run.stderr


def test_a_language_model_takes_no_dataset(cli, write_sweep):
    run = cli("sweep", str(write_sweep('name = "b"\n[workload]\nnetwork = "bert-base"\ndataset = "cifar10"\n')))
    assert run.returncode == 2 and 'workload.dataset = "cifar10": not used by "bert-base"' in run.stderr


def test_info_names_why_points_are_infeasible_and_compares_within_a_network(cli, write_sweep, tmp_path):
    text = SWEEP.replace('network = "resnet18"', 'network = ["resnet18", "mobilenetv2"]').replace(
        "macros = [4, 8]", "macros = [4, 8]\ninput_buffer_kb = [0.01, 8]")
    out = tmp_path / "i.nc"
    assert cli("sweep", str(write_sweep(text)), "-o", str(out), "-q").returncode == 0
    info = cli("info", str(out)).stdout
    assert "infeasible: " in info and "input_buffer_too_small" in info
    assert "network=resnet18:\n  best energy:" in info and "network=mobilenetv2:\n  best energy:" in info


def test_a_workload_of_run_time_operands_says_patterns_do_not_apply(cli, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 8, 16])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 16, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 4])
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["y"])], "g", [a, b], [y])
    onnx.save(helper.make_model(graph), tmp_path / "mm.onnx")
    (tmp_path / "d.toml").write_text('name = "d"\n[workload]\nonnx = "mm.onnx"\n[sparsity]\n'
                                     'pattern = ["dense", "row-block"]\nratio = 0.5\n')
    run = cli("sweep", str(tmp_path / "d.toml"), "-o", str(tmp_path / "d.nc"))
    assert run.returncode == 0, run.stderr
    assert "weight sparsity patterns do not apply" in run.stderr
    with xr.open_dataset(tmp_path / "d.nc") as ds:
        assert float(ds.energy.sel(pattern="dense")) == float(ds.energy.sel(pattern="row-block"))


def test_worker_counts_are_checked_in_words(cli, write_sweep, tmp_path):
    out = tmp_path / "w.nc"
    run = cli("sweep", str(write_sweep(SWEEP)), "--workers", "0", "--scheduler", "local", "-o", str(out))
    assert run.returncode == 2 and "--workers = 0: not a worker count; allowed: 1 or more" in run.stderr
    assert not partial_dir(out).exists()
