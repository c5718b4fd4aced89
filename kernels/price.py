"""The sweep engine: price every design point x mapping candidate x layer on flat arrays.

``price_layer`` is ``ciminus.reference.price_layer`` written on flat rows (``kernels.layout``); both call
the equations of ``kernels.equations``. ``price_points`` is the parallel loop: it decodes each point's
parameters from its flat index, loops over candidates and layers inside, and keeps the best candidate
(or every candidate) without allocating in the loop.
"""

import math

import numba
import numpy as np
from numba import njit, prange

from kernels import layout as L
from kernels.equations import (
    accumulator_energy_pj,
    active_cycle_fraction,
    adder_tree_adds,
    adder_tree_energy_pj,
    array_energy_pj,
    auto_grid_rows,
    ceil_ratio,
    cycles_per_activation,
    duplicates,
    floor_ratio,
    folds,
    halo_factor,
    log_zero_bit,
    mux_energy_pj,
    pipeline_cycles,
    rounds_latency,
    shift_add_energy_pj,
    static_energy_pj,
    whole_tiles,
)

KIB_BITS = 8 * 1024


@njit(cache=True)
def _derived(value, fallback):
    return fallback if math.isnan(value) else value


# Per-point constants, computed once per point instead of once per layer (same arithmetic).
PC_T = 0  # cycles per activation
PC_ADDER_ADDS = 1
PC_E_ARRAY = 2  # energy of one activation, by part
PC_E_ADDER = 3
PC_E_SHIFT = 4
PC_IN_AVAIL = 5  # input-buffer bits one step may use
PC_OUT_AVAIL = 6
PC_INDEX_R = 7  # derived energies resolved
PC_INDEX_W = 8
PC_MUX = 9
PC_ZERO_DETECT = 10
PC_OUT_FIT = 11  # partial-sum rows of one vector that fit the output buffer
PC_WEIGHT_WRITE = 12  # cycles to write one whole tile into a macro
PC_GBUF_BITS = 13
PC_INDEX_BITS = 14
PC_LOG_ZERO = 15  # log P(input bit is 0) at the point's input density
N_PC = 16


@njit(cache=True)
def point_constants(prm, t_, pc):
    """Fill ``pc[t_]`` with what every layer of the point shares."""
    X = int(prm[t_, L.PRM_ROWS])
    Y = int(prm[t_, L.PRM_COLS])
    I = int(prm[t_, L.PRM_INPUT_BITS])
    W = int(prm[t_, L.PRM_WEIGHT_BITS])
    bpc = int(prm[t_, L.PRM_BITS_PER_CYCLE])
    model = int(prm[t_, L.PRM_ADDER_MODEL])
    t = cycles_per_activation(I, bpc)
    pc[t_, PC_T] = t
    pc[t_, PC_ADDER_ADDS] = adder_tree_adds(X, Y, I, W, bpc, model)
    pc[t_, PC_E_ARRAY] = array_energy_pj(prm[t_, L.PRM_MULT], W, bpc, X, Y, t)
    pc[t_, PC_E_ADDER] = adder_tree_energy_pj(prm[t_, L.PRM_ADD], X, Y, I, W, bpc, t, model)
    pc[t_, PC_E_SHIFT] = shift_add_energy_pj(prm[t_, L.PRM_ADD], prm[t_, L.PRM_REG], I, W, X, Y, t)
    halves = 2.0 if prm[t_, L.PRM_DOUBLE_BUFFER] != 0.0 else 1.0
    pc[t_, PC_IN_AVAIL] = prm[t_, L.PRM_IBUF_KB] * KIB_BITS / halves
    pc[t_, PC_OUT_AVAIL] = prm[t_, L.PRM_OBUF_KB] * KIB_BITS / halves
    pc[t_, PC_INDEX_R] = _derived(prm[t_, L.PRM_INDEX_R], prm[t_, L.PRM_IBUF_R])
    pc[t_, PC_INDEX_W] = _derived(prm[t_, L.PRM_INDEX_W], prm[t_, L.PRM_IBUF_W])
    pc[t_, PC_MUX] = _derived(prm[t_, L.PRM_MUX], prm[t_, L.PRM_REG])
    pc[t_, PC_ZERO_DETECT] = _derived(prm[t_, L.PRM_ZERO_DETECT], prm[t_, L.PRM_MULT])
    pc[t_, PC_OUT_FIT] = floor_ratio(pc[t_, PC_OUT_AVAIL], Y * prm[t_, L.PRM_PSUM_BITS])
    pc[t_, PC_WEIGHT_WRITE] = X * Y * W / prm[t_, L.PRM_WLOAD_BW]
    pc[t_, PC_GBUF_BITS] = prm[t_, L.PRM_GBUF_KB] * KIB_BITS
    pc[t_, PC_INDEX_BITS] = prm[t_, L.PRM_INDEX_KB] * KIB_BITS
    pc[t_, PC_LOG_ZERO] = log_zero_bit(prm[t_, L.PRM_DENSITY] * prm[t_, L.PRM_BIT_DENSITY])


