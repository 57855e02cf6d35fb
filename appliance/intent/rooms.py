"""What the microphone hears in ``appliance bench audio``: clips and rooms, pure numpy.

A clip is 0.5 s of room tone, the voice saying "Hey Jarvis", a gap (:data:`PAUSES_S`), the
command, then 1.5 s of room tone; each voice's own leading and trailing silence is trimmed
first, so the gap is the gap. Two rooms:

- ``dry``: the voices as synthesised, digital silence around them;
- ``room``: a living room, about a metre from the speaker. Reverberation is a synthetic
  impulse response (a direct path, then exponentially decaying noise from 5 ms on, RT60 0.5 s,
  as much energy in the reverberation as in the direct sound) convolved with numpy's FFT; a
  second talker (another voice, an unrelated sentence) from 0.3 s before the command (never
  over the wake word) to the command's end, 12 dB below the speech, reverberated from
  elsewhere in the room; pink noise at 20 dB SNR. Both levels are against the speech's power
  over the wake word and the command.

What the speaker plays comes back into the microphone (:class:`Echo`, mixed in by
:class:`Microphone`): 6 dB down, 30 ms late, and in the room reverberated (the speaker is next
to the microphone: the direct sound is 10 dB above the reverberation). Everything random takes
a seed: the same seed, the same clip.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from appliance.audio.format import FRAME_SAMPLES, RATE_HZ, Int16Array

FloatArray = npt.NDArray[np.float64]
Span = tuple[int, int]

LEAD_S = 0.5
TAIL_S = 1.5
PAUSES_S = {"none": 0.15, "pause": 0.8}
TRIM_DB = -50.0  # below the peak: the engine's silence, trimmed
TRIM_MARGIN_S = 0.03
TALKER_LEAD_S = 0.3  # the second talker starts this long before the command
FADE_S = 0.02
PINK_LOW_HZ = 50.0
PEAK = 0.9 * 32767  # a louder mix is turned down as a whole (the ratios stay)
_DECAY = 3 * np.log(10)  # amplitude e^(-DECAY t / RT60) is 60 dB down at RT60


@dataclass(frozen=True)
class Room:
    name: str
    rt60_s: float = 0.0  # 0: no reverberation
    drr_db: float = 0.0  # direct-to-reverberant energy ratio of the talker's path
    snr_db: float | None = None  # pink noise; None: none
    talker_db: float | None = None  # the second talker; None: none
    echo_drr_db: float = 10.0  # the speaker-to-microphone path


ROOMS = {"dry": Room("dry"),
         "room": Room("room", rt60_s=0.5, drr_db=0.0, snr_db=20.0, talker_db=-12.0)}


@dataclass(frozen=True)
class Clip:
    """``samples`` as the microphone hears them; where the wake word and the command are;
    ``lead`` samples of room tone at the start (the microphone goes on hearing it)."""

    samples: Int16Array
    wake: Span
    command: Span
    lead: int

    @property
    def spans(self) -> list[Span]:
        return [self.wake, self.command]


@dataclass(frozen=True)
class Mix:
    """A clip in a room, and the parts it was mixed from (after the same gain)."""

    clip: Clip
    speech: FloatArray
    talker: FloatArray
    noise: FloatArray


# -- signals ----------------------------------------------------------------------------------

def to_int16(x: FloatArray) -> Int16Array:
    out: Int16Array = np.clip(np.round(x), -32768, 32767).astype(np.int16)
    return out


def power(x: FloatArray, spans: list[Span]) -> float:
    """Mean power of ``x`` over ``spans`` (sample ranges)."""
    parts = [x[a:b] for a, b in spans if b > a]
    joined = np.concatenate(parts) if parts else np.zeros(1)
    return float(np.mean(joined**2))


def db(ratio: float) -> float:
    return float(10 * np.log10(ratio))


def trim(samples: Int16Array, threshold_db: float = TRIM_DB,
         margin_s: float = TRIM_MARGIN_S) -> Int16Array:
    """Without the leading and trailing silence (below ``threshold_db`` of the peak), keeping
    ``margin_s`` of it on each side."""
    x = np.abs(samples.astype(np.float64))
    if len(x) == 0 or x.max() == 0:
        return samples[:0]
    loud = np.nonzero(x > x.max() * 10 ** (threshold_db / 20))[0]
    margin = int(margin_s * RATE_HZ)
    return samples[max(0, loud[0] - margin): loud[-1] + 1 + margin]


def pink_noise(n: int, rng: np.random.Generator, low_hz: float = PINK_LOW_HZ) -> FloatArray:
    """``n`` samples of pink (1/f power) noise of unit power, nothing below ``low_hz`` (a
    microphone hears little of that, and it would make the level swing from second to
    second)."""
    if n == 0:
        return np.zeros(0)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    hz = np.fft.rfftfreq(n, 1 / RATE_HZ)
    shape = np.zeros(len(hz))
    shape[hz >= low_hz] = 1 / np.sqrt(hz[hz >= low_hz])
    noise = np.fft.irfft(spectrum * shape, n)
    scaled: FloatArray = noise / np.sqrt(np.mean(noise**2))
    return scaled


def impulse_response(rt60_s: float, drr_db: float, rng: np.random.Generator,
                     rate_hz: int = RATE_HZ) -> FloatArray:
    """A direct path (1 at t = 0), then noise decaying by 60 dB over ``rt60_s`` from 5 ms on,
    with ``drr_db`` less energy than the direct path."""
    n = max(1, int(rt60_s * rate_hz))
    t = np.arange(n) / rate_hz
    tail: FloatArray = rng.standard_normal(n) * np.exp(-_DECAY * t / rt60_s)
    tail[: int(0.005 * rate_hz)] = 0.0
    tail *= np.sqrt(10 ** (-drr_db / 10) / np.sum(tail**2))
    tail[0] = 1.0
    return tail


def convolve(x: FloatArray, h: FloatArray, length: int | None = None) -> FloatArray:
    """``x`` through the impulse response ``h`` (FFT), cut to ``length`` (default: len(x))."""
    n = len(x) + len(h) - 1
    size = 1 << max(0, (n - 1).bit_length())
    y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)
    out: FloatArray = y[: len(x) if length is None else length]
    return out


def fade_out(x: FloatArray, fade_s: float = FADE_S) -> FloatArray:
    n = min(len(x), int(fade_s * RATE_HZ))
    out = x.copy()
    if n:
        out[len(x) - n:] *= np.linspace(1.0, 0.0, n)
    return out


# -- clips ------------------------------------------------------------------------------------

def assemble(wake: Int16Array, command: Int16Array, gap_s: float, *, lead_s: float = LEAD_S,
             tail_s: float = TAIL_S) -> Clip:
    """Room tone (here: silence), the wake word, ``gap_s``, the command, room tone; the
    voices' own silences trimmed first."""
    wake, command = trim(wake), trim(command)
    lead, gap, tail = (np.zeros(int(s * RATE_HZ), np.int16) for s in (lead_s, gap_s, tail_s))
    w0 = len(lead)
    c0 = w0 + len(wake) + len(gap)
    samples = np.concatenate([lead, wake, gap, command, tail])
    return Clip(samples, (w0, w0 + len(wake)), (c0, c0 + len(command)), len(lead))


