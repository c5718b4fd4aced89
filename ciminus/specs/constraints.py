"""``[constraints]``: budgets a design point must meet, or be reported infeasible with the budget it breaks.

``area_mm2``, ``power_mw`` and ``latency_s`` are upper bounds, ``accuracy`` a lower one.

Budgets are checked per design point after its mapping is chosen (the mapping does not change the silicon,
and the objective, not the budget, picks among candidates); a point beyond one is ``feasible = False``
with ``reason`` ``over_area_budget``, ``over_power_budget``, ``over_latency_budget`` or
``under_accuracy_floor``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ciminus.specs.fields import FLOAT, spec_field


@dataclass(frozen=True, kw_only=True)
class ConstraintsSpec:
    """Bounds (``None``: no budget)."""

    area_mm2: float | None = spec_field(None, kind=FLOAT, lo=0.0, hi=1e9, lo_open=True, unit="mm^2", sweepable=False,
                                        doc="largest chip area (area_mm2)")
    power_mw: float | None = spec_field(None, kind=FLOAT, lo=0.0, hi=1e12, lo_open=True, unit="mW", sweepable=False,
                                        doc="largest average power over the workload (power_mw: energy / latency_s; "
                                            "needs a clock)")
    latency_s: float | None = spec_field(None, kind=FLOAT, lo=0.0, hi=1e9, lo_open=True, unit="s", sweepable=False,
                                         doc="longest latency of the workload (latency_s; needs a clock)")
    accuracy: float | None = spec_field(None, kind=FLOAT, lo=0.0, hi=1.0, sweepable=False,
                                        doc="lowest accuracy of the pruned model (a lower bound; needs [accuracy])")

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.area_mm2, self.power_mw, self.latency_s, self.accuracy))
