"""``[sparsity]``: which weights are zero (FlexBlock) and how dense the inputs are."""

from __future__ import annotations

from dataclasses import dataclass, field

from ciminus.kernels.layout import FIRST_STAGES, STAGE_ORDERS
from ciminus.specs.fields import (
    BOOL,
    BOOL_OR_AUTO,
    CHOICE,
    FLOAT,
    INT,
    INT_OR_CHOICE,
    MASKS,
    PROFILE,
    STATS,
    STR,
    spec_field,
)

PATTERNS = (
    "dense",
    "row-wise",
    "row-block",
    "column-wise",
    "column-block",
    "channel-wise",
    "nm",
    "hybrid",
    "unstructured",
    "flexblock",
)


@dataclass(frozen=True, kw_only=True)
class SparsitySpec:
    """A FlexBlock weight sparsity (at most one FullBlock and one IntraBlock stage, in either order, optionally
    after a first FullBlock stage of whole rows, channels, columns or blocks) and an input density.

    ``ratio`` is the fraction of zero blocks removed by the pattern's FullBlock stage; for ``nm`` it is the
    fraction of zeros in every ``nm_m``-long column segment (0.5 with nm_m = 4 is 2:4), for
    ``unstructured`` the fraction of zero weights. ``docs/sparsity.md`` gives each preset's blocks.
    """

    pattern: str = spec_field("dense", kind=CHOICE, choices=PATTERNS, stage=STATS, doc="sparsity pattern")
    ratio: float = spec_field(0.0, kind=FLOAT, lo=0.0, hi=1.0, hi_open=True, stage=STATS,
                              doc="fraction of pruned blocks (FullBlock) or of zeros per segment (nm)")
    block_rows: int | str | None = spec_field(None, kind=INT_OR_CHOICE, lo=1, hi=1 << 24,
                                              choices=("all", "kernel", "array"), stage=STATS,
                                              doc='FullBlock block height in weight-matrix rows; "all" rows, one "kernel" window (R*S), or one "array" height')
    block_cols: int | str | None = spec_field(None, kind=INT_OR_CHOICE, lo=1, hi=1 << 24,
                                              choices=("all", "array"), stage=STATS,
                                              doc='FullBlock block width in columns; "all" columns or one "array" width')
    nm_n: int = spec_field(2, kind=INT, lo=1, hi=1024, stage=STATS,
                           doc="IntraBlock: non-zeros kept per segment (hybrid and flexblock)")
    nm_m: int = spec_field(4, kind=INT, lo=2, hi=1024, stage=STATS, doc="IntraBlock: column-segment length")
    intrablock_masks: str = spec_field("all", kind=MASKS, stage=STATS,
                                       doc='IntraBlock: the masks a segment may keep ("1100,0011": first character = '
                                           'first row; nm_m long, each keeping the same count), "all" k of m, or '
                                           'two IntraBlock stages in turn ("4:8 then 1:2": the masks they can leave)')
    intrablock_cols: int = spec_field(1, kind=INT, lo=1, hi=1 << 24, stage=STATS,
                                      doc="IntraBlock: adjacent weight columns that keep the same mask (blocks of "
                                          "nm_m x intrablock_cols): their slots share one input multiplexer and one index")
    first: str = spec_field("none", kind=CHOICE, choices=FIRST_STAGES, stage=STATS,
                            doc="a first FullBlock stage that prunes whole rows, input channels or columns, or "
                                '"block"s of first_block_rows x first_block_cols (at first_ratio, by L1 norm with '
                                "real weights), before the pattern acts on what is left")
    first_ratio: float = spec_field(0.0, kind=FLOAT, lo=0.0, hi=1.0, hi_open=True, stage=STATS,
                                    doc="fraction of rows, channels, columns or blocks the first stage prunes")
    first_block_rows: int | str = spec_field(1, kind=INT_OR_CHOICE, lo=1, hi=1 << 24, choices=("all", "kernel", "array"),
                                             stage=STATS,
                                             doc='first = "block": block height in weight-matrix rows; "all" rows, '
                                                 'one "kernel" window (R*S), or one "array" height')
    first_block_cols: int | str = spec_field("array", kind=INT_OR_CHOICE, lo=1, hi=1 << 24, choices=("all", "array"),
                                             stage=STATS,
                                             doc='first = "block": block width in columns; "all" columns or one '
                                                 '"array" width')
    order: str = spec_field("intra-first", kind=CHOICE, choices=STAGE_ORDERS, stage=STATS,
                            doc='hybrid and flexblock: IntraBlock squeezes segments, then FullBlock prunes blocks of '
                                'the slots ("intra-first"), or FullBlock prunes blocks of the weights (block_rows '
                                'weight rows, default nm_m) and IntraBlock squeezes inside each ("full-first")')
    input_density: float = spec_field(1.0, kind=FLOAT, lo=0.0, hi=1.0, lo_open=True,
                                      doc="fraction of non-zero input activations")
    input_profile: str = spec_field("laplace", kind=CHOICE, choices=("laplace", "independent", "given"),
                                    doc='bits of a non-zero input by position: quantised post-ReLU Laplace values '
                                        '("laplace"), every bit 1 at input_bit_density ("independent"), or each '
                                        'position at its own probability of input_bit_ones ("given")')
    input_bit_ones: str | None = spec_field(None, kind=PROFILE,
                                            doc='"given" profile: P(bit is 1) of a non-zero input per bit position, '
                                                'least significant first, input_bits of them ("0.48,0.45,...")')
    input_clip: float | None = spec_field(None, kind=FLOAT, lo=0.0, hi=1000.0, lo_open=True,
                                          doc="laplace profile: clipping of the quantiser in units of the Laplace "
                                              "scale (default: the MSE-optimal clip for input_bits)")
    input_bit_density: float = spec_field(0.5, kind=FLOAT, lo=0.0, hi=1.0, lo_open=True,
                                          doc='"independent" profile: fraction of 1 bits in a non-zero input')
    weight_bit_density: float = spec_field(0.5, kind=FLOAT, lo=0.0, hi=1.0,
                                           doc="fraction of 1 bits in a non-zero weight (adder-tree activity)")
    input_skip: bool | str = spec_field("auto", kind=BOOL_OR_AUTO,
                                        doc='skip all-zero input bit planes (zero detection); "auto" = where the '
                                            "input density is below 1 or activations are given")
    source: str = spec_field("random", kind=STR, stage=STATS,
                             doc='where the zeros come from: "random" masks of the pattern, "weights" (the ONNX '
                                 "model's) or an .npz of weights by layer name")
    prune: bool = spec_field(False, kind=BOOL, stage=STATS,
                             doc="magnitude-prune the real weights into the pattern at ratio (else use their zeros as they are)")
    activations: str | None = spec_field(None, kind=STR, stage=STATS,
                                         doc="an .npz of activation samples by layer name: measured bit-plane skipping")
    stats: str = spec_field("expected", kind=CHOICE, choices=("expected", "monte-carlo"), stage=STATS,
                            doc="random masks: closed-form expectation or Monte-Carlo masks")
    samples: int = spec_field(32, kind=INT, lo=1, hi=1_000_000, stage=STATS, doc="Monte-Carlo masks per layer")
    seed: int = spec_field(0, kind=INT, lo=0, hi=2**63 - 1, stage=STATS, doc="Monte-Carlo seed")
    layer_input_density: dict[str, float] = field(default_factory=dict)