def talker_span(clip: Clip, lead_s: float = TALKER_LEAD_S) -> Span:
    """Where the second talker may talk: from ``lead_s`` before the command (not over the wake
    word) to the command's end."""
    return max(clip.wake[1], clip.command[0] - round(lead_s * RATE_HZ)), clip.command[1]


def place_talker(talker: Int16Array, clip: Clip) -> tuple[FloatArray, Span]:
    """The second talker in the clip's timeline (faded out at the end of :func:`talker_span`),
    zeros elsewhere; and where it talks."""
    out = np.zeros(len(clip.samples))
    start, end = talker_span(clip)
    said = trim(talker).astype(np.float64)[: end - start]
    out[start: start + len(said)] = fade_out(said)
    return out, (start, start + len(said))


def in_room(clip: Clip, room: Room, talker: Int16Array | None, seed: int) -> Mix:
    """``clip`` as heard in ``room`` (``talker``: the second talker's audio, if the room has
    one). The speech keeps its power; the noise and the talker are set against it."""
    rng = np.random.default_rng(seed)
    dry = clip.samples.astype(np.float64)
    zeros = np.zeros(len(dry))
    speech = dry
    if room.rt60_s > 0:
        wet = convolve(dry, impulse_response(room.rt60_s, room.drr_db, rng))
        speech = wet * np.sqrt(power(dry, clip.spans) / max(power(wet, clip.spans), 1e-12))
    p_speech = power(speech, clip.spans)
    other = zeros
    if room.talker_db is not None and talker is not None:
        other, span = place_talker(talker, clip)
        if room.rt60_s > 0:
            other = convolve(other, impulse_response(room.rt60_s, room.drr_db, rng))
        other = other * np.sqrt(p_speech * 10 ** (room.talker_db / 10)
                                / max(power(other, [span]), 1e-12))
    noise = zeros
    if room.snr_db is not None:
        noise = pink_noise(len(dry), rng) * np.sqrt(p_speech / 10 ** (room.snr_db / 10))
    mix = speech + other + noise
    gain = min(1.0, PEAK / max(float(np.max(np.abs(mix), initial=0.0)), 1e-12))
    heard = Clip(to_int16(mix * gain), clip.wake, clip.command, clip.lead)
    return Mix(heard, speech * gain, other * gain, noise * gain)


