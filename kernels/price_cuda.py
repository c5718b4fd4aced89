"""The sweep engine on an NVIDIA GPU: the same cost functions as ``kernels.price``, one design point per
GPU thread in a grid-stride loop.

Numba-CUDA compiles every ``@njit`` function a kernel calls as a device function from the same source, so
``kernels.actions`` (the counts, the energy table, the selection rule) and the equations are the very code
the CPU engine runs.
Only the loop differs: a thread keeps one running row instead of per-layer rows (the best candidate is
chosen on its sparse totals, then its dense twin and, if asked, its per-layer rows are priced), so its
scratch fits in registers and local memory.
"""

import math

from numba import config, cuda, float64, int64

from . import layout as L
from .actions import (
    N_PC,
    PC_KEY,
    accumulate,
    action_energies,
    candidate_grid,
    energy_pj,
    layer_context,
    objective_of,
    point_constants,
    priced_layer,
    takes_over,
)
from .equations import ceil_float, floor_float
from .price import ROW, _axis_indices, _clear, _copy, _decode, _mixed_index, _write_point

# Plain functions of the shared kernels the GPU target implements itself (its NumPy table lacks what they call).
GPU_OWN = (floor_float, ceil_float)
MAX_AXES = 64  # swept axes a sweep may have on the GPU
# Local arrays need literal sizes: module-level ints are compile-time constants, attributes of a module are not.
_N_PRM = L.N_PRM
_N_PC = N_PC
_ROW = ROW

if config.ENABLE_CUDASIM:
    def _host(a):  # the simulator's device arrays wrap NumPy arrays the helpers can take
        return getattr(a, "_ary", a)
else:
    from numba.cuda import libdevice
    from numba.cuda.extending import overload

    @cuda.jit(device=True, inline=True)
    def _host(a):  # on the GPU a device array is already what the helpers take
        return a

    @overload(floor_float, target="cuda")
    def _floor_gpu(x):  # the GPU target's NumPy table has no floor: CUDA's own
        return lambda x: libdevice.floor(x)

    @overload(ceil_float, target="cuda")
    def _ceil_gpu(x):
        return lambda x: libdevice.ceil(x)


@cuda.jit(device=True)
def _network(prm, pc, ae, stats, row0, layers, first, n_layers, grid_rows, grid_cols, max_copies, step, order,
             dense, total, row, out_layers, out_row, candidate, mix):
    """Sum a whole network (sparse, or ``dense``) into ``total[0]`` using the scratch ``row[0]``; write
    per-layer results to ``out_layers[out_row]`` when ``out_row >= 0``."""
    _clear(total, 0)
    spilled = True
    for li in range(n_layers):
        ctx = layer_context(li, n_layers, spilled)
        priced_layer(prm, pc, 0, stats, row0 + li, layers, first + li, grid_rows, grid_cols, max_copies, step, order,
                     1, 1, ctx, dense, row, 0, mix, 0)
        spilled = row[0, L.R_OUT_SPILL] != 0.0
        accumulate(total, 0, row, 0)
        if out_row >= 0:
            out_layers[out_row, li, L.LY_ENERGY] = energy_pj(row, 0, ae, 0)
            out_layers[out_row, li, L.LY_LATENCY] = row[0, L.R_LATENCY]
            out_layers[out_row, li, L.LY_CANDIDATE] = candidate


@cuda.jit(device=True)
def _best_network(prm, pc, ae, stats, base, max_layers, layers, first, n_layers, cands, objective, dense, keep, total,
                  row, out_layers, mix):
    """Price the network (sparse, or ``dense``) under every candidate and keep the one ``takes_over`` picks in
    ``keep[0]``; returns the best feasible candidate, or -1."""
    chosen = -1
    best_obj = 0.0
    for c in range(cands.shape[0]):
        gr, gc, dup, step, lo = candidate_grid(prm, 0, cands, c)
        row0 = (base + int(cands[c, L.CP_VARIANT])) * max_layers
        _network(prm, pc, ae, stats, row0, layers, first, n_layers, gr, gc, dup, step, lo, dense, total, row,
                 out_layers, -1, c, mix)
        feasible = total[0, L.R_REASON] == L.REASON_OK
        obj = objective_of(total, 0, ae, 0, objective)
        if takes_over(c, feasible, chosen, obj, best_obj):
            _copy(keep, 0, total, 0)
            if feasible:
                chosen = c
                best_obj = obj
    return chosen


@cuda.jit(device=True)
def _best_layer(prm, pc, ae, stats, base, max_layers, layers, first, li, cands, objective, dense, ctx, keep, row,
                mix):
    """Price layer ``li`` (sparse, or ``dense``) under every candidate and keep the one ``takes_over`` picks
    in ``keep[0]``; returns the best feasible candidate, or -1."""
    chosen = -1
    best_obj = 0.0
    for c in range(cands.shape[0]):
        gr, gc, dup, step, lo = candidate_grid(prm, 0, cands, c)
        srow = (base + int(cands[c, L.CP_VARIANT])) * max_layers + li
        priced_layer(prm, pc, 0, stats, srow, layers, first + li, gr, gc, dup, step, lo, 1, 1, ctx, dense, row, 0,
                     mix, 0)
        feasible = row[0, L.R_REASON] == L.REASON_OK
        obj = objective_of(row, 0, ae, 0, objective)
        if takes_over(c, feasible, chosen, obj, best_obj):
            _copy(keep, 0, row, 0)
            if feasible:
                chosen = c
                best_obj = obj
    return chosen


