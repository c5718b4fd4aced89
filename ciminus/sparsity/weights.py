"""Real weights: flatten them as a mapping does, prune them into a FlexBlock, and see their zeros as the
hardware does.

A weight tensor (conv ``(K, C/groups, R, S)``, linear ``(K, C)``) becomes one ``rows x cols`` matrix per group,
its rows in the mapping's flattening order. Magnitude pruning keeps the largest blocks (FullBlock, by L1
norm) and the largest weights of each column segment (IntraBlock; with a mask set, the allowed mask that
keeps the most magnitude), deterministically, in the sparsity's stage order. The hardware view of a pruned
matrix is what :func:`kernels.tile_stats.mask_tile_stats` counts: IntraBlock squeezes every ``m``-row
segment of a column into ``k`` slots.
"""

from __future__ import annotations

import numpy as np

from ciminus.kernels import layout as L
from ciminus.kernels.tile_stats import blocked_height, kept_blocks
from ciminus.sparsity.flexblock import FlexBlock, channel_run
from ciminus.sparsity.montecarlo import block_cells, block_rows_of
from ciminus.workloads.layers import Layer


class WeightsError(ValueError):
    """Weights that do not fit their layer or the sparsity format the hardware stores."""


def weight_matrices(weights: np.ndarray, layer: Layer, flatten: str = "CRS") -> np.ndarray:
    """``(groups, rows, cols)``: each group's matrix, rows = (C/groups, R, S) in ``flatten`` order."""
    w = np.asarray(weights)
    g, kg, cg = layer.groups, layer.cols, layer.C // layer.groups
    if layer.kind == "conv":
        expected = (layer.K, cg, layer.R, layer.S)
    else:
        expected = (layer.K, layer.C)
    if w.shape != expected:
        raise WeightsError(f"layer {layer.name!r}: weights of shape {w.shape}, expected {expected}")
    if layer.kind != "conv":
        return w.T.reshape(1, layer.C, layer.K).copy()
    w = w.reshape(g, kg, cg, layer.R, layer.S)  # group, k, c, r, s
    axes = {"C": 2, "R": 3, "S": 4}
    order = [axes[d] for d in flatten]
    # (group, flatten dims..., k) -> (group, rows, cols)
    return np.ascontiguousarray(w.transpose(0, *order, 1)).reshape(g, layer.rows, kg)


def from_matrices(mats: np.ndarray, layer: Layer, flatten: str = "CRS") -> np.ndarray:
    """The inverse of :func:`weight_matrices`: the layer's weight tensor back from its group matrices."""
    if layer.kind != "conv":
        return mats[0].T.copy()
    g, kg, cg = layer.groups, layer.cols, layer.C // layer.groups
    sizes = {"C": cg, "R": layer.R, "S": layer.S}
    w = mats.reshape(g, *(sizes[d] for d in flatten), kg)
    axes = {"C": 2, "R": 3, "S": 4}
    back = np.argsort([0, *(axes[d] for d in flatten), 1])
    return np.ascontiguousarray(w.transpose(*back)).reshape(layer.K, cg, layer.R, layer.S)


def _segments(rows: int, segment: int, period: int = 0) -> list[slice]:
    """Column segments of ``segment`` rows, restarting every ``period`` rows (0: never)."""
    period = period if period > 0 else max(1, rows)
    out = []
    for start in range(0, rows, period):
        stop = min(rows, start + period)
        out += [slice(i, min(stop, i + segment)) for i in range(start, stop, segment)]
    return out


def _mask_matrix(masks: tuple[int, ...], length: int) -> np.ndarray:
    """``(n_masks, length)`` 0/1: the masks cut to a segment of ``length`` rows."""
    return np.array([[(m >> p) & 1 for p in range(length)] for m in masks], dtype=float)


def _shared(a: np.ndarray, share: int, reduce: np.ufunc) -> np.ndarray:
    """``a`` (``rows x cols``) reduced over every ``share`` adjacent columns and given back to each of them."""
    if share <= 1:
        return a
    cols = a.shape[1]
    starts = np.arange(0, cols, share)
    return np.repeat(reduce.reduceat(a, starts, axis=1), np.diff(np.append(starts, cols)), axis=1)


