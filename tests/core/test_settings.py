"""Configuration: defaults, overrides and errors that name the key and the fix."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from appliance.errors import ConfigError
from appliance.settings import load_settings


def test_defaults_are_complete_and_frozen() -> None:
    s = load_settings()
    assert s.wake.models[0].model == "hey_jarvis"
    assert s.stt.model == "tiny.en"
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.stt.threads = 4  # type: ignore[misc]


def test_user_file_overrides_only_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[stt]\nthreads = 4\n[[wake.models]]\nmodel = 'alexa'\nthreshold = 0.6\n")
    s = load_settings(path)
    assert s.stt.threads == 4
    assert s.stt.model == "tiny.en"
    assert [(m.model, m.threshold) for m in s.wake.models] == [("alexa", 0.6)]


@pytest.mark.parametrize(
    ("toml", "key", "fix"),
    [
        ("[stt]\nthreads = 0\n", "stt.threads", "a value from 1 to 16"),
        ("[stt]\nthreads = true\n", "stt.threads", "a whole number"),
        ("[listen]\nchime = 'yes'\n", "listen.chime", "true or false"),
        ("[audio.output]\ncommand = 'aplay'\n", "audio.output.command", "a list"),
        ("[audio.outputs]\nvolume = 3\n", "audio.outputs", "use one of: input, output"),
        ("[[wake.models]]\nmodel = 'alexa'\n", "wake.models[0].threshold", "add it"),
        ("[logging]\nlevel = 'loud'\n", "logging.level", "'debug', 'info'"),
        ("[esphome]\nname = 'Kitchen Speaker'\n", "esphome.name", "lower-case letters"),
        (f"[esphome]\nname = '{'k' * 32}'\n", "esphome.name", "at most 31"),
        ("[esphome]\nencryption_key = 'c2hvcnQ='\n", "esphome.encryption_key",
         "openssl rand -base64 32"),
        ("[esphome]\nmode = 'cloud'\n", "esphome.mode", "'local', 'home-assistant'"),
    ],
)
def test_errors_name_the_key_and_the_fix(toml: str, key: str, fix: str, tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.key == key
    assert key in info.value.message
    assert fix in info.value.fix


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[stt]\nthreads = \n")
    with pytest.raises(ConfigError, match=r"c\.toml: .*line 2"):
        load_settings(path)
