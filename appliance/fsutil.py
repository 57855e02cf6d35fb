"""Files that must survive a power cut: written whole or not at all."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

# tempfile.mkstemp's names: the prefix, then 8 of these characters (see remove_leftover_temps).
_TEMP_RANDOM = "[a-z0-9_]{8}"


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def atomic_write(path: Path, text: str, *, prepare: Callable[[Path], None] | None = None) -> None:
    """Replace ``path`` with ``text``: a temporary file beside it, fsync, ``prepare(tmp)`` (e.g.
    permissions), rename over ``path``, fsync the folder. On any error ``path`` is untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=_temp_prefix(path), dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if prepare is not None:
            prepare(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def remove_leftover_temps(path: Path) -> list[Path]:
    """Delete the temporary files that :func:`atomic_write` calls for ``path`` left beside it
    when they were cut short (kill -9, power loss), and return them. Only names of exactly that
    pattern (``.NAME.`` and 8 random characters) are touched. Call it only when no write of
    ``path`` can be under way, e.g. at start-up. A folder that cannot be listed: nothing."""
    pattern = re.compile(re.escape(_temp_prefix(path)) + _TEMP_RANDOM)
    try:
        candidates = [p for p in path.parent.iterdir() if pattern.fullmatch(p.name)]
    except OSError:
        return []
    removed = []
    for candidate in candidates:
        try:
            if candidate.is_symlink() or not candidate.is_file():
                continue
            candidate.unlink()
        except OSError:
            continue
        removed.append(candidate)
    return removed


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
