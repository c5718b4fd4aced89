"""Real weights: flatten them as a mapping does, prune them into a FlexBlock, and see their zeros as the
hardware does.

A weight tensor (conv ``(K, C/groups, R, S)``, linear ``(K, C)``) becomes one ``rows x cols`` matrix per group,
its rows in the mapping's flattening order. Magnitude pruning keeps the largest blocks (FullBlock, by L1
norm) and the largest weights of each column segment (IntraBlock), deterministically. The hardware view
of a pruned matrix is what :func:`kernels.tile_stats.mask_tile_stats` counts: IntraBlock squeezes every
``m``-row segment of a column into ``k`` slots.
"""

from __future__ import annotations

import numpy as np

from ciminus.kernels.tile_stats import ceil_div, intrablock_height, kept_blocks
from ciminus.sparsity.flexblock import FlexBlock
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


def _segments(rows: int, segment: int) -> list[slice]:
    return [slice(i, min(rows, i + segment)) for i in range(0, rows, segment)]


def slots(mat: np.ndarray, keep: int, segment: int) -> tuple[np.ndarray, np.ndarray]:
    """IntraBlock hardware view of one matrix: ``(slot_values, slot_rows)``, each ``height x cols``.

    Every ``segment``-row piece of a column keeps its non-zeros in order in ``keep`` slots; a slot's row
    is the original row its weight came from (-1 for an empty slot). More non-zeros than slots is an error:
    the hardware cannot store them.
    """
    rows, cols = mat.shape
    height = intrablock_height(rows, keep, segment)
    values = np.zeros((height, cols), dtype=mat.dtype)
    where = np.full((height, cols), -1, dtype=np.int64)
    base = 0
    for seg in _segments(rows, segment):
        width = min(keep, seg.stop - seg.start)
        block = mat[seg]
        nz = block != 0
        counts = nz.sum(axis=0)
        if counts.max(initial=0) > width:
            col = int(np.argmax(counts))
            raise WeightsError(f"column {col} keeps {int(counts[col])} non-zeros in rows {seg.start}..{seg.stop - 1}; "
                               f"the {keep}:{segment} format stores at most {width}")
        for c in range(cols):
            idx = np.flatnonzero(nz[:, c])
            values[base: base + len(idx), c] = block[idx, c]
            where[base: base + len(idx), c] = seg.start + idx
        base += width
    return values, where


def _prune_blocks(mat: np.ndarray, block_rows: int, block_cols: int, ratio: float) -> np.ndarray:
    """Zero all but the Phi blocks of largest L1 norm (ties: the earlier block wins)."""
    rows, cols = mat.shape
    hb, nb = ceil_div(rows, block_rows), ceil_div(cols, block_cols)
    padded = np.zeros((hb * block_rows, nb * block_cols), dtype=float)
    padded[:rows, :cols] = np.abs(mat)
    norms = padded.reshape(hb, block_rows, nb, block_cols).sum(axis=(1, 3)).ravel()
    keep = np.zeros(hb * nb, dtype=bool)
    n_keep = kept_blocks(ratio, hb * nb)
    keep[np.argsort(-norms, kind="stable")[:n_keep]] = True
    mask = np.repeat(np.repeat(keep.reshape(hb, nb), block_rows, axis=0), block_cols, axis=1)[:rows, :cols]
    return np.where(mask, mat, 0)


def _prune_segments(mat: np.ndarray, keep: int, segment: int) -> np.ndarray:
    """Keep the ``keep`` largest-magnitude weights of every ``segment``-row piece of every column."""
    out = np.zeros_like(mat)
    for seg in _segments(mat.shape[0], segment):
        block = mat[seg]
        k = min(keep, block.shape[0])
        order = np.argsort(-np.abs(block), axis=0, kind="stable")[:k]
        cols = np.arange(block.shape[1])
        out[seg][order, cols] = block[order, cols]
    return out


def prune_matrices(mats: np.ndarray, flex: FlexBlock) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude-prune group matrices into ``flex``: IntraBlock first, then FullBlock on the slot matrix.

    Returns the pruned matrices and their hardware view (uint8 ``groups x height x cols``): a weight keeps
    the IntraBlock slot it was given, so the blocks FullBlock empties stay empty slot rows.
    """
    out = np.empty_like(mats, dtype=float)
    views = []
    for g, mat in enumerate(mats.astype(float)):
        if flex.has_intrablock:
            mat = _prune_segments(mat, flex.ib_keep, flex.ib_segment)
            values, where = slots(mat, flex.ib_keep, flex.ib_segment)
            if flex.has_fullblock:
                values = _prune_blocks(values, flex.block_rows, flex.block_cols, flex.ratio)
            mat = np.zeros_like(mat)
            rows, cols = np.nonzero(where >= 0)
            mat[where[rows, cols], cols] = values[rows, cols]
            views.append(values != 0)
        else:
            if flex.has_fullblock:
                mat = _prune_blocks(mat, flex.block_rows, flex.block_cols, flex.ratio)
            views.append(mat != 0)
        out[g] = mat
    return out, np.stack(views).astype(np.uint8)


def prune(weights: np.ndarray, layer: Layer, flex: FlexBlock, flatten: str = "CRS") -> np.ndarray:
    """``weights`` magnitude-pruned into ``flex`` (the same shape; deterministic)."""
    return from_matrices(prune_matrices(weight_matrices(weights, layer, flatten), flex)[0], layer, flatten)


def pruned_masks(weights: np.ndarray, layer: Layer, flex: FlexBlock, flatten: str = "CRS") -> np.ndarray:
    """The hardware view of ``weights`` once magnitude-pruned into ``flex``."""
    return prune_matrices(weight_matrices(weights, layer, flatten), flex)[1]


def hardware_masks(weights: np.ndarray, layer: Layer, flex: FlexBlock, flatten: str = "CRS") -> np.ndarray:
    """uint8 ``(groups, height, cols)``: which weight slots the hardware stores a non-zero in.

    Under IntraBlock each segment's non-zeros fill its slots from the first (the plain storage of weights
    given as they are; weights pruned here keep their pruning's slots, see :func:`pruned_masks`)."""
    mats = weight_matrices(weights, layer, flatten)
    if not flex.has_intrablock:
        return (mats != 0).astype(np.uint8)
    return np.stack([(slots(m, flex.ib_keep, flex.ib_segment)[1] >= 0) for m in mats]).astype(np.uint8)
