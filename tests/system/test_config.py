"""`appliance config show|check|set` on real files, through the real command line."""

from __future__ import annotations

import difflib
import stat
import tomllib
from pathlib import Path

import pytest

from appliance import wake
from appliance.cli import main
from appliance.settings import load_settings
from appliance.system.configfile import MASK, check_file, set_value
from appliance.system.tomllines import key_lines, locate

COMMENTED = """\
# My kitchen speaker
# (configured over SSH)

[stt]
# the bigger model: slower on a Zero
model = "base"   # needs the base package


# --- network ---
[mqtt]
host = "broker.lan"
password = "hunter2"

[[wake.models]]
model = "alexa"   # the family's choice
threshold = 0.6
"""


def _line_of(text: str, fragment: str) -> int:
    """The 1-based line holding ``fragment`` (found in the test's own text)."""
    (number,) = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    return number


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(COMMENTED)
    return path


def test_show_prints_effective_settings_with_secrets_masked(
    user_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "show", "--config", str(user_file)]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out
    shown = tomllib.loads(out)
    assert shown["mqtt"]["password"] == MASK
    assert shown["mqtt"]["host"] == "broker.lan"
    assert shown["stt"]["model"] == "base"  # from the user's file
    assert shown["stt"]["threads"] == load_settings().stt.threads  # from the defaults
    assert shown["wake"]["models"] == [{"model": "alexa", "threshold": 0.6}]


def test_check_reports_every_problem_with_line_and_allowed_values(tmp_path: Path) -> None:
    text = COMMENTED.replace('model = "base"', 'model = "base"\nthreads = 99') + (
        "\n[audio.input]\ndevice = 'pulse'\nvolume = 3\n\n[listen]\nchime = \"yes\"\n")
    path = tmp_path / "bad.toml"
    path.write_text(text)
    problems = {p.key: p for p in check_file(path)}
    assert set(problems) == {"stt.threads", "audio.input.volume", "listen.chime"}
    assert problems["stt.threads"].line == _line_of(text, "threads = 99")
    assert "from 1 to 16" in problems["stt.threads"].fix
    assert problems["audio.input.volume"].line == _line_of(text, "volume = 3")
    assert "device" in problems["audio.input.volume"].fix  # names the keys that exist
    assert problems["listen.chime"].line == _line_of(text, 'chime = "yes"')
    assert "true or false" in problems["listen.chime"].fix


def test_check_finds_the_line_inside_an_array_of_tables(tmp_path: Path) -> None:
    text = COMMENTED + '\n[[wake.models]]\nmodel = "hey_jarvis"\nthreshold = 1.5\n'
    path = tmp_path / "bad.toml"
    path.write_text(text)
    (problem,) = check_file(path)
    assert problem.key == "wake.models[1].threshold"
    assert problem.line == _line_of(text, "threshold = 1.5")
    assert "0.01 to 0.99" in problem.fix


