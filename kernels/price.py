"""The sweep engine: price every design point x mapping candidate x layer on flat arrays.

This module holds only the loops. ``price_steps`` decodes each point's parameters from its flat index,
fills the point's constants and energy table once, prices every candidate's layers with
``kernels.actions`` (the counts), keeps the best candidate (or every candidate) by the one selection
rule, and writes energies as counts times the energy table, without allocating in the loop.
"""

import math

import numpy as np

from . import layout as L
from .actions import (
    N_PC,
    SKIP_ENTRY,
    SKIP_SLOTS,
    accumulate,
    action_energies,
    candidate_grid,
    choose,
    component_energies,
    copy_limit,
    energy_pj,
    layer_context,
    point_constants,
    priced_layer,
    same_copies,
)
from .jit import jit, threaded


@threaded
def fill_nan(lo, hi, flat):
    """NaN into elements ``lo .. hi-1`` of a flat array (on every core through ``ciminus.threads``): the
    first touch of freshly allocated result rows is most of what allocating them costs, and it
    parallelises."""
    for i in range(lo, hi):
        flat[i] = np.nan


@jit
def _copy(dst, d, src, s):
    for k in range(L.N_RESULTS):
        dst[d, k] = src[s, k]


@jit
def _same_row(a, i, j, lo, hi):
    """Whether ``a[i, lo:hi] == a[j, lo:hi]``, NaN equal to NaN."""
    for k in range(lo, hi):
        x = a[i, k]
        y = a[j, k]
        if x != y and not (math.isnan(x) and math.isnan(y)):
            return False
    return True


@jit
def _twin(stats, variant_base, max_layers, li, srow, cands, c, variant, dense, lay, t, n_cand, grid_rows, grid_cols,
          context, n_layers):
    """An earlier candidate whose counts of layer ``li`` are provably this candidate's (-1: none): it differs
    only by a statistics variant whose statistics of the layer are equal (sparse, or for the dense twin dense),
    or only by its duplication where both make the same copies; and it saw the layer in the same context."""
    src = -1
    lo = L.N_STATS if dense else 0  # the dense twin's statistics are the row's second half (equal across
    for w in range(variant):        # variants of one tile shape, not across tiling sizes)
        c2 = int(cands[c, L.N_CP + w])
        if c2 >= 0 and _same_row(stats, srow, (variant_base + w) * max_layers + li, lo, lo + L.N_STATS):
            src = c2
            break
    if src < 0:
        c2 = int(cands[c, L.CP_DUP_TWIN])
        soff = L.N_STATS if dense else 0
        if c2 >= 0 and same_copies(stats, srow, soff, grid_rows, grid_cols, copy_limit(cands, c),
                                   copy_limit(cands, c2)):
            src = c2
    if src >= 0 and li > 0:
        twin_spilled = lay[(t * n_cand + src) * max_layers + li - 1, L.R_OUT_SPILL] != 0.0
        if layer_context(li, n_layers, twin_spilled) != context:
            src = -1
    return src


@jit
def _clear(rows, r):
    for k in range(L.N_RESULTS):
        rows[r, k] = 0.0


@jit
def _write_point(out, o, sparse, rs, dense, rd, ae, t):
    """Output row ``o`` from sparse and dense network totals at the energy table ``ae[t]``: the energy
    breakdown (counts times energies, summed per component), the latency terms and, when ``out`` has
    their columns, the counts themselves (the candidate is written by the caller)."""
    component_energies(sparse, rs, ae, t, out, o)
    if out.shape[1] >= L.N_POINT:  # the counts are kept only when the sweep asks for them
        for a in range(L.N_ACTIONS):
            out[o, L.P_ACTIONS + a] = sparse[rs, a]
    out[o, L.P_LATENCY] = sparse[rs, L.R_LATENCY]
    out[o, L.P_COMPUTE] = sparse[rs, L.R_COMPUTE]
    out[o, L.P_USEFUL] = sparse[rs, L.R_USEFUL]
    out[o, L.P_CAPACITY] = sparse[rs, L.R_CAPACITY]
    out[o, L.P_DENSE_ENERGY] = energy_pj(dense, rd, ae, t)
    out[o, L.P_DENSE_LATENCY] = dense[rd, L.R_LATENCY]
    out[o, L.P_REASON] = sparse[rs, L.R_REASON]
    out[o, L.P_DRAM_COMPULSORY] = sparse[rs, L.R_DRAM_COMPULSORY]