@njit(cache=True, inline="always")
def price_layer(prm, pc, t_, stats, srow, soff, layers, lrow, grid_rows, grid_cols, duplicate, step_vectors,
                log_zero, skip, in_spill, out, orow):
    """Fill ``out[orow]`` (``R_*``) with the cost of one layer; mirrors ``ciminus.reference.price_layer``.

    The point's parameters are ``prm[t_]`` (constants ``pc[t_]``), the layer's statistics ``stats[srow, soff:soff+N_STATS]`` and
    its shape ``layers[lrow]``: rows are addressed by index, never sliced, so the hot loop creates no array
    views (whose shared reference counts threads would fight over).
    """
    for i in range(L.N_RESULTS):
        out[orow, i] = 0.0
    X = int(prm[t_, L.PRM_ROWS])
    Y = int(prm[t_, L.PRM_COLS])
    I = int(prm[t_, L.PRM_INPUT_BITS])
    W = int(prm[t_, L.PRM_WEIGHT_BITS])
    bpc = int(prm[t_, L.PRM_BITS_PER_CYCLE])
    macros = int(prm[t_, L.PRM_MACROS])
    psum_bits = prm[t_, L.PRM_PSUM_BITS]
    double_buffer = prm[t_, L.PRM_DOUBLE_BUFFER] != 0.0

    # ----- feasibility -----------------------------------------------------------------------------
    reason = int(stats[srow, soff + L.S_REASON])
    if grid_rows * grid_cols != macros:
        reason = L.REASON_GRID_MISMATCH
    elif reason == L.REASON_OK and pc[t_, PC_ADDER_ADDS] <= 0:
        reason = L.REASON_ADDER_TREE_MODEL
    in_avail = pc[t_, PC_IN_AVAIL]
    out_avail = pc[t_, PC_OUT_AVAIL]
    vector_bits = max(1, math.ceil(stats[srow, soff + L.S_CRIT_ROWS] - 1e-9)) * I
    psum_row_bits = Y * psum_bits
    step = step_vectors
    if step == 0:
        step = min(floor_ratio(in_avail, vector_bits), int(pc[t_, PC_OUT_FIT]))
    if reason == L.REASON_OK and (step < 1 or step * vector_bits > in_avail):
        reason = L.REASON_INPUT_BUFFER
    if reason == L.REASON_OK and step * psum_row_bits > out_avail:
        reason = L.REASON_OUTPUT_BUFFER
    tiles = stats[srow, soff + L.S_TILES]
    if reason == L.REASON_OK and tiles > 0 and stats[srow, soff + L.S_IDX_READ] / tiles > pc[t_, PC_INDEX_BITS]:
        reason = L.REASON_INDEX_MEMORY
    out[orow, L.R_REASON] = reason
    if reason != L.REASON_OK:
        return

    # ----- vectors, rounds, copies -----------------------------------------------------------------
    dynamic = layers[lrow, L.LAY_DYNAMIC] != 0.0
    batch = int(prm[t_, L.PRM_BATCH])
    vectors = layers[lrow, L.LAY_VECTORS] * (1 if dynamic else batch)
    repeats = layers[lrow, L.LAY_COUNT] * (batch if dynamic else 1)
    t = int(pc[t_, PC_T])
    whole_rows = whole_tiles(stats[srow, soff + L.S_ROW_TILES])
    whole_cols = whole_tiles(stats[srow, soff + L.S_COL_TILES])
    rounds = folds(whole_rows, grid_rows) * folds(whole_cols, grid_cols)
    copies = 1
    if duplicate:
        copies = duplicates(whole_rows, grid_rows) * duplicates(whole_cols, grid_cols)
    per_copy = ceil_ratio(vectors, copies)
    fmap_bits = (layers[lrow, L.LAY_IN_ELEMS] * I + layers[lrow, L.LAY_OUT_ELEMS] * prm[t_, L.PRM_OUTPUT_BITS]) * batch
    out_spill = fmap_bits > pc[t_, PC_GBUF_BITS]
    out[orow, L.R_OUT_SPILL] = 1.0 if out_spill else 0.0

    # ----- macro activations -----------------------------------------------------------------------
    activations = tiles * vectors
    rows_fed = stats[srow, soff + L.S_FETCH] / tiles if tiles > 0 else 0.0
    f_energy = 1.0
    f_crit = 1.0
    if skip:  # a measured input profile, else independent bits at the input density
        f_energy = stats[srow, soff + L.S_F_ENERGY]
        if math.isnan(f_energy):
            f_energy = active_cycle_fraction(rows_fed, I, bpc, log_zero)
        f_crit = stats[srow, soff + L.S_F_CRIT]
        if math.isnan(f_crit):
            f_crit = active_cycle_fraction(stats[srow, soff + L.S_CRIT_ROWS], I, bpc, log_zero)
    add = prm[t_, L.PRM_ADD]
    reg = prm[t_, L.PRM_REG]
    out[orow, L.C_ARRAY] = activations * f_energy * pc[t_, PC_E_ARRAY]
    out[orow, L.C_ADDER_TREE] = activations * f_energy * pc[t_, PC_E_ADDER]
    out[orow, L.C_SHIFT_ADD] = activations * f_energy * pc[t_, PC_E_SHIFT]

    # ----- sparsity overheads ----------------------------------------------------------------------
    additions = vectors * (stats[srow, soff + L.S_PSUM] - stats[srow, soff + L.S_OUT_NZ])
    out[orow, L.C_ACCUMULATOR] = accumulator_energy_pj(add, reg, psum_bits, additions)
    ib_r = prm[t_, L.PRM_IBUF_R]
    ib_w = prm[t_, L.PRM_IBUF_W]
    out[orow, L.C_INDEX] = (vectors * stats[srow, soff + L.S_IDX_READ] * pc[t_, PC_INDEX_R]
                            + copies * stats[srow, soff + L.S_IDX_STORE] * pc[t_, PC_INDEX_W])
    selections = vectors * stats[srow, soff + L.S_MUX_CELLS] * t * f_energy * bpc
    out[orow, L.C_MUX] = mux_energy_pj(pc[t_, PC_MUX], selections, stats[srow, soff + L.S_MUX_LEVELS])
    input_bits_read = vectors * stats[srow, soff + L.S_FETCH] * I
    out[orow, L.C_ZERO_DETECT] = input_bits_read * pc[t_, PC_ZERO_DETECT] if skip else 0.0
    out[orow, L.C_REGISTER] = (input_bits_read + vectors * stats[srow, soff + L.S_PSUM] * psum_bits) * prm[t_, L.PRM_REG_W]

    # ----- buffers and DRAM ------------------------------------------------------------------------
    fill_bits = input_bits_read / layers[lrow, L.LAY_REUSE] * halo_factor(int(layers[lrow, L.LAY_E]), int(layers[lrow, L.LAY_STRIDE]),
                                                                 int(layers[lrow, L.LAY_WINDOW]), copies)
    broadcast = max(1, min(grid_cols, whole_cols))
    source_bits = fill_bits / broadcast
    out[orow, L.C_INPUT_BUFFER] = input_bits_read * ib_r + fill_bits * ib_w
    out_nz = stats[srow, soff + L.S_OUT_NZ]
    partials = out_nz * math.ceil(stats[srow, soff + L.S_PSUM] / out_nz / grid_rows - 1e-9) if out_nz > 0 else 0.0
    obuf_bits = vectors * partials * psum_bits
    out[orow, L.C_OUTPUT_BUFFER] = obuf_bits * (prm[t_, L.PRM_OBUF_W] + prm[t_, L.PRM_OBUF_R])
    result_bits = vectors * layers[lrow, L.LAY_K] * prm[t_, L.PRM_OUTPUT_BITS]
    weight_bits = stats[srow, soff + L.S_STORED] * W + stats[srow, soff + L.S_IDX_STORE]
    gb = weight_bits * prm[t_, L.PRM_GBUF_R]
    dram = 0.0
    if not dynamic:
        gb += weight_bits * prm[t_, L.PRM_GBUF_W]
        dram += weight_bits * prm[t_, L.PRM_DRAM_R]
    if in_spill:
        dram += source_bits * prm[t_, L.PRM_DRAM_R]
    else:
        gb += source_bits * prm[t_, L.PRM_GBUF_R]
    if out_spill:
        dram += result_bits * prm[t_, L.PRM_DRAM_W]
    else:
        gb += result_bits * prm[t_, L.PRM_GBUF_W]
    out[orow, L.C_GLOBAL_BUFFER] = gb
    out[orow, L.C_DRAM] = dram
    out[orow, L.C_WEIGHT_WRITE] = copies * tiles * X * Y * W * prm[t_, L.PRM_WEIGHT_WRITE]

    # ----- latency ---------------------------------------------------------------------------------
    steps = ceil_ratio(per_copy, step)
    busy = 1
    if rounds:
        busy = max(1, min(macros, math.ceil(tiles * copies / rounds - 1e-9)))
    source_bw = prm[t_, L.PRM_DRAM_BW] if in_spill else prm[t_, L.PRM_GBUF_BW]
    sink_bw = prm[t_, L.PRM_DRAM_BW] if out_spill else prm[t_, L.PRM_GBUF_BW]
    per_step = rounds * steps
    load = 0.0
    write_back = 0.0
    if per_step:
        load = max(source_bits / (per_step * source_bw), fill_bits / (per_step * busy * prm[t_, L.PRM_IBUF_BW]))
        write_back = max(obuf_bits / (per_step * busy * prm[t_, L.PRM_OBUF_BW]), result_bits / (per_step * sink_bw))
    compute = per_copy * t * f_crit / steps if steps else 0.0
    round_cycles = pipeline_cycles(steps, load, compute, write_back, double_buffer)
    weight_bw = prm[t_, L.PRM_GBUF_BW] if dynamic else prm[t_, L.PRM_DRAM_BW]
    weight_load = 0.0
    if rounds:
        weight_load = max(weight_bits / (rounds * weight_bw), pc[t_, PC_WEIGHT_WRITE])
    latency = rounds_latency(rounds, weight_load, round_cycles, prm[t_, L.PRM_WEIGHT_DOUBLE_BUFFER] != 0.0)
    out[orow, L.R_LATENCY] = latency
    out[orow, L.R_COMPUTE] = rounds * per_copy * t * f_crit
    out[orow, L.R_ROUNDS] = rounds
    out[orow, L.R_DUPLICATION] = copies
    out[orow, L.R_USEFUL] = vectors * stats[srow, soff + L.S_STORED]
    out[orow, L.R_CAPACITY] = macros * X * Y * rounds * per_copy
    out[orow, L.C_STATIC] = static_energy_pj(prm[t_, L.PRM_LEAKAGE], macros, latency)
    if repeats != 1:
        for c in range(L.N_COMPONENTS):
            out[orow, c] *= repeats
        out[orow, L.R_LATENCY] *= repeats
        out[orow, L.R_COMPUTE] *= repeats
        out[orow, L.R_USEFUL] *= repeats
        out[orow, L.R_CAPACITY] *= repeats
        out[orow, L.R_ROUNDS] *= repeats


