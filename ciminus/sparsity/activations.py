"""Input bit profiles: how many bit-serial cycles real activations leave to skip.

A macro runs a cycle only when one of the inputs it receives has a 1 in that cycle's bit planes (the
rule of ``kernels.equations.active_cycle_fraction``). With real activations the zeros are not
independent: a ReLU map has whole zero regions and small values leave the top planes empty. Here we
quantise samples to the macro's input precision, cut every input vector (im2col for a convolution) into
the rows one tile receives, and count the cycles that cannot be skipped.
"""

from __future__ import annotations

import numpy as np

from ciminus.kernels.tile_stats import ceil_div
from ciminus.workloads.layers import Layer


class ActivationsError(ValueError):
    """Activation samples that do not fit their layer."""


def quantise(x: np.ndarray, bits: int) -> np.ndarray:
    """Samples as ``bits``-bit codes (uint64): integers are taken as they are (two's complement when
    negative), floats are scaled to the full range by their largest magnitude (signed when any is negative)."""
    x = np.asarray(x)
    mask = (1 << bits) - 1
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(np.int64).astype(np.uint64) & np.uint64(mask)
    top = float(np.max(np.abs(x))) if x.size else 0.0
    if top == 0.0:
        return np.zeros(x.shape, dtype=np.uint64)
    if np.any(x < 0):
        q = np.rint(x / top * ((1 << (bits - 1)) - 1)).astype(np.int64)
        return q.astype(np.uint64) & np.uint64(mask)
    return np.rint(x / top * mask).astype(np.uint64)


def input_vectors(samples: np.ndarray, layer: Layer, flatten: str, max_vectors: int, seed: int) -> np.ndarray:
    """``(vectors, groups, rows)``: input vectors of the layer (im2col for a conv), rows in ``flatten`` order,
    at most ``max_vectors`` of them drawn without replacement (reproducibly)."""
    x = np.asarray(samples)
    rng = np.random.default_rng(seed)
    if layer.kind == "conv":
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4 or x.shape[1:] != (layer.C, layer.H, layer.W):
            raise ActivationsError(f"layer {layer.name!r}: activations of shape {x.shape}, expected "
                                   f"(samples, {layer.C}, {layer.H}, {layer.W})")
        n, E, F = x.shape[0], layer.E, layer.F
        total = n * E * F
        pick = np.sort(rng.choice(total, size=min(max_vectors, total), replace=False))
        s, e, f = pick // (E * F), (pick // F) % E, pick % F
        p = layer.pad
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        r = np.arange(layer.R) * layer.dilation
        c = np.arange(layer.S) * layer.dilation
        rows = e[:, None] * layer.stride + r[None, :]  # (v, R)
        cols = f[:, None] * layer.stride + c[None, :]  # (v, S)
        patch = xp[s[:, None, None, None], np.arange(layer.C)[None, :, None, None],
                   rows[:, None, :, None], cols[:, None, None, :]]  # (v, C, R, S)
        g, cg = layer.groups, layer.C // layer.groups
        patch = patch.reshape(len(pick), g, cg, layer.R, layer.S)
        axes = {"C": 2, "R": 3, "S": 4}
        return patch.transpose(0, 1, *(axes[d] for d in flatten)).reshape(len(pick), g, layer.rows)
    flat = x.reshape(-1, x.shape[-1])
    if flat.shape[-1] != layer.C:
        raise ActivationsError(f"layer {layer.name!r}: activations with {flat.shape[-1]} features, expected {layer.C}")
    pick = np.sort(rng.choice(flat.shape[0], size=min(max_vectors, flat.shape[0]), replace=False))
    return flat[pick][:, None, :]


def bit_profile(samples: np.ndarray, layer: Layer, tile_rows: int, input_bits: int, bits_per_cycle: int,
                flatten: str = "CRS", max_vectors: int = 4096, seed: int = 0) -> tuple[float, float, float]:
    """(energy fraction, critical fraction) of bit-serial cycles that run, and the fraction of input bits
    that are 1 (zero inputs included: what switches the bit cells' gates).

    Each group's input vector is cut into tiles of ``tile_rows`` consecutive rows (the dense tiling; a
    compressed tile is taken to see the same statistics). The energy fraction averages over every
    (vector, tile); the critical fraction is that of the slowest tile position, averaged over vectors.
    """
    codes = quantise(input_vectors(samples, layer, flatten, max_vectors, seed), input_bits)
    v, g, rows = codes.shape
    n_tiles = ceil_div(rows, tile_rows)
    padded = np.zeros((v, g, n_tiles * tile_rows), dtype=np.uint64)
    padded[:, :, :rows] = codes
    tiles = np.bitwise_or.reduce(padded.reshape(v, g, n_tiles, tile_rows), axis=3)  # bits set in any input
    cycles = ceil_div(input_bits, bits_per_cycle)
    active = np.zeros((v, g, n_tiles))
    for cyc in range(cycles):
        lo = cyc * bits_per_cycle
        width = min(bits_per_cycle, input_bits - lo)
        plane_mask = np.uint64(((1 << width) - 1) << lo)
        active += (tiles & plane_mask) != 0
    frac = active / cycles
    ones = sum(float(((codes >> np.uint64(b)) & np.uint64(1)).sum()) for b in range(input_bits))
    return float(frac.mean()), float(frac.mean(axis=0).max()), ones / (codes.size * input_bits)