@jit
def _write_layers(out_layers, o, rows, row0, n_layers, chosen, fixed_candidate, ae, t):
    """Per-layer energy, latency and candidate of output row ``o`` from ``rows[row0 + li]``
    (``chosen[row0 + li]`` is each layer's candidate when ``fixed_candidate`` < -1)."""
    for li in range(n_layers):
        out_layers[o, li, L.LY_ENERGY] = energy_pj(rows, row0 + li, ae, t)
        out_layers[o, li, L.LY_LATENCY] = rows[row0 + li, L.R_LATENCY]
        out_layers[o, li, L.LY_CANDIDATE] = chosen[row0 + li] if fixed_candidate < -1 else fixed_candidate


@jit
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


@jit
def _decode(ix, t, prm, prm_axis, prm_vals):
    for p in range(prm_axis.shape[0]):
        a = prm_axis[p]
        prm[t, p] = prm_vals[p, 0 if a < 0 else ix[t, a]]


@jit
def _mixed_index(ix, t, strides):
    idx = 0
    for a in range(strides.shape[0]):
        idx += ix[t, a] * strides[a]
    return idx


@jit(inline=True)
def _price_candidate(prm, pc, t, stats, variant_base, max_layers, layers, first, n_layers, cands, c, tot_s, lay_s,
                     tot_d, lay_d, dense_ready, mix):
    """Count a whole network under candidate ``c`` and the loop-order siblings it leads (``CP_ORDERS``) for
    thread ``t``: sparse totals into ``tot_s[t*n_cand + c + k]`` and layers into
    ``lay_s[(t*n_cand + c + k)*max_layers + li]``; the dense twin into ``tot_d`` and ``lay_d`` at the same
    rows unless ``dense_ready`` (it depends on no sparsity key, so the previous point's may still hold)."""
    n_orders = int(cands[c, L.CP_ORDERS])
    if n_orders == 0:  # a follower: its leader priced it
        return
    n_cand = cands.shape[0]
    r = t * n_cand + c
    r0 = r * max_layers
    grid_rows, grid_cols, max_copies, step, order = candidate_grid(prm, t, cands, c)
    variant = int(cands[c, L.CP_VARIANT])
    row0 = (variant_base + variant) * max_layers
    for twin in range(2):  # the sparse weights, then their dense twin: one call site, one inlined model
        dense = twin == 1
        if dense and dense_ready:
            return
        tot = tot_d if dense else tot_s
        lay = lay_d if dense else lay_s
        for k in range(n_orders):
            _clear(tot, r + k)
        spilled = True
        for li in range(n_layers):
            context = layer_context(li, n_layers, spilled)
            src = _twin(stats, variant_base, max_layers, li, row0 + li, cands, c, variant, dense, lay, t, n_cand,
                        grid_rows, grid_cols, context, n_layers)
            if src >= 0:
                for k in range(n_orders):
                    _copy(lay, r0 + k * max_layers + li, lay, (t * n_cand + src + k) * max_layers + li)
            else:
                priced_layer(prm, pc, t, stats, row0 + li, layers, first + li, grid_rows, grid_cols, max_copies,
                             step, order, n_orders, max_layers, context, dense, lay, r0 + li, mix, 4 * t)
            spilled = lay[r0 + li, L.R_OUT_SPILL] != 0.0  # the same for every order
            for k in range(n_orders):
                accumulate(tot, r + k, lay, r0 + k * max_layers + li)


# Scratch rows are padded to whole cache lines so that two threads never write the same line.
ROW = 32  # >= N_RESULTS, a multiple of 8 float64 (64 bytes)


@jit
def _box_point(j, ix, t, order, box_lo, box_len, axis_stride, last_j):
    """The point of the ``j``-th step through a box of points, the axes walked in ``order`` (last fastest):
    its index along every axis into ``ix[t]``; returns its flat index and the first position in ``order``
    whose axis moved (-1: every axis may have). A thread walks consecutive steps, so this is usually an
    odometer step from its previous one (``last_j[8*t]``), where only the innermost axes move; otherwise it
    divides twice per axis, which cost a fifth of a point whose counts are reused."""
    n = order.shape[0]
    q = -1
    if j == last_j[8 * t] + 1 and n > 0:
        q = n - 1
        a = order[q]
        ix[t, a] += 1
        while ix[t, a] == box_lo[a] + box_len[a] and q > 0:
            ix[t, a] = box_lo[a]
            q -= 1
            a = order[q]
            ix[t, a] += 1
    else:
        rem = j
        for k in range(n - 1, -1, -1):
            a = order[k]
            ix[t, a] = box_lo[a] + rem % box_len[a]
            rem //= box_len[a]
    last_j[8 * t] = j
    pt = 0
    for a in range(axis_stride.shape[0]):
        pt += ix[t, a] * axis_stride[a]
    return pt, q


