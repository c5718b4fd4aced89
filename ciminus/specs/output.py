"""``[output]``: where results go and how much of them to keep."""

from __future__ import annotations

from dataclasses import dataclass

from ciminus.specs.fields import BOOL, CHOICE, INT, STR, spec_field


@dataclass(frozen=True, kw_only=True)
class OutputSpec:
    """The netCDF file a sweep writes."""

    path: str | None = spec_field(None, kind=STR, sweepable=False,
                                  doc="netCDF file, relative to the sweep file's folder (default: results/<name>.nc in the working directory)")
    per_layer: bool = spec_field(False, kind=BOOL, sweepable=False,
                                 doc="also keep per-layer energy and latency (adds a layer dimension)")
    actions: bool = spec_field(False, kind=BOOL, sweepable=False,
                               doc="also keep the action counts and the per-action energy table (adds an action "
                                   "dimension): energy = (action_count * action_energy_pj).sum(\"action\")")
    chunk_points: int = spec_field(0, kind=INT, lo=0, hi=1 << 40, sweepable=False,
                                   doc="design points per chunk kept in OUT.nc.partial/ while running; 0 = automatic")
    compression: str = spec_field("zstd", kind=CHOICE, choices=("zstd", "zlib", "none"), sweepable=False,
                                  doc='netCDF4 compression: "zstd" (fast, small; netCDF-C >= 4.9 / netCDF4-python >= 1.6), '
                                      '"zlib" (readable everywhere, slower) or "none"')
