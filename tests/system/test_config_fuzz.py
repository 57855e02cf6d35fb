"""Arbitrary config files: loading, checking and `config set` succeed or raise ConfigError, fast.

The documents are TOML-ish on purpose: nested tables and arrays (some far too deep), numbers far
too big, strings with control characters, real keys of config/default.toml with wrong values,
and plain damage to the real file. Whatever the file, the daemon (``load_settings``),
``appliance config check`` (``check_file``) and ``appliance config set`` (``set_value``) answer
with a :class:`ConfigError` or a result within a second, never another exception.
"""

from __future__ import annotations

import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from appliance.errors import ConfigError
from appliance.settings import defaults_dir, load_settings
from appliance.system.configfile import check_file, set_value

BUDGET_S = 1.0
DEFAULT_TEXT = (defaults_dir() / "default.toml").read_text()
FUZZ = hypothesis_settings(
    max_examples=120, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _leaf_keys(data: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _leaf_keys(value, f"{prefix}{key}.")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            yield from _leaf_keys(value[0], f"{prefix}{key}[0].")
        else:
            yield f"{prefix}{key}"


REAL_KEYS = sorted(_leaf_keys(tomllib.loads(DEFAULT_TEXT)))
REAL_TABLES = sorted({key.rsplit(".", 1)[0].replace("[0]", "") for key in REAL_KEYS if "." in key})

# -- values, as TOML text -------------------------------------------------------------------------


def _basic_string(text: str) -> str:
    escaped = "".join(
        f"\\u{ord(c):04x}" if c in '"\\' or ord(c) < 0x20 or c == "\x7f" else c for c in text
    )
    return f'"{escaped}"'


ODD_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from("\x00\x01\x07\t\n\r\x1b\x7f\x85\u2028\ufeff[]{}#=\"'\\"),
        st.characters(codec="utf-8"),
    ),
    max_size=40,
)
HUGE_DIGITS = st.integers(300, 6000).map(lambda n: "9" * n)
NUMBERS = st.one_of(
    st.integers().map(str),
    st.integers(-(2**70), 2**70).map(str),
    HUGE_DIGITS,
    HUGE_DIGITS.map(lambda d: f"-{d}"),
    HUGE_DIGITS.map(lambda d: f"{d}.5"),  # more than 308 digits: inf
    st.sampled_from(["inf", "-inf", "nan", "+nan", "1e999", "-1e999", "0x7fffffffffffffffff",
                     "1_000", "0.0", "-0.0", "1979-05-27", "07:32:00", "1979-05-27T07:32:00Z"]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)
SCALARS = st.one_of(
    NUMBERS,
    st.booleans().map(lambda b: "true" if b else "false"),
    ODD_TEXT.map(_basic_string),
    ODD_TEXT.map(lambda t: "'" + t.replace("'", "").replace("\n", "") + "'"),
    ODD_TEXT.map(lambda t: '"""' + t.replace('"', "").replace("\\", "") + '"""'),
    st.sampled_from(['""', "''", '"hey_jarvis"', '"default"', '"#ff0000"', '"22:00"', "[]",
                     "{}"]),
)
BARE_KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-0123456789", min_size=1, max_size=8)
KEYS = st.one_of(
    BARE_KEYS,
    st.sampled_from([k.split(".")[-1].replace("[0]", "") for k in REAL_KEYS]),
    ODD_TEXT.map(_basic_string),
)


def _array(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


def _inline_table(pairs: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k} = {v}" for k, v in pairs.items()) + "}"


VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(_array),
        st.dictionaries(BARE_KEYS, inner, max_size=3).map(_inline_table),
    ),
    max_leaves=12,
)
DEEP = st.builds(
    lambda depth, kind, leaf: (kind[0] * depth) + leaf + (kind[1] * depth),
    st.integers(10, 3000), st.sampled_from([("[", "]"), ("{a = ", "}")]), SCALARS,
)


def _now_and_then(usual: st.SearchStrategy[str], rare: st.SearchStrategy[str],
                  one_in: int) -> st.SearchStrategy[str]:
    return st.integers(1, one_in).flatmap(lambda n: rare if n == 1 else usual)


ANY_VALUE = _now_and_then(VALUES, DEEP, 8)


def _typed(default: Any) -> st.SearchStrategy[str]:
    """Odd values of the type a real key has (so they get past the type check)."""
    if isinstance(default, bool):
        return st.sampled_from(["true", "false"])
    if isinstance(default, int | float):
        return NUMBERS
    if isinstance(default, str):
        return ODD_TEXT.map(_basic_string)
    if isinstance(default, list) and not any(isinstance(v, dict) for v in default):
        return st.lists(ODD_TEXT.map(_basic_string), max_size=3).map(_array)
    return ANY_VALUE


