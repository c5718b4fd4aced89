"""The ``ciminus`` command: ``sweep`` evaluates a sweep file, ``info`` summarises a result file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ciminus import __version__
from ciminus.validate import SpecError, load_sweep

EXIT_INPUT = 2


def _error(lines: list[str]) -> int:
    for line in lines:
        print(f"ciminus: error: {line}", file=sys.stderr)
    return EXIT_INPUT


def cmd_sweep(args: argparse.Namespace) -> int:
    from ciminus.lower import LoweringError
    from ciminus.sweep import BackendUnavailable, SweepSetupError, default_output, partial_dir, run_sweep

    sweep = load_sweep(args.file)
    out = Path(args.output) if args.output else default_output(sweep)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _error([f"output.path = \"{out}\": cannot create its folder ({exc.strerror}); allowed: a writable path"])
    try:
        summary = run_sweep(sweep, out, backend=args.backend, resume=args.resume, progress=not args.quiet,
                            chunk_points=args.chunk_points)
    except SweepSetupError as exc:
        return _error([str(exc)])
    except BackendUnavailable as exc:
        return _error([str(exc)])
    except LoweringError as exc:
        return _error([f"{args.file}: {exc}"])
    except KeyboardInterrupt:
        folder = partial_dir(out)
        kept = len(list(folder.glob("chunk-*.npz"))) if folder.exists() else 0
        again = f"ciminus sweep {args.file} -o {out} --backend {args.backend} --resume"
        if args.chunk_points:
            again += f" --chunk-points {args.chunk_points}"
        print(f"ciminus: interrupted; {kept} finished chunk(s) kept in {folder}/. Resume with:\n  {again}",
              file=sys.stderr)
        return 130
    resumed = f", {summary.resumed_chunks} of {summary.chunks} chunks resumed" if summary.resumed_chunks else ""
    print(f"{sweep.name}: {summary.points} design points ({summary.feasible} of {summary.rows} rows feasible) "
          f"with the {summary.backend} backend in {summary.seconds:.2f} s{resumed} -> {summary.path}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    import xarray as xr

    path = Path(args.file)
    if not path.exists():
        return _error([f"{path}: no such result file; allowed: a netCDF file written by ciminus sweep"])
    try:
        ds = xr.open_dataset(path)
    except (OSError, ValueError) as exc:
        return _error([f"{path}: not a readable netCDF file ({exc}); allowed: a netCDF file written by ciminus sweep"])
    with ds:
        print(describe(ds))
    return 0


def describe(ds) -> str:  # noqa: ANN001 - an xarray.Dataset
    """A plain-text summary: dimensions, coordinates, variables with units, and the best points."""
    lines = [f"{ds.attrs.get('title', 'CIMinus results')} (ciminus {ds.attrs.get('ciminus_version', '?')}, "
             f"backend {ds.attrs.get('backend', '?')})"]
    lines.append("dimensions: " + ", ".join(f"{d}={n}" for d, n in ds.sizes.items()))
    lines.append("coordinates:")
    for name, c in ds.coords.items():
        vals = c.values.tolist()
        shown = vals if len(vals) <= 8 else [*vals[:4], "...", *vals[-2:]]
        lines.append(f"  {name} ({', '.join(c.dims)}): {shown}")
    lines.append("variables:")
    for name, v in ds.data_vars.items():
        lines.append(f"  {name} ({', '.join(v.dims)}) [{v.attrs.get('units', '')}]: {v.attrs.get('long_name', '')}")
    feas = ds["feasible"]
    lines.append(f"feasible points: {int(feas.sum())} of {feas.size}")
    if int(feas.sum()):
        point_dims = [d for d in ds["energy"].dims]
        for label, da, unit in (("energy", ds["energy"], "pJ"), ("latency", ds["latency"], "cycles"),
                                ("EDP", ds["energy"] * ds["latency"], "pJ*cycles")):
            flat = np.nanargmin(da.values) if da.ndim else 0
            where = np.unravel_index(flat, da.shape) if da.ndim else ()
            coords = ", ".join(f"{d}={ds[d].values[i]}" for d, i in zip(point_dims, where, strict=True))
            value = float(da.values[where]) if da.ndim else float(da.values)
            lines.append(f"best {label}: {value:.6g} {unit} at {coords or 'the only point'}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ciminus", description="Energy and latency of sparse DNNs on digital SRAM CIM.")
    p.add_argument("--version", action="version", version=f"ciminus {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sweep", help="evaluate every point of a sweep file and write a netCDF4 file")
    s.add_argument("file", help="sweep file (TOML)")
    s.add_argument("-o", "--output", help="netCDF file to write (default: [output] path, else results/<name>.nc)")
    s.add_argument("--backend", default="cpu", choices=("cpu", "reference", "cuda"),
                   help="cpu: the Numba engine (default); reference: the readable pure-Python model; "
                        "cuda: the engine on an NVIDIA GPU (needs numba-cuda)")
    s.add_argument("--resume", action="store_true", help="continue from the finished chunks in OUT.nc.partial/")
    s.add_argument("--chunk-points", type=int, default=None, metavar="N",
                   help="design points per chunk (default: [output] chunk_points, else automatic)")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_sweep)
    i = sub.add_parser("info", help="dimensions, variables and best points of a result file")
    i.add_argument("file", help="netCDF file written by ciminus sweep")
    i.set_defaults(func=cmd_info)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SpecError as exc:
        return _error([str(p) for p in exc.problems])


if __name__ == "__main__":
    sys.exit(main())
