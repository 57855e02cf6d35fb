"""Configuration: frozen, validated settings per subsystem, loaded once at start-up.

Every default lives in ``config/default.toml`` (shipped inside the package); a user's TOML file
(``/etc/appliance/config.toml`` or ``--config FILE``) holds only the keys they change. Both are
merged, then checked here against the dataclasses below: an unknown key, a wrong type or a value out
of range is a :class:`ConfigError` that names the key path and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from appliance.errors import ConfigError
from appliance.esphome.settings import EsphomeSettings
from appliance.fields import rng
from appliance.hardware.config import HardwareSettings
from appliance.hardware.profiles import resolve
from appliance.mqtt.settings import MqttSettings
from appliance.skills.settings import SkillsSettings
from appliance.system.debug import DebugSettings
from appliance.system.tomllines import MAX_CHARS, loads_toml, too_long
from appliance.system.updates import UpdateSettings

SYSTEM_CONFIG = Path("/etc/appliance/config.toml")

T = TypeVar("T")


@dataclass(frozen=True)
class AudioInputSettings:
    device: str = rng(line=True)
    command: tuple[str, ...] = rng(line=True)
    retry_initial_s: float = rng(0.1, 60)
    retry_max_s: float = rng(1, 3600)


@dataclass(frozen=True)
class AudioOutputSettings:
    device: str = rng(line=True)
    command: tuple[str, ...] = rng(line=True)
    rate_hz: int = rng(0, 192000)
    volume: int = rng(0, 100)


@dataclass(frozen=True)
class AudioSettings:
    input: AudioInputSettings = rng()
    output: AudioOutputSettings = rng()


@dataclass(frozen=True)
class WakeModelSettings:
    model: str = rng(line=True)
    threshold: float = rng(0.01, 0.99)


@dataclass(frozen=True)
class WakeSettings:
    engine: str = rng(choices=("onnx", "pyopen-wakeword", "openwakeword", "micro"))
    models: tuple[WakeModelSettings, ...] = rng()
    refractory_s: float = rng(0, 30)
    trigger_frames: int = rng(1, 10)

    def __post_init__(self) -> None:
        if not self.models:  # the wake engine needs one model, the pipeline one threshold
            raise ConfigError(
                "config: wake.models: at least one model is needed",
                fix='add a [[wake.models]] table with model = "hey_jarvis" and threshold = 0.5',
                key="wake.models",
            )


@dataclass(frozen=True)
class ListenSettings:
    vad_threshold: float = rng(0.05, 0.95)
    preroll_s: float = rng(0, 2)
    end_silence_s: float = rng(0.1, 5)
    min_speech_s: float = rng(0, 5)
    no_speech_timeout_s: float = rng(0.5, 30)
    max_listen_s: float = rng(1, 60)
    chime: bool = rng()
    answer_early: bool = rng()


@dataclass(frozen=True)
class SttSettings:
    model: str = rng(line=True)
    language: str = rng(line=True)
    threads: int = rng(1, 16)
    beam_size: int = rng(1, 10)
    compute_type: str = rng(choices=("int8", "int8_float32", "float32"))
    window_s: float = rng(5, 30)


@dataclass(frozen=True)
class TtsSettings:
    voice: str = rng(line=True)
    threads: int = rng(1, 16)
    length_scale: float = rng(0.3, 3)


@dataclass(frozen=True)
class IntentSettings:
    language: str = rng(line=True)
    sentences_dirs: tuple[str, ...] = rng(line=True)
    closed_vocabulary: bool = rng()
    closed_max_penalty: float = rng(0, 100)


@dataclass(frozen=True)
class PipelineSettings:
    name: str = rng(line=True)
    thinking_timeout_s: float = rng(1, 120)
    speaking_timeout_s: float = rng(1, 600)
    error_retry_s: float = rng(0.5, 600)
    watchdog_stall_s: float = rng(1, 600)


@dataclass(frozen=True)
class LoggingSettings:
    level: str = rng(choices=("debug", "info", "warning", "error"))


@dataclass(frozen=True)
class Settings:
    audio: AudioSettings = rng()
    wake: WakeSettings = rng()
    listen: ListenSettings = rng()
    stt: SttSettings = rng()
    tts: TtsSettings = rng()
    intent: IntentSettings = rng()
    pipeline: PipelineSettings = rng()
    logging: LoggingSettings = rng()
    mqtt: MqttSettings = rng()
    esphome: EsphomeSettings = rng()
    debug: DebugSettings = rng()
    hardware: HardwareSettings = rng()
    skills: SkillsSettings = rng()
    updates: UpdateSettings = rng()

    def __post_init__(self) -> None:
        resolve(self.hardware)  # the wiring: a pin used twice is a ConfigError naming the key


# ---------------------------------------------------------------------------------------------
# Loading


def defaults_dir() -> Path:
    """The packaged ``config/`` directory (inside the wheel, or the source tree when editable)."""
    packaged = resources.files("appliance").joinpath("_defaults")
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "config"


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file within bounds (:func:`loads_toml`); every failure is a ConfigError that
    names the file (and the line, for syntax errors)."""
    return loads_toml(read_text(path), str(path))


