"""Stage 1: a layer's tile statistics under a sparsity and a mapping, computed once per distinct input.

Every point with the same layer and the same values of the keys marked *stats* (``spec_field(stage=STATS)``
in ``ciminus.specs``) shares one statistics row; the cache key is built from that marking, so a new
statistics key can never collide with another.
"""

from __future__ import annotations

import numpy as np

from ciminus.kernels import layout as L
from ciminus.kernels.jit import python
from ciminus.kernels.tile_stats import sparsity_reason
from ciminus.sparsity.activations import bit_profile
from ciminus.sparsity.flexblock import PATTERN_CODES, resolve
from ciminus.sparsity.masks import mask_columns
from ciminus.sparsity.sources import layer_activations, layer_weights
from ciminus.sparsity.stats import dense_stats, sparse_stats, weight_stats
from ciminus.specs.arch import ArchSpec
from ciminus.specs.fields import stats_keys
from ciminus.specs.mapping import MappingSpec, tile_shape_of
from ciminus.specs.sparsity import SparsitySpec
from ciminus.workloads.layers import Layer

_SPARSITY_KEYS = stats_keys(SparsitySpec)
_ARCH_KEYS = stats_keys(ArchSpec)
_MAPPING_KEYS = stats_keys(MappingSpec)


def stats_key(layer: Layer, sp: SparsitySpec, arch: ArchSpec, mapping: MappingSpec, onnx_path: str | None) -> tuple:
    """Everything a layer's sparse statistics depend on: the layer, the model file, and every *stats* key."""
    return (layer, onnx_path,
            *(getattr(sp, k) for k in _SPARSITY_KEYS),
            *(getattr(arch, k) for k in _ARCH_KEYS),
            *(getattr(mapping, k) for k in _MAPPING_KEYS))


class StatsCache:
    """Tile statistics shared by every point with the same layer, sparsity and array shape."""

    def __init__(self) -> None:
        self._sparse: dict[tuple, np.ndarray] = {}
        self._dense: dict[tuple, np.ndarray] = {}

    def dense(self, layer: Layer, arch: ArchSpec, mapping: MappingSpec | None = None) -> np.ndarray:
        key = (layer, *tile_shape(arch, mapping))
        if key not in self._dense:
            self._dense[key] = dense_stats(layer, *key[1:])
        return self._dense[key]

    def sparse(self, layer: Layer, sp: SparsitySpec, arch: ArchSpec, mapping: MappingSpec,
               onnx_path: str | None = None) -> np.ndarray:
        key = stats_key(layer, sp, arch, mapping, onnx_path)
        if key not in self._sparse:
            self._sparse[key] = layer_statistics(layer, sp, arch, mapping, onnx_path)
        return self._sparse[key]


def tile_shape(arch: ArchSpec, mapping: MappingSpec | None) -> tuple[int, int]:
    """(rows, columns) of the weight matrix one macro holds: the array, or the mapping's smaller tiling size."""
    if mapping is None:
        return arch.array_rows, arch.array_cols
    return tile_shape_of(mapping.tile_rows, mapping.tile_cols, arch.array_rows, arch.array_cols, arch.subarray_rows)


def layer_statistics(layer: Layer, sp: SparsitySpec, arch: ArchSpec, mapping: MappingSpec,
                     onnx_path: str | None) -> np.ndarray:
    """A layer's tile statistics: random masks, or its real weights; a measured input profile if given.

    A dynamic operand (attention scores) is produced at run time and cannot be pruned: it is dense.
    """
    X, Y = tile_shape(arch, mapping)
    if layer.dynamic:
        st = dense_stats(layer, X, Y).copy()
    else:
        flex = resolve(sp, layer, X, Y, mapping.flatten, mapping.compress)
        if sp.source == "random" or flex.compress == L.COMPRESS_NONE:
            st = sparse_stats(layer, flex, X, Y, arch.subarray_rows, arch.subarray_cols, mapping.rearrange,
                              mapping.index_format, sp.stats, sp.samples, sp.seed)
        else:
            weights = layer_weights(sp.source, onnx_path, layer)
            st = weight_stats(weights, layer, flex, X, Y, arch.subarray_rows, arch.subarray_cols, mapping.rearrange,
                              mapping.index_format, mapping.flatten, sp.prune)
        _, _, _, mask_len, mask_ones = mask_columns(sp.intrablock_masks)
        why = python(sparsity_reason)(PATTERN_CODES[sp.pattern], sp.ratio, sp.nm_n, sp.nm_m, mask_len, mask_ones)
        if why != L.REASON_OK:  # the same rule as the engine's stage 1
            st = st.copy()
            st[L.S_REASON] = why
    if sp.activations is not None:
        samples = layer_activations(sp.activations, layer)
        if samples is not None:
            st[L.S_F_ENERGY], st[L.S_F_CRIT], st[L.S_BIT_ONES] = bit_profile(
                samples, layer, min(X, layer.rows), arch.input_bits, arch.input_bits_per_cycle, mapping.flatten,
                seed=sp.seed)
    return st
