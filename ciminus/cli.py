"""The ``ciminus`` command: ``sweep`` evaluates a sweep file, ``info`` summarises a result file."""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path

# The command's cores belong to the engine's threads. NumPy's and SciPy's OpenBLAS each start a thread per
# core when imported, which spin beside the engine's although a sweep calls no BLAS: on two cores they cost
# about a tenth of a sweep's wall time (docs/performance.md). OpenBLAS reads this when NumPy is first
# imported (here, for the command); a value the user set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from ciminus import __version__
from ciminus.backends import BACKENDS, BackendUnavailable
from ciminus.validate import SpecError, load_sweep

EXIT_INPUT = 2
EXIT_ENVIRONMENT = 1


def _error(lines: list[str]) -> int:
    for line in lines:
        print(f"ciminus: error: {line}", file=sys.stderr)
    return EXIT_INPUT


def cmd_sweep(args: argparse.Namespace) -> int:
    from ciminus.distributed import SchedulerError
    from ciminus.output import partial_dir
    from ciminus.sweep import SweepSetupError, default_output, run_sweep

    if args.workers is not None and args.workers < 1:
        return _error([f"--workers = {args.workers}: not a worker count; allowed: 1 or more worker processes "
                       "(with --scheduler local)"])
    if args.workers is not None and args.scheduler != "local":
        return _error([f"--workers = {args.workers}: only with --scheduler local; allowed: --scheduler local "
                       f"--workers {args.workers}, or no --workers"])

    sweep = load_sweep(args.file)
    out = Path(args.output) if args.output else default_output(sweep)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _error([f"output.path = \"{out}\": cannot create its folder ({exc.strerror}); allowed: a writable path"])
    try:
        summary = run_sweep(sweep, out, backend=args.backend, resume=args.resume, progress=not args.quiet,
                            chunk_points=args.chunk_points, scheduler=args.scheduler, workers=args.workers,
                            force=args.force)
    except SweepSetupError as exc:  # an output that must not be written is one too
        return _error([str(exc)])
    except OSError as exc:  # the environment: a read-only folder, a full disk, a vanished mount
        where = exc.filename or out
        print(f"ciminus: error: output.path = \"{out}\": cannot write {where} ({exc.strerror or exc}); "
              "allowed: a folder you can write to, with room", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except (BackendUnavailable, SchedulerError) as exc:
        return _error([str(exc)])
    except KeyboardInterrupt:
        folder = partial_dir(out)
        kept = len(list(folder.glob("chunk-*.npz"))) if folder.exists() else 0
        again = f"ciminus sweep {args.file} -o {out} --backend {args.backend} --resume"
        if args.scheduler:
            again += f" --scheduler {args.scheduler}"
        if args.chunk_points:
            again += f" --chunk-points {args.chunk_points}"
        print(f"ciminus: interrupted; {kept} finished chunk(s) kept in {folder}/. Resume with:\n  {again}",
              file=sys.stderr)
        return 130
    print(summary.describe(sweep.name))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    ds = _open_result(args.file)
    if isinstance(ds, int):
        return ds
    with ds:
        print(describe(ds))
    return 0


def _open_result(name: str):
    """Open a result file, or say in one line why it cannot be."""
    import xarray as xr

    path = Path(name)
    if not path.exists():
        return _error([f"{path}: no such result file; allowed: a netCDF file written by ciminus sweep"])
    if path.is_dir():
        return _error([f"{path}: is a directory; allowed: a netCDF file written by ciminus sweep"])
    try:
        ds = xr.open_dataset(path)
    except (OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0].split(". ")[0] if str(exc) else type(exc).__name__
        return _error([f"{path}: not a readable netCDF file ({reason}); allowed: a netCDF file written by ciminus sweep"])
    if "ciminus_version" not in ds.attrs or "energy" not in ds.data_vars:
        ds.close()
        return _error([f"{path}: a netCDF file not written by ciminus sweep; allowed: a netCDF file written by "
                       "ciminus sweep"])
    if ds.attrs.get("ciminus_status", "complete") != "complete":
        ds.close()
        return _error([f"{path}: an unfinished ciminus result (its sweep was interrupted while writing it); allowed: "
                       "a finished result file"])
    return ds


def describe(ds) -> str:  # an xarray.Dataset
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
    names = str(ds["reason"].attrs.get("flag_meanings", "")).split()
    codes, counts = np.unique(ds["reason"].values, return_counts=True)
    why = [f"{n} {names[c] if c < len(names) else f'reason {c}'}" for c, n in zip(codes, counts, strict=True) if c]
    if why:
        lines.append("infeasible: " + ", ".join(why))
    # Different workloads are not comparable: the best points are given per workload.
    groups = [d for d in ("network", "dataset", "onnx", "tokens") if d in ds["energy"].dims]
    for combo in itertools.product(*(range(ds.sizes[d]) for d in groups)):
        part = ds.isel(dict(zip(groups, combo, strict=True)))
        label = ", ".join(f"{d}={ds[d].values[i]}" for d, i in zip(groups, combo, strict=True))
        if groups:
            lines.append(f"{label}:")
        lines.extend(("  " if groups else "") + line for line in _best_points(part))
    return "\n".join(lines)


def _best_points(ds) -> list[str]:
    """The lowest energy, latency and EDP of the feasible points of ``ds``, with their coordinates."""
    if not int(ds["feasible"].sum()):
        return ["no feasible point"]
    lines = []
    point_dims = list(ds["energy"].dims)
    for label, da, unit in (("energy", ds["energy"], "pJ"), ("latency", ds["latency"], "cycles"),
                            ("EDP", ds["energy"] * ds["latency"], "pJ*cycles")):
        flat = np.nanargmin(da.values) if da.ndim else 0
        where = np.unravel_index(flat, da.shape) if da.ndim else ()
        coords = ", ".join(f"{d}={ds[d].values[i]}" for d, i in zip(point_dims, where, strict=True))
        value = float(da.values[where]) if da.ndim else float(da.values)
        lines.append(f"best {label}: {value:.6g} {unit} at {coords or 'the only point'}")
    return lines


PLOT_KINDS = ("breakdown", "pareto", "heatmap", "sensitivity")


def _parse_sel(ds, items: list[str]) -> dict:
    """``dim=value`` selections, each value typed like its coordinate."""
    sel = {}
    for item in items:
        dim, _, text = item.partition("=")
        if dim not in ds.dims or not text:
            raise ValueError(f"--sel {item}: not DIMENSION=VALUE; allowed dimensions: {', '.join(map(str, ds.dims))}")
        coord = ds[dim].values
        kind = coord.dtype.kind
        value: object = text
        if kind in "iu":
            value = int(float(text))
        elif kind == "f":
            value = float(text)
        elif kind == "b":
            value = text.lower() in ("true", "1", "yes")
        if value not in list(coord):
            raise ValueError(f"--sel {item}: {text} is not a value of {dim}; allowed: {', '.join(map(str, coord))}")
        if dim in sel:
            raise ValueError(f"--sel {item}: {dim} is already selected ({dim}={sel[dim]}); allowed: one value "
                             "per dimension")
        sel[dim] = value
    return sel


def cmd_plot(args: argparse.Namespace) -> int:
    from ciminus.analysis import plots

    path = Path(args.file)
    out = Path(args.output)
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        return _error([f"-o {out}: unknown figure format; allowed: a .png, .svg or .pdf file"])
    opened = _open_result(args.file)
    if isinstance(opened, int):
        return opened
    with opened:
        ds = opened.load()
    try:
        sel = _parse_sel(ds, args.sel or [])
        if args.kind == "breakdown":
            fig = plots.plot_breakdown(ds, sel=sel or None, by=args.by)
        elif args.kind == "pareto":
            view = ds.sel(sel) if sel else ds
            color = args.color
            if color is None and "area_mm2" in view and float(np.ptp(view["area_mm2"].values)) > 0:
                color = "area_mm2"  # the third objective, where the sweep changes it
            fig = plots.plot_pareto(view, x=args.x or "latency", y=args.y or "energy",
                                    over=args.over, color=color,
                                    note=", ".join(f"{k}={v}" for k, v in sel.items()))
        elif args.kind == "heatmap":
            dims = [d for d in ds["energy"].dims if ds.sizes[d] > 1]
            x = args.x or (dims[-1] if dims else None)
            y = args.y or (dims[-2] if len(dims) > 1 else None)
            if x is None or y is None:
                raise ValueError(f"--kind heatmap: needs two swept dimensions; this file has {dims or 'none'}")
            fig = plots.plot_heatmap(ds, args.var or "energy", x=x, y=y, sel=sel or None)
        else:
            if "parameter" not in ds.dims:
                reason = ds.attrs.get("sensitivity_error", "it is not a sampled sweep ([sweep] sample = ...)")
                raise ValueError(f"--kind sensitivity: {path} has no sensitivity indices ({reason})")
            keep = [v for v in ds.data_vars if "parameter" in ds[v].dims]
            result = ds[keep]
            result.attrs = {k.removeprefix("sensitivity_"): v for k, v in ds.attrs.items() if k.startswith("sensitivity_")}
            fig = plots.plot_sensitivity(result)
        plots.save_figure(fig, out)
    except (KeyError, ValueError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        return _error([f"--kind {args.kind}: {message}" if not str(message).startswith("--") else str(message)])
    print(f"{args.kind} of {path} -> {out}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from ciminus.validation import (
        as_records,
        comparisons,
        format_silicon,
        format_table,
        silicon_comparisons,
        silicon_records,
    )

    if args.json:
        import json

        print(json.dumps(as_records(comparisons()) + silicon_records(silicon_comparisons()), indent=2))
        return 0
    print(format_table(comparisons(), width=args.width))
    print()
    print(format_silicon(silicon_comparisons(), width=args.width))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ciminus", description="Energy and latency of sparse DNNs on digital SRAM CIM.")
    p.add_argument("--version", action="version", version=f"ciminus {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sweep", help="evaluate every point of a sweep file and write a netCDF4 file")
    s.add_argument("file", help="sweep file (TOML)")
    s.add_argument("-o", "--output", help="netCDF file to write (default: [output] path, else results/<name>.nc)")
    s.add_argument("--backend", default="cpu", choices=tuple(BACKENDS),
                   help="; ".join(f"{b.name}: {b.help}" for b in BACKENDS.values()))
    s.add_argument("--resume", action="store_true", help="continue from the finished chunks in OUT.nc.partial/")
    s.add_argument("--force", action="store_true",
                   help="overwrite an existing file that is not a ciminus result, and discard an earlier run's "
                        "OUT.nc.partial/ instead of refusing")
    s.add_argument("--scheduler", metavar="local|tcp://HOST:PORT",
                   help="spread chunks over a Dask cluster: 'local' starts worker processes here, an address joins "
                        "a running 'dask scheduler'")
    s.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes of --scheduler local (default: one per core)")
    s.add_argument("--chunk-points", type=int, default=None, metavar="N",
                   help="design points per chunk (default: [output] chunk_points, else automatic)")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_sweep)
    i = sub.add_parser("info", help="dimensions, variables and best points of a result file")
    i.add_argument("file", help="netCDF file written by ciminus sweep")
    i.set_defaults(func=cmd_info)
    f = sub.add_parser("plot", help="the figures people look at: breakdown, pareto, heatmap, sensitivity")
    f.add_argument("file", help="netCDF file written by ciminus sweep")
    f.add_argument("--kind", required=True, choices=PLOT_KINDS)
    f.add_argument("-o", "--output", required=True, help="figure file: .png, .svg or .pdf")
    f.add_argument("--sel", nargs="+", action="extend", metavar="DIM=VALUE", help="fix swept dimensions (repeatable)")
    f.add_argument("--x", help="x axis: a variable (pareto) or a dimension (heatmap)")
    f.add_argument("--y", help="y axis: a variable (pareto) or a dimension (heatmap)")
    f.add_argument("--var", help="heatmap: the variable coloured (default energy)")
    f.add_argument("--by", help="breakdown: one bar per value of this dimension")
    f.add_argument("--over", nargs="*", help="pareto: the dimensions a front spans (others keep their own fronts)")
    f.add_argument("--color", help="pareto: colour points by this dimension or variable (default: area_mm2 where "
                   "it varies)")
    f.set_defaults(func=cmd_plot)
    v = sub.add_parser("validate", help="the model against published reference points, with errors")
    v.add_argument("--width", type=int, default=220, help="truncate lines to this many characters")
    v.add_argument("--json", action="store_true", help="one JSON object per reference point instead of the table")
    v.set_defaults(func=cmd_validate)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SpecError as exc:
        return _error([str(p) for p in exc.problems])


def run() -> None:
    """The ``ciminus`` command: :func:`main`, then :func:`exit_now`."""
    exit_now(main())


def exit_now(rc: int | None) -> None:
    """Exit with ``rc`` without the interpreter's teardown. Every command has closed its files (and any
    cluster) by the time it returns; what teardown would free is the compiled kernels and the compiler's
    state, which takes 0.1 s after a sweep and 0.35 s after the first run's compile (docs/performance.md),
    on the user's clock."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a closed pipe (``ciminus info ... | head``): nothing more can reach it
            pass
    os._exit(int(rc or 0))


if __name__ == "__main__":
    run()