def read_text(path: Path) -> str:
    """A config file's text; missing, unreadable, too big or not UTF-8 is a ConfigError."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_CHARS * 4 + 1)  # UTF-8: at most 4 bytes a character
    except FileNotFoundError as err:
        raise ConfigError(
            f"config file {path} does not exist",
            fix="create it (`sudo appliance config set KEY VALUE` does), or pass the right "
            "path with --config",
        ) from err
    except OSError as err:
        raise ConfigError(
            f"cannot read {path}: {err.strerror}",
            fix="run it with sudo (the file may hold a password: only root and group appliance "
            "read it), or pass a readable file with --config",
        ) from err
    if len(raw) > MAX_CHARS * 4:  # cut short, it might end inside a character
        raise too_long(str(path))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {err.start})", fix="save the file as UTF-8"
        ) from err


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``over`` onto ``base``: tables merge, everything else (lists too) replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def user_config_path(explicit: Path | None) -> Path | None:
    """``--config FILE`` if given, else the system file when it exists, else nothing."""
    if explicit is not None:
        return explicit
    return SYSTEM_CONFIG if SYSTEM_CONFIG.is_file() else None


def load_settings(
    config_file: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Defaults, then the user's file, then ``overrides``; validated into :class:`Settings`.
    Whatever the file holds, the only error is a :class:`ConfigError`."""
    source = str(config_file) if config_file is not None else "the defaults"
    try:
        return _load(config_file, overrides)
    except ConfigError:
        raise
    except Exception as err:  # a case the checks missed: still one clear line, not a traceback
        raise unexpected_error(source, err) from err


def unexpected_error(source: str, err: Exception) -> ConfigError:
    """The ConfigError for an exception the checks did not foresee while checking ``source``."""
    detail = f"{type(err).__name__}: {err}"
    detail = detail if len(detail) <= 160 else detail[:157] + "..."
    return ConfigError(
        f"{source}: could not be checked ({detail})",
        fix="undo the last change to the file; please report the file as a bug",
    )


def _load(config_file: Path | None, overrides: Mapping[str, Any] | None) -> Settings:
    data = read_toml(defaults_dir() / "default.toml")
    if config_file is not None:
        user = read_toml(config_file)
        check_known_keys(user, Settings, "", source=str(config_file))
        data = merge(data, user)
    if overrides:
        data = merge(data, overrides)
    return parse(Settings, data)


def check_known_keys(data: Mapping[str, Any], cls: type[Any], path: str, *, source: str) -> None:
    """Reject keys that no settings field has (checked before merging, to blame the user file)."""
    hints = _hints(cls)
    for key, value in data.items():
        key_path = f"{path}{key}"
        if key not in hints:
            raise _unknown_key(key_path, cls, source)
        inner = hints[key]
        nested = isinstance(inner, type) and dataclasses.is_dataclass(inner)
        if isinstance(value, Mapping) and nested:
            check_known_keys(value, inner, key_path + ".", source=source)


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    """The field types of a settings class (cached: checking a file parses it many times)."""
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _unknown_key(key_path: str, cls: type[Any], source: str) -> ConfigError:
    known = ", ".join(f.name for f in dataclasses.fields(cls))
    return ConfigError(
        f"{source}: unknown key {_shown(key_path)}",
        fix=f"remove it or use one of: {known}",
        key=key_path,
    )


