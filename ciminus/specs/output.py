"""``[output]``: where results go and how much of them to keep."""

from __future__ import annotations

from dataclasses import dataclass

from ciminus.specs.fields import BOOL, STR, spec_field


@dataclass(frozen=True, kw_only=True)
class OutputSpec:
    """The netCDF file a sweep writes."""

    path: str | None = spec_field(None, kind=STR, sweepable=False,
                                  doc="netCDF file (default results/<name>.nc)")
    per_layer: bool = spec_field(False, kind=BOOL, sweepable=False,
                                 doc="also keep per-layer energy and latency (adds a layer dimension)")
