"""Config files the daemon cannot run are refused, with one clear line, before it starts.

Each case here once got past the checks (`config check` said valid, then the daemon died) or
crashed them with a traceback: nesting deep enough for a RecursionError, an empty wake model list
(``max()`` of nothing), a NUL in a device name, floats beyond 1e308 (inf), integers beyond
Python's 4300-digit conversion limit, and a file that took 42 s to check.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.errors import ConfigError
from appliance.settings import load_settings
from appliance.system.configfile import MAX_PROBLEMS, check_file, set_value
from appliance.system.tomllines import MAX_CHARS, MAX_DEPTH

DEEP_ARRAY = "[audio.input]\ncommand = " + "[" * 600 + '"x"' + "]" * 600 + "\n"
DEEP_TABLE = "[stt]\nmodel = " + "{a = " * 400 + "1" + "}" * 400 + "\n"
DEEP_DOTTED = ".".join(["a"] * 6000) + " = 1\n"  # tomllib takes seconds: refused before it
DEEP_HEADER = "[" + ".".join(["hardware"] * 40) + "]\n"
HUGE_INT = "[stt]\nthreads = " + "1" * 5000 + "\n"

# Refused before the values are checked: `config check` cannot list problems, exit 2.
UNREADABLE = {
    "deep array": (DEEP_ARRAY, f"{{path}}:2: tables and arrays nested more than {MAX_DEPTH}"),
    "deep inline table": (DEEP_TABLE, "{path}:2: tables and arrays nested more than"),
    "deep dotted key": (DEEP_DOTTED, "{path}:1: tables and arrays nested more than"),
    "deep table header": (DEEP_HEADER, "{path}:1: tables and arrays nested more than"),
    "integer over 4300 digits": (HUGE_INT, "{path}:2: a number with more than 4300 digits"),
    "too big": ("# " + "x" * MAX_CHARS + "\n", f"{{path}}: longer than {MAX_CHARS} characters"),
    "too big, in 3-byte characters": ("# " + "\u20ac" * MAX_CHARS * 2 + "\n",
                                      f"{{path}}: longer than {MAX_CHARS} characters"),
}
# Values the daemon cannot run with: `config check` names each with its line (exit 1).
BAD_VALUES = {
    "no wake model": ("[wake]\nmodels = []\n", "wake.models", 2,
                      "wake.models: at least one model is needed"),
    "NUL in a device": ('[audio.input]\ndevice = "\\u0000"\n', "audio.input.device", 2,
                        "'audio.input.device' holds the control character U+0000"),
    "float beyond 1e308": ("[listen]\npreroll_s = 1" + "0" * 400 + ".0\n", "listen.preroll_s", 2,
                           "'listen.preroll_s' = inf is not a finite number"),
    "nan": ("[listen]\n\nvad_threshold = nan\n", "listen.vad_threshold", 3,
            "'listen.vad_threshold' = nan is not a finite number"),
    "400-digit integer for a float": ("[listen]\npreroll_s = " + "9" * 400 + "\n",
                                      "listen.preroll_s", 2, "'listen.preroll_s' = a number of"),
}


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def _one_error_line(err: str, path: Path, expected: str) -> None:
    lines = err.splitlines()
    assert lines[0].startswith("appliance: error [config_invalid]: ")
    assert expected.format(path=path) in lines[0]
    assert len(lines) == 2
    assert lines[1].startswith("  fix: ")


@pytest.mark.parametrize(("text", "expected"), UNREADABLE.values(), ids=UNREADABLE.keys())
def test_a_file_too_deep_or_too_big_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = _file(tmp_path, text)
    start = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert expected.format(path=path) in caught.value.message
    with pytest.raises(ConfigError):
        check_file(path)
    assert time.monotonic() - start < 1.0
    for argv in (["config", "check", str(path)], ["config", "show", "--config", str(path)]):
        assert main(argv) == 2
        out, err = capsys.readouterr()
        assert out == ""
        _one_error_line(err, path, expected)


@pytest.mark.parametrize(("text", "key", "line", "expected"), BAD_VALUES.values(),
                         ids=BAD_VALUES.keys())
def test_a_value_the_daemon_cannot_run_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, key: str, line: int,
    expected: str,
) -> None:
    path = _file(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.key == key
    assert expected in caught.value.message
    (problem,) = check_file(path)
    assert (problem.key, problem.line) == (key, line)
    assert main(["config", "show", "--config", str(path)]) == 2  # what the daemon does
    _one_error_line(capsys.readouterr().err, path, expected)
    assert main(["config", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:{line}: {expected}" in out
    assert out.endswith(f"1 problem in {path}\n")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("audio.input.device", '"plughw:CARD=x\\nDEV=0"'),
        ("audio.output.command", '["aplay", "-D\\u0000x"]'),
        ("intent.sentences_dirs", '["/etc/appliance/sen\\ttences"]'),
        ("mqtt.host", '"broker\\r"'),
        ("mqtt.topic_prefix", '"home/\\u001b[31m"'),
        ("wake.models", '[{model = "alexa\\u0085", threshold = 0.5}]'),
        ("mqtt.password", '"pass\\u0007word"'),
        ("skills.state_dir", '"/var/lib/\\u0000"'),
        ("skills.state_dir", '"/var/lib/\\tappliance"'),
        ("debug.dir", '"/var/lib/appliance/\\nutterances"'),
        ("hardware.custom.alsa_card", '"seeed\\t2mic"'),
    ],
)
def test_control_characters_are_refused_where_they_cannot_work(
    tmp_path: Path, key: str, value: str
) -> None:
    table, _, name = key.rpartition(".")
    path = _file(tmp_path, f"[{table}]\n{name} = {value}\n")
    with pytest.raises(ConfigError, match="control character U\\+00") as caught:
        load_settings(path)
    assert caught.value.key.startswith(key)


def test_free_text_may_hold_tabs_and_line_breaks(tmp_path: Path) -> None:
    path = _file(tmp_path, (
        '[mqtt]\npassword = "tab\\there"\n'
        "[[skills.commands]]\n"
        'intent = "Fan"\nsentences = ["fan on"]\nresponse = """Turning on\nthe fan."""\n'
        'mqtt_topic = "home/fan"\nmqtt_payload = """{\n  "state": "ON"\n}"""\n'
        "command = []\ntimeout_s = 10.0\n"
    ))
    settings = load_settings(path)
    assert settings.mqtt.password == "tab\there"
    assert settings.skills.commands[0].response == "Turning on\nthe fan."
    assert settings.skills.commands[0].mqtt_payload == '{\n  "state": "ON"\n}'


def test_a_topic_prefix_with_wildcards_is_refused_by_the_check(tmp_path: Path) -> None:
    # It used to be found only when the MQTT service started, after `config check` said valid.
    path = _file(tmp_path, '[mqtt]\ntopic_prefix = "home/+/speakers"\n')
    (problem,) = check_file(path)
    assert (problem.key, problem.line) == ("mqtt.topic_prefix", 2)
    assert "not a usable MQTT topic prefix" in problem.message


def test_a_file_with_thousands_of_mistakes_is_checked_quickly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "[stt]\n" + "".join(f"k{i} = {i}\n" for i in range(5000))
    assert len(text) < MAX_CHARS
    path = _file(tmp_path, text)
    start = time.monotonic()
    problems = check_file(path)
    assert time.monotonic() - start < 1.0
    assert len(problems) == MAX_PROBLEMS
    assert [p.line for p in problems[:3]] == [2, 3, 4]
    assert main(["config", "check", str(path)]) == 1
    assert capsys.readouterr().out.endswith(
        f"{MAX_PROBLEMS} problems in {path} (the check stops there: fix these, then check "
        "again)\n")


def test_a_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[stt]\nmodel = "\xff"\n')
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 15\)"):
        load_settings(path)
    with pytest.raises(ConfigError, match="not UTF-8"):
        check_file(path)


def test_config_set_refuses_values_nested_too_deep(tmp_path: Path) -> None:
    path = _file(tmp_path, '[stt]\nmodel = "base"\n')
    with pytest.raises(ConfigError, match="nested more than"):
        set_value(path, "audio.input.command", "[" * 2000 + "]" * 2000,
                  group_file=tmp_path / "group")
    with pytest.raises(ConfigError, match="control character U\\+000A"):
        set_value(path, "audio.input.device", "hw:0\nhw:1", group_file=tmp_path / "group")
    assert path.read_text() == '[stt]\nmodel = "base"\n'


def test_config_set_takes_true_and_false(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # tomlkit hands back a plain bool for them: setting one crashed with an AttributeError.
    path = tmp_path / "config.toml"
    assert main(["config", "set", "--config", str(path), "listen.chime", "false"]) == 0
    assert "listen.chime = False" in capsys.readouterr().out
    assert load_settings(path).listen.chime is False
