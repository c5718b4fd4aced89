"""``[arch]``: what the hardware is — macros, arrays, precisions, buffers and their bandwidths."""

from __future__ import annotations

from dataclasses import dataclass

from ciminus.specs.fields import BOOL, CHOICE, FLOAT, FLOAT_OR_CHOICE, INT, STATS, spec_field
from ciminus.templates import TEMPLATE_NAMES

_BIG = 1 << 20


@dataclass(frozen=True, kw_only=True)
class ArchSpec:
    """A digital SRAM compute-in-memory chip: ``macros`` macros of ``array_rows x array_cols`` weight cells.

    Every field without a default comes from the chosen template (``ciminus/templates/*.toml``) unless the
    sweep file sets it.
    """

    template: str = spec_field("digital-28nm", kind=CHOICE, choices=TEMPLATE_NAMES,
                               doc="hardware template whose values the other keys override")
    macros: int = spec_field(kind=INT, lo=1, hi=65536, doc="number of CIM macros (cores)")
    array_rows: int = spec_field(kind=INT, lo=1, hi=_BIG, stage=STATS,
                                 doc="wordlines per macro: the reduction (C*R*S) dimension")
    array_cols: int = spec_field(kind=INT, lo=1, hi=_BIG, stage=STATS,
                                 doc="weight columns per macro (outputs, K); each is weight_bits cells wide")
    subarray_rows: int = spec_field(kind=INT, lo=1, hi=_BIG, stage=STATS,
                                    doc="rows of one sub-array; sliced rearrangement packs pieces of this height")
    subarray_cols: int = spec_field(kind=INT, lo=1, hi=_BIG, stage=STATS,
                                    doc="weight columns of one sub-array")
    weight_bits: int = spec_field(kind=INT, lo=1, hi=32, unit="bit", doc="weight precision")
    input_bits: int = spec_field(kind=INT, lo=1, hi=32, unit="bit", stage=STATS,
                                 doc="input (activation) precision")
    input_bits_per_cycle: int = spec_field(kind=INT, lo=1, hi=32, unit="bit", stage=STATS,
                                           doc="input bits fed per cycle (bit-serial: 1)")
    psum_bits: int = spec_field(kind=INT, lo=1, hi=64, unit="bit", doc="partial-sum precision")
    output_bits: int = spec_field(kind=INT, lo=1, hi=32, unit="bit", doc="final output precision")
    input_buffer_kb: float = spec_field(kind=FLOAT, lo=0, hi=1e9, lo_open=True, unit="KiB",
                                        doc="input buffer per macro")
    output_buffer_kb: float = spec_field(kind=FLOAT, lo=0, hi=1e9, lo_open=True, unit="KiB",
                                         doc="output buffer per macro")
    global_buffer_kb: float = spec_field(kind=FLOAT, lo=0, hi=1e9, unit="KiB", doc="shared global buffer")
    index_memory_kb: float = spec_field(kind=FLOAT, lo=0, hi=1e9, unit="KiB",
                                        doc="index memory per macro (sparse block indices)")
    input_buffer_bw: float = spec_field(kind=FLOAT, lo=0, hi=1e9, lo_open=True, unit="bit/cycle",
                                        doc="input buffer bandwidth per macro")
    output_buffer_bw: float = spec_field(kind=FLOAT, lo=0, hi=1e9, lo_open=True, unit="bit/cycle",
                                         doc="output buffer bandwidth per macro")
    global_buffer_bw: float = spec_field(kind=FLOAT, lo=0, hi=1e9, lo_open=True, unit="bit/cycle",
                                         doc="global buffer bandwidth (shared by all macros)")
    dram_bw: float = spec_field(kind=FLOAT, lo=0, hi=1e9, lo_open=True, unit="bit/cycle", doc="DRAM bandwidth")
    weight_load_bw: float = spec_field(kind=FLOAT, lo=0, hi=1e9, lo_open=True, unit="bit/cycle",
                                       doc="weight-write bandwidth into one macro")
    node_nm: float = spec_field(kind=FLOAT, lo=1.0, hi=1000.0, unit="nm",
                                doc="technology node; on-chip energies scale from energy.reference_node_nm (model.md §4.4)")
    vdd: float = spec_field(kind=FLOAT, lo=0.1, hi=5.0, unit="V",
                            doc="supply voltage; on-chip energies scale from energy.reference_vdd")
    freq_mhz: float | str = spec_field(0.0, kind=FLOAT_OR_CHOICE, lo=0, hi=1e6, unit="MHz", choices=("auto",),
                                       doc='clock frequency; 0 reports latency in cycles only; "auto" runs at the '
                                           "modelled clock (1000 / tclk_ns, docs/model.md §9.2)")
    cell_group: int = spec_field(1, kind=INT, lo=1, hi=1024,
                                 doc="bit cells sharing one multiply gate (their word lines take turns): the array "
                                     "stores cell_group x array_rows rows, array_rows of them active per cycle; "
                                     "area only (each tile is still loaded once per layer)")
    double_buffer: bool = spec_field(kind=BOOL, doc="input/output buffers double-buffered (load/compute/write-back overlap)")
    weight_double_buffer: bool = spec_field(kind=BOOL,
                                            doc="ping-pong weight store: the next weights load while the macro computes")
