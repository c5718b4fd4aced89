"""The ciminus command end to end: files written, exit codes, messages without tracebacks."""

import xarray as xr
from conftest import ROOT

SMALL = """
name = "small"
[workload]
network = "resnet18"
dataset = "cifar10"
[arch]
macros = [4, 8]
[sparsity]
pattern = ["dense", "row-block"]
ratio = 0.5
"""


def test_sweep_writes_a_dataset_and_info_reads_it(cli, write_sweep, tmp_path):
    out = tmp_path / "r.nc"
    run = cli("sweep", str(write_sweep(SMALL)), "-o", str(out), "--backend", "reference")
    assert run.returncode == 0, run.stderr
    assert "4 design points (all feasible) priced with the reference backend" in run.stdout and str(out) in run.stdout
    with xr.open_dataset(out) as ds:
        # 4 duplication limits x row/column compression x 4 organisations x 4 loop orders, all searched
        assert dict(ds.sizes) == {"macros": 2, "pattern": 2, "component": 14, "candidate": 128}
        assert float(ds.speedup.sel(pattern="dense", macros=4)) == 1.0
    info = cli("info", str(out))
    assert info.returncode == 0, info.stderr
    assert "dimensions: macros=2, pattern=2, component=14" in info.stdout
    assert "best EDP:" in info.stdout and "feasible points: 4 of 4" in info.stdout


def test_default_output_is_the_files_output_path(cli, write_sweep, tmp_path):
    sweep = write_sweep(SMALL + f'\n[output]\npath = "{tmp_path / "sub" / "x.nc"}"\n')
    assert cli("sweep", str(sweep), "-q").returncode == 0
    assert (tmp_path / "sub" / "x.nc").exists()


def test_bad_input_exits_2_with_one_line_and_no_output(cli, write_sweep, tmp_path):
    out = tmp_path / "never.nc"
    run = cli("sweep", str(write_sweep(SMALL.replace("macros = [4, 8]", "macros = 0"))), "-o", str(out))
    assert run.returncode == 2
    assert run.stderr == "ciminus: error: arch.macros = 0: out of range; allowed: an integer from 1 to 65536\n"
    assert "Traceback" not in run.stderr and run.stdout == ""
    assert not out.exists()


def test_missing_files_exit_2(cli, tmp_path):
    run = cli("sweep", str(tmp_path / "nope.toml"))
    assert run.returncode == 2 and run.stderr.startswith("ciminus: error: ") and "no such sweep file" in run.stderr
    run = cli("info", str(tmp_path / "nope.nc"))
    assert run.returncode == 2 and "no such result file" in run.stderr


def test_invalid_toml_exits_2(cli, write_sweep):
    run = cli("sweep", str(write_sweep("name = [\n")))
    assert run.returncode == 2 and "invalid TOML" in run.stderr and "Traceback" not in run.stderr


def test_paths_in_a_sweep_file_are_relative_to_it(cli, tmp_path):
    """Every path written in a sweep file — its output as well as its inputs — is relative to the file's
    folder, wherever the command runs; -o stays relative to the working directory."""
    import shutil

    folder = tmp_path / "study"
    folder.mkdir()
    shutil.copy(ROOT / "examples" / "tiny_cnn.onnx", folder / "model.onnx")
    (folder / "s.toml").write_text('name = "rel"\n[workload]\nonnx = "model.onnx"\n[output]\npath = "out/rel.nc"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = cli("sweep", str(folder / "s.toml"), "-q", cwd=elsewhere)
    assert run.returncode == 0, run.stderr
    assert (folder / "out" / "rel.nc").exists() and not (elsewhere / "out").exists()
    run = cli("sweep", str(folder / "s.toml"), "-q", "-o", "here.nc", cwd=elsewhere)
    assert run.returncode == 0 and (elsewhere / "here.nc").exists()
