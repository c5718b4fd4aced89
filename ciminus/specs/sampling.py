"""``[sweep]``: sample the design space instead of gridding it, for sensitivity studies.

A sampled sweep has one dimension, ``sample``; along it every key of ``[sweep.ranges]`` takes the value a
SALib sampler drew (Sobol, Morris or Latin hypercube, seeded), and the result carries the sensitivity
indices of the energy, latency, EDP, area and EDAP to each key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ciminus.specs.fields import CHOICE, INT, spec_field

OUTPUTS = ("energy", "latency", "edp", "area_mm2", "edap")  # area_mm2 only where a sampled key changes it
MAX_RUNS = 1 << 22  # the indices need every run's results in memory at once (~0.7 GiB of rows)


def runs(sample: str, n: int, d: int) -> int:
    """Design points a sampler draws: Sobol (Saltelli) N (D + 2), Morris N (D + 1), Latin hypercube N."""
    return n * (d + 2) if sample == "sobol" else n * (d + 1) if sample == "morris" else n


@dataclass(frozen=True, kw_only=True)
class SamplingSpec:
    """How to sample, and the range of every sampled key (``"table.key" = [low, high]``)."""

    sample: str = spec_field(kind=CHOICE, choices=("sobol", "morris", "lhs"), sweepable=False,
                             doc="sampler: Sobol (variance indices), Morris (elementary effects) or Latin hypercube")
    samples: int = spec_field(64, kind=INT, lo=2, hi=1 << 24, sweepable=False,
                              doc="N: Sobol runs N*(D+2), Morris N*(D+1), Latin hypercube N, for D ranged keys")
    seed: int = spec_field(0, kind=INT, lo=0, hi=2**32 - 1, sweepable=False, doc="seed of the sampler and bootstrap")
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    integer: tuple[str, ...] = ()  # ranged keys that take integer values

    @property
    def names(self) -> list[str]:
        return list(self.ranges)

    @property
    def problem(self) -> dict:
        """The SALib problem of this sampling."""
        return {"num_vars": len(self.ranges), "names": self.names, "bounds": [list(b) for b in self.ranges.values()],
                "integer": list(self.integer)}
