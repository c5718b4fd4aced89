"""Layer records: the shapes a CIM macro sees once a tensor operation is flattened to a matrix.

A convolution with ``C`` input channels, ``K`` filters of ``R x S`` and ``groups`` groups is, per group,
a ``(C/groups * R * S) x (K/groups)`` weight matrix (rows = reduction = wordlines, columns = outputs)
multiplied by one input vector per output pixel. A linear layer is the same with ``R = S = 1`` and one
vector per token. Everything else in a network (pooling, element-wise adds, activations) is
post-processing and is not priced on the macros.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("conv", "linear", "matmul")


@dataclass(frozen=True)
class Layer:
    """One weight-bearing layer of a network.

    ``H, W`` are the input feature-map height and width (before padding); ``tokens`` is the number of
    input vectors per sample for ``linear``/``matmul`` layers. ``count`` repeats an identical layer
    (e.g. the twelve encoder blocks of a transformer) without listing it twelve times. ``dynamic`` marks a
    ``matmul`` whose weight operand is produced at run time (attention scores), so it must be written into
    the macros for every sample. ``input_density`` overrides the sweep's input density for this layer.
    """

    name: str
    kind: str
    C: int
    K: int
    R: int = 1
    S: int = 1
    H: int = 1
    W: int = 1
    stride: int = 1
    pad: int = 0
    dilation: int = 1
    groups: int = 1
    count: int = 1
    tokens: int = 1
    dynamic: bool = False
    input_density: float | None = None

    # ----- derived shapes -------------------------------------------------------------------------
    @property
    def E(self) -> int:
        """Output height."""
        if self.kind != "conv":
            return 1
        return (self.H + 2 * self.pad - self.dilation * (self.R - 1) - 1) // self.stride + 1

    @property
    def F(self) -> int:
        """Output width."""
        if self.kind != "conv":
            return 1
        return (self.W + 2 * self.pad - self.dilation * (self.S - 1) - 1) // self.stride + 1

    @property
    def vectors(self) -> int:
        """Input vectors per sample: output pixels of a conv, tokens of a linear/matmul layer."""
        return self.E * self.F if self.kind == "conv" else self.tokens

    @property
    def rows(self) -> int:
        """Rows of one group's weight matrix (the reduction length, ``C/groups * R * S``)."""
        return (self.C // self.groups) * self.R * self.S

    @property
    def cols(self) -> int:
        """Columns of one group's weight matrix (``K/groups``)."""
        return self.K // self.groups

    @property
    def weights(self) -> int:
        """Number of weights of the layer (all groups, one repeat)."""
        return self.rows * self.cols * self.groups

    @property
    def macs(self) -> int:
        """Multiply-accumulates per sample (all groups, one repeat)."""
        return self.weights * self.vectors

    @property
    def input_elements(self) -> int:
        """Distinct input activations per sample (the unexpanded input feature map)."""
        if self.kind == "conv":
            return self.C * self.H * self.W
        return self.C * self.tokens

    @property
    def input_reuse(self) -> float:
        """How many input vectors each distinct input element appears in (im2col expansion, >= 1)."""
        return max(1.0, self.vectors * self.rows * self.groups / self.input_elements)

    @property
    def window(self) -> int:
        """Input rows one output row spans (the dilated kernel height)."""
        return self.dilation * (self.R - 1) + 1

    @property
    def output_elements(self) -> int:
        """Output activations per sample."""
        return self.K * self.vectors
