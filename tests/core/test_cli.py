"""The commands a user runs, as subprocesses of the real entry point on the real models."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.audio.format import read_wav
from appliance.models import whisper_model

from ..conftest import Voices

pytestmark = pytest.mark.models


def appliance(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "appliance", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def question(voices: Voices, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return voices.utterance(tmp_path_factory.mktemp("q") / "question.wav",
                            0.5, "Hey Jarvis.", 0.5, "What's your name?", 1.0)


def test_listen_prints_each_stage_and_writes_the_answer(question: Path, tmp_path: Path) -> None:
    answer = tmp_path / "answer.wav"
    result = appliance("listen", str(question), "-o", str(answer))
    assert result.returncode == 0, result.stderr
    stages = [line.split()[1] for line in result.stdout.splitlines() if line.strip()]
    assert stages[:6] == ["wake", "listening", "transcript", "intent", "answer", "spoken"]
    assert re.search(r"intent +GetName", result.stdout)
    assert "answer      'My name is Jarvis.'" in result.stdout
    assert re.search(r"end of speech -> first audio \d+\.\d\ds", result.stdout)
    spoken = appliance("transcribe", str(answer))
    assert "jarvis" in spoken.stdout.lower()


@pytest.mark.parametrize("engine", ["pyopen-wakeword", "openwakeword"])
def test_the_other_wake_engines_hear_the_wake_word(engine: str, question: Path,
                                                   tmp_path: Path) -> None:
    """Each in its own process: their two TFLite runtimes crash if loaded into one."""
    config = tmp_path / "c.toml"
    config.write_text(f'[wake]\nengine = "{engine}"\n')
    result = appliance("listen", "--config", str(config), str(question))
    if engine == "openwakeword" and sys.version_info >= (3, 12):  # tflite-runtime: 3.11 only
        assert result.returncode == 2
        assert "wake.engine = 'openwakeword' needs Python 3.11" in result.stderr
        return
    assert result.returncode == 0, result.stderr
    assert re.search(r"wake +hey_jarvis", result.stdout)
    assert re.search(r"intent +GetName", result.stdout)


def test_run_on_recordings_answers_into_a_file(question: Path, tmp_path: Path) -> None:
    out = tmp_path / "speaker.wav"
    config = tmp_path / "c.toml"
    config.write_text("[intent]\nsentences_dirs = []\n")
    result = appliance("run", "--config", str(config), "--audio-in", str(question),
                       "--audio-out", str(out))
    assert result.returncode == 0, result.stderr
    assert "state speaking -> idle" in result.stderr
    pcm = read_wav(out)
    assert pcm.duration_s > 1.0  # the chime and the answer
    assert "jarvis" in appliance("transcribe", str(out)).stdout.lower()


def test_say_and_transcribe_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "say.wav"
    assert appliance("say", "The kettle is ready.", "-o", str(out)).returncode == 0
    assert read_wav(out).rate_hz == 22050
    assert "kettle" in appliance("transcribe", str(out)).stdout.lower()


def test_intent_json() -> None:
    result = appliance("intent", "Hey Jarvis, what's the date?", "--json")
    assert json.loads(result.stdout) == {"intent": "GetDate", "slots": {}, "confidence": 1.0}
    assert json.loads(appliance("intent", "sing a song", "--json").stdout) is None


def test_whisper_model_from_a_local_path(tmp_path: Path) -> None:
    bundled = whisper_model("tiny.en")
    assert not isinstance(bundled, str)
    local = tmp_path / "my-whisper"
    local.symlink_to(bundled.path, target_is_directory=True)
    config = tmp_path / "c.toml"
    config.write_text(f'[stt]\nmodel = "{local}"\n')
    wav = tmp_path / "x.wav"
    assert appliance("say", "Good morning.", "-o", str(wav)).returncode == 0
    result = appliance("transcribe", "--config", str(config), str(wav))
    assert "morning" in result.stdout.lower(), result.stderr


def test_listen_keeps_its_timers_out_of_the_speakers_schedule(voices: Voices,
                                                              tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = tmp_path / "c.toml"
    config.write_text(f'[skills]\nstate_dir = "{state}"\n')
    wav = voices.utterance(tmp_path / "timer.wav", 0.5, "Hey Jarvis.", 0.5,
                           "Set a timer for ten minutes.", 1.0)
    result = appliance("listen", "--config", str(config), str(wav))
    assert result.returncode == 0, result.stderr
    assert re.search(r"intent +TimerSet", result.stdout)
    assert not (state / "schedule.json").exists()  # the daemon will not announce it later


def test_the_soak_answers_every_wake_and_reports_memory() -> None:
    done = appliance("bench", "soak", "--cycles", "3", "--say-chars", "300", "--json")
    assert done.returncode == 0, done.stderr
    soak = json.loads(done.stdout)
    assert (soak["cycles"], soak["wakes_detected"], soak["turns_answered"]) == (3, 3, 3)
    assert (soak["wakes_missed"], soak["stuck_turns"]) == (0, 0)
    assert set(soak["rss_mb"]) == {"start", "end", "after_300_char_say"}
    assert all(mb > 50 for mb in soak["rss_mb"].values())
