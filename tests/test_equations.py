"""The physics, checked against hand-computed values from the published 28 nm template."""

import math

import pytest

from ciminus.kernels import equations as eq
from ciminus.kernels.layout import ADDER_TREE_FULL, ADDER_TREE_MIREDO

# The digital-28nm template (MIREDO 28 nm): 1-bit energies (pJ).
MULT, ADD, REG = 0.0002835, 0.003402, 0.001701


def test_one_activation_of_a_32x16_macro_is_25_619328_pj():
    t = eq.cycles_per_activation(8, 1)
    assert t == 8
    # Counts of one activation times the energy of each action.
    array = eq.cell_mults(8, 1, 32, 16, t) * MULT
    adder = eq.adder_tree_adds(32, 16, 8, 8, 1, ADDER_TREE_MIREDO) * t * ADD
    shift = eq.shift_adds(8, 8, 32, 16, t) * (ADD + REG)
    assert eq.cell_mults(8, 1, 32, 16, t) == 8 * 32 * 16 * 8 and eq.shift_adds(8, 8, 32, 16, t) == (8 + 8 + 5) * 8 * 16
    assert array == pytest.approx(9.289728, rel=1e-12)
    assert adder == pytest.approx(2.612736, rel=1e-12)
    assert shift == pytest.approx(13.716864, rel=1e-12)
    assert array + adder + shift == pytest.approx(25.619328, rel=1e-12)
    assert (array + adder + shift) / (32 * 16) == pytest.approx(0.050038, abs=5e-7)  # per 8b x 8b MAC


def test_cycles_per_activation_rounds_up():
    assert eq.cycles_per_activation(8, 2) == 4
    assert eq.cycles_per_activation(8, 3) == 3
    assert eq.cycles_per_activation(1, 1) == 1


def test_adder_tree_counts():
    # Published count: X(I+1) - (I + ceil(log2 I) + 1) Y = 32*9 - 12*16.
    assert eq.adder_tree_adds(32, 16, 8, 8, 1, ADDER_TREE_MIREDO) == 96
    # It is not positive for wide, short arrays: the model marks such points infeasible.
    assert eq.adder_tree_adds(16, 16, 8, 8, 1, ADDER_TREE_MIREDO) < 0
    # Full ripple tree per column: X(W+1) - (W + log2 X + 1) one-bit adds, per column.
    assert eq.adder_tree_adds(32, 16, 8, 8, 1, ADDER_TREE_FULL) == 16 * (32 * 9 - (8 + 5 + 1))
    assert eq.adder_tree_adds(2, 1, 8, 8, 1, ADDER_TREE_FULL) == 8  # one 8-bit ripple adder: 8 full adders


def test_active_cycle_fraction_edges():
    def frac(rows, bits, per_cycle, q):
        return eq.active_cycle_fraction(rows, bits, per_cycle, eq.log_zero_bit(q))

    assert eq.log_zero_bit(1.0) == -math.inf and eq.log_zero_bit(0.5) == pytest.approx(math.log(0.5))
    assert frac(32.0, 8, 1, 1.0) == 1.0  # every bit set: nothing skipped
    assert frac(0.0, 8, 1, 0.5) == 0.0  # nothing fed: nothing to compute
    # One input, one bit per cycle: a cycle runs when that bit is 1.
    assert frac(1.0, 8, 1, 0.25) == pytest.approx(0.25)
    # Two bits per cycle: a cycle is skipped only when both bits are 0.
    assert frac(1.0, 8, 2, 0.25) == pytest.approx(1 - 0.75**2)
    # Odd split: 3 cycles of 3, 3 and 2 planes.
    expect = (2 * (1 - 0.9**3) + (1 - 0.9**2)) / 3
    assert frac(1.0, 8, 3, 0.1) == pytest.approx(expect)
    # Many rows: almost never skipped.
    assert frac(32.0, 8, 1, 0.25) == pytest.approx(1 - 0.75**32)


def test_pipeline_and_rounds():
    # Double-buffered: first load + last compute + last write-back + (n-1) slowest stages.
    assert eq.pipeline_cycles(4, 10.0, 30.0, 5.0, True) == 10 + 30 + 5 + 3 * 30
    assert eq.pipeline_cycles(4, 10.0, 30.0, 5.0, False) == 4 * 45
    assert eq.pipeline_cycles(1, 10.0, 30.0, 5.0, True) == 45
    assert eq.pipeline_cycles(0, 10.0, 30.0, 5.0, True) == 0
    assert eq.rounds_latency(3, 100.0, 400.0, False) == 3 * 500
    assert eq.rounds_latency(3, 100.0, 400.0, True) == 100 + 2 * 400 + 400
    assert eq.rounds_latency(3, 500.0, 400.0, True) == 500 + 2 * 500 + 400


def test_halo_of_duplicated_convolutions():
    assert eq.halo_factor(56, 1, 3, 1) == 1.0
    # Two copies of a 3x3 / stride 1 conv over 56 rows: each needs 28 + 2 rows of 58.
    assert eq.halo_factor(56, 1, 3, 2) == pytest.approx(2 * 30 / 58)
    assert eq.halo_factor(1, 1, 1, 8) == 1.0  # a linear layer has no halo


def test_grid_folds_and_copies():
    assert eq.auto_grid_rows(8) == 4 and eq.auto_grid_rows(16) == 4 and eq.auto_grid_rows(7) == 7
    assert eq.whole_tiles(9.5) == 10 and eq.whole_tiles(18.0) == 18 and eq.whole_tiles(18.0 + 1e-12) == 18
    assert eq.whole_tiles(0.0) == 0
    assert eq.folds(18, 4) == 5 and eq.folds(10, 4) == 3 and eq.folds(0, 4) == 0
    assert eq.duplicates(2, 8) == 4 and eq.duplicates(3, 8) == 2 and eq.duplicates(9, 8) == 1
    assert eq.ceil_ratio(10**15 + 1, 10**15) == 2 and eq.floor_ratio(7.0, 2) == 3


def test_static_and_accumulator():
    assert eq.leakage_macro_cycles(8, 1000.0) * 4.4913625 == pytest.approx(35930.9)  # 0.0359309 nJ/cycle
    assert eq.accumulations(16, 10.0) == 10 * 16
    assert eq.mux_selections(100.0, 2) == 200
    assert math.isfinite(eq.mux_selections(0.0, 0))
