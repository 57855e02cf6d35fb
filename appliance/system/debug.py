"""Debug recordings: keep the last N utterances as WAV files (off by default: privacy).

``[debug] save_utterances = N`` keeps the newest N commands heard (16 kHz mono WAV, with the
transcript in a ``.txt`` beside it) in ``[debug] dir``. Files are numbered, not dated (a Pi has no
real-time clock), and the oldest are deleted as new ones arrive.
"""

from __future__ import annotations

import logging
import os
import re
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from appliance.fields import rng

_LOGGER = logging.getLogger(__name__)

_NAME = re.compile(r"^utterance-(\d+)\.wav$")


@dataclass(frozen=True)
class DebugSettings:
    """The ``[debug]`` table."""

    save_utterances: int = rng(0, 10000)
    dir: str = rng(line=True)


def save_utterance(debug: DebugSettings, pcm16k: bytes, text: str) -> None:
    """Save one utterance (16 kHz 16-bit mono PCM) and its transcript, keeping only the newest
    ``debug.save_utterances``. Blocking file I/O: call it from a thread. Never raises: a full or
    read-only disk is logged, the pipeline carries on."""
    keep = debug.save_utterances
    if keep <= 0:
        return
    folder = Path(debug.dir)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        numbers = _saved_numbers(folder)
        number = max(numbers, default=0) + 1
        _write(folder, number, pcm16k, text)
        for old in sorted(numbers)[: max(0, len(numbers) + 1 - keep)]:
            _remove(folder, old)
    except OSError as err:
        _LOGGER.warning("cannot save the utterance in %s: %s", folder, err)


def saved_utterances(folder: Path) -> list[Path]:
    """The saved WAV files, oldest first."""
    return [_wav(folder, n) for n in sorted(_saved_numbers(folder))]


def _saved_numbers(folder: Path) -> list[int]:
    return [int(m.group(1)) for p in folder.iterdir() if (m := _NAME.match(p.name))]


def _wav(folder: Path, number: int) -> Path:
    return folder / f"utterance-{number:06d}.wav"


def _write(folder: Path, number: int, pcm16k: bytes, text: str) -> None:
    wav = _wav(folder, number)
    tmp = wav.with_suffix(".tmp")
    with _private(tmp) as fh, wave.open(fh, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(pcm16k)
    with _private(wav.with_suffix(".txt")) as fh:
        fh.write((text + "\n").encode())
    tmp.replace(wav)
    _LOGGER.debug("saved the utterance as %s", wav)


def _private(path: Path) -> BinaryIO:
    """A new file only its owner can read, whatever the umask."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def _remove(folder: Path, number: int) -> None:
    wav = _wav(folder, number)
    wav.unlink(missing_ok=True)
    wav.with_suffix(".txt").unlink(missing_ok=True)
