"""Sounds Home Assistant sends as URLs: its answers, announcements and media.

Home Assistant serves them over HTTP (converted by its ffmpeg proxy to the format our media
player entity asks for: WAV); any format PyAV (already here for Whisper) decodes is taken. Only
http and https: a URL naming a local file or another scheme is refused.
"""

from __future__ import annotations

import io
import urllib.parse
import urllib.request
from collections.abc import Iterator

import numpy as np

from appliance.audio.format import Int16Array
from appliance.controller import Sound
from appliance.errors import ApplianceError

SOUND_RATE_HZ = 22050  # what sounds are decoded to (the format our media player asks for)
MAX_BYTES = 32 * 1024 * 1024  # an answer or announcement; media are streamed instead
CHUNK_S = 0.5


class MediaError(ApplianceError):
    code = "esphome_media"


def check_url(url: str) -> str:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise MediaError(f"refused the media URL {url[:120]!r}: only http and https are played",
                         fix="play media Home Assistant serves (a TTS answer, media source)")
    return url


def fetch(url: str, timeout_s: float, max_bytes: int = MAX_BYTES) -> bytes:
    """The body at ``url`` (blocking: run it in a thread); at most ``max_bytes``."""
    check_url(url)
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            body: bytes = response.read(max_bytes + 1)
    except (OSError, ValueError) as err:
        raise MediaError(f"cannot fetch {url[:120]}: {err}",
                         fix="check that Home Assistant is reachable from the speaker "
                         "(its internal URL in Settings > System > Network)") from err
    if len(body) > max_bytes:
        raise MediaError(f"{url[:120]} is over {max_bytes // 1_000_000} MB",
                         fix="play long media through the media player, which streams")
    return body


def fetch_sound(url: str, timeout_s: float) -> Sound:
    """The sound at ``url``, fetched and decoded at :data:`SOUND_RATE_HZ` (blocking: one thread
    hop for both)."""
    return decode(fetch(url, timeout_s), SOUND_RATE_HZ)


def decode(data: bytes | str, rate_hz: int) -> Sound:
    """Decode a whole sound (bytes, or a URL PyAV opens itself) to mono 16-bit at ``rate_hz``."""
    chunks = list(decode_stream(data, rate_hz))
    samples: Int16Array = (np.concatenate(chunks) if chunks else np.zeros(0, np.int16))
    return Sound(samples, rate_hz)


def decode_stream(data: bytes | str, rate_hz: int) -> Iterator[Int16Array]:
    """Mono 16-bit chunks at ``rate_hz`` as they decode (blocking: iterate in a thread)."""
    import av

    source = io.BytesIO(data) if isinstance(data, bytes) else check_url(data)
    try:
        with av.open(source, mode="r", timeout=10.0) as container:
            if not container.streams.audio:
                raise _no_audio()
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate_hz)
            for packet in container.demux(container.streams.audio[0]):
                for frame in packet.decode():
                    for out in resampler.resample(frame):
                        yield out.to_ndarray().reshape(-1).astype(np.int16, copy=False)
            for out in resampler.resample(None):
                yield out.to_ndarray().reshape(-1).astype(np.int16, copy=False)
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError) as err:
        raise MediaError(f"cannot decode the media: {err}",
                         fix="Home Assistant should send WAV, MP3 or FLAC") from err


def _no_audio() -> MediaError:
    return MediaError("the media has no audio", fix="play an audio file or stream")