# -- documents ------------------------------------------------------------------------------------

DOTTED = st.lists(KEYS, min_size=1, max_size=4).map(".".join)
HEADERS = _now_and_then(
    st.one_of(st.sampled_from(REAL_TABLES), DOTTED),
    st.integers(17, 2000).map(lambda n: ".".join(["a"] * n)),  # deep without brackets
    8,
)
LINES = st.one_of(
    st.builds(lambda k, v: f"{k} = {v}", st.one_of(KEYS, DOTTED), ANY_VALUE),
    HEADERS.map(lambda h: f"[{h}]"),
    HEADERS.map(lambda h: f"[[{h}]]"),
    st.builds(lambda k, v: f"{k} = {v}", st.sampled_from(REAL_KEYS).map(lambda k: k.split(".")[-1]),
              ANY_VALUE),
    ODD_TEXT,  # noise
)
RANDOM_DOCUMENTS = st.lists(LINES, max_size=12).map("\n".join)


def _lookup(key: str) -> Any:
    node: Any = tomllib.loads(DEFAULT_TEXT)
    for part in key.replace("[0]", ".0").split("."):
        node = node[int(part)] if part.isdigit() else node[part]
    return node


REAL_VALUES = st.sampled_from(REAL_KEYS).flatmap(
    lambda key: st.tuples(st.just(key), st.one_of(_typed(_lookup(key)), ANY_VALUE))
)


def _user_file(pairs: list[tuple[str, str]]) -> str:
    """A user file setting each real key path to its value (TOML text), a table per table."""
    tables: dict[str, dict[str, str]] = {}
    for key, value in pairs:
        table, _, name = key.rpartition(".")
        tables.setdefault(table, {})[name] = value
    out = [f"{name} = {value}" for name, value in tables.pop("", {}).items()]
    for table, values in tables.items():
        header = f"[[{table[:-3]}]]" if table.endswith("[0]") else f"[{table}]"
        out += [header, *(f"{name} = {value}" for name, value in values.items())]
    return "\n".join(out) + "\n"


def _damage(text: str, at: float, cut: int, noise: str) -> str:
    pos = int(at * len(text))
    return text[:pos] + noise + text[pos + cut :]


MUTATED_DEFAULTS = _now_and_then(
    st.lists(REAL_VALUES, min_size=1, max_size=6).map(_user_file),
    st.builds(_damage, st.just(DEFAULT_TEXT), st.floats(0, 1), st.integers(0, 40), ODD_TEXT),
    4,
)
DOCUMENTS = _now_and_then(MUTATED_DEFAULTS, RANDOM_DOCUMENTS, 3)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="config-fuzz-") as folder:
        yield Path(folder)


def _answers_in_time(action: Callable[[], object], what: str) -> None:
    """``action`` returns or raises ConfigError (anything else fails the test) within budget."""
    start = time.monotonic()
    message = ""
    try:
        action()
    except ConfigError as err:
        message = err.message
    elapsed = time.monotonic() - start
    assert "\n" not in message, f"{what}: a message of more than one line: {message!r}"
    assert elapsed < BUDGET_S, f"{what} took {elapsed:.2f} s"


@FUZZ
@given(text=DOCUMENTS)
def test_any_file_loads_or_is_a_config_error_within_a_second(scratch: Path, text: str) -> None:
    path = scratch / "config.toml"
    path.write_text(text, encoding="utf-8")
    _answers_in_time(lambda: load_settings(path), "load_settings")
    _answers_in_time(lambda: check_file(path), "check_file")


ANY_KEY_AND_RAW = st.tuples(st.one_of(st.sampled_from(REAL_KEYS), DOTTED),
                            st.one_of(ANY_VALUE, ODD_TEXT))


@FUZZ
@given(key_raw=st.one_of(REAL_VALUES, REAL_VALUES, ANY_KEY_AND_RAW))
def test_config_set_stores_or_refuses_any_value_within_a_second(
    scratch: Path, key_raw: tuple[str, str]
) -> None:
    key, raw = key_raw
    path = scratch / "set.toml"
    path.write_text('[stt]\nmodel = "tiny.en"  # mine\n')
    _answers_in_time(lambda: set_value(path, key, raw, group_file=scratch / "group"), "set")
    load_settings(path)  # whatever happened, the file left behind is valid