# -- the speaker heard back -------------------------------------------------------------------

@dataclass(frozen=True)
class Echo:
    """What the speaker plays, as the microphone hears it: ``gain_db``, ``delay_s`` late,
    through ``ir`` (the speaker-to-microphone path; None: straight)."""

    gain_db: float = -6.0
    delay_s: float = 0.030
    ir: FloatArray | None = field(default=None, compare=False)

    @property
    def delay_samples(self) -> int:
        return round(self.delay_s * RATE_HZ)

    def render(self, played: Int16Array) -> FloatArray:
        sound = played.astype(np.float64) * 10 ** (self.gain_db / 20)
        if self.ir is None:
            return sound
        return convolve(sound, self.ir, len(sound) + len(self.ir) - 1)


def room_echo(room: Room, seed: int) -> Echo:
    if room.rt60_s <= 0:
        return Echo()
    rng = np.random.default_rng(seed)
    return Echo(ir=impulse_response(room.rt60_s, room.echo_drr_db, rng))


class Microphone:
    """A clip as 80 ms frames, then its room tone for as long as it is asked for; what the
    speaker plays (:meth:`play`) is mixed into the frames still to come."""

    def __init__(self, clip: Clip, echo: Echo) -> None:
        self.clip = clip
        self.echo = echo
        self.position = 0  # samples handed out
        self.heard_at: list[int] = []  # where each played sound starts in the microphone
        self._overlay = np.zeros(len(clip.samples))
        self._tone = clip.samples[: clip.lead].astype(np.float64)

    @property
    def clip_done(self) -> bool:
        return self.position >= len(self.clip.samples)

    def play(self, samples: Int16Array) -> int:
        """The speaker plays ``samples`` (16 kHz) now: heard from ``delay_s`` on."""
        at = self.position + self.echo.delay_samples
        sound = self.echo.render(samples)
        if at + len(sound) > len(self._overlay):
            self._overlay = np.pad(self._overlay, (0, at + len(sound) - len(self._overlay)))
        self._overlay[at: at + len(sound)] += sound
        self.heard_at.append(at)
        return at

    def frame(self) -> bytes:
        start, end = self.position, self.position + FRAME_SAMPLES
        self.position = end
        return to_int16(self._base(start, end) + self._overlaid(start, end)).tobytes()

    def _base(self, start: int, end: int) -> FloatArray:
        """The clip, then its room tone over and over."""
        index = np.arange(start, end)
        n = len(self.clip.samples)
        tone = (self._tone[(index - n) % len(self._tone)] if len(self._tone)
                else np.zeros(end - start))
        inside = self.clip.samples[np.minimum(index, n - 1)].astype(np.float64)
        out: FloatArray = np.where(index < n, inside, tone)
        return out

    def _overlaid(self, start: int, end: int) -> FloatArray:
        part = self._overlay[start:end]
        return np.pad(part, (0, end - start - len(part)))