@njit(cache=True)
def _energy(rows, r):
    e = 0.0
    for c in range(L.N_COMPONENTS):
        e += rows[r, c]
    return e


@njit(cache=True)
def _objective(rows, r, objective):
    e = _energy(rows, r)
    if objective == L.OBJECTIVE_ENERGY:
        return e
    if objective == L.OBJECTIVE_LATENCY:
        return rows[r, L.R_LATENCY]
    return e * rows[r, L.R_LATENCY]


@njit(cache=True, inline="always")
def takes_over(c, feasible, kept, obj, kept_obj):
    """Whether candidate ``c`` replaces the kept one (``kept`` < 0: no feasible one yet). Candidate 0 is
    kept as the fallback when no candidate is feasible; after it, a feasible candidate with a lower
    objective wins."""
    return c == 0 or (feasible and (kept < 0 or obj < kept_obj))


@njit(cache=True)
def _accumulate(total, t, part, p):
    """Network totals ``total[t] += part[p]``, as ``ciminus.reference.Cost.add``."""
    for c in range(L.N_COMPONENTS):
        total[t, c] += part[p, c]
    total[t, L.R_LATENCY] += part[p, L.R_LATENCY]
    total[t, L.R_COMPUTE] += part[p, L.R_COMPUTE]
    total[t, L.R_USEFUL] += part[p, L.R_USEFUL]
    total[t, L.R_CAPACITY] += part[p, L.R_CAPACITY]
    total[t, L.R_ROUNDS] += part[p, L.R_ROUNDS]
    if total[t, L.R_REASON] == L.REASON_OK:
        total[t, L.R_REASON] = part[p, L.R_REASON]


