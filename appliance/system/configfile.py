"""The user's config file over SSH: show the effective settings, check a file, set one key.

``/etc/appliance/config.toml`` holds only the keys a user changes; the packaged defaults fill in
the rest. ``check`` reports every problem with its key path, its line in the user's file and what
is allowed; ``set`` edits the file with tomlkit (comments and layout survive), validates the
result exactly as start-up does, and replaces the file atomically.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import stat
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.container import Container
from tomlkit.items import AoT, Table

from appliance.errors import ConfigError
from appliance.fsutil import atomic_write
from appliance.settings import (
    Settings,
    check_known_keys,
    defaults_dir,
    merge,
    parse,
    read_text,
    read_toml,
    unexpected_error,
)
from appliance.system.accounts import group_id
from appliance.system.tomllines import TomlSyntaxError, key_lines, loads_toml, locate

MASK = "********"
_SECRET = re.compile(r"(^|_)(password|passphrase|secret|token|psk|encryption_key)($|_)")
_PREFIX = re.compile(r"^(config|[^:]*\.toml): ")
NEW_FILE_HEADER = (
    "# Appliance settings: only the keys you change; `appliance config show` prints them all.\n"
    "# Edit: `sudo appliance config set KEY VALUE`. Apply: `sudo systemctl reload appliance`.\n"
)


# ---------------------------------------------------------------------------------------------
# show


def effective_toml(settings: Settings) -> str:
    """The effective settings as TOML, secrets masked."""
    return tomlkit.dumps(_plain(dataclasses.asdict(settings), ""))


def is_secret(key: str) -> bool:
    return bool(_SECRET.search(key))


def _plain(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, key) for v in value]
    if value is None:
        return ""
    if is_secret(key) and value:
        return MASK
    return value


# ---------------------------------------------------------------------------------------------
# check


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the user's file."""

    key: str
    line: int | None
    message: str
    fix: str

    def describe(self, path: Path) -> str:
        where = f"{path}:{self.line}" if self.line else str(path)
        return f"{where}: {self.message}\n    fix: {self.fix}"


MAX_PROBLEMS = 20  # then the check stops: a file with thousands of mistakes is checked quickly


def check_file(path: Path) -> list[Problem]:
    """The problems in the user's config file ``path`` (empty when it is valid; at most
    MAX_PROBLEMS). A file that cannot be checked at all (missing, too big, nested too deep) is a
    :class:`ConfigError`; so is anything the checks did not foresee."""
    try:
        return _check_text(read_text(path), path)
    except ConfigError:
        raise
    except Exception as err:  # a case the checks missed: still one clear line, not a traceback
        raise unexpected_error(str(path), err) from err


def _check_text(text: str, path: Path) -> list[Problem]:
    try:
        user = loads_toml(text, str(path))
    except TomlSyntaxError as err:
        return [Problem("", err.line, f"TOML syntax error: {err.detail}",
                        "correct the syntax at that line")]
    defaults = read_toml(defaults_dir() / "default.toml")
    lines = key_lines(text)
    problems: dict[str, Problem] = {}
    for leaf in _leaves(user):
        found = _leaf_error(defaults, leaf, path)
        if found is not None and found.key not in problems:
            problems[found.key] = _problem(found, lines)
            if len(problems) == MAX_PROBLEMS:
                break
    whole = None if problems else _leaf_error(defaults, user, path)
    if whole is not None:
        problems[whole.key] = _problem(whole, lines)
    return list(problems.values())


