"""``[energy]``: what each action costs, in pJ — the per-action energy table of a technology.

Keys left unset by both the template and the sweep file are derived from the 1-bit logic energies, as
``docs/model.md`` explains (``ciminus.kernels.actions.action_energies`` decides them, in one place).
"""

from __future__ import annotations

from dataclasses import dataclass

from ciminus.specs.fields import CHOICE, FLOAT, spec_field

_PJ = dict(kind=FLOAT, lo=0.0, hi=1e9, unit="pJ")
_PJ_BIT = dict(kind=FLOAT, lo=0.0, hi=1e9, unit="pJ/bit")


@dataclass(frozen=True, kw_only=True)
class EnergySpec:
    """Energy per action. ``None`` means "derive it" (``ciminus.kernels.actions.action_energies``)."""

    reference_node_nm: float = spec_field(kind=FLOAT, lo=1.0, hi=1000.0, unit="nm",
                                          doc="the node the on-chip energies of this table are given at")
    reference_vdd: float = spec_field(kind=FLOAT, lo=0.1, hi=5.0, unit="V",
                                      doc="the supply the on-chip energies of this table are given at")
    mult_1b_pj: float = spec_field(**_PJ, doc="1-bit multiply (AND) in a bit cell")
    add_1b_pj: float = spec_field(**_PJ, doc="1-bit full addition")
    reg_1b_pj: float = spec_field(**_PJ, doc="1-bit register write")
    weight_write_pj_per_bit: float = spec_field(**_PJ_BIT, doc="writing one weight bit into a macro")
    leakage_pj_per_cycle_per_macro: float = spec_field(**_PJ, doc="leakage of one macro and its share of the chip, per cycle")
    dram_read_pj_per_bit: float = spec_field(**_PJ_BIT, doc="DRAM read")
    dram_write_pj_per_bit: float = spec_field(**_PJ_BIT, doc="DRAM write")
    global_buffer_read_pj_per_bit: float = spec_field(**_PJ_BIT, doc="global buffer read")
    global_buffer_write_pj_per_bit: float = spec_field(**_PJ_BIT, doc="global buffer write")
    output_buffer_read_pj_per_bit: float = spec_field(**_PJ_BIT, doc="output buffer read")
    output_buffer_write_pj_per_bit: float = spec_field(**_PJ_BIT, doc="output buffer write")
    input_buffer_read_pj_per_bit: float = spec_field(**_PJ_BIT, doc="input buffer read")
    input_buffer_write_pj_per_bit: float = spec_field(**_PJ_BIT, doc="input buffer write")
    register_write_pj_per_bit: float = spec_field(**_PJ_BIT, doc="input/output register write")
    index_read_pj_per_bit: float | None = spec_field(None, **_PJ_BIT,
                                                     doc="index memory read (default: input buffer read, the smallest SRAM of the table)")
    index_write_pj_per_bit: float | None = spec_field(None, **_PJ_BIT,
                                                      doc="index memory write (default: input buffer write)")
    mux_pj_per_level: float | None = spec_field(None, **_PJ,
                                                doc="one 2:1 multiplexer level per selected bit (default: reg_1b_pj)")
    zero_detect_pj_per_bit: float | None = spec_field(None, **_PJ_BIT,
                                                      doc="zero detection per input bit examined (default: mult_1b_pj, one gate)")
    adder_tree_model: str = spec_field("ripple", kind=CHOICE, choices=("ripple", "compressor", "miredo", "full"),
                                       doc='adder tree per column: ripple-carry adders ("ripple"), a carry-save '
                                           'compressor tree ("compressor"), or the legacy published count '
                                           '("miredo", exact on its 32 x 16 template only); "full" = "ripple"')
    activity: str = spec_field("data", kind=CHOICE, choices=("data", "full"),
                               doc='switching of the bit cells and adder trees: from the data (input bits and '
                                   'products that are 1), or every gate of every cycle that runs ("full")')