def parse(cls: type[T], data: Any, path: str = "") -> T:
    """Build the frozen dataclass ``cls`` from plain TOML data, checking every value."""
    if not isinstance(data, Mapping):
        raise _type_error(path or "(top level)", "a table", data)
    hints = _hints(cls)
    for key in data:
        if key not in hints:
            raise _unknown_key(f"{path}{key}", cls, "config")
    values: dict[str, Any] = {}
    for fld in dataclasses.fields(cls):  # type: ignore[arg-type]
        key_path = f"{path}{fld.name}"
        if fld.name not in data:
            raise ConfigError(
                f"config: missing key '{key_path}'",
                fix="add it (config/default.toml lists every key with its default)",
                key=key_path,
            )
        values[fld.name] = _convert(hints[fld.name], data[fld.name], key_path, fld.metadata)
    return cls(**values)


def _convert(tp: Any, value: Any, path: str, meta: Mapping[str, Any]) -> Any:
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return parse(tp, value, path + ".")
    if origin in (types.UnionType, typing.Union):
        if value is None or value == "":
            return None
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(inner, value, path, meta)
    if origin is tuple:
        if not isinstance(value, list):
            raise _type_error(path, "a list", value)
        inner = typing.get_args(tp)[0]
        return tuple(_convert(inner, v, f"{path}[{i}]", meta) for i, v in enumerate(value))
    return _check_scalar(tp, value, path, meta)


_TYPE_NAMES = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}
# No setting has a use for these; names, devices, paths and commands (line=True) for none at all.
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_IN_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _check_scalar(tp: Any, value: Any, path: str, meta: Mapping[str, Any]) -> Any:
    lo, hi, choices = meta.get("min"), meta.get("max"), meta.get("choices", ())
    allowed = f"a value from {lo} to {hi}" if lo is not None and hi is not None else "a number"
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        if not -1e300 < value < 1e300:  # float() of a longer one overflows
            raise _value_error(path, value, allowed)
        value = float(value)
    if not isinstance(value, tp) or (tp is not bool and isinstance(value, bool)):
        raise _type_error(path, _TYPE_NAMES.get(tp, str(tp)), value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"config: '{path}' = {value} is not a finite number",
                          fix=f"set '{path}' to {allowed}", key=path)
    if isinstance(value, str):
        _check_text(value, path, line=bool(meta.get("line")))
    if choices and value not in choices:
        raise _value_error(path, value, "one of " + ", ".join(repr(c) for c in choices))
    if lo is not None and hi is not None and not lo <= value <= hi:
        raise _value_error(path, value, allowed)
    return value


def _check_text(value: str, path: str, *, line: bool) -> None:
    found = (_CONTROL_IN_LINE if line else _CONTROL_IN_TEXT).search(value)
    if found is None:
        return
    takes = ("printable characters on one line" if line
             else "text without control characters (tabs and line breaks are fine)")
    raise ConfigError(
        f"config: '{path}' holds the control character U+{ord(found.group()):04X} "
        f"(character {found.start() + 1})",
        fix=f"remove it: '{path}' takes {takes}", key=path,
    )


def _shown(value: Any) -> str:
    """``value`` for an error line: short, on one line, whatever its size."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_error(path: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(
        f"config: '{path}' must be {expected}, not {type(value).__name__} {_shown(value)}",
        fix=f"set '{path}' to {expected}",
        key=path,
    )


def _value_error(path: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(
        f"config: '{path}' = {_shown(value)} is not allowed", fix=f"set '{path}' to {allowed}",
        key=path,
    )
