"""The one place where a sweep's settings are decided: template < fixed < axis < sampled, and strings to codes.

A key of a sweep takes its value from, in order of precedence: the sampled values of a sampled sweep, the
swept axis that names it, the fixed value of the sweep file, the chosen template (``[arch]`` and
``[energy]``), and the spec's default. :func:`setting` answers that once per key as a :class:`Setting`
(which axis it varies along, and its value at every index of that axis). Everything else reads settings
through here: a point's specs for the reference model (:class:`Resolver`), the kernels' parameter columns
(:func:`param_columns`), the dataset writer's clock and energy table, and validation's cross-key checks.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ciminus.kernels import layout as L
from ciminus.sparsity.masks import mask_columns
from ciminus.specs.arch import ArchSpec
from ciminus.specs.energy import EnergySpec
from ciminus.specs.fields import parse_profile, spec_fields
from ciminus.specs.mapping import MappingSpec
from ciminus.specs.sparsity import PATTERNS, SparsitySpec
from ciminus.specs.sweep import PATH_KEYS, SAMPLE_TABLE, SPEC_CLASSES, TABLES, TEMPLATED, Axis, PointSpecs, Sweep
from ciminus.specs.workload import WorkloadSpec
from ciminus.templates import TEMPLATE_NAMES, template_table

DEFAULT_TEMPLATE = "digital-28nm"

# ----- string -> code maps the kernels read ------------------------------------------------------------
ADDER_MODELS = {"ripple": L.ADDER_TREE_RIPPLE, "compressor": L.ADDER_TREE_COMPRESSOR, "miredo": L.ADDER_TREE_MIREDO,
                "full": L.ADDER_TREE_RIPPLE}  # "full": the ripple tree's former name
ACTIVITIES = {"data": L.ACTIVITY_DATA, "full": L.ACTIVITY_FULL}
PROFILES = {"laplace": L.PROFILE_LAPLACE, "independent": L.PROFILE_INDEPENDENT, "given": L.PROFILE_GIVEN}
# The silicon is the same for every mapping candidate of a point: E*D*A ranks them as E*D, and area ties.
OBJECTIVES = {"energy": L.OBJECTIVE_ENERGY, "latency": L.OBJECTIVE_LATENCY, "edp": L.OBJECTIVE_EDP,
              "edap": L.OBJECTIVE_EDP, "area": L.OBJECTIVE_EDP}
SELECTS = {"best": L.SELECT_BEST, "best-per-layer": L.SELECT_BEST_PER_LAYER, "all": L.SELECT_ALL}
LOOP_ORDER_CODES = {name: code for code, name in enumerate(L.LOOP_ORDERS)}

# (table, key) -> the kernels' parameter column (``kernels.layout.PRM_*``).
PARAMS: dict[tuple[str, str], int] = {
    ("arch", "macros"): L.PRM_MACROS,
    ("arch", "array_rows"): L.PRM_ROWS,
    ("arch", "array_cols"): L.PRM_COLS,
    ("arch", "weight_bits"): L.PRM_WEIGHT_BITS,
    ("arch", "input_bits"): L.PRM_INPUT_BITS,
    ("arch", "input_bits_per_cycle"): L.PRM_BITS_PER_CYCLE,
    ("arch", "psum_bits"): L.PRM_PSUM_BITS,
    ("arch", "output_bits"): L.PRM_OUTPUT_BITS,
    ("arch", "input_buffer_kb"): L.PRM_IBUF_KB,
    ("arch", "output_buffer_kb"): L.PRM_OBUF_KB,
    ("arch", "global_buffer_kb"): L.PRM_GBUF_KB,
    ("arch", "index_memory_kb"): L.PRM_INDEX_KB,
    ("arch", "input_buffer_bw"): L.PRM_IBUF_BW,
    ("arch", "output_buffer_bw"): L.PRM_OBUF_BW,
    ("arch", "global_buffer_bw"): L.PRM_GBUF_BW,
    ("arch", "dram_bw"): L.PRM_DRAM_BW,
    ("arch", "weight_load_bw"): L.PRM_WLOAD_BW,
    ("arch", "double_buffer"): L.PRM_DOUBLE_BUFFER,
    ("arch", "weight_double_buffer"): L.PRM_WEIGHT_DOUBLE_BUFFER,
    ("energy", "mult_1b_pj"): L.PRM_MULT,
    ("energy", "add_1b_pj"): L.PRM_ADD,
    ("energy", "reg_1b_pj"): L.PRM_REG,
    ("energy", "weight_write_pj_per_bit"): L.PRM_WEIGHT_WRITE,
    ("energy", "leakage_pj_per_cycle_per_macro"): L.PRM_LEAKAGE,
    ("energy", "dram_read_pj_per_bit"): L.PRM_DRAM_R,
    ("energy", "dram_write_pj_per_bit"): L.PRM_DRAM_W,
    ("energy", "global_buffer_read_pj_per_bit"): L.PRM_GBUF_R,
    ("energy", "global_buffer_write_pj_per_bit"): L.PRM_GBUF_W,
    ("energy", "output_buffer_read_pj_per_bit"): L.PRM_OBUF_R,
    ("energy", "output_buffer_write_pj_per_bit"): L.PRM_OBUF_W,
    ("energy", "input_buffer_read_pj_per_bit"): L.PRM_IBUF_R,
    ("energy", "input_buffer_write_pj_per_bit"): L.PRM_IBUF_W,
    ("energy", "register_write_pj_per_bit"): L.PRM_REG_W,
    ("energy", "index_read_pj_per_bit"): L.PRM_INDEX_R,
    ("energy", "index_write_pj_per_bit"): L.PRM_INDEX_W,
    ("energy", "mux_pj_per_level"): L.PRM_MUX,
    ("energy", "zero_detect_pj_per_bit"): L.PRM_ZERO_DETECT,
    ("energy", "adder_tree_model"): L.PRM_ADDER_MODEL,
    ("energy", "activity"): L.PRM_ACTIVITY,
    ("arch", "node_nm"): L.PRM_NODE,
    ("arch", "vdd"): L.PRM_VDD,
    ("energy", "reference_node_nm"): L.PRM_REF_NODE,
    ("energy", "reference_vdd"): L.PRM_REF_VDD,
    ("sparsity", "weight_bit_density"): L.PRM_WEIGHT_BIT_DENSITY,
    ("sparsity", "input_profile"): L.PRM_INPUT_PROFILE,
    ("sparsity", "input_clip"): L.PRM_INPUT_CLIP,
    ("sparsity", "input_density"): L.PRM_DENSITY,
    ("sparsity", "input_bit_density"): L.PRM_BIT_DENSITY,
    ("sparsity", "input_skip"): L.PRM_SKIP,
    ("workload", "batch"): L.PRM_BATCH,
}

# (table, key) -> the silicon parameter column (``kernels.layout.SI_*``): the area and timing tables, and the
# keys that decide which hardware exists beside the PRM_* geometry (``kernels.layout.SILICON_PRMS``).
SILICON_PARAMS: dict[tuple[str, str], int] = {
    ("area", "reference_node_nm"): L.SI_AREA_REF_NODE,
    ("area", "bitcell_um2"): L.SI_BITCELL,
    ("area", "mult_gate_um2"): L.SI_MULT_GATE,
    ("area", "gate_um2"): L.SI_GATE,
    ("area", "full_adder_um2"): L.SI_FULL_ADDER,
    ("area", "register_um2"): L.SI_REGISTER,
    ("area", "mux2_um2"): L.SI_MUX2,
    ("area", "sram_um2_per_bit"): L.SI_SRAM_BIT,
    ("area", "driver_um2"): L.SI_DRIVER,
    ("timing", "reference_node_nm"): L.SI_TIMING_REF_NODE,
    ("timing", "reference_vdd"): L.SI_TIMING_REF_VDD,
    ("timing", "gate_ns"): L.SI_T_GATE,
    ("timing", "carry_ns"): L.SI_T_CARRY,
    ("timing", "sum_ns"): L.SI_T_SUM,
    ("timing", "register_ns"): L.SI_T_REGISTER,
    ("timing", "bitcell_ns"): L.SI_T_BITCELL,
    ("timing", "threshold_v"): L.SI_VTH,
    ("timing", "alpha"): L.SI_ALPHA,
    ("timing", "pipelined"): L.SI_PIPELINE,
    ("sparsity", "pattern"): L.SI_PATTERN,
    ("sparsity", "nm_n"): L.SI_NM_N,
    ("sparsity", "nm_m"): L.SI_NM_M,
    ("arch", "freq_mhz"): L.SI_FREQ,
    ("arch", "cell_group"): L.SI_CELL_GROUP,
    ("sparsity", "intrablock_masks"): L.SI_IB_FANIN,
    ("sparsity", "intrablock_cols"): L.SI_IB_COLS,
}


# (table, key) -> the first of the columns one key fills (a value per bit position).
SPREAD_PARAMS: dict[tuple[str, str], int] = {("sparsity", "input_bit_ones"): L.PRM_BIT_ONES}


def encode_spread(key: str, value: Any) -> list[float]:
    """A key that fills several kernel columns: ``input_bit_ones`` as one probability per bit position (zeros
    past the given ones, and everywhere when it is not given)."""
    values = list(parse_profile(value)) if value is not None else []
    return values + [0.0] * (L.MAX_PROFILE_BITS - len(values))


def encode(key: str, value: Any) -> float:
    """A spec value as the float the kernels read (NaN: a derived energy left to its default)."""
    if value is None:
        return math.nan
    if key == "adder_tree_model":
        return float(ADDER_MODELS[value])
    if key == "activity":
        return float(ACTIVITIES[value])
    if key == "input_profile":
        return float(PROFILES[value])
    if key == "input_skip":
        return -1.0 if value == "auto" else float(bool(value))
    if key == "pattern":
        return float(PATTERNS.index(value))
    if key == "freq_mhz" and value == "auto":
        return -1.0
    if key == "intrablock_masks":  # what the silicon reads of a mask set: each slot's multiplexer fan-in
        return float(mask_columns(value)[1])
    return float(value)


# ----- one key's setting -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Setting:
    """Where a key's value comes from: ``axis`` (an index into the axes, None when fixed) and its value at
    every index of that axis (one value when fixed)."""

    axis: int | None
    values: tuple[Any, ...]

    def at(self, index: tuple[int, ...]) -> Any:
        return self.values[0 if self.axis is None else index[self.axis]]


def default_value(table: str, key: str) -> Any:
    f = {f.name: f for f in dataclasses.fields(SPEC_CLASSES[table])}[key]
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def setting(table: str, key: str, fixed: Mapping[str, Mapping[str, Any]], axes: tuple[Axis, ...] | list[Axis],
            sampled: Mapping[tuple[str, str], tuple] | None = None) -> Setting:
    """The setting of ``table.key``: sampled < axis < fixed < template < default, in that precedence."""
    sampled = sampled or {}
    if (table, key) in sampled:
        pos = next(i for i, a in enumerate(axes) if a.table == SAMPLE_TABLE)
        return Setting(pos, tuple(sampled[(table, key)]))
    for i, a in enumerate(axes):
        if a.table == table and a.key == key:
            return Setting(i, tuple(a.values))
    if key in fixed.get(table, {}):
        return Setting(None, (fixed[table][key],))
    if table == "arch" and key == "template":
        return Setting(None, (DEFAULT_TEMPLATE,))
    if table in TEMPLATED:
        tmpl = setting("arch", "template", fixed, axes, sampled)
        default = default_value(table, key)
        values = tuple(template_table(t, table).get(key, default) if t in TEMPLATE_NAMES else default
                       for t in tmpl.values)
        if len(set(map(repr, values))) == 1:
            return Setting(None, values[:1])
        return Setting(tmpl.axis, values)
    return Setting(None, (default_value(table, key),))


def taken_values(table: str, key: str, fixed: Mapping[str, Mapping[str, Any]], axes: tuple[Axis, ...] | list[Axis],
                 sampled: Mapping[tuple[str, str], tuple] | None = None) -> tuple[Any, ...]:
    """Every distinct value ``table.key`` takes in a sweep (for cross-key checks)."""
    return tuple(dict.fromkeys(setting(table, key, fixed, axes, sampled).values))


# ----- a sweep's settings ----------------------------------------------------------------------------
class Resolver:
    """Every key's setting of one sweep, decided once; a point's concrete specs from them."""

    def __init__(self, sweep: Sweep) -> None:
        self.sweep = sweep
        self.settings: dict[tuple[str, str], Setting] = {}
        for table in TABLES:
            for key in spec_fields(SPEC_CLASSES[table]):
                s = setting(table, key, sweep.fixed, sweep.axes, sweep.sampled)
                if (table, key) in PATH_KEYS:  # input files as absolute paths
                    s = Setting(s.axis, tuple(sweep.files.get(v, v) if isinstance(v, str) else v for v in s.values))
                self.settings[(table, key)] = s

    def __getitem__(self, table_key: tuple[str, str]) -> Setting:
        return self.settings[table_key]

    def values_at(self, index: tuple[int, ...]) -> dict[str, dict[str, Any]]:
        """table -> key -> value at a point (template applied)."""
        vals: dict[str, dict[str, Any]] = {t: {} for t in TABLES}
        for (table, key), s in self.settings.items():
            vals[table][key] = s.at(index)
        return vals

    def specs_at(self, index: tuple[int, ...]) -> PointSpecs:
        """The concrete specs of the point at ``index`` (mapping candidates apart)."""
        vals = self.values_at(index)
        vals["sparsity"]["layer_input_density"] = dict(self.sweep.layer_input_density)
        vals["workload"]["layers"] = self.sweep.layers
        return PointSpecs(arch=build_spec(ArchSpec, vals["arch"]), energy=build_spec(EnergySpec, vals["energy"]),
                          sparsity=build_spec(SparsitySpec, vals["sparsity"]),
                          workload=build_spec(WorkloadSpec, vals["workload"]))

    def candidates_at(self, index: tuple[int, ...]) -> list[MappingSpec]:
        """The mapping candidates of a point (one when ``select = "all"``), in C order of the candidate axes."""
        base = self.values_at(index)["mapping"]
        out = []
        for combo in itertools.product(*(a.values for a in self.sweep.candidate_axes)):
            vals = dict(base)
            vals.update({a.key: v for a, v in zip(self.sweep.candidate_axes, combo, strict=True)})
            out.append(build_spec(MappingSpec, vals))
        return out

    def param_columns(self, point_axes: tuple[Axis, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(``prm_axis``, ``prm_vals``): each kernel parameter's axis among ``point_axes`` (-1: fixed) and its
        encoded value at every index of that axis."""
        position = {id(a): i for i, a in enumerate(point_axes)}
        max_len = max([1, *(len(a.values) for a in point_axes)])
        prm_axis = np.full(L.N_PRM, -1, dtype=np.int64)
        prm_vals = np.zeros((L.N_PRM, max_len))
        for (table, key), p in PARAMS.items():
            s = self.settings[(table, key)]
            if s.axis is not None:
                prm_axis[p] = position[id(self.sweep.axes[s.axis])]
            prm_vals[p, : len(s.values)] = [encode(key, v) for v in s.values]
        for (table, key), p in SPREAD_PARAMS.items():  # one key, several columns
            s = self.settings[(table, key)]
            spread = np.array([encode_spread(key, v) for v in s.values]).T
            if s.axis is not None:
                prm_axis[p: p + len(spread)] = position[id(self.sweep.axes[s.axis])]
            prm_vals[p: p + len(spread), : len(s.values)] = spread
        return prm_axis, prm_vals

    def param_row(self, index: tuple[int, ...]) -> np.ndarray:
        """The kernel parameters (``PRM_*``) of the point at ``index``."""
        return point_params(self.specs_at(index))

    def varying_axes(self, keys: list[tuple[str, str]]) -> list[int]:
        """The axes (indices into ``sweep.axes``) along which any of ``keys`` varies, in order."""
        return sorted({s.axis for k in keys if (s := self.settings[k]).axis is not None})


