"""Field metadata for the spec dataclasses: what a TOML key accepts, in words a user can act on.

Each spec is a frozen dataclass whose fields carry a :class:`Field` in their metadata. Validation, the
documentation table of keys and the sweep lowering all read the same metadata, so the range a message
quotes is the range that is enforced.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

# Kinds of values a key accepts.
INT = "int"
FLOAT = "float"
BOOL = "bool"
STR = "str"
CHOICE = "choice"
INT_OR_CHOICE = "int_or_choice"  # an integer, or one of a few symbolic values ("all", "array", ...)
FLOAT_OR_CHOICE = "float_or_choice"  # a number, or one of a few symbolic values ("auto", ...)
BOOL_OR_AUTO = "bool_or_auto"
MASKS = "masks"  # an IntraBlock mask set: "all", or comma-separated binary masks (ciminus.sparsity.masks)
PROFILE = "profile"  # probabilities by bit position, comma-separated, least significant bit first


def parse_profile(text: str) -> tuple[float, ...]:
    """``"0.48,0.45,0.3"`` -> (0.48, 0.45, 0.3): one probability per bit position, least significant first.
    Raises ValueError saying what is wrong."""
    from ciminus.kernels.layout import MAX_PROFILE_BITS

    parts = [p.strip() for p in text.split(",")]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError("not numbers separated by commas") from None
    if not 1 <= len(values) <= MAX_PROFILE_BITS:
        raise ValueError(f"{len(values)} bit positions (1 to {MAX_PROFILE_BITS})")
    bad = next((v for v in values if not 0.0 <= v <= 1.0), None)
    if bad is not None:
        raise ValueError(f"probability {bad:g} outside 0 to 1")
    return values

# What a key influences: "stats" keys change the tile statistics of a layer, "price" keys only its cost.
STATS = "stats"
PRICE = "price"


@dataclass(frozen=True)
class Field:
    """The contract of one TOML key."""

    kind: str
    doc: str
    unit: str = ""
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False  # lo itself excluded
    hi_open: bool = False  # hi itself excluded
    choices: tuple[str, ...] = ()
    sweepable: bool = True
    stage: str = PRICE

    def allowed(self) -> str:
        """What the key accepts, as a phrase for error messages and the key reference."""
        if self.kind == BOOL:
            return "true or false"
        if self.kind == BOOL_OR_AUTO:
            return 'true, false or "auto"'
        if self.kind == PROFILE:
            return ('probabilities from 0 to 1 separated by commas, one per input bit, least significant first '
                    '("0.48,0.45,0.41,0.35,0.26,0.15,0.06,0.01")')
        if self.kind == MASKS:
            return ('"all", masks of 0 and 1 separated by commas ("1100,0110,0011"), 2 to 32 long, keeping one count, '
                    'or IntraBlock stages in turn ("4:8 then 1:2")')
        if self.kind in (CHOICE, STR) and self.choices:
            return "one of " + ", ".join(f'"{c}"' for c in self.choices)
        if self.kind == STR:
            return "a string"
        noun = "an integer" if self.kind in (INT, INT_OR_CHOICE) else "a number"
        rng = _range_phrase(self)
        text = f"{noun}{rng}"
        if self.unit:
            text += f" ({self.unit})"
        if self.kind in (INT_OR_CHOICE, FLOAT_OR_CHOICE):
            text += " or one of " + ", ".join(f'"{c}"' for c in self.choices)
        return text

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable (None when it is)."""
        if self.kind == BOOL:
            return None if isinstance(value, bool) else _wrong_type(value)
        if self.kind == BOOL_OR_AUTO:
            if isinstance(value, bool) or value == "auto":
                return None
            return _wrong_type(value) if not isinstance(value, str) else "not allowed"
        if self.kind in (PROFILE, MASKS):  # strings with a syntax of their own: their parser says what is wrong
            if not isinstance(value, str):
                return _wrong_type(value)
            from ciminus.sparsity.masks import parse_masks

            try:
                (parse_profile if self.kind == PROFILE else parse_masks)(value)
            except ValueError as e:
                return str(e)
            return None
        if self.kind in (CHOICE, STR):
            if not isinstance(value, str):
                return _wrong_type(value)
            if self.choices and value not in self.choices:
                return "not allowed"
            return None
        if self.kind in (INT_OR_CHOICE, FLOAT_OR_CHOICE) and isinstance(value, str):
            return None if value in self.choices else "not allowed"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return _wrong_type(value)
        if self.kind in (INT, INT_OR_CHOICE) and not isinstance(value, int):
            if not (isinstance(value, float) and value.is_integer()):
                return "not an integer"
        if isinstance(value, float) and not math.isfinite(value):
            return "not a finite number"
        if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
            return "out of range"
        if self.hi is not None and (value > self.hi or (self.hi_open and value == self.hi)):
            return "out of range"
        return None

    def normalise(self, value: Any) -> Any:
        """The value in its canonical Python type (integral floats of integer keys become ints)."""
        if self.kind in (INT, INT_OR_CHOICE) and isinstance(value, float):
            return int(value)
        if self.kind in (FLOAT, FLOAT_OR_CHOICE) and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value


def _range_phrase(f: Field) -> str:
    def fmt(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else repr(x)

    if f.lo is not None and f.hi is not None:
        if not f.lo_open and not f.hi_open:
            return f" from {fmt(f.lo)} to {fmt(f.hi)}"
        lo = ">" if f.lo_open else ">="
        hi = "<" if f.hi_open else "<="
        return f" {lo} {fmt(f.lo)} and {hi} {fmt(f.hi)}"
    if f.lo is not None:
        return f" {'>' if f.lo_open else '>='} {fmt(f.lo)}"
    if f.hi is not None:
        return f" {'<' if f.hi_open else '<='} {fmt(f.hi)}"
    return ""


def _wrong_type(value: Any) -> str:
    return f"wrong type ({type_name(value)})"


def type_name(value: Any) -> str:
    """A TOML-flavoured name for the type of ``value``."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def toml_repr(value: Any) -> str:
    """``value`` written as it would appear in a TOML file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_repr(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_repr(v)}" for k, v in value.items()) + "}"
    return repr(value)


def spec_field(default: Any = dataclasses.MISSING, **meta: Any) -> Any:
    """A dataclass field carrying its :class:`Field` contract."""
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata={"spec": Field(**meta)})
    return dataclasses.field(default=default, metadata={"spec": Field(**meta)})


def spec_fields(cls: type) -> dict[str, Field]:
    """The key contracts of a spec dataclass, in declaration order."""
    return {f.name: f.metadata["spec"] for f in dataclasses.fields(cls) if "spec" in f.metadata}


def stats_keys(cls: type) -> tuple[str, ...]:
    """The keys of a spec dataclass marked *stats*: they change a layer's tile statistics."""
    return tuple(k for k, f in spec_fields(cls).items() if f.stage == STATS)