@njit(cache=True)
def _copy(dst, d, src, s):
    for k in range(L.N_RESULTS):
        dst[d, k] = src[s, k]


@njit(cache=True)
def _clear(rows, r):
    for k in range(L.N_RESULTS):
        rows[r, k] = 0.0


@njit(cache=True)
def _write_point(out, o, sparse, rs, dense, rd):
    """Output row ``o`` from sparse and dense network totals (the candidate is written by the caller)."""
    for c in range(L.N_COMPONENTS):
        out[o, c] = sparse[rs, c]
    out[o, L.P_LATENCY] = sparse[rs, L.R_LATENCY]
    out[o, L.P_COMPUTE] = sparse[rs, L.R_COMPUTE]
    out[o, L.P_USEFUL] = sparse[rs, L.R_USEFUL]
    out[o, L.P_CAPACITY] = sparse[rs, L.R_CAPACITY]
    out[o, L.P_DENSE_ENERGY] = _energy(dense, rd)
    out[o, L.P_DENSE_LATENCY] = dense[rd, L.R_LATENCY]
    out[o, L.P_REASON] = sparse[rs, L.R_REASON]


@njit(cache=True)
def _write_layers(out_layers, o, rows, row0, n_layers, chosen, fixed_candidate):
    """Per-layer energy, latency and candidate of output row ``o`` from ``rows[row0 + li]``
    (``chosen[row0 + li]`` is each layer's candidate when ``fixed_candidate`` < -1)."""
    for li in range(n_layers):
        out_layers[o, li, L.LY_ENERGY] = _energy(rows, row0 + li)
        out_layers[o, li, L.LY_LATENCY] = rows[row0 + li, L.R_LATENCY]
        out_layers[o, li, L.LY_CANDIDATE] = chosen[row0 + li] if fixed_candidate < -1 else fixed_candidate