def point_params(specs: PointSpecs) -> np.ndarray:
    """The kernel parameters (``PRM_*``) of a point's concrete specs: the row the engine decodes."""
    tables = {"arch": specs.arch, "energy": specs.energy, "sparsity": specs.sparsity, "workload": specs.workload}
    row = np.zeros(L.N_PRM)
    for (table, key), p in PARAMS.items():
        row[p] = encode(key, getattr(tables[table], key))
    for (table, key), p in SPREAD_PARAMS.items():
        values = encode_spread(key, getattr(tables[table], key))
        row[p: p + len(values)] = values
    return row


def build_spec(cls: type, values: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})


# ----- what the dataset writer needs -----------------------------------------------------------------
_PER_SWEEP: dict[tuple[str, int], tuple[Sweep, Any]] = {}


def per_sweep(name: str, sweep: Sweep, compute: Callable[[Sweep], Any]) -> Any:
    """``compute(sweep)`` once per sweep object and ``name`` (every chunk of a sweep reads the same silicon,
    accuracy or settings); the last few sweeps are kept."""
    key = (name, id(sweep))
    hit = _PER_SWEEP.get(key)
    if hit is None or hit[0] is not sweep:
        if len(_PER_SWEEP) >= 16:
            _PER_SWEEP.pop(next(iter(_PER_SWEEP)))
        hit = (sweep, compute(sweep))
        _PER_SWEEP[key] = hit
    return hit[1]

