"""Check and time the CUDA backend in one short run (for a machine with an NVIDIA GPU).

    python benchmarks/gpu.py [--json FILE] [--points N]

1. Correctness: small sweeps (every candidate-selection mode, per-layer results, infeasible points, a
   built-in network) priced by ``cuda`` and ``cpu`` must agree: integers and NaNs exactly, costs to a
   relative 1e-12 (the GPU fuses multiply-adds).
2. Throughput: the 10^6-point ResNet-18 sweep of ``resnet18_1m.toml`` (and ``--points`` more by
   repeating it) priced by the CUDA kernel alone, best of three, in (design point x layer) evaluations per
   second, beside the ``cpu`` kernel on the same machine's cores.
Prints Markdown for docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from ciminus.backends.cuda import CudaEngine
from ciminus.backends.cuda import kernel_args as cuda_kernel_args
from ciminus.kernels import layout as L
from ciminus.lower import lower
from ciminus.sweep import evaluate
from ciminus.validate import load_sweep, parse_sweep

CHECK = """
name = "check"
[workload]
network = ["resnet18", "mobilenetv2"]
dataset = "cifar10"
[arch]
macros = [4, 16]
input_buffer_kb = [0.05, 8]
[sparsity]
pattern = ["dense", "row-block", "nm", "hybrid"]
ratio = [0.0, 0.6]
input_density = [1.0, 0.4]
[mapping]
rearrange = ["pad", "slice"]
macro_grid = ["square", "2x2", "4x4"]
select = "SELECT"
[output]
per_layer = PER_LAYER
"""


def check() -> list[str]:
    done = []
    for select, per_layer in (("best", "false"), ("best", "true"), ("best-per-layer", "true"), ("all", "false")):
        text = CHECK.replace("SELECT", select).replace("PER_LAYER", per_layer)
        if per_layer == "true":  # per-layer results need one layer list
            text = text.replace('network = ["resnet18", "mobilenetv2"]', 'network = "mobilenetv2"')
        sweep = parse_sweep(text)
        gpu, cpu = evaluate(sweep, "cuda"), evaluate(sweep, "cpu")
        for name in cpu.data_vars:
            a, b = gpu[name].values, cpu[name].values
            # The GPU contracts multiply-adds into FMAs: floats agree to rounding, everything else exactly.
            same = (np.allclose(a, b, rtol=1e-12, atol=0, equal_nan=True) and np.array_equal(np.isnan(a), np.isnan(b))
                    if a.dtype.kind == "f" else np.array_equal(a, b))
            if not same:
                diff = np.nanmax(np.abs(a.astype(float) - b.astype(float)) / np.maximum(np.abs(b.astype(float)), 1e-300))
                raise AssertionError(f"cuda != cpu for {name} (select={select}, per_layer={per_layer}): max rel {diff}")
        done.append(f"{select}{' + per-layer' if per_layer == 'true' else ''}: {sweep.size} points agree")
    return done


def gpu_rate(sweep_path: Path, repeats: int, copies: int) -> dict[str, float]:
    from numba import cuda

    sweep = load_sweep(sweep_path)
    backend = CudaEngine(lower(sweep), 0)
    low = backend.low
    n = low.n_points
    out = cuda.device_array((n, L.N_POINT_BASE))
    layers = cuda.device_array((n, 0, L.N_LAYER))
    threads = 128
    blocks = max(1, min(-(-n // threads), 1 << 16))
    t0 = time.perf_counter()
    backend.kernel[blocks, threads](*cuda_kernel_args(low, 0, min(n, 1024), backend.tables, out, layers))  # compile
    cuda.synchronize()
    compile_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(copies):
            backend.kernel[blocks, threads](*cuda_kernel_args(low, 0, n, backend.tables, out, layers))
        cuda.synchronize()
        times.append(time.perf_counter() - t0)
    evals = n * copies * int(low.layer_count.max()) * low.cands.shape[0]
    host = np.empty((n, L.N_POINT_BASE))
    t0 = time.perf_counter()
    out.copy_to_host(host)
    copy_s = time.perf_counter() - t0
    return {"points": n * copies, "evals_per_s": evals / min(times), "best_s": min(times), "compile_s": compile_s,
            "copy_back_s_per_1e6_points": copy_s / n * 1e6, "feasible": int((host[:, L.P_REASON] == 0).sum())}


def cpu_rate(sweep_path: Path, repeats: int) -> dict[str, float]:
    import numba

    from ciminus.backends.cpu import kernel_args, price_points

    low = lower(load_sweep(sweep_path))
    n = low.n_points
    out = np.empty((n, L.N_POINT_BASE))
    layers = np.empty((n, 0, L.N_LAYER))

    price_points(*kernel_args(low, 0, min(n, 1000), out, layers, numba.get_num_threads()))
    args = kernel_args(low, 0, n, out, layers, numba.get_num_threads())
    best = min(_timed(price_points, args) for _ in range(repeats))
    return {"threads": numba.get_num_threads(), "evals_per_s": n * int(low.layer_count.max()) / best, "best_s": best}


def _timed(fn, args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--copies", type=int, default=10, help="kernel launches over the sweep per timing")
    ap.add_argument("--sweep", type=Path, default=HERE / "resnet18_1m.toml")
    args = ap.parse_args()
    from numba import cuda

    dev = cuda.get_current_device()
    name = getattr(dev, "name", "CUDA simulator")
    name = name.decode() if isinstance(name, bytes) else str(name)
    out: dict[str, object] = {"device": name, "cpu_cores": os.cpu_count(), "python": platform.python_version()}
    t0 = time.perf_counter()
    out["check"] = check()
    out["check_s"] = time.perf_counter() - t0
    out["gpu"] = gpu_rate(args.sweep, 3, args.copies)
    out["cpu"] = cpu_rate(args.sweep, 3)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    g, c = out["gpu"], out["cpu"]
    print(json.dumps(out, indent=2))
    print(f"\n| {name} | {g['evals_per_s']:.3g} evaluations/s ({g['points']:,} points in {g['best_s']:.2f} s; "
          f"compile {g['compile_s']:.0f} s) | cpu kernel on {c['threads']} threads: {c['evals_per_s']:.3g} |")


if __name__ == "__main__":
    main()