def test_check_command_output_and_exit_codes(
    tmp_path: Path, user_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "check", str(user_file)]) == 0
    assert "valid" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text("[stt]\ncompute_type = 'float16'\n")
    assert main(["config", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:2: 'stt.compute_type' = 'float16' is not allowed" in out
    assert "'int8', 'int8_float32', 'float32'" in out


def test_check_reports_a_syntax_error_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[stt]\nmodel = 'base'\nthreads = \n")
    (problem,) = check_file(path)
    assert problem.line == 3
    assert "syntax" in problem.message


def test_set_keeps_comments_and_layout(user_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "set", "--config", str(user_file), "stt.threads", "3"]) == 0
    assert "reload" in capsys.readouterr().out
    assert main(["config", "set", "--config", str(user_file), "stt.model", "tiny.en"]) == 0
    diff = [line for line in difflib.unified_diff(COMMENTED.splitlines(),
                                                  user_file.read_text().splitlines(), n=0,
                                                  lineterm="")
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert diff == [
        '-model = "base"   # needs the base package',
        '+model = "tiny.en"   # needs the base package',
        "+threads = 3",
    ]
    settings = load_settings(user_file)
    assert (settings.stt.model, settings.stt.threads) == ("tiny.en", 3)


def test_set_adds_new_tables_and_copies_default_lists(user_file: Path) -> None:
    set_value(user_file, "audio.input.device", "plughw:CARD=seeed2micvoicec,DEV=0")
    set_value(user_file, "intent.sentences_dirs[0]", "/home/pi/sentences")
    set_value(user_file, "wake.models[0].threshold", "0.45")
    text = user_file.read_text()
    assert text.startswith(COMMENTED.split("[[wake.models]]", maxsplit=1)[0])  # untouched above
    assert "[audio.input]\n" in text
    assert "\n[audio]\n" not in text  # no empty parent table
    settings = load_settings(user_file)
    assert settings.audio.input.device == "plughw:CARD=seeed2micvoicec,DEV=0"
    assert settings.intent.sentences_dirs == ("/home/pi/sentences",)
    assert settings.wake.models[0].model == "alexa"
    assert settings.wake.models[0].threshold == 0.45


def test_set_creates_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "config.toml"
    set_value(path, "debug.save_utterances", "5", group_file=tmp_path / "no-group")
    assert load_settings(path).debug.save_utterances == 5
    assert path.read_text().startswith("#")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # no appliance group: only root reads it


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("stt.threads", "99", "from 1 to 16"),
        ("stt.compute_type", "float16", "'int8'"),
        ("stt.nope", "1", "model, language"),
        ("listen.chime", "maybe", "true or false"),
        ("wake.models[5].threshold", "0.5", "index below 1"),
    ],
)
def test_set_refuses_invalid_values_and_leaves_the_file_alone(
    user_file: Path, capsys: pytest.CaptureFixture[str], key: str, value: str, expected: str
) -> None:
    user_file.chmod(0o600)
    assert main(["config", "set", "--config", str(user_file), key, value]) == 2
    err = capsys.readouterr().err
    assert "error [config_invalid]" in err
    assert expected in err
    assert user_file.read_text() == COMMENTED
    assert [p.name for p in user_file.parent.iterdir()] == [user_file.name]  # no temp file left


def test_set_keeps_the_file_mode(user_file: Path) -> None:
    user_file.chmod(0o640)
    set_value(user_file, "mqtt.port", "8883")
    assert stat.S_IMODE(user_file.stat().st_mode) == 0o640
    assert load_settings(user_file).mqtt.port == 8883


def test_key_lines_skip_multiline_values() -> None:
    text = 'a = """\n[fake]\nb = 1\n"""\nc = [\n  "]",\n  2,\n]\nd = 4\n[t.u]\ne = 5\n'
    lines = key_lines(text)
    assert lines == {"a": 1, "c": 5, "d": 9, "t": 10, "t.u": 10, "t.u.e": 11}
    assert locate(lines, "t.u.missing") == 10
    assert locate(lines, "c[1]") == 5
    assert locate(lines, "nowhere.x") is None


OPENWAKEWORD = '# the reference library\n[wake]\nengine = "openwakeword"\n'


def test_check_says_the_openwakeword_engine_needs_python_3_11(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wake, "python_version", lambda: (3, 13))
    path = tmp_path / "config.toml"
    path.write_text(OPENWAKEWORD)
    assert main(["config", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{path}:3: wake.engine = 'openwakeword' needs Python 3.11, not 3.13: ")
    assert "fix: set wake.engine = 'onnx' (the default) or 'pyopen-wakeword'" in out
    assert out.endswith(f"1 problem in {path}\n")
    path.write_text('[wake]\nengine = "pyopen-wakeword"\n')
    assert main(["config", "check", str(path)]) == 0


def test_check_says_when_the_openwakeword_library_is_not_installed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wake, "python_version", lambda: (3, 11))
    monkeypatch.setattr(wake, "installed", lambda *modules: "tflite_runtime" not in modules)
    path = tmp_path / "config.toml"
    path.write_text(OPENWAKEWORD)
    assert main(["config", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "wake.engine = 'openwakeword' but the openwakeword library is not installed" in out
    assert "fix: pip install 'appliance[openwakeword]'" in out


def test_show_masks_the_home_assistant_encryption_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    path = tmp_path / "config.toml"
    path.write_text(f'[esphome]\nenabled = true\nencryption_key = "{key}"\n')
    assert main(["config", "show", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert key not in out
    assert tomllib.loads(out)["esphome"]["encryption_key"] == MASK
