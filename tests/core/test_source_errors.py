"""What a capture program's stderr says went wrong (real arecord output, alsa-utils 1.2.8)."""

from __future__ import annotations

from appliance.audio.source import failure_reason

# arecord -D pulse, with $PULSE_SOURCE naming a source that is not there (PulseAudio 16.1)
NO_SUCH_SOURCE = (
    "ALSA lib pcm_pulse.c:758:(pulse_prepare) PulseAudio: Unable to create stream: No such entity\n"
    """
arecord: set_params:1416: Unable to install hw params:
ACCESS:  RW_INTERLEAVED
FORMAT:  S16_LE
SUBFORMAT:  STD
SAMPLE_BITS: 16
FRAME_BITS: 16
CHANNELS: 1
RATE: 16000
BUFFER_SIZE: 3200
TICK_TIME: [0 0]
""")

NO_SERVER = (
    "ALSA lib pulse.c:242:(pulse_connect) PulseAudio: Unable to connect: Connection refused\n"
    "\n"
    "arecord: main:831: audio open error: Connection refused\n"
)


def test_the_reason_is_the_first_line_naming_an_error() -> None:
    assert failure_reason(NO_SUCH_SOURCE) == (
        "ALSA lib pcm_pulse.c:758:(pulse_prepare) PulseAudio: Unable to create stream: "
        "No such entity")
    assert failure_reason(NO_SERVER).endswith("Unable to connect: Connection refused")


def test_without_an_error_word_the_last_line() -> None:
    assert failure_reason("starting\nstopped by a signal\n") == "stopped by a signal"
    assert failure_reason("") == ""
