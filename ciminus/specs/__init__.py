"""One frozen dataclass per TOML table of a sweep file."""

from ciminus.specs.arch import ArchSpec
from ciminus.specs.energy import EnergySpec
from ciminus.specs.mapping import MappingSpec, parse_grid
from ciminus.specs.output import OutputSpec
from ciminus.specs.sparsity import PATTERNS, SparsitySpec
from ciminus.specs.workload import WorkloadSpec

__all__ = [
    "PATTERNS",
    "ArchSpec",
    "EnergySpec",
    "MappingSpec",
    "OutputSpec",
    "SparsitySpec",
    "WorkloadSpec",
    "parse_grid",
]
