"""TOML text: parsed within bounds, and where each key is written (for error messages).

:func:`loads_toml` refuses, with one clear :class:`ConfigError`, what would make ``tomllib`` or the
checks after it crash or crawl: a huge file, arrays or tables nested too deep (``tomllib`` recurses
once per level), a number with more digits than Python converts. Whatever the text, it returns a
table or raises a ConfigError.

Neither ``tomllib`` nor ``tomlkit`` reports line numbers of keys, so :func:`key_lines` scans the
text: table headers (``[a.b]``, ``[[a.b]]`` numbered as ``a.b[0]``, ``a.b[1]``), ``key = value``
lines and dotted keys, skipping multi-line strings and arrays. Keys are named as the settings
errors name them: ``audio.input.device``, ``wake.models[0].threshold``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from appliance.errors import ConfigError

MAX_CHARS = 64 * 1024  # 5 times config/default.toml; every check of it stays well under 1 s
MAX_DEPTH = 16  # tables and arrays inside each other (the settings use 4)
_LONG_NUMBER = re.compile(r"[0-9][0-9_]{4299}")  # Python's int-str conversion limit: 4300

_AOT_HEADER = re.compile(r"^\[\[\s*([^\[\]]*[^\[\]\s])\s*\]\]\s*(#.*)?$")
_HEADER = re.compile(r"^\[\s*([^\[\]]*[^\[\]\s])\s*\]\s*(#.*)?$")
_BARE = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY = re.compile(rf"^({_BARE}(?:\s*\.\s*{_BARE})*)\s*=(.*)$")
_BRACKETS = {"[": 1, "{": 1, "]": -1, "}": -1}
_INDEX = re.compile(r"\[\d+\]$")


class TomlSyntaxError(ConfigError):
    """Not valid TOML; ``line`` is where the parser stopped (None when it does not say)."""

    def __init__(self, source: str, err: tomllib.TOMLDecodeError) -> None:
        super().__init__(f"{source}: {err}", fix="correct the TOML syntax at that line")
        self.detail = str(err)
        match = re.search(r"line (\d+)", self.detail)
        self.line = int(match.group(1)) if match else None


def loads_toml(text: str, source: str) -> dict[str, Any]:
    """``text`` (from ``source``, named in errors) as TOML, within the bounds above."""
    if len(text) > MAX_CHARS:
        raise too_long(source)
    depth, line = deepest_nesting(text, MAX_DEPTH)
    if depth > MAX_DEPTH:
        raise _too_deep(f"{source}:{line}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise TomlSyntaxError(source, err) from err
    except ValueError as err:  # int()'s digit limit, which tomllib lets through
        long = _LONG_NUMBER.search(text)
        where = f"{source}:{text.count(chr(10), 0, long.start()) + 1}" if long else source
        raise ConfigError(
            f"{where}: a number with more than 4300 digits",
            fix="write a number in the range the setting allows",
        ) from err
    check_depth(data, source)
    return data


def too_long(source: str) -> ConfigError:
    return ConfigError(
        f"{source}: longer than {MAX_CHARS} characters",
        fix="a config file needs a few thousand: keep only the keys you change in it",
    )


def check_depth(data: dict[str, Any], source: str) -> None:
    """Dotted keys and table headers (``[a.b.c]``) nest without brackets: walk what was parsed,
    without recursion, before anything recursive (merging, checking, printing) sees it."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep(source, path)
        if isinstance(value, dict):
            stack.extend((v, f"{path}.{k}".lstrip("."), depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))


def _too_deep(where: str, key: str = "") -> ConfigError:
    shown = f" at '{key[:80]}'" if key else ""
    return ConfigError(
        f"{where}: tables and arrays nested more than {MAX_DEPTH} levels deep{shown}",
        fix="the settings use at most 4 levels: see config/default.toml for their layout",
        key=key,
    )


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


_NESTING_CHARS = re.compile(r"""["'#\[\]{}\n\\.]""")
_KEY_PART = re.compile(r"[ \t]*[A-Za-z0-9_-]*[ \t]*")


@dataclass
class _Nesting:
    """The scan of :func:`deepest_nesting`: brackets open, and dots in the dotted key being read
    (``a.b.c``: tomllib's time grows with the square of a key's parts)."""

    deepest: int = 0
    where: int = 1
    depth: int = 0
    dots: int = 0
    after: int = 0  # where the text since the last special character starts

    def reached(self, depth: int, line: int) -> None:
        if depth > self.deepest:
            self.deepest, self.where = depth, line

    def dot(self, text: str, at: int, line: int) -> None:
        part = _KEY_PART.fullmatch(text, self.after, at) is not None
        self.dots = self.dots + 1 if part else 1
        self.reached(self.depth + self.dots, line)


def deepest_nesting(text: str, limit: int) -> tuple[int, int]:
    """How deep tables and arrays nest in ``text`` (brackets, and the parts of dotted keys), and
    the line where that depth is first reached; the scan stops once it passes ``limit``.
    Brackets and dots in strings and comments do not count. Cheap, so it can run before
    ``tomllib``, whose parser recurses once per bracket."""
    scan = _Nesting()
    line = 1
    quote = ""  # the delimiter of the string we are in
    comment = False
    pos = 0
    while scan.deepest <= limit and (match := _NESTING_CHARS.search(text, pos)):
        char, at, pos = match.group(), match.start(), match.end()
        if char == "\n":
            line += 1
            comment = False
            quote = quote if len(quote) == 3 else ""  # a one-line string ends with its line
            scan.dots = 0
        elif comment:
            continue
        elif quote:
            pos, closed = _in_string(text, at, quote)
            quote = "" if closed else quote
        elif char in "\"'":
            quote = char * 3 if text.startswith(char * 3, at) else char
            pos = at + len(quote)
        elif char == "#":
            comment = True
        elif char == ".":
            scan.dot(text, at, line)
        elif char in "[{":
            scan.depth += 1
            scan.dots = 0
            scan.reached(scan.depth, line)
        elif char in "]}":
            scan.depth = max(0, scan.depth - 1)
            scan.dots = 0
        scan.after = pos
    return scan.deepest, scan.where


def _in_string(text: str, at: int, quote: str) -> tuple[int, bool]:
    """Inside a string delimited by ``quote``, the special character at ``at``: where to go on
    from, and whether the string closes there."""
    char = text[at]
    if char == "\\":
        escapes = quote[0] == '"'
        return (at + 2 if escapes and text[at + 1 : at + 2] != "\n" else at + 1), False
    if char != quote[0] or not text.startswith(quote, at):
        return at + 1, False
    end = at + len(quote)
    while len(quote) == 3 and end - at < 5 and text[end : end + 1] == quote[0]:
        end += 1  # up to two quotes just before the closing three belong to the string
    return end, True
