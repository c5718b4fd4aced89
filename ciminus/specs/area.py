"""``[area]``: what each piece of hardware occupies, in um^2 at the table's node — the area table.

Area is counted like energy: a design point's bit cells, gates, full adders, flip-flops, multiplexers and
SRAM bits (``kernels/silicon.py``) times the area of one, moved from ``reference_node_nm`` to
``arch.node_nm`` as (node / reference)^2. ``docs/model.md`` §9 gives the counts and the sources of the
template's values.
"""

from __future__ import annotations

from dataclasses import dataclass

from ciminus.specs.fields import FLOAT, spec_field

_UM2 = dict(kind=FLOAT, lo=0.0, hi=1e9, unit="um^2")


@dataclass(frozen=True, kw_only=True)
class AreaSpec:
    """Area per piece of hardware. ``None`` means "derive it" (``docs/model.md`` §9.1)."""

    reference_node_nm: float = spec_field(kind=FLOAT, lo=1.0, hi=1000.0, unit="nm",
                                          doc="the node the areas of this table are given at")
    bitcell_um2: float = spec_field(**_UM2, doc="one SRAM bit cell of a macro's array")
    gate_um2: float = spec_field(**_UM2, doc="one two-input logic gate (NAND2 equivalent): zero detection")
    mult_gate_um2: float | None = spec_field(None, **_UM2,
                                             doc="the 1-bit multiply gate beside each (group of) bit cell(s) "
                                                 "(default: gate_um2)")
    full_adder_um2: float = spec_field(**_UM2, doc="one 1-bit full adder (adder trees, shift-add, accumulators)")
    register_um2: float = spec_field(**_UM2, doc="one 1-bit flip-flop (input, shift-add and accumulator registers)")
    mux2_um2: float = spec_field(**_UM2, doc="one 2:1 multiplexer (IntraBlock input selection)")
    sram_um2_per_bit: float = spec_field(kind=FLOAT, lo=0.0, hi=1e9, unit="um^2/bit",
                                         doc="one bit of a buffer or index SRAM, its periphery included")
    driver_um2: float | None = spec_field(None, **_UM2,
                                          doc="one word-line or bit-line driver of a macro (default: gate_um2)")
