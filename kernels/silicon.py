"""The silicon of a design point: its area by component and the clock period of its macro pipeline.

Area, like energy, is counts times a table: how many bit cells, gates, full adders, flip-flops,
multiplexers and SRAM bits a macro holds (the same geometry the energy model counts actions on: rows,
columns, precisions, bits per cycle, the adder-tree style) times the area of one, from the ``[area]``
table moved to the chip's node. The clock period is the longest stage of the macro pipeline in gate and
full-adder delays from the ``[timing]`` table, moved to the chip's node and supply. Both are per point,
never per layer; ``docs/model.md`` §9 writes the equations down.
"""

import math

from . import layout as L
from .equations import adder_tree_adds, adder_tree_delay, area_scale, delay_scale
from .jit import jit
from .tile_stats import ceil_div, intrablock_segment, log2_ceil

KIB_BITS = 8 * 1024
UM2_PER_MM2 = 1e6


@jit
def _or(value, fallback):
    """A derived table entry: its own value, or (NaN) the one it defaults to."""
    return fallback if math.isnan(value) else value


@jit
def silicon(prm, si, r, out):
    """Fill ``out[r]`` (``kernels.layout.SO_*``) from the point's parameters ``prm[r]`` and ``si[r]``."""
    macros = prm[r, L.PRM_MACROS]
    rows = int(prm[r, L.PRM_ROWS])
    cols = int(prm[r, L.PRM_COLS])
    w_bits = int(prm[r, L.PRM_WEIGHT_BITS])
    i_bits = int(prm[r, L.PRM_INPUT_BITS])
    bpc = int(prm[r, L.PRM_BITS_PER_CYCLE])
    psum = prm[r, L.PRM_PSUM_BITS]
    model = int(prm[r, L.PRM_ADDER_MODEL])
    tree_model = L.ADDER_TREE_RIPPLE if model == L.ADDER_TREE_MIREDO else model  # a count, not a netlist

    gate = si[r, L.SI_GATE]
    fa = si[r, L.SI_FULL_ADDER]
    reg = si[r, L.SI_REGISTER]
    sram = si[r, L.SI_SRAM_BIT]
    mult = _or(si[r, L.SI_MULT_GATE], gate)
    driver = _or(si[r, L.SI_DRIVER], gate)

    # One macro, in um^2 at the table's node. ``group`` cells share one multiply gate (their word lines
    # take turns), so the array stores group x the weights its adder trees see in one cycle.
    group = si[r, L.SI_CELL_GROUP]
    cells = float(rows) * cols * w_bits
    depth = log2_ceil(rows)
    shift_bits = i_bits + w_bits + depth  # the shift-and-add register of one column
    array = cells * group * si[r, L.SI_BITCELL] + cells * bpc * mult + (rows * group + cols * w_bits) * driver
    tree = adder_tree_adds(rows, cols, i_bits, w_bits, bpc, tree_model) * fa
    shift_add = float(cols) * shift_bits * (fa + reg)
    accumulator = cols * psum * (fa + reg)
    register = float(rows) * i_bits * reg  # each row's input, shifted out bit by bit
    zero_detect = float(rows) * bpc * gate if prm[r, L.PRM_SKIP] != 0 else 0.0
    segment = intrablock_segment(int(si[r, L.SI_PATTERN]), int(si[r, L.SI_NM_N]), int(si[r, L.SI_NM_M]))
    fanin = int(si[r, L.SI_IB_FANIN]) if si[r, L.SI_IB_FANIN] > 0 and segment > 0 else segment
    shared = int(si[r, L.SI_IB_COLS]) if si[r, L.SI_IB_COLS] > 1 else 1  # columns sharing a multiplexer (m x n)
    mux = float(rows) * ceil_div(cols, shared) * bpc * (fanin - 1) * si[r, L.SI_MUX2] if fanin > 1 else 0.0
    index = prm[r, L.PRM_INDEX_KB] * KIB_BITS * sram
    ibuf = prm[r, L.PRM_IBUF_KB] * KIB_BITS * sram
    obuf = prm[r, L.PRM_OBUF_KB] * KIB_BITS * sram
    gbuf = prm[r, L.PRM_GBUF_KB] * KIB_BITS * sram  # one per chip

    scale = area_scale(prm[r, L.PRM_NODE], si[r, L.SI_AREA_REF_NODE]) / UM2_PER_MM2
    for c in range(L.N_COMPONENTS):
        out[r, c] = 0.0
    each = macros * scale
    out[r, L.C_ARRAY] = array * each
    out[r, L.C_ADDER_TREE] = tree * each
    out[r, L.C_SHIFT_ADD] = shift_add * each
    out[r, L.C_ACCUMULATOR] = accumulator * each
    out[r, L.C_INDEX] = index * each
    out[r, L.C_MUX] = mux * each
    out[r, L.C_ZERO_DETECT] = zero_detect * each
    out[r, L.C_REGISTER] = register * each
    out[r, L.C_INPUT_BUFFER] = ibuf * each
    out[r, L.C_OUTPUT_BUFFER] = obuf * each
    out[r, L.C_GLOBAL_BUFFER] = gbuf * scale
    # The compute macro as macro papers report it: no cross-tile accumulators, index memory or buffers.
    out[r, L.SO_MACRO_AREA] = (array + tree + shift_add + register + mux + zero_detect) * scale

    # The clock: input register -> bit cell and multiply -> adder tree -> register, and
    # register -> shift-and-add -> register; one stage each when pipelined, one long stage otherwise.
    t_gate = si[r, L.SI_T_GATE]
    t_carry = si[r, L.SI_T_CARRY]
    t_reg = si[r, L.SI_T_REGISTER]
    t_cell = _or(si[r, L.SI_T_BITCELL], 2.0 * t_gate)
    tree_ns = adder_tree_delay(rows, w_bits, tree_model, si[r, L.SI_T_SUM], t_carry)
    shift_ns = shift_bits * t_carry  # a ripple-carry adder as wide as the shift-and-add register
    if si[r, L.SI_PIPELINE] != 0:
        tclk = t_reg + max(t_cell + tree_ns, shift_ns)
    else:
        tclk = t_reg + t_cell + tree_ns + shift_ns
    moved = delay_scale(prm[r, L.PRM_NODE], si[r, L.SI_TIMING_REF_NODE], prm[r, L.PRM_VDD],
                        si[r, L.SI_TIMING_REF_VDD], si[r, L.SI_VTH], si[r, L.SI_ALPHA])
    out[r, L.SO_TCLK] = tclk * moved
    out[r, L.SO_TREE_NS] = tree_ns * moved
    freq = si[r, L.SI_FREQ]
    out[r, L.SO_CLOCK_MHZ] = 1000.0 / out[r, L.SO_TCLK] if freq < 0 else freq


@jit
def silicon_table(prm, si, out):
    """:func:`silicon` of every row (the distinct hardware of a sweep: a few rows to millions)."""
    for r in range(prm.shape[0]):
        silicon(prm, si, r, out)
