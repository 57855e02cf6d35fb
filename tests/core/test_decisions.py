"""Pure decision logic, fed numbers: endpointer, the wake word's end, wake decider, backoff."""

from __future__ import annotations

import pytest

from appliance.backoff import Backoff
from appliance.settings import load_settings
from appliance.vad import (
    ANSWER_PAUSE_S,
    EARLY_PAUSE_S,
    LEAD_FRAMES,
    Endpoint,
    Endpointer,
    wake_tail_frames,
)
from appliance.wake import Detection, WakeDecider

F = 0.08  # one frame


def listen(**over: float) -> Endpointer:
    return Endpointer(load_settings(overrides={"listen": {
        "vad_threshold": 0.5, "end_silence_s": 0.4, "min_speech_s": 0.16,
        "no_speech_timeout_s": 2.0, "max_listen_s": 5.0, **over}}).listen)


def feed(ep: Endpointer, probs: list[float]) -> list[Endpoint]:
    return [ep.update(p, F) for p in probs]


def test_speech_then_silence_ends_after_end_silence() -> None:
    out = feed(listen(), [0.9] * 5 + [0.1] * 5)
    assert out[:5] == [Endpoint.CONTINUE] * 5
    assert out[5] is Endpoint.PAUSE  # 1 frame = EARLY_PAUSE_S of silence
    assert out[6:9] == [Endpoint.CONTINUE] * 3
    assert out[9] is Endpoint.SPEECH_END  # 5 frames = 0.4 s of silence
    assert pytest.approx(F) == EARLY_PAUSE_S


def test_a_whole_command_may_be_answered_after_two_frames_of_silence() -> None:
    ep = listen()
    seen = []
    for p in [0.9] * 5 + [0.1] * 3:
        ep.update(p, F)
        seen.append(ep.paused_to_answer)
    assert seen == [False] * 6 + [True] * 2  # 2 frames = ANSWER_PAUSE_S; not 1 (a word gap)
    assert pytest.approx(2 * F) == ANSWER_PAUSE_S
    assert not listen().paused_to_answer  # no speech yet: nothing to answer


def test_a_pause_shorter_than_end_silence_does_not_end_and_pauses_again() -> None:
    ep = listen()
    out = feed(ep, [0.9] * 3 + [0.1] * 3 + [0.9] * 3 + [0.1] * 5)
    assert Endpoint.SPEECH_END not in out[:9]
    assert out.count(Endpoint.PAUSE) == 2
    assert out[-1] is Endpoint.SPEECH_END
    assert ep.speech_s == pytest.approx(6 * F)


def test_a_click_shorter_than_min_speech_is_not_speech() -> None:
    out = feed(listen(), [0.9] + [0.1] * 30)
    assert Endpoint.SPEECH_END not in out
    assert out.index(Endpoint.NO_SPEECH) == round(2.0 / F) - 1


def test_never_speaking_times_out() -> None:
    out = feed(listen(), [0.0] * 30)
    assert out.index(Endpoint.NO_SPEECH) == 24  # 25 frames = 2.0 s


def test_talking_forever_is_cut_at_max_listen() -> None:
    out = feed(listen(max_listen_s=1.6), [0.9] * 30)
    assert out.index(Endpoint.MAX_LENGTH) == 19


# A wake turn's first frames as the VAD scores them (after Piper renders of "Hey Jarvis.", a
# pause, "Set a timer for ten seconds."): 3 of pre-roll, the wake word's end running one frame
# past it, the pause, the command.
TAIL = [0.83, 0.83, 0.75, 0.63]
COMMAND = [0.72, 0.98, 0.98, 0.83]


def tail(probs: list[float], preroll: int = 3) -> int:
    return wake_tail_frames(probs, preroll, 0.5, F)


def test_the_wake_words_end_before_a_pause_is_not_the_command() -> None:
    probs = [*TAIL, 0.16, 0.05, 0.03, 0.03, *COMMAND]
    assert tail(probs) == 8 - LEAD_FRAMES == 6  # the last two frames of the pause are kept
    assert LEAD_FRAMES * F <= 0.16 + 1e-9
    # a faint end (below the threshold, above half of it) is the wake word's too
    assert tail([0.32, 0.43, 0.06, 0.03, 0.02, 0.01, 0.01, *COMMAND]) == 5
    # a pause of exactly two frames is all kept, as the lead-in
    assert tail([*TAIL, 0.16, 0.05, *COMMAND]) == 4


def test_the_first_frames_are_kept_when_nothing_tells_the_wake_word_from_the_command() -> None:
    assert tail([*TAIL, 0.16, *COMMAND]) == 0  # a one-frame gap is a gap between words
    assert tail(TAIL + [0.9] * 3 + [0.05] * 4 + COMMAND) == 0  # speech ran on past the tail:
    # a command said straight after the wake word (its first word may end in a pause)
    assert tail(TAIL + [0.05] * 8) == 0  # nothing said after it (yet)
    assert tail([0.02, 0.9, 0.9, 0.9, 0.05, 0.05, 0.05, *COMMAND]) == 0  # the pre-roll began
    # quiet: the wake fired late, and what it holds may be the command's
    assert tail(COMMAND * 3) == 0  # all speech
    assert tail([]) == 0
    assert tail(TAIL + [0.05] * 4 + COMMAND, preroll=0) == 0  # no pre-roll: nothing to drop


def test_wake_decider_thresholds_per_model_and_refractory() -> None:
    d = WakeDecider({"a": 0.5, "b": 0.9}, trigger_frames=1, refractory_s=2.0)
    assert d.update({"a": 0.4, "b": 0.8}, 0.08) is None
    assert d.update({"a": 0.6, "b": 0.8}, 0.16) == Detection("a", 0.6)
    assert d.update({"a": 0.9, "b": 0.95}, 0.24) is None  # same utterance
    assert d.update({"a": 0.9, "b": 0.95}, 2.15) is None
    assert d.update({"a": 0.2, "b": 0.95}, 2.17) == Detection("b", 0.95)


def test_wake_decider_needs_consecutive_frames() -> None:
    d = WakeDecider({"a": 0.5}, trigger_frames=3, refractory_s=0.0)
    assert [d.update({"a": s}, i * F) for i, s in enumerate([0.6, 0.6, 0.1, 0.6, 0.6])] == [
        None] * 5
    assert d.update({"a": 0.7}, 0.5) == Detection("a", 0.7)


def test_backoff_doubles_to_the_cap_with_bounded_jitter() -> None:
    b = Backoff(1.0, 8.0, jitter=0.2, rand=lambda: 0.5)
    assert b.first_failure
    assert [b.next_delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert not b.first_failure
    b.reset()
    assert b.first_failure
    low = Backoff(1.0, 8.0, jitter=0.2, rand=lambda: 0.0).next_delay()
    high = Backoff(1.0, 8.0, jitter=0.2, rand=lambda: 1.0).next_delay()
    assert (low, high) == (pytest.approx(0.8), pytest.approx(1.2))
