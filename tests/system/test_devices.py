"""`appliance devices`: ALSA names from the kernel's card list and from `arecord -L`/`aplay -L`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.system.devices import list_devices, parse_alsa_list

# /proc/asound of a Raspberry Pi 4 with a ReSpeaker 2-Mics HAT.
PI_CARDS = """\
 0 [Headphones     ]: bcm2835_headpho - bcm2835 Headphones
                      bcm2835 Headphones
 1 [seeed2micvoicec]: seeed-2mic-voic - seeed-2mic-voicecard
                      seeed-2mic-voicecard
"""
PI_PCM = """\
00-00: bcm2835 Headphones : bcm2835 Headphones : playback 8
01-00: fe203000.i2s-wm8960-hifi wm8960-hifi-0 : fe203000.i2s-wm8960-hifi wm8960-hifi-0 : \
playback 1 : capture 1
"""
ARECORD_L = """\
null
    Discard all samples (playback) or generate zero samples (capture)
default
    Playback/recording through the PulseAudio sound server
pulse
    PulseAudio Sound Server
hw:CARD=seeed2micvoicec,DEV=0
    seeed-2mic-voicecard, fe203000.i2s-wm8960-hifi wm8960-hifi-0
    Direct hardware device without any conversions
plughw:CARD=seeed2micvoicec,DEV=0
    seeed-2mic-voicecard, fe203000.i2s-wm8960-hifi wm8960-hifi-0
    Hardware device with all software conversions
dsnoop:CARD=seeed2micvoicec,DEV=0
    seeed-2mic-voicecard, fe203000.i2s-wm8960-hifi wm8960-hifi-0
    Direct sample snooping device
"""


@pytest.fixture
def pi_asound(tmp_path: Path) -> Path:
    (tmp_path / "cards").write_text(PI_CARDS)
    (tmp_path / "pcm").write_text(PI_PCM)
    return tmp_path


def test_parse_alsa_list_joins_descriptions() -> None:
    parsed = dict(parse_alsa_list(ARECORD_L))
    assert parsed["pulse"] == "PulseAudio Sound Server"
    assert parsed["hw:CARD=seeed2micvoicec,DEV=0"] == (
        "seeed-2mic-voicecard, fe203000.i2s-wm8960-hifi wm8960-hifi-0, "
        "Direct hardware device without any conversions")
    assert len(parsed) == 6


def test_cards_come_first_with_plughw_names(pi_asound: Path) -> None:
    capture = list_devices("capture", pi_asound)
    playback = list_devices("playback", pi_asound)
    assert capture[0].name == "plughw:CARD=seeed2micvoicec,DEV=0"
    assert capture[0].hardware
    assert "seeed-2mic-voicecard" in capture[0].description
    assert [d.name for d in playback[:2]] == [
        "plughw:CARD=Headphones,DEV=0", "plughw:CARD=seeed2micvoicec,DEV=0"]
    # The headphone jack has no microphone.
    assert "plughw:CARD=Headphones,DEV=0" not in [d.name for d in capture]
    # This machine's ALSA configuration (libasound2-plugins) defines the pulse device.
    assert "pulse" in [d.name for d in capture]
    assert not {"null", "samplerate", "speex"} & {d.name for d in capture}


def test_devices_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "Capture devices (for audio.input.device):" in out
    assert "Playback devices (for audio.output.device):" in out
    assert "sudo appliance config set audio.input.device" in out
    assert main(["devices", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {d["name"] for d in data["capture"]} >= {"pulse"}
