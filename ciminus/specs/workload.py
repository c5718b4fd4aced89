"""``[workload]``: what the work is — a built-in network or inline layers, and the batch size."""

from __future__ import annotations

from dataclasses import dataclass, field

from ciminus.specs.fields import CHOICE, INT, STR, spec_field
from ciminus.workloads.layers import Layer
from ciminus.workloads.networks import DATASETS, NETWORK_NAMES, SEQUENCE_NETWORKS


def network_layers(network: str, dataset: str, tokens: int | None) -> tuple[Layer, ...]:
    """A built-in network's layers; ``tokens`` applies to the networks that have a sequence length."""
    from ciminus.workloads.networks import builtin_network

    return builtin_network(network, dataset, tokens if network in SEQUENCE_NETWORKS else None)


@dataclass(frozen=True, kw_only=True)
class WorkloadSpec:
    """A network (built-in, by name) or a list of inline layers, run ``batch`` samples at a time."""

    network: str | None = spec_field(None, kind=CHOICE, choices=NETWORK_NAMES, doc="built-in network")
    onnx: str | None = spec_field(None, kind=STR, doc="an ONNX model: its Conv, Gemm and MatMul nodes and their weights")
    dataset: str = spec_field("imagenet", kind=CHOICE, choices=DATASETS,
                              doc="input size and classes of a built-in network (224 px / 1000, 32 px / 10 or 100)")
    tokens: int | None = spec_field(None, kind=INT, lo=1, hi=512,
                                    doc="sequence length of a built-in language model (bert-base; default 128)")
    batch: int = spec_field(1, kind=INT, lo=1, hi=1 << 20, doc="samples per run; the macros keep their weights across the batch")
    layers: tuple[Layer, ...] = field(default_factory=tuple)
