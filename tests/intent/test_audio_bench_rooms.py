"""``appliance bench audio``: the rooms, the clips, the chime heard back and the score tables
(pure, no model), and one small run through the real pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from appliance.audio.format import FRAME_SAMPLES, RATE_HZ, Int16Array
from appliance.errors import ApplianceError
from appliance.intent.audio_bench import (
    AudioOptions,
    Trial,
    check_options,
    commands_file,
    prepare,
    run_trials,
)
from appliance.intent.audio_score import NO_WAKE, Outcome, report, scores, summary
from appliance.intent.bench import Case
from appliance.intent.rooms import (
    LEAD_S,
    PAUSES_S,
    TAIL_S,
    TRIM_MARGIN_S,
    Clip,
    Echo,
    Microphone,
    Room,
    assemble,
    db,
    impulse_response,
    in_room,
    pink_noise,
    power,
    room_echo,
)
from appliance.intent.voices import Speech, VoiceBox, clip_key
from appliance.settings import load_settings


def voiced(seconds: float, f0_hz: float, seed: int, level: float = 6000) -> Int16Array:
    """Something speech-like: a buzzy tone with a syllable-rate envelope and a little noise,
    silence around it (as an engine leaves it)."""
    n = int(seconds * RATE_HZ)
    t = np.arange(n) / RATE_HZ
    rng = np.random.default_rng(seed)
    tone = sum(np.sin(2 * np.pi * f0_hz * k * t) / k for k in range(1, 8))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    body = level * tone * envelope / 2 + rng.normal(0, level / 50, n)
    pad = np.zeros(int(0.2 * RATE_HZ))
    out: Int16Array = np.concatenate([pad, body, pad]).astype(np.int16)
    return out


WAKE = voiced(0.7, 140, 1)
COMMAND = voiced(1.6, 120, 2)
TALKER = voiced(2.5, 210, 3)
ROOM = Room("room", rt60_s=0.5, drr_db=0.0, snr_db=20.0, talker_db=-12.0)


# -- clips ------------------------------------------------------------------------------------

@pytest.mark.parametrize("pause", ["none", "pause"])
def test_a_clip_is_room_tone_wake_word_gap_command_room_tone(pause: str) -> None:
    clip = assemble(WAKE, COMMAND, PAUSES_S[pause])
    trimmed_wake, trimmed_command = clip.wake[1] - clip.wake[0], clip.command[1] - clip.command[0]
    assert clip.wake[0] == clip.lead == round(LEAD_S * RATE_HZ)
    assert clip.command[0] - clip.wake[1] == round(PAUSES_S[pause] * RATE_HZ)
    assert len(clip.samples) - clip.command[1] == round(TAIL_S * RATE_HZ)
    # the engines' 0.2 s of silence is trimmed to 30 ms each side
    assert abs(trimmed_wake - round(0.76 * RATE_HZ)) <= 4
    assert abs(trimmed_command - round(1.66 * RATE_HZ)) <= 4
    assert not clip.samples[: clip.lead].any() and not clip.samples[clip.command[1]:].any()


def test_the_pauses_are_the_ones_asked_for() -> None:
    assert PAUSES_S == {"none": 0.15, "pause": 0.8}


# -- rooms ------------------------------------------------------------------------------------

@pytest.mark.parametrize("snr_db", [5.0, 20.0, 35.0])
def test_the_noise_is_at_the_snr_asked_for(snr_db: float) -> None:
    clip = assemble(WAKE, COMMAND, 0.15)
    mix = in_room(clip, Room("noisy", rt60_s=0.5, snr_db=snr_db), None, seed=7)
    heard = mix.clip.samples.astype(np.float64)
    noise = heard - mix.speech - mix.talker  # what the microphone got that is not speech
    assert db(power(mix.speech, clip.spans) / power(noise, clip.spans)) == pytest.approx(
        snr_db, abs=0.5)
    # the room tone before the wake word is that noise alone, at about that level (half a
    # second of pink noise is not always as loud as three)
    lead = [(0, clip.lead)]
    assert db(power(mix.speech, clip.spans) / power(heard, lead)) == pytest.approx(snr_db,
                                                                                  abs=1.0)


def talking(x: npt.NDArray[np.floating[Any]]) -> tuple[int, int]:
    loud = np.nonzero(np.abs(x) > 1.0)[0]
    return int(loud[0]), int(loud[-1]) + 1


def test_the_second_talker_is_12_db_down_and_over_the_command_only() -> None:
    clip = assemble(WAKE, COMMAND, 0.8)
    mix = in_room(clip, Room("talk", talker_db=-12.0), TALKER, seed=3)
    start, end = talking(mix.talker)
    # 0.3 s before the command (its voice's trimmed silence first)
    assert start == clip.command[0] - round(0.3 * RATE_HZ) + round(TRIM_MARGIN_S * RATE_HZ)
    assert end <= clip.command[1]  # and not after it
    assert db(power(mix.talker, [(start, end)]) / power(mix.speech, clip.spans)) == (
        pytest.approx(-12.0, abs=0.5))
    # reverberated, it is heard after that, still 12 dB down where it talks
    wet = in_room(clip, ROOM, TALKER, seed=3)
    assert talking(wet.talker)[1] > clip.command[1]
    assert db(power(wet.talker, [(start, end)]) / power(wet.speech, clip.spans)) == (
        pytest.approx(-12.0, abs=0.5))
    # no pause: it starts after the wake word, not 0.3 s before the command
    tight = assemble(WAKE, COMMAND, 0.15)
    assert talking(in_room(tight, ROOM, TALKER, seed=3).talker)[0] == (
        tight.wake[1] + round(TRIM_MARGIN_S * RATE_HZ))


def test_a_room_is_the_same_room_for_the_same_seed() -> None:
    clip = assemble(WAKE, COMMAND, 0.15)
    one, again, other = (in_room(clip, ROOM, TALKER, seed=s) for s in (11, 11, 12))
    assert np.array_equal(one.clip.samples, again.clip.samples)
    assert not np.array_equal(one.clip.samples, other.clip.samples)
    assert len(one.clip.samples) == len(clip.samples)
    assert (one.clip.wake, one.clip.command, one.clip.lead) == (clip.wake, clip.command,
                                                               clip.lead)


def test_dry_is_the_clip_as_it_was() -> None:
    clip = assemble(WAKE, COMMAND, 0.15)
    assert np.array_equal(in_room(clip, Room("dry"), TALKER, seed=1).clip.samples, clip.samples)


def test_a_loud_mix_is_turned_down_whole() -> None:
    loud = assemble(voiced(0.7, 140, 1, level=30000), voiced(1.6, 120, 2, level=30000), 0.15)
    mix = in_room(loud, ROOM, TALKER, seed=5)
    assert np.max(np.abs(mix.clip.samples)) <= 0.9 * 32767 + 1
    noise = mix.clip.samples - mix.speech - mix.talker
    assert db(power(mix.speech, loud.spans) / power(noise, loud.spans)) == pytest.approx(
        20.0, abs=0.5)


def test_pink_noise_has_the_same_power_in_every_octave() -> None:
    noise = pink_noise(10 * RATE_HZ, np.random.default_rng(4))
    assert float(np.mean(noise**2)) == pytest.approx(1.0)
    spectrum = np.abs(np.fft.rfft(noise)) ** 2
    hz = np.fft.rfftfreq(len(noise), 1 / RATE_HZ)

    def octave(low: float) -> float:
        return float(spectrum[(hz >= low) & (hz < 2 * low)].sum())

    assert db(octave(250) / octave(2000)) == pytest.approx(0.0, abs=1.0)


def test_the_impulse_response_decays_60_db_in_rt60_and_has_the_drr_asked_for() -> None:
    ir = impulse_response(0.5, 3.0, np.random.default_rng(9))
    assert ir[0] == 1.0
    assert db(1.0 / float(np.sum(ir[1:] ** 2))) == pytest.approx(3.0, abs=0.01)

    def energy(a_s: float, b_s: float) -> float:
        return float(np.sum(ir[int(a_s * RATE_HZ): int(b_s * RATE_HZ)] ** 2))

    # 60 dB over 0.5 s: 12 dB every 0.1 s
    assert db(energy(0.1, 0.2) / energy(0.2, 0.3)) == pytest.approx(12.0, abs=1.5)


# -- the chime heard back ---------------------------------------------------------------------

def silent_clip(seconds: float) -> Clip:
    n = int(seconds * RATE_HZ)
    return Clip(np.zeros(n, np.int16), (0, 0), (n // 2, n // 2), 0)


def heard(mic: Microphone, frames: int) -> Int16Array:
    return np.concatenate([np.frombuffer(mic.frame(), np.int16) for _ in range(frames)])


def test_the_chime_comes_back_6_db_down_30_ms_after_it_is_played() -> None:
    mic = Microphone(silent_clip(2.0), Echo())
    before = heard(mic, 3)
    chime = np.full(800, 10000, np.int16)
    assert mic.play(chime) == 3 * FRAME_SAMPLES + 480
    after = heard(mic, 3)
    everything = np.concatenate([before, after])
    loud = np.nonzero(everything)[0]
    assert (loud[0], loud[-1] + 1) == (3 * FRAME_SAMPLES + 480, 3 * FRAME_SAMPLES + 1280)
    assert everything[loud[0]] == round(10000 * 10 ** (-6 / 20))


def test_the_chime_in_the_room_is_reverberated_and_goes_on_after_the_clip() -> None:
    echo = room_echo(ROOM, seed=2)
    assert echo.ir is not None
    mic = Microphone(silent_clip(0.16), echo)  # two frames
    heard(mic, 1)
    mic.play(np.full(800, 10000, np.int16))
    after = heard(mic, 10)
    assert mic.clip_done
    assert np.nonzero(after)[0][0] == 480
    stopped = 480 + 800
    # the room's reverberation, heard 0.1 s after the chime stopped and the clip ended
    assert np.abs(after[stopped + 1600:]).max() > 0


def test_after_the_clip_the_microphone_hears_the_room_tone_again() -> None:
    tone = np.arange(1, 801, dtype=np.int16)
    samples = np.concatenate([tone, np.full(1760, 7, np.int16)])
    mic = Microphone(Clip(samples, (800, 900), (1000, 2560), 800), Echo())
    frames = heard(mic, 4)
    assert np.array_equal(frames[2560:3360], tone)


# -- scores -----------------------------------------------------------------------------------

TIME = Case("what time is it", "GetTime")
TIMER = Case("set a timer for two minutes", "TimerSet", {"duration_s": 120})
WEATHER = Case("what's the weather tomorrow", None)


def outcomes() -> list[Outcome]:
    return [
        Outcome("piper", "dry", "none", TIME, True, "What time is it?", "GetTime",
                transcript_s=0.2, recognize_s=0.001),
        Outcome("piper", "dry", "none", TIMER, True, "Set a timer for two minutes.",
                "TimerSet", {"duration_s": 120}, transcript_s=0.4, recognize_s=0.002),
        Outcome("piper", "room", "pause", TIMER, True, "Set a timer for ten minutes.",
                "TimerSet", {"duration_s": 600}, transcript_s=0.6, recognize_s=0.003),
        Outcome("piper", "room", "pause", WEATHER, True, "What's the weather tomorrow?", None,
                transcript_s=0.8, recognize_s=0.004, closed_s=0.03),
        Outcome("flite-slt", "dry", "none", TIME, False),
        Outcome("flite-slt", "dry", "none", WEATHER, True, "What time is it tomorrow?",
                "GetTime", transcript_s=1.0, recognize_s=0.005, chime_s=0.1, closed_s=0.05),
    ]


def test_a_summary_counts_wakes_understood_commands_and_false_actions() -> None:
    s = summary(outcomes())
    assert s["clips"] == 6
    assert s["wake_percent"] == round(100 * 5 / 6, 1)
    assert s["understood_percent"] == 50.0  # time, timer, and the weather left alone
    assert s["understood_when_woken_percent"] == 60.0
    assert (s["out_of_domain"], s["false_actions"]) == (2, 1)
    assert (s["transcript_s_median"], s["recognize_ms_median"]) == (0.6, 3.0)
    assert s["transcript_s_p90"] == pytest.approx(0.92)
    assert s["chime_in_command_percent"] == 100.0
    assert (s["closed_ran_percent"], s["closed_ms_median"]) == (40.0, 40.0)  # 2 of 5 woken


def test_scores_per_voice_and_condition_and_the_misses() -> None:
    result = scores(outcomes())
    assert set(result["per_voice"]) == {"piper", "flite-slt"}
    assert result["per_voice"]["piper"]["understood_percent"] == 75.0
    assert result["per_voice"]["flite-slt"]["wake_percent"] == 50.0
    assert set(result["per_condition"]) == {"dry/none", "room/pause"}
    assert result["per_condition"]["room/pause"]["understood_percent"] == 50.0
    assert result["misses"] == [
        "piper/room/pause: 'set a timer for two minutes' -> 'Set a timer for ten minutes.' "
        "-> TimerSet {'duration_s': 600}",
        f"flite-slt/dry/none: 'what time is it' -> {NO_WAKE} -> None",
        "flite-slt/dry/none: \"what's the weather tomorrow\" -> 'What time is it tomorrow?' "
        "-> GetTime",
    ]


def test_the_report_has_a_row_per_voice_and_per_condition() -> None:
    text = report(scores(outcomes()))
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.strip()}
    assert rows["piper"][1:5] == ["4", "100.0", "75.0", "75.0"]
    assert rows["flite-slt"][5] == "1/1"
    assert rows["room/pause"][1:3] == ["2", "100.0"]
    assert rows["all"][1] == "6"
    assert "misses (3):" in text


# -- options and voices -----------------------------------------------------------------------

def test_an_unknown_voice_or_condition_is_one_error_naming_the_choices() -> None:
    with pytest.raises(ApplianceError, match=r"no voice 'bob'.*flite-slt"):
        check_options(AudioOptions(voices=("bob",)))
    with pytest.raises(ApplianceError, match="--conditions: kitchen is not one of dry, room"):
        check_options(AudioOptions(rooms=("kitchen",)))
    with pytest.raises(ApplianceError, match="--pauses: long is not one of none, pause"):
        check_options(AudioOptions(pauses=("none", "long")))
    with pytest.raises(ApplianceError, match="--limit 0"):
        check_options(AudioOptions(limit=0))


def test_a_missing_engine_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ApplianceError, match="needs flite") as err:
        check_options(AudioOptions(voices=("flite-slt",), rooms=("dry",)))
    assert "apt-get install flite" in err.value.fix


def test_clips_are_keyed_by_everything_that_makes_the_sound() -> None:
    base = clip_key("flite", "", ("-voice", "slt"), "hello")
    assert base == clip_key("flite", "", ("-voice", "slt"), "hello")
    assert len({base, clip_key("flite", "", ("-voice", "rms"), "hello"),
                clip_key("flite", "", ("-voice", "slt"), "hello!"),
                clip_key("espeak-ng", "", ("-voice", "slt"), "hello")}) == 4


def test_a_cached_clip_is_not_synthesised_again(tmp_path: Path) -> None:
    box = VoiceBox(load_settings().tts, tmp_path)
    first = box.speak("espeak-us-m3", "Hello there.")
    again = VoiceBox(load_settings().tts, tmp_path)
    assert np.array_equal(again.speak("espeak-us-m3", "Hello there."), first)
    assert (box.synthesised, again.synthesised) == (1, 0)
    assert len(list(tmp_path.glob("*.wav"))) == 1


# -- the real pipeline ------------------------------------------------------------------------

@pytest.mark.models
async def test_two_commands_through_the_real_pipeline(tmp_path: Path) -> None:
    options = AudioOptions(voices=("piper",), rooms=("dry",), pauses=("pause",))
    settings = load_settings(overrides={"intent": {"sentences_dirs": []},
                                        "skills": {"state_dir": str(tmp_path / "state")}})
    speech = Speech(VoiceBox(settings.tts, tmp_path / "cache"))
    trials = [Trial("piper", "dry", "pause", 0, Case("What time is it?", "GetTime")),
              Trial("piper", "dry", "pause", 1, Case("Mumble grumble fiddlesticks.", None))]
    check_options(options)
    prepare(speech, trials)
    ran = await run_trials(settings, speech, trials)
    clear, _other = ran.outcomes
    assert clear.woke and clear.wakes == 1
    assert clear.transcript is not None and "time" in clear.transcript.lower()
    assert clear.intent == "GetTime" and clear.understood
    assert clear.ended == "answered"
    assert clear.transcript_s is not None and clear.recognize_s is not None
    assert clear.chime_s is not None and clear.chime_s < 0  # the chime came before the command


def test_commands_is_a_file_or_the_name_of_a_shipped_set(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """``--commands spoken2.yaml`` from any directory is the shipped set; a file of that name
    where the command runs is that file; a path is the path."""
    monkeypatch.chdir(tmp_path)
    shipped = commands_file(AudioOptions(commands=Path("spoken2.yaml")))
    assert shipped.is_file() and str(shipped) != "spoken2.yaml"
    assert "spoken2.yaml" in str(shipped) and "bench_data" in str(shipped)
    (tmp_path / "spoken2.yaml").write_text("[]\n")
    assert commands_file(AudioOptions(commands=Path("spoken2.yaml"))) == Path("spoken2.yaml")
    own = tmp_path / "mine.yaml"
    assert commands_file(AudioOptions(commands=own)) == own
