"""Compile the CUDA pricing kernel to PTX without a GPU: does ``--backend cuda`` still compile?

    pip install -e ".[cuda]" nvidia-cuda-nvrtc-cu12 nvidia-cuda-nvcc-cu12   # a throw-away environment
    python benchmarks/gpu_ptx.py [--cc 9.0] [--ptx FILE]

The GPU simulator runs the kernel as Python, so it cannot tell whether Numba's GPU target compiles it (a
NumPy function that target lacks passes the simulator and fails on a GPU). This compiles the kernel for
the argument types a one-layer sweep gives it, for the compute capability asked for, and prints the PTX's
size, the calls left in it (the model is inlined) and its floor/ceil roundings. Numba asks the driver for
the current device's compute capability while compiling device functions; with no driver here that
query is answered with ``--cc``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cc", default="9.0", help="compute capability, e.g. 8.0 or 9.0")
    ap.add_argument("--ptx", type=Path, help="also write the PTX here")
    args = ap.parse_args()
    cc = tuple(int(x) for x in args.cc.split("."))

    import numba
    import numba.cuda.dispatcher as cuda_dispatcher
    import numpy as np
    from numba import cuda

    class _Device:  # the driver's answer, for a machine without one
        compute_capability = cc

    cuda_dispatcher.get_current_device = lambda: _Device()

    from ciminus.backends.cuda import kernel_args, kernel_tables
    from ciminus.kernels import layout as L
    from ciminus.kernels.price_cuda import price_points_cuda
    from ciminus.lower import lower
    from ciminus.validate import parse_sweep
    from ciminus.warmup import TINY

    low = lower(parse_sweep(TINY))
    if low.stats is None:
        low.stats = low.stage.table()
    args_ = kernel_args(low, 0, 1, kernel_tables(low), np.empty((1, L.N_POINT)), np.empty((1, 1, L.N_LAYER)))
    sig = tuple(numba.typeof(a) for a in args_)
    t0 = time.perf_counter()
    ptx, _ = cuda.compile_ptx(price_points_cuda.py_func, sig, cc=cc)
    dt = time.perf_counter() - t0
    if args.ptx:
        args.ptx.write_text(ptx)
    calls = len(re.findall(r"\bcall", ptx))
    print(f"price_points_cuda -> PTX for sm_{cc[0]}{cc[1]} in {dt:.1f} s: {len(ptx):,} characters, "
          f"{calls} calls, {ptx.count('cvt.rmi.f64.f64')} floor and "
          f"{ptx.count('cvt.rpi.f64.f64')} ceil roundings")


if __name__ == "__main__":
    main()