@jit
def _decode_moved(ix, t, prm, prm_vals, order, q, axis_ptr, axis_prms):
    """The parameters of the axes at ``order[q:]`` (the ones that moved) into ``prm[t]``; the others keep
    the values the thread decoded before (``axis_prms[axis_ptr[a]:axis_ptr[a+1]]``: axis ``a``'s)."""
    for k in range(q, order.shape[0]):
        a = order[k]
        for m in range(axis_ptr[a], axis_ptr[a + 1]):
            p = axis_prms[m]
            prm[t, p] = prm_vals[p, ix[t, a]]


@threaded
def price_steps(lo, hi, start, first, prm_axis, prm_vals, axis_len, axis_stride, stat_stride, stat_offset, n_variants,
                wl_stride, dense_stride, count_stride, order, box_lo, box_len, layer_first, layer_count, layers, stats,
                max_layers, cands, select, objective, out_points, out_layers):
    """Price steps ``lo .. hi-1`` of a walk over a sweep's points into ``out_points`` (and ``out_layers``);
    ``ciminus.threads.in_threads`` runs disjoint step ranges on every core (``kernels/jit.py::threaded``).

    Step ``j`` is step ``first + j`` through the box ``box_lo .. box_lo+box_len`` of the
    sweep's axes, walked with the axes in ``order`` (the last fastest): for a chunk, the chunk's own box
    from step 0; for any other range, the whole grid in the sweep's order from step ``start``. The engine puts the
    axes that change no action count (energies, the clock) innermost, so a thread reuses its previous
    point's counts while ``count_stride`` (every other axis) indexes the same counts, and only re-prices
    them with the new energy table. ``dense_stride`` (every axis but the sparsity ones) does the same for
    the dense twin. Output row of a point: its flat index minus ``start``. The statistics row of a point's
    combination is ``stat_stride . ix - stat_offset`` (a chunk may bring the statistics of its own box only).

    ``select`` is ``SELECT_BEST`` (one row per point: the candidate with the lowest network objective),
    ``SELECT_BEST_PER_LAYER`` (each layer picks its own) or ``SELECT_ALL`` (one row per point and
    candidate, candidate fastest). The dense twin picks its own best candidate the same way (with
    ``SELECT_ALL``, each candidate is compared with dense weights under the same candidate). ``out_layers``
    has zero layers when per-layer results are not kept.
    Scratch rows are allocated once per call, outside the loop, and addressed by row number ``t`` (no array
    views in the loop; ``t`` is always 0 here, the GPU kernel that shares the helpers gives each thread its own).
    """
    n_threads = 1  # scratch rows: one call runs on one thread
    n_cand = cands.shape[0]
    keep_layers = out_layers.shape[1] > 0
    ml = max_layers
    prm = np.empty((n_threads, L.N_PRM))
    pc = np.full((n_threads, N_PC + SKIP_SLOTS * SKIP_ENTRY), np.nan)  # NaN: nothing computed or cached yet
    ae = np.empty((n_threads, ROW))
    ix = np.zeros((n_threads, max(8, axis_len.shape[0] + 8)), dtype=np.int64)
    tot_s = np.empty((n_threads * n_cand, ROW))
    tot_d = np.empty((n_threads * n_cand, ROW))
    lay_s = np.empty((n_threads * n_cand * ml, ROW))
    lay_d = np.empty((n_threads * n_cand * ml, ROW))
    best_s = np.empty((n_threads, ROW))
    best_d = np.empty((n_threads, ROW))
    mix = np.empty((n_threads * 4, ROW))  # scratch of the whole-tile mixture: a row per loop order
    lay_bc = np.empty(n_threads * ml + 8)
    dense_key = np.full(n_threads * 8, -1, dtype=np.int64)
    count_key = np.full(n_threads * 8, -1, dtype=np.int64)
    last_j = np.full(n_threads * 8, -2, dtype=np.int64)  # each thread's previous step (-2: none yet)
    n_axes = axis_len.shape[0]
    axis_ptr = np.zeros(n_axes + 1, dtype=np.int64)  # the parameters of each axis, grouped by axis
    for p in range(prm_axis.shape[0]):
        if prm_axis[p] >= 0:
            axis_ptr[prm_axis[p] + 1] += 1
    for a in range(n_axes):
        axis_ptr[a + 1] += axis_ptr[a]
    axis_prms = np.empty(axis_ptr[n_axes], dtype=np.int64)
    filled = axis_ptr[:n_axes].copy()
    for p in range(prm_axis.shape[0]):
        if prm_axis[p] >= 0:
            axis_prms[filled[prm_axis[p]]] = p
            filled[prm_axis[p]] += 1
    t = np.int64(0)  # int64s, not the literals 0 and 1: each helper is compiled once, for any row and step
    one = np.int64(1)
    for j in range(lo, hi):
        pt, moved = _box_point(first + j, ix, t, order, box_lo, box_len, axis_stride, last_j)
        i = pt - start
        if moved < 0:
            _decode(ix, t, prm, prm_axis, prm_vals)
        else:
            _decode_moved(ix, t, prm, prm_vals, order, moved, axis_ptr, axis_prms)
        action_energies(prm, t, ae)
        wl = _mixed_index(ix, t, wl_stride)
        lay0 = layer_first[wl]
        n_layers = layer_count[wl]
        key = _mixed_index(ix, t, count_stride)
        counts_ready = key == count_key[8 * t]
        count_key[8 * t] = key
        dkey = _mixed_index(ix, t, dense_stride)
        dense_ready = counts_ready or dkey == dense_key[8 * t]
        dense_key[8 * t] = dkey
        if not counts_ready:  # (the point's constants serve the counts only)
            point_constants(prm, t, pc)
            base = (_mixed_index(ix, t, stat_stride) - stat_offset) * n_variants
            for c in range(n_cand):
                _price_candidate(prm, pc, t, stats, base, ml, layers, lay0, n_layers, cands, c, tot_s, lay_s,
                                 tot_d, lay_d, dense_ready, mix)
        s0 = t * ml
        if select == L.SELECT_ALL:
            for c in range(n_cand):
                r = t * n_cand + c
                row = i * n_cand + c
                ok = tot_s[r, L.R_REASON] == L.REASON_OK
                _write_point(out_points, row, tot_s, r, tot_d, r, ae, t)
                out_points[row, L.P_CANDIDATE] = c if ok else -1
                out_points[row, L.P_GRID_ROWS] = candidate_grid(prm, t, cands, c)[0]
                if keep_layers:
                    _write_layers(out_layers, row, lay_s, r * ml, n_layers, lay_bc, c if ok else -1, ae, t)
        elif select == L.SELECT_BEST:
            kept, best = choose(tot_s, t * n_cand, one, n_cand, ae, t, objective)
            kept_d, _ = choose(tot_d, t * n_cand, one, n_cand, ae, t, objective)  # dense: its own best candidate
            r = t * n_cand + kept
            _write_point(out_points, i, tot_s, r, tot_d, t * n_cand + kept_d, ae, t)
            out_points[i, L.P_CANDIDATE] = best
            out_points[i, L.P_GRID_ROWS] = candidate_grid(prm, t, cands, kept)[0]
            if keep_layers:
                _write_layers(out_layers, i, lay_s, r * ml, n_layers, lay_bc, best, ae, t)
        else:  # SELECT_BEST_PER_LAYER: every layer keeps its own best candidate.
            _clear(best_s, t)
            _clear(best_d, t)
            for li in range(n_layers):
                kept, best = choose(lay_s, t * n_cand * ml + li, ml, n_cand, ae, t, objective)
                r = (t * n_cand + kept) * ml + li
                accumulate(best_s, t, lay_s, r)
                kept_d, _ = choose(lay_d, t * n_cand * ml + li, ml, n_cand, ae, t, objective)
                accumulate(best_d, t, lay_d, (t * n_cand + kept_d) * ml + li)
                lay_bc[s0 + li] = best
                if keep_layers:
                    out_layers[i, li, L.LY_ENERGY] = energy_pj(lay_s, r, ae, t)
                    out_layers[i, li, L.LY_LATENCY] = lay_s[r, L.R_LATENCY]
                    out_layers[i, li, L.LY_CANDIDATE] = best
            _write_point(out_points, i, best_s, t, best_d, t, ae, t)
            out_points[i, L.P_CANDIDATE] = -1
            out_points[i, L.P_GRID_ROWS] = np.nan
