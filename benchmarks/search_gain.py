"""What the wider default mapping search buys: EDP of every point of a slice of ``search_1e5.toml`` with the
default search, against the same points with duplication and compression pinned (the earlier search space:
macro organisations x loop orders only); and what searching the tiling size buys (``tile_rows`` "array" and
"half", searched where sub-arrays are shorter than the array and inputs are sparse) against the array's
rows alone, per objective.

    python benchmarks/search_gain.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ciminus.sweep import evaluate
from ciminus.validate import parse_sweep

HERE = Path(__file__).resolve().parent


def main() -> None:
    text = (HERE / "search_1e5.toml").read_text()
    text = text.replace("input_buffer_kb = [4, 8, 16, 32, 64]", "input_buffer_kb = [8, 64]").replace(
        "output_buffer_kb = [8, 16, 32, 64, 128]", "output_buffer_kb = [16, 128]")
    wide = evaluate(parse_sweep(text, base=HERE))
    narrow = evaluate(parse_sweep(text.replace("[output]", '[mapping]\nduplicate = true\ncompress = "auto"\n\n[output]'),
                                  base=HERE))
    e_wide = (wide.energy * wide.latency).values.ravel()
    e_narrow = (narrow.energy * narrow.latency).values.ravel()
    both = np.isfinite(e_wide) & np.isfinite(e_narrow)
    gain = 1.0 - e_wide[both] / e_narrow[both]
    better = gain > 1e-12
    print(f"{both.sum()} points feasible in both; candidates per point {wide.attrs['mapping_candidates_per_point']} "
          f"(wide) and {narrow.attrs['mapping_candidates_per_point']} (narrow)")
    print(f"lower EDP with the wide search on {better.mean():.1%} of them: median {np.median(gain[better]):.2%}, "
          f"largest {gain.max():.2%}; never higher: {bool((gain >= -1e-12).all())}")


TILING = """
name = "tiling-gain"
[workload]
network = ["resnet18", "mobilenetv2"]
[arch]
macros = [4, 16, 64]
array_rows = [64, 256]
subarray_rows = 16
input_bits_per_cycle = [1, 2]
[sparsity]
pattern = ["dense", "row-block", "nm"]
ratio = 0.5
input_density = [0.05, 0.2, 0.5]
[mapping]
objective = "OBJECTIVE"
macro_grid = "square"
loop_order = "vectors-cols-rows"
copies = 0
compress = "auto"
rearrange = "pad"
"""


def tiling() -> None:
    for objective in ("energy", "latency", "edp"):
        text = TILING.replace("OBJECTIVE", objective)
        searched = evaluate(parse_sweep(text))
        pinned = evaluate(parse_sweep(text + 'tile_rows = "array"\n'))
        assert searched.attrs["mapping_searched"] == '{"tile_rows": 2}'
        value = {"energy": lambda d: d.energy, "latency": lambda d: d.latency,
                 "edp": lambda d: d.energy * d.latency}[objective]
        a, b = value(searched).values.ravel(), value(pinned).values.ravel()
        both = np.isfinite(a) & np.isfinite(b)
        gain = 1.0 - a[both] / b[both]
        better = gain > 1e-12
        print(f"tiling search, objective {objective}: better on {better.sum()} of {both.sum()} points"
              + (f", by {np.median(gain[better]):.2%} median and {gain.max():.2%} at most" if better.any() else ""))


if __name__ == "__main__":
    main()
    tiling()
