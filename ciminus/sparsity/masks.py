"""IntraBlock mask sets: the binary masks a column segment may keep, and what they cost in hardware.

``sparsity.intrablock_masks = "1100,0110,0011"`` lets every ``nm_m``-row column segment keep one of these
masks (the first character is the segment's first row), a generalised N:M [Q26]; ``"all"`` (the default)
allows every way of keeping ``k`` of ``m``. Every mask keeps the same number of weights, so the slot
matrix is the same as k-of-m; the set decides the rest of the hardware: the ``s``-th kept weight of a
segment can come from only the positions the ``s``-th one of some mask takes (each slot's multiplexer
fan-in), inputs at positions no mask keeps are never fetched, and a segment's choice can be stored as one
mask number instead of a position per slot.

Two IntraBlock stages in a row, ``"4:8 then 1:2"`` (keep 4 of every 8 weights, then 1 of every 2 of the
slots they leave), are one IntraBlock with the set of masks the pair can produce: :func:`compose` expands
them over one period of both (``m1 * lcm(k1, m2) / k1`` rows), so the rest of the model, the Monte-Carlo
masks and magnitude pruning price the composition as any other mask set. The hardware this assumes stores
a segment's final mask (one number) and selects each slot's input from the positions it can take, i.e.
it collapses the two multiplexer levels into one; a design that keeps both levels pays more multiplexer
and index energy than priced here.

[Q26] Qi et al., IEEE Trans. Computers 75(1):380-394, 2026 (IntraBlock: "a set of binary mask patterns").
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

MAX_MASK_LEN = 32  # positions of a mask: the used-position set travels as an exact float bit set
MAX_COMPOSED = 1 << 20  # stage-by-stage choices :func:`compose` may enumerate
MAX_MASKS = 1 << 14  # masks of a set (magnitude pruning scores every allowed mask of every segment)


@dataclass(frozen=True)
class MaskSet:
    """A parsed mask set; ``masks`` as bit sets (bit i: the segment's row i)."""

    masks: tuple[int, ...]
    length: int

    @property
    def ones(self) -> int:
        return self.masks[0].bit_count()

    @property
    def used(self) -> int:
        """Positions any mask keeps, as a bit set."""
        bits = 0
        for m in self.masks:
            bits |= m
        return bits

    @property
    def fanin(self) -> int:
        """The most positions one slot selects from: slot s takes the s-th kept position of the mask."""
        choices: list[set[int]] = [set() for _ in range(self.ones)]
        for m in self.masks:
            for s, pos in enumerate(p for p in range(self.length) if m >> p & 1):
                choices[s].add(pos)
        return max((len(c) for c in choices), default=1)

    @property
    def index_bits(self) -> int:
        """Bits that number a mask of the set."""
        return max(0, math.ceil(math.log2(len(self.masks)))) if len(self.masks) > 1 else 0

    def positions(self) -> list[list[int]]:
        """Each mask's kept positions, in order."""
        return [[p for p in range(self.length) if m >> p & 1] for m in self.masks]


def _stage(text: str) -> tuple[int, int]:
    """``"k:m"`` -> (k, m), 1 <= k <= m."""
    k, sep, m = text.partition(":")
    try:
        keep, length = int(k), int(m)
    except ValueError:
        raise ValueError(f"IntraBlock stage {text.strip()!r} is not k:m (\"2:4\")") from None
    if not sep or not 1 <= keep <= length or length < 2:
        raise ValueError(f"IntraBlock stage {text.strip()!r} is not k:m with 1 <= k <= m and m >= 2")
    return keep, length


def compose(stages: list[tuple[int, int]]) -> MaskSet:
    """The masks IntraBlock stages ``[(k1, m1), (k2, m2), ...]`` applied in turn can leave: each stage keeps
    ``k`` of every ``m`` consecutive slots the previous one kept (the first: of the weight rows), over one
    period of all of them. Raises ValueError when a stage or the period exceeds ``MAX_MASK_LEN`` rows, the
    first stage allows more than ``MAX_MASKS`` masks, or the enumeration more than ``MAX_COMPOSED`` choices
    (checked before anything is enumerated)."""
    k1, m1 = stages[0]
    if m1 > MAX_MASK_LEN:
        raise ValueError(f"a stage {m1} rows long, more than {MAX_MASK_LEN}")
    if math.comb(m1, k1) > MAX_MASKS:
        raise ValueError(f"{k1}:{m1} allows {math.comb(m1, k1)} masks, more than {MAX_MASKS}")
    masks = {sum(1 << p for p in c) for c in itertools.combinations(range(m1), k1)}
    length, ones = m1, k1
    for keep, seg in stages[1:]:
        reps = math.lcm(ones, seg) // ones  # periods of the set that fill whole segments of this stage
        if length * reps > MAX_MASK_LEN:
            raise ValueError(f"the stages repeat every {length * reps} rows, more than {MAX_MASK_LEN}")
        groups = ones * reps // seg
        work = len(masks) ** reps * math.comb(seg, keep) ** groups
        if work > MAX_COMPOSED:
            raise ValueError(f"the stages make {work:.3g} choices to enumerate, more than {MAX_COMPOSED}")
        picks = list(itertools.combinations(range(seg), keep))
        out: set[int] = set()
        for parts in itertools.product(sorted(masks), repeat=reps):
            slots = [r * length + p for r, m in enumerate(parts) for p in range(length) if m >> p & 1]
            for choice in itertools.product(picks, repeat=groups):
                out.add(sum(1 << slots[g * seg + i] for g, c in enumerate(choice) for i in c))
        masks, length, ones = out, length * reps, ones * reps * keep // seg
    return MaskSet(tuple(sorted(masks, reverse=True)), length)


def parse_masks(text: str) -> MaskSet | None:
    """``"1100,0011"`` -> a :class:`MaskSet`; ``"all"`` -> None; ``"4:8 then 1:2"`` -> the set of
    :func:`compose`. Raises ValueError saying what is wrong."""
    text = text.strip()
    if text == "all":
        return None
    if ":" in text:
        ms = compose([_stage(part) for part in text.split("then")])
        if len(ms.masks) > MAX_MASKS:
            raise ValueError(f"the stages allow {len(ms.masks)} masks, more than {MAX_MASKS}")
        return ms
    parts = [p.strip() for p in text.split(",")]
    if not parts or any(not p for p in parts):
        raise ValueError("an empty mask")
    bad = next((p for p in parts if set(p) - {"0", "1"}), None)
    if bad is not None:
        raise ValueError(f"mask {bad!r} is not a string of 0 and 1")
    lengths = {len(p) for p in parts}
    if len(lengths) > 1:
        raise ValueError(f"masks of different lengths {sorted(lengths)}")
    length = lengths.pop()
    if not 2 <= length <= MAX_MASK_LEN:
        raise ValueError(f"masks {length} long")
    ones = {p.count("1") for p in parts}
    if len(ones) > 1:
        raise ValueError(f"masks keeping different counts {sorted(ones)} (IntraBlock keeps a fixed number)")
    if ones == {0}:
        raise ValueError("masks that keep nothing")
    if len(set(parts)) != len(parts):
        raise ValueError("a mask listed twice")
    if len(parts) > MAX_MASKS:
        raise ValueError(f"{len(parts)} masks, more than {MAX_MASKS}")
    return MaskSet(tuple(sum(1 << i for i, ch in enumerate(p) if ch == "1") for p in parts), length)


def mask_columns(text: str) -> tuple[int, int, int, int, int]:
    """The numbers stage 1 reads (``JOB_IB_MASKS``, ``_FANIN``, ``_USED``, ``_LEN``, ``_ONES``); zeros for "all"."""
    ms = parse_masks(text)
    if ms is None:
        return 0, 0, 0, 0, 0
    return len(ms.masks), ms.fanin, ms.used, ms.length, ms.ones
