"""``[timing]``: how long each piece of the macro pipeline takes, in ns at the table's node and supply.

The clock period of a design point (``tclk_ns``) is the longest stage of its macro pipeline counted in
these delays (``kernels/silicon.py``), moved to ``arch.node_nm`` in proportion to the node and to
``arch.vdd`` by the alpha-power law. ``docs/model.md`` §9.2 gives the stages and the sources.
"""

from __future__ import annotations

from dataclasses import dataclass

from ciminus.specs.fields import BOOL, FLOAT, spec_field

_NS = dict(kind=FLOAT, lo=0.0, hi=1e6, lo_open=True, unit="ns")


@dataclass(frozen=True, kw_only=True)
class TimingSpec:
    """Delays of the pieces of a macro's pipeline. ``None`` means "derive it"."""

    reference_node_nm: float = spec_field(kind=FLOAT, lo=1.0, hi=1000.0, unit="nm",
                                          doc="the node the delays of this table are given at")
    reference_vdd: float = spec_field(kind=FLOAT, lo=0.1, hi=5.0, unit="V",
                                      doc="the supply the delays of this table are given at")
    gate_ns: float = spec_field(**_NS, doc="one two-input gate driving a fan-out of about four")
    carry_ns: float = spec_field(**_NS, doc="one full adder, carry in to carry out (ripple-carry chains)")
    sum_ns: float = spec_field(**_NS, doc="one full adder, input to sum (a level of an adder tree)")
    register_ns: float = spec_field(**_NS, doc="a pipeline register: clock to output plus set-up")
    bitcell_ns: float | None = spec_field(None, **_NS,
                                          doc="reading a bit cell into its multiply gate (default: two gate_ns)")
    threshold_v: float = spec_field(kind=FLOAT, lo=0.0, hi=2.0, unit="V",
                                    doc="threshold voltage of the alpha-power law that moves delays to arch.vdd")
    alpha: float = spec_field(kind=FLOAT, lo=1.0, hi=2.0,
                              doc="velocity-saturation index of the alpha-power law (2: long channel)")
    pipelined: bool = spec_field(kind=BOOL,
                                 doc="a register between the adder tree and the shift-add (two stages; else one)")
