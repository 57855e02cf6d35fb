"""Where each key of a TOML file is written: its line number, for error messages.

Neither ``tomllib`` nor ``tomlkit`` reports line numbers of keys, so this scans the text: table
headers (``[a.b]``, ``[[a.b]]`` numbered as ``a.b[0]``, ``a.b[1]``), ``key = value`` lines and
dotted keys, skipping multi-line strings and arrays. Keys are named as the settings errors name
them: ``audio.input.device``, ``wake.models[0].threshold``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_AOT_HEADER = re.compile(r"^\[\[\s*([^\[\]]+?)\s*\]\]\s*(#.*)?$")
_HEADER = re.compile(r"^\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_BARE = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY = re.compile(rf"^({_BARE}(?:\s*\.\s*{_BARE})*)\s*=(.*)$")
_BRACKETS = {"[": 1, "{": 1, "]": -1, "}": -1}
_INDEX = re.compile(r"\[\d+\]$")


def _dotted(text: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in text.split("."))


@dataclass
class _Scan:
    found: dict[str, int] = field(default_factory=dict)
    table: str = ""
    aot_counts: dict[str, int] = field(default_factory=dict)
    depth: int = 0  # open brackets of a multi-line array
    in_string: str = ""  # the delimiter of an open multi-line string

    def header(self, name: str, line: int, *, array: bool) -> None:
        name = self._with_indexes(_dotted(name))
        parts = name.split(".")
        for end in range(1, len(parts)):
            self.found.setdefault(".".join(parts[:end]), line)
        if array:
            index = self.aot_counts.get(name, 0)
            self.aot_counts[name] = index + 1
            self.found.setdefault(name, line)
            name = f"{name}[{index}]"
        self.table = name
        self.found.setdefault(name, line)

    def _with_indexes(self, name: str) -> str:
        """``[wake.models.extra]`` after ``[[wake.models]]`` is inside the last element."""
        parts = name.split(".")
        out = ""
        for part in parts:
            out = f"{out}.{part}".strip(".")
            if out in self.aot_counts and out != name:
                out = f"{out}[{self.aot_counts[out] - 1}]"
        return out

    def key(self, name: str, rest: str, line: int) -> None:
        full = f"{self.table}.{_dotted(name)}" if self.table else _dotted(name)
        self.found.setdefault(full, line)
        self.value_tail(rest)

    def value_tail(self, rest: str) -> None:
        """Track multi-line strings and arrays that continue past this line."""
        pos = 0
        while pos < len(rest):
            if self.in_string:
                end = rest.find(self.in_string, pos)
                if end < 0:
                    return
                pos, self.in_string = end + 3, ""
            elif rest.startswith(('"""', "'''"), pos):
                self.in_string, pos = rest[pos : pos + 3], pos + 3
            elif rest[pos] in "\"'":
                pos = _string_end(rest, pos) + 1
            elif rest[pos] == "#":
                return
            else:
                self.depth += _BRACKETS.get(rest[pos], 0)
                pos += 1


def _string_end(text: str, start: int) -> int:
    """The index of the quote closing the one-line string that opens at ``start``."""
    quote, pos = text[start], start + 1
    while pos < len(text) and text[pos] != quote:
        pos += 2 if quote == '"' and text[pos] == "\\" else 1
    return pos


def key_lines(text: str) -> dict[str, int]:
    """Each table and key path written in ``text`` -> its first line (1-based)."""
    scan = _Scan()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if scan.in_string or scan.depth > 0:
            scan.value_tail(line)
            continue
        if not line or line.startswith("#"):
            continue
        if match := _AOT_HEADER.match(line):
            scan.header(match.group(1), number, array=True)
        elif match := _HEADER.match(line):
            scan.header(match.group(1), number, array=False)
        elif match := _KEY.match(line):
            scan.key(match.group(1), match.group(2), number)
    return scan.found


def locate(lines: dict[str, int], key: str) -> int | None:
    """The line of ``key``, or of its nearest written parent (``a.b[2]`` -> ``a.b`` -> ``a``)."""
    while key:
        if key in lines:
            return lines[key]
        if _INDEX.search(key):
            key = _INDEX.sub("", key)
        elif "." in key:
            key = key.rsplit(".", 1)[0]
        else:
            break
    return None