def slots(mat: np.ndarray, keep: int, segment: int, period: int = 0,
          masks: tuple[int, ...] = (), share: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """IntraBlock hardware view of one matrix: ``(slot_values, slot_rows)``, each ``height x cols``.

    Every ``segment``-row piece of a column (restarting every ``period`` rows) keeps its non-zeros in
    ``keep`` slots, in order; with a mask set the ``s``-th slot holds the weight at the ``s``-th position of
    the first allowed mask that covers the piece's non-zeros. ``share`` adjacent columns keep one mask (m x n
    blocks): the positions are those of their non-zeros together. A slot's row is the original row its
    weight came from (-1 for an empty slot). Non-zeros the format cannot store are an error.
    """
    rows, cols = mat.shape
    height = blocked_height(rows, keep, segment, period)
    values = np.zeros((height, cols), dtype=mat.dtype)
    where = np.full((height, cols), -1, dtype=np.int64)
    base = 0
    for seg in _segments(rows, segment, period):
        length = seg.stop - seg.start
        width = min(keep, length)
        block = mat[seg]
        nz = _shared(block != 0, share, np.logical_or)
        counts = nz.sum(axis=0)
        if counts.max(initial=0) > width:
            col = int(np.argmax(counts))
            whose = f"columns {col // share * share}..{col // share * share + share - 1} together keep" if share > 1 \
                else f"column {col} keeps"
            raise WeightsError(f"{whose} {int(counts[col])} non-zeros in rows {seg.start}..{seg.stop - 1}; "
                               f"the {keep}:{segment} format stores at most {width}")
        if masks:
            allowed = _mask_matrix(masks, length)
            # a mask covers a column when it keeps every non-zero of it
            covers = (allowed @ nz.astype(float)) == counts[None, :]
            if not covers.any(axis=0).all():
                col = int(np.argmin(covers.any(axis=0)))
                rows_nz = (seg.start + np.flatnonzero(nz[:, col])).tolist()
                raise WeightsError(f"column {col} keeps rows {rows_nz}, which no mask of sparsity.intrablock_masks "
                                   "allows")
            first = np.argmax(covers, axis=0)
            positions = np.full((len(masks), width), -1, dtype=np.int64)  # each mask's first ``width`` rows
            for m in range(len(masks)):
                kept = np.flatnonzero(allowed[m])[:width]
                positions[m, : len(kept)] = kept
            idx = positions[first].T  # width x cols: the row each slot takes, -1 for none
            valid = idx >= 0
        else:  # slot s of a column holds its s-th non-zero row (rows of no non-zero sort last, in order)
            idx = np.argsort(~nz, axis=0, kind="stable")[:width]
            valid = np.arange(width)[:, None] < counts[None, :]
        idx = np.where(valid, idx, 0)
        picked = np.take_along_axis(block, idx, axis=0)
        values[base: base + width] = np.where(valid, picked, 0)
        where[base: base + width] = np.where(valid & (picked != 0), seg.start + idx, -1)
        base += width
    return values, where


def _kept_cells(mat: np.ndarray, block_rows: int, block_cols: int, ratio: float, run: int = 0,
                within: np.ndarray | None = None) -> np.ndarray:
    """The cells of the Phi blocks of largest L1 norm (ties: the earlier block wins). ``run`` < ``block_rows``:
    a block row is interleaved runs of ``run`` rows (an input channel under a flattening order that does not
    keep its rows together). Given ``within`` (the cells an earlier stage kept), only the blocks holding one
    of them take part, Phi counts those blocks, and a kept block keeps its cells in ``within``."""
    cell, n_blocks = block_cells(*mat.shape, block_rows, block_cols, run)
    norms = np.bincount(cell.ravel(), weights=np.abs(mat).ravel(), minlength=n_blocks)
    ranked = np.argsort(-norms, kind="stable")
    if within is not None:
        live = np.bincount(cell.ravel(), weights=within.ravel(), minlength=n_blocks) > 0
        ranked = ranked[live[ranked]]
    keep = np.zeros(n_blocks, dtype=bool)
    keep[ranked[:kept_blocks(ratio, len(ranked))]] = True
    return keep[cell] if within is None else keep[cell] & within


def _prune_blocks(mat: np.ndarray, block_rows: int, block_cols: int, ratio: float, run: int = 0) -> np.ndarray:
    """Zero all but the Phi blocks of largest L1 norm (:func:`_kept_cells`)."""
    return np.where(_kept_cells(mat, block_rows, block_cols, ratio, run), mat, 0)


def _prune_segments(mat: np.ndarray, keep: int, segment: int, period: int = 0,
                    masks: tuple[int, ...] = (), share: int = 1) -> np.ndarray:
    """Keep the ``keep`` largest-magnitude weights of every ``segment``-row piece of every column (restarting
    every ``period`` rows) or, with a mask set, the weights of the allowed mask that keeps the most
    magnitude (ties: the mask listed first); ``share`` adjacent columns keep one mask, chosen by their
    magnitude together."""
    out = np.zeros_like(mat)
    cols = np.arange(mat.shape[1])
    for seg in _segments(mat.shape[0], segment, period):
        block = mat[seg]
        score = _shared(np.abs(block), share, np.add)
        if masks:
            allowed = _mask_matrix(masks, block.shape[0])
            best = np.argmax(allowed @ score, axis=0)
            out[seg] = np.where(allowed[best].T != 0, block, 0.0)
            continue
        k = min(keep, block.shape[0])
        order = np.argsort(-score, axis=0, kind="stable")[:k]
        out[seg][order, cols] = block[order, cols]
    return out


def prune_matrices(mats: np.ndarray, flex: FlexBlock) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude-prune group matrices into ``flex``, in its stage order: intra-first, IntraBlock squeezes the
    weights into slots and FullBlock prunes blocks of the slot matrix; full-first, FullBlock prunes blocks
    of the weights (``ib_period`` rows high) and IntraBlock squeezes the segments inside each.

    Returns the pruned matrices and their hardware view (uint8 ``groups x height x cols``): a weight keeps
    the IntraBlock slot it was given, so the blocks FullBlock empties stay empty slot rows.
    """
    out = np.empty_like(mats, dtype=float)
    views = []
    ib = (flex.ib_keep, flex.ib_segment, flex.ib_period, flex.ib_masks, flex.ib_cols)
    for g, mat in enumerate(mats.astype(float)):
        if flex.has_intrablock:
            if flex.ib_period and flex.has_fullblock:
                mat = _prune_blocks(mat, flex.ib_period, flex.block_cols, flex.ratio)
            mat = _prune_segments(mat, *ib)
            values, where = slots(mat, *ib)
            if flex.has_fullblock and not flex.ib_period:
                values = _prune_blocks(values, flex.block_rows, flex.block_cols, flex.ratio)
            mat = np.zeros_like(mat)
            rows, cols = np.nonzero(where >= 0)
            mat[where[rows, cols], cols] = values[rows, cols]
            views.append(values != 0)
        else:
            if flex.has_fullblock:
                mat = _prune_blocks(mat, flex.block_rows, flex.block_cols, flex.ratio, flex.index_unit)
            views.append(mat != 0)
        out[g] = mat
    return out, np.stack(views).astype(np.uint8)


def _first_stage_keep(mat: np.ndarray, layer: Layer, flex: FlexBlock, flatten: str) -> np.ndarray:
    """The rows (row and channel stages) or columns (column stage) of one group's matrix that the first
    stage keeps, in order: the ``first_kept`` rows, input channels or columns of largest L1 norm."""
    a = np.abs(mat)
    if flex.first == L.FIRST_COLUMNS:
        norms = a.sum(axis=0)
    elif flex.first == L.FIRST_ROWS:
        norms = a.sum(axis=1)
    else:
        kernel = layer.R * layer.S
        channel = block_rows_of(mat.shape[0], kernel, channel_run(layer, flatten), flex.first_blocks)
        norms = np.bincount(channel, weights=a.sum(axis=1), minlength=flex.first_blocks)
    top = np.sort(np.argsort(-norms, kind="stable")[:flex.first_kept])
    if flex.first == L.FIRST_CHANNELS:
        return np.flatnonzero(np.isin(channel, top))
    return top


def _prune_nested(mats: np.ndarray, flex: FlexBlock) -> tuple[np.ndarray, np.ndarray]:
    """A first stage of narrower blocks, then the FullBlock pattern among the blocks it kept: each keeps the
    blocks of largest L1 norm (the pattern's norms of what the first stage left). Returns the pruned matrices
    and their hardware view (the whole matrix: nothing is squeezed)."""
    out = np.empty(mats.shape, dtype=float)
    for g, mat in enumerate(mats.astype(float)):
        kept = _kept_cells(mat, flex.first_block_rows, flex.first_block_cols, flex.first_ratio)
        if flex.has_fullblock:
            kept = _kept_cells(np.where(kept, mat, 0), flex.block_rows, flex.block_cols, flex.ratio, flex.index_unit,
                               within=kept)
        out[g] = np.where(kept, mat, 0)
    return out, (out != 0).astype(np.uint8)


def prune_composed(mats: np.ndarray, layer: Layer, flex: FlexBlock, flatten: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`prune_matrices` after ``flex``'s first stage: every group drops its weakest whole rows, input
    channels or columns, the pattern prunes the matrix that is left, and the result goes back in place.
    Returns the pruned matrices (full shape) and the hardware view of what is left (the matrix the pattern
    saw; one empty slot when the first stage keeps nothing)."""
    if flex.first == L.FIRST_NONE:
        return prune_matrices(mats, flex)
    if flex.first == L.FIRST_BLOCKS:
        return _prune_nested(mats, flex)
    out = np.zeros(mats.shape, dtype=float)
    if flex.first_kept == 0:
        return out, np.zeros((mats.shape[0], 1, 1), dtype=np.uint8)
    cols = flex.first == L.FIRST_COLUMNS
    keeps = [_first_stage_keep(m, layer, flex, flatten) for m in mats.astype(float)]
    left = np.stack([m[:, k] if cols else m[k] for m, k in zip(mats.astype(float), keeps, strict=True)])
    pruned, views = prune_matrices(left, flex)
    for g, k in enumerate(keeps):
        if cols:
            out[g][:, k] = pruned[g]
        else:
            out[g][k] = pruned[g]
    return out, views


def prune(weights: np.ndarray, layer: Layer, flex: FlexBlock, flatten: str = "CRS") -> np.ndarray:
    """``weights`` magnitude-pruned into ``flex`` (the same shape; deterministic)."""
    return from_matrices(prune_composed(weight_matrices(weights, layer, flatten), layer, flex, flatten)[0], layer,
                         flatten)


def pruned_masks(weights: np.ndarray, layer: Layer, flex: FlexBlock, flatten: str = "CRS") -> np.ndarray:
    """The hardware view of ``weights`` once magnitude-pruned into ``flex`` (of the matrix a first stage
    leaves)."""
    return prune_composed(weight_matrices(weights, layer, flatten), layer, flex, flatten)[1]


def hardware_masks(weights: np.ndarray, layer: Layer, flex: FlexBlock, flatten: str = "CRS") -> np.ndarray:
    """uint8 ``(groups, height, cols)``: which weight slots the hardware stores a non-zero in.

    Under IntraBlock each segment's non-zeros fill its slots from the first (the plain storage of weights
    given as they are; weights pruned here keep their pruning's slots, see :func:`pruned_masks`)."""
    mats = weight_matrices(weights, layer, flatten)
    if not flex.has_intrablock:
        return (mats != 0).astype(np.uint8)
    ib = (flex.ib_keep, flex.ib_segment, flex.ib_period, flex.ib_masks, flex.ib_cols)
    return np.stack([(slots(m, *ib)[1] >= 0) for m in mats]).astype(np.uint8)
