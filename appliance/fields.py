"""The one helper settings dataclasses use to declare a field (import it from any subsystem)."""

from __future__ import annotations

from dataclasses import field
from typing import Any


def rng(
    lo: float | None = None, hi: float | None = None, *, choices: tuple[str, ...] = (),
    line: bool = False,
) -> Any:
    """A dataclass field with no default (defaults live in the TOML) and its allowed values.

    Text settings never hold NUL or other control characters than tab and line breaks;
    ``line=True`` (names, device names, paths, commands) allows no control characters at all."""
    return field(metadata={"min": lo, "max": hi, "choices": choices, "line": line})
