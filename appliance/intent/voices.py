"""The voices of ``appliance bench audio``: three speech engines, eight voices.

Each voice turns text into 16 kHz int16 samples (:data:`~appliance.audio.format.RATE_HZ`):

- Piper: the configured voice (``tts.voice``) at its own speed, and the same voice faster
  (``length_scale`` 0.8, someone in a hurry);
- espeak-ng: three variants of accent, formant set, speed (``-s``) and pitch (``-p``);
- flite: three speakers (``slt``, ``rms``, ``awb``).

Only the configured Piper voice is one the sentence files and the older benchmark were written
against; the others are there because they were not. Each voice names the voice of the second
talker in the ``room`` condition (another engine's, so never the same person).

Clips are cached under ``cache_dir()/bench-audio``, one WAV per engine, voice, options and
text (a hash of them is the name), so a second run synthesises nothing.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from appliance.audio.format import RATE_HZ, Int16Array, Pcm, read_wav, resample, write_wav
from appliance.errors import ApplianceError
from appliance.models import cache_dir
from appliance.settings import TtsSettings

Speak = Callable[[str], Int16Array]
SYNTH_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Voice:
    """One voice: ``engine`` ("piper", "espeak-ng" or "flite") with ``options`` (the command's
    arguments; for Piper the length scale); ``talker`` is the second talker's voice."""

    name: str
    engine: str
    options: tuple[str, ...]
    talker: str


VOICES = (
    Voice("piper", "piper", ("1.0",), talker="espeak-gb-f3"),
    Voice("piper-fast", "piper", ("0.8",), talker="espeak-us-klatt4"),
    Voice("espeak-us-m3", "espeak-ng", ("-v", "en-us+m3", "-s", "160", "-p", "45"),
          talker="flite-slt"),
    Voice("espeak-gb-f3", "espeak-ng", ("-v", "en-gb+f3", "-s", "145", "-p", "60"),
          talker="flite-rms"),
    Voice("espeak-us-klatt4", "espeak-ng", ("-v", "en-us+klatt4", "-s", "175", "-p", "35"),
          talker="flite-awb"),
    Voice("flite-slt", "flite", ("-voice", "slt"), talker="piper"),
    Voice("flite-rms", "flite", ("-voice", "rms"), talker="piper-fast"),
    Voice("flite-awb", "flite", ("-voice", "awb"), talker="espeak-us-m3"),
)
VOICE_NAMES = tuple(v.name for v in VOICES)

# The program each engine runs and the Debian package that has it (Piper is a Python package).
_PROGRAMS = {"espeak-ng": "espeak-ng", "flite": "flite"}


def voice(name: str) -> Voice:
    for v in VOICES:
        if v.name == name:
            return v
    raise ApplianceError(f"no voice {name!r} (the voices: {', '.join(VOICE_NAMES)})",
                         fix="pass --voices with names from that list", code="bench_data")


def check_engines(voices: Iterable[Voice]) -> None:
    """Every program the voices need is installed: else one error naming the package."""
    for v in voices:
        program = _PROGRAMS.get(v.engine)
        if program is not None and shutil.which(program) is None:
            raise ApplianceError(
                f"the {v.name} voice needs {program}, which is not installed",
                fix=f"sudo apt-get install {program} (or leave its voices out with --voices)",
                code="bench_data")


def clip_key(engine: str, identity: str, options: tuple[str, ...], text: str) -> str:
    """The cache name of a clip: a hash of everything that makes the audio."""
    blob = "\0".join((engine, identity, *options, text)).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


class VoiceBox:
    """Speaks with any voice of :data:`VOICES`, from the cache when the clip was made before.
    Engines start on the first clip not in the cache (Piper loads its model then)."""

    def __init__(self, tts: TtsSettings, cache: Path | None = None) -> None:
        self.tts = tts
        self.cache = cache or cache_dir() / "bench-audio"
        self.synthesised = 0  # clips made this run (not from the cache)
        self._engines: dict[str, Speak] = {}

    def speak(self, name: str, text: str) -> Int16Array:
        v = voice(name)
        path = self.cache / f"{clip_key(v.engine, self._identity(v), v.options, text)}.wav"
        if path.is_file():
            return read_wav(path).samples
        samples = self._engine(v)(text)
        self._store(path, samples)
        self.synthesised += 1
        return samples

    def _identity(self, v: Voice) -> str:
        """What else decides the sound: the Piper voice file."""
        return self.tts.voice if v.engine == "piper" else ""

    def _engine(self, v: Voice) -> Speak:
        if v.name not in self._engines:
            check_engines([v])
            self._engines[v.name] = (piper_speaker(self.tts, float(v.options[0]))
                                     if v.engine == "piper" else command_speaker(v))
        return self._engines[v.name]

    def _store(self, path: Path, samples: Int16Array) -> None:
        """Written whole or not at all (another run may read the cache)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
        try:
            write_wav(Path(tmp), Pcm(samples, RATE_HZ))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class Speech:
    """A run's speech: each voice and text made once (kept in memory, and in the cache)."""

    def __init__(self, box: VoiceBox) -> None:
        self.box = box
        self._said: dict[tuple[str, str], Int16Array] = {}

    def __call__(self, name: str, text: str) -> Int16Array:
        key = (name, text)
        if key not in self._said:
            self._said[key] = self.box.speak(name, text)
        return self._said[key]


def piper_speaker(tts: TtsSettings, length_scale: float) -> Speak:
    from appliance.tts import Synthesizer

    synth = Synthesizer(replace(tts, length_scale=length_scale))

    def speak(text: str) -> Int16Array:
        audio = np.concatenate(list(synth.sentences(text)))
        return resample(audio, synth.rate_hz, RATE_HZ)

    return speak


def command_argv(v: Voice, text: str, wav: Path) -> list[str]:
    if v.engine == "espeak-ng":
        return ["espeak-ng", *v.options, "-w", str(wav), text]
    return ["flite", *v.options, "-t", text, "-o", str(wav)]


def command_speaker(v: Voice) -> Speak:
    def speak(text: str) -> Int16Array:
        with tempfile.TemporaryDirectory(prefix="appliance-voice-") as tmp:
            wav = Path(tmp) / "out.wav"
            run = subprocess.run(command_argv(v, text, wav), capture_output=True, text=True,
                                 timeout=SYNTH_TIMEOUT_S, check=False)
            if run.returncode != 0 or not wav.is_file():
                why = (run.stderr.strip().splitlines() or [f"exit code {run.returncode}"])[-1]
                argv = shlex.join(command_argv(v, text, Path("out.wav")))
                raise ApplianceError(f"{v.engine} could not say {text!r}: {why}",
                                     fix=f"try `{argv}`", code="bench_data")
            pcm = read_wav(wav)
        return resample(pcm.samples, pcm.rate_hz, RATE_HZ)

    return speak
