"""What the wider default mapping search buys: EDP of every point of a slice of ``search_1e5.toml`` with the
default search, against the same points with duplication and compression pinned (the earlier search space:
macro organisations x loop orders only).

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


if __name__ == "__main__":
    main()
