"""Hardware templates: readable TOML files of ``[arch]`` and ``[energy]`` values, each citing its source."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

_DIR = Path(__file__).parent
TEMPLATE_NAMES: tuple[str, ...] = tuple(sorted(p.stem for p in _DIR.glob("*.toml")))


@cache
def _load(name: str) -> dict[str, Any]:
    with open(_DIR / f"{name}.toml", "rb") as fh:
        return tomllib.load(fh)


def template_table(name: str, table: str) -> dict[str, Any]:
    """A copy of one table (``arch``, ``energy`` or ``template``) of template ``name``."""
    if name not in TEMPLATE_NAMES:
        raise KeyError(f"unknown template {name!r}; known: {', '.join(TEMPLATE_NAMES)}")
    return dict(_load(name).get(table, {}))


def template_path(name: str) -> Path:
    """The TOML file of a template, for users who want to read or copy it."""
    return _DIR / f"{name}.toml"
