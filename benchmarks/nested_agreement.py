"""How closely the closed form of a draw inside a draw (``sparsity.first = "block"`` before a FullBlock pattern,
docs/model.md §3.6) prices what random masks do: random one-layer sweeps (odd, tiny, grouped and
fully-connected layers; every FullBlock pattern; first blocks from one row to the whole matrix; arrays,
sub-arrays, compression, pad and slice, index formats) priced with ``stats = "expected"`` and with
``stats = "monte-carlo"``, per-layer energy and latency compared.

    python benchmarks/nested_agreement.py [--cases 300] [--samples 800] [--seed 1]

Prints the share of points within 1 % and 3 %, the quantiles of the larger of the two gaps, and the
worst points (with the kept counts that make them hard: a pattern that keeps a handful of blocks).
"""

from __future__ import annotations

import argparse
import random

import numpy as np

from ciminus.sweep import evaluate
from ciminus.validate import SpecError, parse_sweep

PATTERNS = ["row-wise", "row-block", "column-wise", "column-block", "channel-wise", "unstructured", "flexblock",
            "dense"]


def layer_text(rng: random.Random) -> str:
    if rng.random() < 0.25:
        return f'{{name = "l", kind = "linear", C = {rng.randint(3, 300)}, K = {rng.randint(1, 80)}}}'
    r = rng.choice([1, 3, 3, 5])
    c, k, g = rng.randint(1, 40), rng.randint(1, 70), 1
    if rng.random() < 0.25:
        g = rng.choice([2, 4])
        c, k = c * g, k * g
    h = rng.randint(r, 10)
    return (f'{{name = "l", kind = "conv", C = {c}, K = {k}, R = {r}, S = {r}, H = {h}, W = {h}, pad = {r // 2}, '
            f"groups = {g}}}")


def sweep_text(rng: random.Random) -> str:
    x, y = rng.choice([16, 32, 64, 128]), rng.choice([8, 16, 32, 64])
    sr = rng.choice([d for d in (4, 8, 16, 32, x) if x % d == 0])
    sc = rng.choice([d for d in (2, 4, 8, y) if y % d == 0])
    pattern = rng.choice(PATTERNS)
    sp = [f'pattern = "{pattern}"', f"ratio = {round(rng.choice([0.5, 0.75, 0.9, 0.95, rng.uniform(0.3, 0.97)]), 3)}"]
    if pattern == "flexblock":
        sp += ["nm_m = 4", "nm_n = 4"]
    if pattern in ("flexblock", "column-block") and rng.random() < 0.7:
        sp.append(f"block_rows = {rng.choice([1, 2, 4, 8, 16, 3])}")
    if pattern in ("flexblock", "row-block") and rng.random() < 0.7:
        sp.append(f"block_cols = {rng.choice([1, 2, 4, 8, 16, 5])}")
    rows = rng.choice([1, 1, 2, 4, 8, 16, 32, '"kernel"', '"array"', '"all"'])
    cols = rng.choice([1, 2, 4, 8, 16, '"array"', '"array"', '"all"', 5])
    sp += ['first = "block"', f"first_block_rows = {rows}", f"first_block_cols = {cols}",
           f"first_ratio = {rng.choice([0.25, 0.5, 0.75, 0.9])}"]
    mp = [f'rearrange = "{rng.choice(["pad", "slice"])}"', f'compress = "{rng.choice(["auto", "auto", "row", "col"])}"',
          f'flatten = "{rng.choice(["CRS", "RSC", "RCS"])}"', 'macro_grid = "square"', 'loop_order = "vectors-cols-rows"',
          f'index_format = "{rng.choice(["auto", "coordinate", "bitmap"])}"']
    nl = "\n"
    return (f'name = "nested"\n[workload]\nlayer = [{layer_text(rng)}]\n[arch]\narray_rows = {x}\narray_cols = {y}\n'
            f"subarray_rows = {sr}\nsubarray_cols = {sc}\nmacros = {rng.choice([1, 2, 4, 8])}\n[sparsity]\n"
            f"{nl.join(sp)}\nSTATS\n[mapping]\n{nl.join(mp)}\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--samples", type=int, default=800)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    gaps, worst, refused, unpriced = [], [], 0, 0
    for _ in range(args.cases):
        text = sweep_text(rng)
        try:
            closed = evaluate(parse_sweep(text.replace("STATS", "")))
            masks = evaluate(parse_sweep(text.replace("STATS", f'stats = "monte-carlo"\nsamples = {args.samples}')))
        except SpecError:  # e.g. a column compression the pattern cannot take
            refused += 1
            continue
        if not bool(masks.feasible):
            continue
        if not bool(closed.feasible):  # blocks that do not nest: no closed form (first_blocks_need_masks)
            unpriced += 1
            continue
        de = float(closed.energy) / float(masks.energy) - 1.0
        dl = float(closed.latency) / float(masks.latency) - 1.0
        gaps.append(max(abs(de), abs(dl)))
        worst.append((gaps[-1], de, dl, text))
    g = np.array(gaps)
    print(f"{len(g)} points priced both ways ({unpriced} without a closed form, {refused} refused when read), "
          f"{args.samples} masks each")
    print(f"within 1 %: {np.mean(g <= 0.01):.1%}   within 3 %: {np.mean(g <= 0.03):.1%}   "
          f"median {np.median(g):.2%}   90th percentile {np.quantile(g, 0.9):.2%}   largest {g.max():.1%}")
    for gap, de, dl, text in sorted(worst, key=lambda t: -t[0])[:5]:
        settings = [ln for ln in text.splitlines() if "=" in ln and not ln.startswith(("name", "macro_grid", "loop"))]
        print(f"  energy {de:+.1%} latency {dl:+.1%}: " + "; ".join(settings))


if __name__ == "__main__":
    main()
