"""``[accuracy]``: validation data to run every pruned model on, and what to measure on it."""

from __future__ import annotations

from dataclasses import dataclass

from ciminus.specs.fields import CHOICE, STR, spec_field

METRICS = ("top1", "top5", "agreement")


@dataclass(frozen=True, kw_only=True)
class AccuracySpec:
    """The accuracy of each pruned model (``sparsity.source = "weights"``, ``prune = true``)."""

    data: str = spec_field(kind=STR, sweepable=False,
                           doc='an .npz with "inputs" (the model\'s input, batch first) and, for top1/top5, '
                               '"labels" (integer classes); relative to the sweep file')
    metric: str = spec_field("top1", kind=CHOICE, choices=METRICS, sweepable=False,
                             doc='"top1" / "top5": fraction of inputs whose label is the (five) highest '
                                 'output(s); "agreement": fraction whose highest output is that of the '
                                 '"outputs" array when the data has one, else the dense model\'s')
