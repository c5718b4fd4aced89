"""The CUDA backend: the same dataset as the cpu backend under Numba's CUDA simulator, and a clear
refusal where there is no GPU. (The simulator must be switched on before numba.cuda is imported, so
these run in a child process.)"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("numba.cuda")

SIMULATED = r'''
import sys
import numpy as np
from ciminus.sweep import evaluate
from ciminus.validate import parse_sweep

text = sys.stdin.read()
for select in ("best", "best-per-layer", "all"):
    sweep = parse_sweep(text.replace("SELECT", select))
    gpu, cpu = evaluate(sweep, "cuda"), evaluate(sweep, "cpu")
    assert set(gpu.data_vars) == set(cpu.data_vars)
    for name in cpu.data_vars:
        a, b = gpu[name].values, cpu[name].values
        same = np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        assert same, (select, name, a, b)
    assert gpu.attrs["backend"] == "cuda"
    ok = gpu.feasible.values
    priced = (gpu.action_count * gpu.action_energy_pj).sum("action").transpose(*gpu.energy.dims).values
    assert np.allclose(priced[ok], gpu.energy.values[ok], rtol=1e-9, atol=0), select
    print(select, "ok", int(cpu.feasible.sum()), "of", cpu.feasible.size, "feasible")
'''

SWEEP = """
name = "sim"
[[workload.layer]]
name = "conv"
C = 8
K = 20
R = 3
S = 3
H = 6
W = 6
pad = 1
[[workload.layer]]
name = "dw"
C = 8
K = 8
R = 3
S = 3
H = 6
W = 6
pad = 1
groups = 8
[[workload.layer]]
name = "attn"
kind = "matmul"
C = 16
K = 6
tokens = 6
count = 2
dynamic = true
[arch]
macros = [2, 4]
input_buffer_kb = [0.02, 8]
[sparsity]
pattern = ["dense", "row-block", "hybrid"]
ratio = 0.5
input_density = [1.0, 0.4]
[mapping]
rearrange = ["pad", "slice"]
macro_grid = ["square", "2x2"]
select = "SELECT"
[output]
per_layer = true
actions = true
"""


@pytest.mark.slow
def test_cuda_kernel_equals_cpu_under_the_simulator():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", SIMULATED], input=SWEEP, capture_output=True, text=True, cwd=ROOT,
                         env=env, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count(" ok ") == 3


def test_no_gpu_is_a_clear_error(cli, write_sweep, tmp_path):
    env_has_gpu = subprocess.run([sys.executable, "-c", "from numba import cuda; print(cuda.is_available())"],
                                 capture_output=True, text=True).stdout.strip()
    if env_has_gpu == "True":
        pytest.skip("this machine has a GPU")
    run = cli("sweep", str(write_sweep(SWEEP.replace("SELECT", "best"))), "--backend", "cuda",
              "-o", str(tmp_path / "x.nc"))
    assert run.returncode == 2
    assert run.stderr.startswith("ciminus: error: --backend cuda") and "Traceback" not in run.stderr
    assert not (tmp_path / "x.nc").exists()


def _gpu_numpy_calls() -> dict[str, set[str]]:
    """``np.<name>`` calls in every function the GPU kernel compiles (the kernel, its device functions and
    the functions they reach, followed through their globals, but for those the GPU implements itself), by
    function."""
    import ast
    import inspect
    import textwrap

    from ciminus.kernels import price_cuda

    todo = [f.py_func for f in vars(price_cuda).values()
            if hasattr(f, "py_func") and getattr(f.py_func, "__module__", "") == price_cuda.__name__]
    seen: dict[str, set[str]] = {}
    while todo:
        fn = todo.pop()
        name = f"{fn.__module__}.{fn.__qualname__}"
        if name in seen:
            continue
        seen[name] = set()
        for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(fn)))):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "np":
                seen[name].add(f.attr)
            elif isinstance(f, ast.Name):
                g = fn.__globals__.get(f.id)
                if hasattr(g, "py_func"):
                    todo.append(g.py_func)
                elif (inspect.isfunction(g) and g.__module__.startswith("ciminus.kernels")
                      and g not in price_cuda.GPU_OWN):  # a plain helper the GPU compiles from its source
                    todo.append(g)
    return seen


def test_the_gpu_kernel_calls_only_numpy_functions_the_gpu_target_has():
    """Numba's GPU target lowers NumPy ufuncs from its own table, which lacks some the CPU has (``np.floor``
    and ``np.ceil`` among them): one in a shared kernel compiles on the CPU, passes the simulator, and
    fails on the GPU. Found by compiling the kernel to PTX; this holds it without a GPU."""
    import numpy as np
    from numba.cuda.ufuncs import ufunc_db

    calls = _gpu_numpy_calls()
    assert any(n.endswith("actions.layer_actions") for n in calls)  # the walk reaches the model
    gpu = ufunc_db()
    missing = {fn: sorted(n for n in names if isinstance(getattr(np, n, None), np.ufunc) and getattr(np, n) not in gpu)
               for fn, names in calls.items()}
    assert not {fn: m for fn, m in missing.items() if m}