@cuda.jit
def price_points_cuda(start, count, prm_axis, prm_vals, axis_len, axis_stride, stat_stride, n_variants, wl_stride,
                      layer_first, layer_count, layers, stats, max_layers, cands, select, objective, out_points,
                      out_layers):
    """``kernels.price.price_steps`` on the GPU (the same arguments but the CPU's memo and step range)."""
    prm_axis, prm_vals, axis_len, axis_stride = _host(prm_axis), _host(prm_vals), _host(axis_len), _host(axis_stride)
    stat_stride, wl_stride, layer_first = _host(stat_stride), _host(wl_stride), _host(layer_first)
    layer_count, layers, stats, cands = _host(layer_count), _host(layers), _host(stats), _host(cands)
    out_points, out_layers = _host(out_points), _host(out_layers)
    prm = cuda.local.array((1, _N_PRM), float64)
    pc = cuda.local.array((1, _N_PC), float64)
    ae = cuda.local.array((1, _ROW), float64)
    ix = cuda.local.array((1, MAX_AXES), int64)
    last = cuda.local.array(8, int64)
    total = cuda.local.array((1, _ROW), float64)
    best = cuda.local.array((1, _ROW), float64)
    dense = cuda.local.array((1, _ROW), float64)
    row = cuda.local.array((1, _ROW), float64)
    mix = cuda.local.array((1, _ROW), float64)  # scratch of the whole-tile mixture
    n_cand = cands.shape[0]
    keep_layers = out_layers.shape[1] > 0
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    last[0] = -2
    pc[0, PC_KEY] = math.nan  # no bit statistics computed yet
    while i < count:
        pt = start + i
        _axis_indices(pt, ix, 0, axis_len, axis_stride, last)
        last[0] = -2  # strided: no odometer
        _decode(ix, 0, prm, prm_axis, prm_vals)
        point_constants(prm, 0, pc)
        action_energies(prm, 0, ae)
        base = _mixed_index(ix, 0, stat_stride) * n_variants
        wl = _mixed_index(ix, 0, wl_stride)
        first = layer_first[wl]
        n_layers = layer_count[wl]
        if select == L.SELECT_ALL:
            for c in range(n_cand):
                gr, gc, dup, step, lo = candidate_grid(prm, 0, cands, c)
                row0 = (base + int(cands[c, L.CP_VARIANT])) * max_layers
                out_row = i * n_cand + c
                _network(prm, pc, ae, stats, row0, layers, first, n_layers, gr, gc, dup, step, lo, False, total, row,
                         out_layers, out_row if keep_layers else -1, c, mix)
                _network(prm, pc, ae, stats, row0, layers, first, n_layers, gr, gc, dup, step, lo, True, dense, row,
                         out_layers, -1, c, mix)
                _write_point(out_points, out_row, total, 0, dense, 0, ae, 0)
                ok = total[0, L.R_REASON] == L.REASON_OK
                out_points[out_row, L.P_CANDIDATE] = c if ok else -1
                out_points[out_row, L.P_GRID_ROWS] = gr
                if keep_layers and not ok:
                    for li in range(n_layers):
                        out_layers[out_row, li, L.LY_CANDIDATE] = -1
        elif select == L.SELECT_BEST:
            chosen = _best_network(prm, pc, ae, stats, base, max_layers, layers, first, n_layers, cands, objective,
                                   False, best, total, row, out_layers, mix)
            _best_network(prm, pc, ae, stats, base, max_layers, layers, first, n_layers, cands, objective, True,
                          dense, total, row, out_layers, mix)  # the dense twin: its own best candidate
            c = max(chosen, 0)
            gr, gc, dup, step, lo = candidate_grid(prm, 0, cands, c)
            row0 = (base + int(cands[c, L.CP_VARIANT])) * max_layers
            if keep_layers:  # the winner's layers again, written out
                _network(prm, pc, ae, stats, row0, layers, first, n_layers, gr, gc, dup, step, lo, False, total,
                         row, out_layers, i, chosen, mix)
            _write_point(out_points, i, best, 0, dense, 0, ae, 0)
            out_points[i, L.P_CANDIDATE] = chosen
            out_points[i, L.P_GRID_ROWS] = gr
        else:  # SELECT_BEST_PER_LAYER: layers outside, candidates inside (the spill chain is candidate-free)
            _clear(best, 0)
            _clear(dense, 0)
            spilled = True
            for li in range(n_layers):
                ctx = layer_context(li, n_layers, spilled)
                chosen = _best_layer(prm, pc, ae, stats, base, max_layers, layers, first, li, cands, objective,
                                     False, ctx, total, row, mix)
                accumulate(best, 0, total, 0)
                if keep_layers:
                    out_layers[i, li, L.LY_ENERGY] = energy_pj(total, 0, ae, 0)
                    out_layers[i, li, L.LY_LATENCY] = total[0, L.R_LATENCY]
                    out_layers[i, li, L.LY_CANDIDATE] = chosen
                _best_layer(prm, pc, ae, stats, base, max_layers, layers, first, li, cands, objective, True, ctx,
                            total, row, mix)  # the dense twin: its own best candidate for this layer
                accumulate(dense, 0, total, 0)
                spilled = total[0, L.R_OUT_SPILL] != 0.0
            _write_point(out_points, i, best, 0, dense, 0, ae, 0)
            out_points[i, L.P_CANDIDATE] = -1
            out_points[i, L.P_GRID_ROWS] = math.nan
        i += stride