@njit(cache=True)
def _axis_indices(pt, ix, t, axis_len, axis_stride, last_pt):
    """The point's index along every axis. A thread walks consecutive points, so this is usually an
    odometer step from its previous point; otherwise it divides once per axis."""
    n = axis_len.shape[0]
    if pt == last_pt[8 * t] + 1 and n > 0:
        a = n - 1
        ix[t, a] += 1
        while ix[t, a] == axis_len[a] and a > 0:
            ix[t, a] = 0
            a -= 1
            ix[t, a] += 1
    else:
        for a in range(n):
            ix[t, a] = (pt // axis_stride[a]) % axis_len[a]
    last_pt[8 * t] = pt


@njit(cache=True)
def _decode(ix, t, prm, prm_axis, prm_vals):
    for p in range(prm_axis.shape[0]):
        a = prm_axis[p]
        prm[t, p] = prm_vals[p, 0 if a < 0 else ix[t, a]]


@njit(cache=True)
def _mixed_index(ix, t, strides):
    idx = 0
    for a in range(strides.shape[0]):
        idx += ix[t, a] * strides[a]
    return idx


@njit(cache=True, inline="always")
def candidate_grid(prm, t, cands, c):
    """(grid rows, grid cols, duplicate, step vectors) of candidate ``c`` at the point of thread ``t``."""
    macros = int(prm[t, L.PRM_MACROS])
    grid_rows = int(cands[c, L.CP_GRID_ROWS])
    grid_cols = int(cands[c, L.CP_GRID_COLS])
    if grid_rows == 0:
        grid_rows = auto_grid_rows(macros)
        grid_cols = macros // grid_rows
    return grid_rows, grid_cols, cands[c, L.CP_DUPLICATE] != 0.0, int(cands[c, L.CP_STEP])


@njit(cache=True, inline="always")
def sparse_layer(prm, pc, t, stats, srow, layers, lrow, grid_rows, grid_cols, duplicate, step, skip_mode, in_spill,
                 out, orow):
    """The sparse cost of one layer into ``out[orow]``: the layer's input density (its own or the point's)
    and whether zero bit planes are skipped, then :func:`price_layer`."""
    density = layers[lrow, L.LAY_DENSITY]
    if math.isnan(density):
        density = prm[t, L.PRM_DENSITY]
        log_zero = pc[t, PC_LOG_ZERO]
    else:
        log_zero = log_zero_bit(density * prm[t, L.PRM_BIT_DENSITY])
    if skip_mode < 0:  # auto: where inputs are sparse or their profile was measured
        skip = density < 1.0 or not math.isnan(stats[srow, L.S_F_ENERGY])
    else:
        skip = skip_mode > 0
    price_layer(prm, pc, t, stats, srow, 0, layers, lrow, grid_rows, grid_cols, duplicate, step, log_zero, skip,
                in_spill, out, orow)


@njit(cache=True, inline="always")
def dense_layer(prm, pc, t, stats, srow, layers, lrow, grid_rows, grid_cols, duplicate, step, in_spill, out, orow):
    """The dense twin of a layer (dense statistics, no input skipping) into ``out[orow]``."""
    price_layer(prm, pc, t, stats, srow, L.N_STATS, layers, lrow, grid_rows, grid_cols, duplicate, step, -math.inf,
                False, in_spill, out, orow)


@njit(cache=True)
def _price_candidate(prm, pc, t, stats, variant_base, max_layers, layers, first, n_layers, cands, c, skip_mode,
                     tot_s, lay_s, tot_d, lay_d, dense_ready):
    """Price a whole network under candidate ``c`` for thread ``t``: sparse totals into ``tot_s[t]``, layers
    into ``lay_s[t*max_layers + li]``; the dense twin into ``tot_d[t*n_cand + c]`` and
    ``lay_d[(t*n_cand + c)*max_layers + li]`` unless ``dense_ready`` (it depends on no sparsity key, so
    the previous point's may still hold)."""
    _clear(tot_s, t)
    grid_rows, grid_cols, duplicate, step = candidate_grid(prm, t, cands, c)
    row0 = (variant_base + int(cands[c, L.CP_VARIANT])) * max_layers
    in_spill = True
    s0 = t * max_layers
    for li in range(n_layers):
        sparse_layer(prm, pc, t, stats, row0 + li, layers, first + li, grid_rows, grid_cols, duplicate, step,
                     skip_mode, in_spill, lay_s, s0 + li)
        in_spill = lay_s[s0 + li, L.R_OUT_SPILL] != 0.0
        _accumulate(tot_s, t, lay_s, s0 + li)
    if dense_ready:
        return
    n_cand = cands.shape[0]
    dt = t * n_cand + c
    d0 = dt * max_layers
    _clear(tot_d, dt)
    in_spill = True
    for li in range(n_layers):
        dense_layer(prm, pc, t, stats, row0 + li, layers, first + li, grid_rows, grid_cols, duplicate, step,
                    in_spill, lay_d, d0 + li)
        in_spill = lay_d[d0 + li, L.R_OUT_SPILL] != 0.0
        _accumulate(tot_d, dt, lay_d, d0 + li)


# Scratch rows are padded to whole cache lines so that two threads never write the same line.
ROW = 32  # >= N_RESULTS, a multiple of 8 float64 (64 bytes)


@njit(parallel=True, cache=True)
def price_points(start, count, prm_axis, prm_vals, axis_len, axis_stride, stat_stride, n_variants, wl_stride,
                 dense_stride, layer_first, layer_count, layers, stats, max_layers, cands, select, objective,
                 out_points, out_layers, n_threads):
    """Price points ``start .. start+count-1`` of a sweep into ``out_points`` (and ``out_layers``).

    ``select`` is ``SELECT_BEST`` (one row per point: the candidate with the lowest network objective),
    ``SELECT_BEST_PER_LAYER`` (each layer picks its own) or ``SELECT_ALL`` (one row per point and
    candidate, candidate fastest). ``out_layers`` has zero layers when per-layer results are not kept.
    ``dense_stride`` indexes the points' dense designs (every axis but the sparsity ones): a thread
    reuses its last dense results while that index does not change. ``n_threads`` is
    ``numba.get_num_threads()``: scratch rows per thread are allocated once, outside the loop, and
    addressed by row number (no array views in the loop).
    """
    n_cand = cands.shape[0]
    keep_layers = out_layers.shape[1] > 0
    ml = max_layers
    prm = np.empty((n_threads, 64))
    pc = np.empty((n_threads, ROW))
    ix = np.zeros((n_threads, max(8, axis_len.shape[0] + 8)), dtype=np.int64)
    tot_s = np.empty((n_threads, ROW))
    best_s = np.empty((n_threads, ROW))
    best_d = np.empty((n_threads, ROW))
    tot_d = np.empty((n_threads * n_cand, ROW))
    lay_s = np.empty((n_threads * ml, ROW))
    lay_d = np.empty((n_threads * n_cand * ml, ROW))
    lay_bs = np.empty((n_threads * ml, ROW))
    lay_bd = np.empty((n_threads * ml, ROW))
    lay_bc = np.empty(n_threads * ml + 8)
    dense_key = np.full(n_threads * 8, -1, dtype=np.int64)
    last_pt = np.full(n_threads * 8, -2, dtype=np.int64)
    for i in prange(count):
        t = numba.get_thread_id()
        pt = start + i
        _axis_indices(pt, ix, t, axis_len, axis_stride, last_pt)
        _decode(ix, t, prm, prm_axis, prm_vals)
        point_constants(prm, t, pc)
        base = _mixed_index(ix, t, stat_stride) * n_variants
        wl = _mixed_index(ix, t, wl_stride)
        key = _mixed_index(ix, t, dense_stride)
        dense_ready = key == dense_key[8 * t]
        dense_key[8 * t] = key
        first = layer_first[wl]
        n_layers = layer_count[wl]
        skip_mode = int(prm[t, L.PRM_SKIP])
        s0 = t * ml
        if select == L.SELECT_ALL:
            for c in range(n_cand):
                _price_candidate(prm, pc, t, stats, base, ml, layers, first, n_layers, cands, c, skip_mode,
                                 tot_s, lay_s, tot_d, lay_d, dense_ready)
                row = i * n_cand + c
                ok = tot_s[t, L.R_REASON] == L.REASON_OK
                _write_point(out_points, row, tot_s, t, tot_d, t * n_cand + c)
                out_points[row, L.P_CANDIDATE] = c if ok else -1
                if keep_layers:
                    _write_layers(out_layers, row, lay_s, s0, n_layers, lay_bc, c if ok else -1)
        elif select == L.SELECT_BEST:
            best = -1
            best_obj = 0.0
            for c in range(n_cand):
                _price_candidate(prm, pc, t, stats, base, ml, layers, first, n_layers, cands, c, skip_mode,
                                 tot_s, lay_s, tot_d, lay_d, dense_ready)
                feasible = tot_s[t, L.R_REASON] == L.REASON_OK
                obj = _objective(tot_s, t, objective)
                if takes_over(c, feasible, best, obj, best_obj):
                    _copy(best_s, t, tot_s, t)
                    _copy(best_d, t, tot_d, t * n_cand + c)
                    if keep_layers:
                        for li in range(n_layers):
                            _copy(lay_bs, s0 + li, lay_s, s0 + li)
                    if feasible:
                        best = c
                        best_obj = obj
            _write_point(out_points, i, best_s, t, best_d, t)
            out_points[i, L.P_CANDIDATE] = best
            if keep_layers:
                _write_layers(out_layers, i, lay_bs, s0, n_layers, lay_bc, best)
        else:  # SELECT_BEST_PER_LAYER: every layer keeps its own best candidate.
            for li in range(n_layers):
                lay_bc[s0 + li] = -1.0
            for c in range(n_cand):
                _price_candidate(prm, pc, t, stats, base, ml, layers, first, n_layers, cands, c, skip_mode,
                                 tot_s, lay_s, tot_d, lay_d, dense_ready)
                d0 = (t * n_cand + c) * ml
                for li in range(n_layers):
                    r = s0 + li
                    feasible = lay_s[r, L.R_REASON] == L.REASON_OK
                    if takes_over(c, feasible, lay_bc[r], _objective(lay_s, r, objective),
                                  _objective(lay_bs, r, objective)):
                        _copy(lay_bs, r, lay_s, r)
                        _copy(lay_bd, r, lay_d, d0 + li)
                        if feasible:
                            lay_bc[r] = c
            _clear(best_s, t)
            _clear(best_d, t)
            for li in range(n_layers):
                _accumulate(best_s, t, lay_bs, s0 + li)
                _accumulate(best_d, t, lay_bd, s0 + li)
            _write_point(out_points, i, best_s, t, best_d, t)
            out_points[i, L.P_CANDIDATE] = -1
            if keep_layers:
                _write_layers(out_layers, i, lay_bs, s0, n_layers, lay_bc, -2)