def _leaves(data: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Each leaf value of ``data`` as a one-key nested table (lists count as leaves)."""
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            for leaf in _leaves(value):
                yield {key: leaf}
        else:
            yield {key: value}


def _leaf_error(defaults: dict[str, Any], leaf: dict[str, Any], path: Path) -> ConfigError | None:
    try:
        _full_parse(defaults, leaf, path)
    except ConfigError as err:
        return err
    return None


def _full_parse(defaults: dict[str, Any], user: dict[str, Any], path: Path) -> Settings:
    check_known_keys(user, Settings, "", source=str(path))
    return parse(Settings, merge(defaults, user))


def _problem(err: ConfigError, lines: dict[str, int]) -> Problem:
    message = _PREFIX.sub("", err.message)
    return Problem(err.key, locate(lines, err.key), message, err.fix)


# ---------------------------------------------------------------------------------------------
# set


_PART = re.compile(r"^([A-Za-z0-9_-]+)(?:\[(\d+)\])?$")


def parse_key(key: str) -> list[str | int]:
    """``wake.models[0].threshold`` -> ``["wake", "models", 0, "threshold"]``."""
    parts: list[str | int] = []
    for piece in key.split("."):
        match = _PART.match(piece.strip())
        if match is None:
            raise ConfigError(
                f"'{key}' is not a key path", fix="write it like stt.model or wake.models[0].model",
                key=key,
            )
        parts.append(match.group(1))
        if match.group(2) is not None:
            parts.append(int(match.group(2)))
    return parts


def field_type(parts: list[str | int]) -> Any:
    """The settings type at a key path; an unknown key is a :class:`ConfigError` naming the keys
    that exist there."""
    tp: Any = Settings
    done = ""
    for part in parts:
        if isinstance(part, int):
            if typing.get_origin(tp) is not tuple:
                raise ConfigError(f"'{done}' is not a list", fix=f"drop the [{part}]", key=done)
            tp = typing.get_args(tp)[0]
        else:
            if not dataclasses.is_dataclass(tp):
                raise ConfigError(f"'{done}' has no keys", fix=f"set '{done}' itself", key=done)
            hints = typing.get_type_hints(tp)
            if part not in hints:
                known = ", ".join(hints)
                raise ConfigError(
                    f"unknown key '{done + '.' if done else ''}{part}'",
                    fix=f"use one of: {known}", key=f"{done}.{part}".strip("."),
                )
            tp = hints[part]
        done = f"{done}[{part}]" if isinstance(part, int) else f"{done}.{part}".strip(".")
    return tp


def parse_value(raw: str, expected: Any) -> Any:
    """``raw`` as a TOML value (``4``, ``true``, ``"x"``, ``[1, 2]``, ``{a = 1}``); for a string
    setting anything that is not a TOML string is taken as the text itself."""
    wants_str = expected is str or (
        typing.get_origin(expected) in (typing.Union, type(str | None))
        and str in typing.get_args(expected)
    )
    try:
        loads_toml(f"v = {raw}", "the value")  # within bounds: tomlkit recurses per level too
        doc = tomlkit.parse(f"v = {raw}")
    except (TomlSyntaxError, tomlkit.exceptions.ParseError):
        return tomlkit.item(raw)
    value = doc.unwrap()["v"]  # doc["v"] is a plain bool for true/false: no .unwrap()
    if list(doc) != ["v"] or (wants_str and not isinstance(value, str)):
        return tomlkit.item(raw)
    # A fresh item: one cut from the parsed line would carry that line's layout along.
    return tomlkit.item(value)


def set_value(path: Path, key: str, raw: str, *, group_file: Path = Path("/etc/group")) -> Any:
    """Set ``key`` to ``raw`` in the user's file ``path`` (created if missing); returns the value
    written. Nothing is written unless the whole configuration is valid afterwards. A symbolic
    link is written through. A missing file is created 0640 root:appliance (``group_file`` names
    the group), else 0600: it may hold the MQTT password, and the daemon (user appliance) reads
    it. A replaced file keeps its mode and owner."""
    parts = parse_key(key)
    value = parse_value(raw, field_type(parts))
    target = path.resolve() if path.is_symlink() else path
    text = NEW_FILE_HEADER
    if target.exists():
        text = read_text(target)
        loads_toml(text, str(target))  # tomlkit recurses and is slow: bounds and syntax first
    doc = tomlkit.parse(text)
    _assign(doc, parts, value)
    write_validated(target, tomlkit.dumps(doc).rstrip("\n") + "\n", group_file=group_file)
    return value.unwrap() if hasattr(value, "unwrap") else value


def set_config_value(path: Path, key: str, value: Any) -> None:
    """:func:`set_value` with a Python value, for the boot units (first boot, the HAT). ``path``
    is ``<root>/etc/appliance/config.toml``: that root's ``etc/group`` names the group."""
    group_file = path.parents[2] / "etc/group"
    set_value(path, key, tomlkit.item(value).as_string(), group_file=group_file)


def _assign(doc: tomlkit.TOMLDocument, parts: list[str | int], value: Any) -> None:
    node: Any = doc
    new = False
    for i, part in enumerate(parts[:-1]):
        new = isinstance(part, str) and part not in node
        node = _child(node, parts[: i + 1], parts[i + 1], holds_tables=i + 2 < len(parts))
    last = parts[-1]
    if isinstance(last, int):
        _check_index(node, last, parts[:-1])
        node[last] = value
    elif isinstance(node, Table | tomlkit.TOMLDocument) and last not in node and len(node):
        _add_after_last_key(node, last, value)
    else:
        node[last] = value
    if len(parts) > 1 and new and isinstance(node, Table):
        node.add(tomlkit.nl())  # a blank line before whatever table comes next


def _child(node: Any, path: list[str | int], following: str | int, *, holds_tables: bool) -> Any:
    """The table or list at ``path`` (its last part indexes ``node``), created if missing."""
    part = path[-1]
    if isinstance(part, int):
        _check_index(node, part, path[:-1])
        return node[part]
    if part not in node:
        if isinstance(following, int):
            node[part] = _default_list(path)
        else:
            # [audio.input] alone, not an empty [audio] above it.
            node[part] = tomlkit.table(is_super_table=holds_tables)
    return node[part]


def _check_index(node: Any, index: int, path: list[str | int]) -> None:
    if not isinstance(node, list | AoT) or index >= len(node):
        name = _key_text(path)
        size = len(node) if isinstance(node, list | AoT) else 0
        raise ConfigError(
            f"'{name}' has no item [{index}] (it has {size})",
            fix=f"use an index below {size}, or set the whole list '{name}'", key=name,
        )


def _default_list(done: list[str | int]) -> Any:
    """A list the user's file does not have yet starts as a copy of the default one."""
    data: Any = read_toml(defaults_dir() / "default.toml")
    for part in done:
        data = data[part]
    if data and all(isinstance(x, dict) for x in data):
        return _aot(data)
    return tomlkit.item(list(data))


def _aot(rows: list[dict[str, Any]]) -> AoT:
    aot = tomlkit.aot()
    for row in rows:
        table = tomlkit.table()
        table.update(row)
        aot.append(table)
    return aot


def _add_after_last_key(node: Any, key: str, value: Any) -> None:
    """Add a key right after the table's last key, not after comments that belong to the next
    table (tomlkit appends at the very end of the body)."""
    container: Container = node.value if isinstance(node, Table) else node
    keys = [k for k, item in container.body if k is not None and not isinstance(item, Table | AoT)]
    if keys and hasattr(container, "_insert_after"):
        container._insert_after(keys[-1], key, value)
    else:
        node[key] = value


def _key_text(parts: list[str | int]) -> str:
    text = ""
    for part in parts:
        text = f"{text}[{part}]" if isinstance(part, int) else f"{text}.{part}".strip(".")
    return text


def write_validated(path: Path, text: str, *, group_file: Path = Path("/etc/group")) -> None:
    """Validate ``text`` as the user's config file, then atomically replace ``path`` with it
    (same mode and owner, or a new file's, see :func:`set_value`; fsynced). An invalid text
    raises :class:`ConfigError`, ``path`` untouched."""
    try:
        validate_text(text, path)
    except ConfigError as err:
        message = _PREFIX.sub("", err.message)
        raise ConfigError(f"{path} not changed: {message}", fix=err.fix, key=err.key) from err
    atomic_write(path, text, prepare=lambda tmp: _ownership(path, tmp, group_file))


def validate_text(text: str, path: Path) -> Settings:
    """The settings ``text`` gives as the user's file ``path``, exactly as start-up checks them."""
    try:
        user = loads_toml(text, str(path))
        return _full_parse(read_toml(defaults_dir() / "default.toml"), user, path)
    except ConfigError:
        raise
    except Exception as err:  # a case the checks missed: still one clear line, not a traceback
        raise unexpected_error(str(path), err) from err


def _ownership(original: Path, tmp: Path, group_file: Path) -> None:
    """Give ``tmp`` (made 0600 by mkstemp) the mode and owner ``original`` has: never wider, and
    never silently another group. No ``original``: 0640 root:appliance, or 0600 without the
    group (or without the right to give the file to it)."""
    try:
        st = original.stat()
    except FileNotFoundError:
        gid = group_id(group_file, "appliance")
        with contextlib.suppress(PermissionError):
            if gid is not None:
                os.chown(tmp, 0 if os.geteuid() == 0 else -1, gid)
                os.chmod(tmp, 0o640)
        return
    mine = tmp.stat()
    if (st.st_uid, st.st_gid) != (mine.st_uid, mine.st_gid):
        try:
            os.chown(tmp, st.st_uid, st.st_gid)
        except PermissionError as err:
            raise ConfigError(
                f"{original} not changed: cannot keep its owner ({st.st_uid}:{st.st_gid})",
                fix="run it with sudo",
            ) from err
    os.chmod(tmp, stat.S_IMODE(st.st_mode))
