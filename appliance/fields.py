"""The one helper settings dataclasses use to declare a field (import it from any subsystem)."""

from __future__ import annotations

from dataclasses import field
from typing import Any


def rng(lo: float | None = None, hi: float | None = None, *, choices: tuple[str, ...] = ()) -> Any:
    """A dataclass field with no default (defaults live in the TOML) and its allowed values."""
    return field(metadata={"min": lo, "max": hi, "choices": choices})