def clock_mhz(sweep: Sweep) -> Setting:
    """``arch.freq_mhz`` of every point (fixed, swept or sampled)."""
    return setting("arch", "freq_mhz", sweep.fixed, sweep.axes, sweep.sampled)


def silicon_table(sweep: Sweep) -> tuple[tuple[int, ...], np.ndarray]:
    """The silicon of a sweep's distinct hardware: (axes it varies along, array of shape (*those axes, N_SO)),
    area by component, macro area, clock period and clock (``kernels.layout.SO_*``), computed by the kernels'
    ``silicon`` from the same parameter columns the engine reads. Vectorised: one row per combination."""
    from ciminus.kernels.silicon import silicon_table as compute

    res = Resolver(sweep)
    prm_keys = {k: p for k, p in PARAMS.items() if p in L.SILICON_PRMS}
    axes = tuple(res.varying_axes([*prm_keys, *SILICON_PARAMS]))
    shape = tuple(len(sweep.axes[a].values) for a in axes)
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    index = np.indices(shape).reshape(len(shape), n) if shape else np.zeros((0, 1), dtype=np.int64)
    prm = np.zeros((n, L.N_PRM))
    si = np.zeros((n, L.N_SI))
    for target, columns in ((prm, prm_keys), (si, SILICON_PARAMS)):
        for (table, key), col in columns.items():
            s = res[(table, key)]
            values = np.array([encode(key, v) for v in s.values])
            target[:, col] = values[0] if s.axis is None else values[index[axes.index(s.axis)]]
    out = np.empty((n, L.N_SO))
    compute(prm, si, out)
    return axes, out.reshape((*shape, L.N_SO))


def energy_table(sweep: Sweep) -> tuple[tuple[int, ...], np.ndarray]:
    """The per-action energy table of a sweep: (axes it varies along, array of shape (*those axes, N_ACTIONS)),
    computed by the kernels' ``action_energies`` from the same parameter columns the engine reads."""
    from ciminus.kernels.actions import energy_tables

    res = Resolver(sweep)
    energy_keys = [k for k, p in PARAMS.items() if p in L.ENERGY_PRMS]
    axes = tuple(res.varying_axes(energy_keys))
    shape = tuple(len(sweep.axes[a].values) for a in axes)
    combos = list(itertools.product(*(range(n) for n in shape)))
    prm = np.zeros((len(combos), L.N_PRM))
    index = [0] * len(sweep.axes)
    for r, combo in enumerate(combos):
        for a, k in zip(axes, combo, strict=True):
            index[a] = k
        prm[r] = res.param_row(tuple(index))
    table = np.zeros((len(combos), L.N_ACTIONS))
    energy_tables(prm, table)
    return axes, table.reshape((*shape, L.N_ACTIONS))
