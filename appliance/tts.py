"""Speech: Piper voices, synthesised in pieces of bounded length, sentence by sentence.

Piper's memory grows with the length of what it synthesises at once (about 1.1 MB per
character, kept by onnxruntime's arena afterwards), so text goes to it in :func:`pieces` of at
most :data:`PIECE_CHARS` characters, cut at the strongest boundary there is: between sentences,
then between clauses, then between words. The session gives its arena back after a long run and
the C heap is trimmed after every text, so memory returns to its working size.
"""

from __future__ import annotations

import ctypes
import functools
import json
import logging
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from appliance.audio.format import Int16Array
from appliance.errors import ModelError, TtsError
from appliance.models import onnx_errors, onnx_session, piper_voice
from appliance.settings import TtsSettings

_LOGGER = logging.getLogger(__name__)

# The longest piece of text Piper synthesises at once. A 1,000-character sentence in one piece
# raised the peak by 1,120 MB; in pieces of 100/150/200/250 characters by 133/154/207/268 MB
# (en_US-joe-medium, 2-core x86). A normal answer's sentences are shorter: they are not cut.
PIECE_CHARS = 150

# Runs on more phoneme ids than this (about 90 characters) give their memory back afterwards.
SHRINK_ABOVE_IDS = 200

# What the listener waits for is the first piece: a first sentence longer than
# FIRST_CLAUSE_ABOVE characters starts as a piece of its own, its first clause of at least
# MIN_FIRST_CLAUSE characters (Piper takes about as long per character: "Today is Tuesday,"
# is heard after 0.14 s, "Today is Tuesday, the first of December, 2026." after 0.46 s, 2-core
# x86, one thread). The rest of the sentence is made while that clause plays: it may be at most
# REST_PER_CLAUSE times as long, so a Pi, where Piper makes speech about twice as fast as it
# plays, has no gap either.
FIRST_CLAUSE_ABOVE = 30
MIN_FIRST_CLAUSE = 12
REST_PER_CLAUSE = 2.0

_CLOSE = "\"'\u2019\u201d)\\]"  # closing quotes and brackets after the punctuation
_SENTENCE_END = re.compile(rf"[.!?\u2026]+[{_CLOSE}]*$")
_CLAUSE_END = re.compile(rf"([,;:\u2013\u2014]|--)[{_CLOSE}]*$|^[-\u2013\u2014]+$")
_FIX = ("point tts.voice at a complete Piper voice, NAME.onnx with its NAME.onnx.json beside it "
        "(download it again if it is damaged), or use the bundled en_US-joe-medium")
_PIPER_INPUTS = ("input", "input_lengths", "scales")


def pieces(text: str, limit: int = PIECE_CHARS) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut only where it must be: whole
    sentences are packed together up to the limit; a longer sentence is cut between clauses
    (after , ; : and dashes), a longer clause between words, into pieces of about equal length.
    Words are kept whole, except a "word" longer than the limit (a URL). Whitespace between
    words becomes one space."""
    return [" ".join(p) for p in _split(_tokens(text, limit), limit, 0)]


def spoken_pieces(text: str, limit: int = PIECE_CHARS) -> list[str]:
    """The pieces Piper says, in order: :func:`pieces`, with a long first sentence's first
    clause as a piece of its own (see :data:`FIRST_CLAUSE_ABOVE`), so the first audio
    comes sooner."""
    out = pieces(text, limit)
    if not out:
        return out
    head, rest = first_clause(out[0].split())
    return [" ".join(head), " ".join(rest), *out[1:]] if head and rest else out


def first_clause(words: list[str]) -> tuple[list[str], list[str]]:
    """``words`` cut after the first sentence's first clause worth saying alone: at least
    :data:`MIN_FIRST_CLAUSE` characters, the rest of its sentence at most
    :data:`REST_PER_CLAUSE` times as long. ``([], words)``: the first sentence is short, or
    has no such clause."""
    sentence = next(_runs(words, _SENTENCE_END), [])
    if _length(sentence) <= FIRST_CLAUSE_ABOVE:
        return [], words
    for i, word in enumerate(sentence[:-1]):
        head = sentence[: i + 1]
        if _CLAUSE_END.search(word) and _length(head) >= MIN_FIRST_CLAUSE \
                and _length(sentence[i + 1 :]) <= REST_PER_CLAUSE * _length(head):
            return head, words[i + 1 :]
    return [], words


def _tokens(text: str, limit: int) -> list[str]:
    return [word[i : i + limit] for word in text.split() for i in range(0, len(word), limit)]


def _length(tokens: list[str]) -> int:
    return sum(map(len, tokens)) + len(tokens) - 1


def _split(tokens: list[str], limit: int, level: int) -> list[list[str]]:
    """Runs of ``tokens`` under the limit, cut at this level's boundaries (sentences, then
    clauses), a run over the limit at the next level's; words are the last level."""
    if not tokens or _length(tokens) <= limit:
        return [tokens] if tokens else []
    if level == 2:
        return _even(tokens, limit)
    out: list[list[str]] = []
    short: list[list[str]] = []
    for run in _runs(tokens, (_SENTENCE_END, _CLAUSE_END)[level]):
        if _length(run) <= limit:
            short.append(run)
            continue
        out += _pack(short, limit) + _split(run, limit, level + 1)
        short = []
    return out + _pack(short, limit)


def _runs(tokens: list[str], end: re.Pattern[str]) -> Iterator[list[str]]:
    start = 0
    for i, token in enumerate(tokens):
        if end.search(token):
            yield tokens[start : i + 1]
            start = i + 1
    if start < len(tokens):
        yield tokens[start:]


def _pack(runs: list[list[str]], limit: int) -> list[list[str]]:
    """Consecutive runs joined while they fit in ``limit``."""
    out: list[list[str]] = []
    for run in runs:
        if out and _length(out[-1]) + 1 + _length(run) <= limit:
            out[-1] = out[-1] + run
        else:
            out.append(run)
    return out


def _even(words: list[str], limit: int) -> list[list[str]]:
    """Words in pieces of about equal length (each ends at the word boundary nearest to the
    target length), none over ``limit``."""
    target = _length(words) / math.ceil(_length(words) / limit)
    out: list[list[str]] = [[]]
    for word in words:
        piece = out[-1]
        now, longer = _length(piece), _length(piece) + 1 + len(word)
        if piece and (longer > limit or abs(now - target) <= abs(longer - target)):
            out.append([word])
        else:
            piece.append(word)
    return out


class _ShrinkingSession:
    """A Piper session that gives onnxruntime's memory arena back after a long run (the arena
    otherwise keeps the largest run's memory for good). Shorter runs, a normal answer's
    sentences, keep their memory: releasing it made the first audio 10 % slower (measured)."""

    def __init__(self, session: Any) -> None:
        import onnxruntime as ort

        self.session = session
        self._shrink = ort.RunOptions()
        self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def get_inputs(self) -> Any:
        return self.session.get_inputs()

    def run(self, output_names: Any, feeds: dict[str, Any]) -> Any:
        long = feeds["input"].shape[-1] > SHRINK_ABOVE_IDS
        return self.session.run(output_names, feeds, self._shrink if long else None)


@functools.cache
def _malloc_trim() -> Any:
    return getattr(ctypes.CDLL(None), "malloc_trim", None)


def _trim_heap() -> None:
    """Give the C heap's free memory back to the system (glibc's ``malloc_trim``; elsewhere,
    nothing)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _problem(config: Any) -> str:
    """What is missing from a Piper voice config (empty: nothing)."""
    if not isinstance(config, dict):
        return "it is not a JSON object"
    audio, espeak, ids = config.get("audio"), config.get("espeak"), config.get("phoneme_id_map")
    checks = [
        (isinstance(audio, dict) and isinstance(audio.get("sample_rate"), int)
         and audio["sample_rate"] > 0, "audio.sample_rate"),
        (isinstance(espeak, dict) and isinstance(espeak.get("voice"), str), "espeak.voice"),
        (isinstance(ids, dict) and bool(ids)
         and all(isinstance(v, list) for v in ids.values()), "phoneme_id_map"),
        (isinstance(config.get("num_symbols"), int), "num_symbols"),
        (isinstance(config.get("num_speakers"), int), "num_speakers"),
    ]
    missing = [key for ok, key in checks if not ok]
    return f"it has no valid {', '.join(missing)}" if missing else ""


def _voice_config(path: Path) -> Any:
    from piper.config import PiperConfig

    json_path = Path(f"{path}.json")
    try:
        config = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ModelError(f"tts.voice: {json_path} is not readable JSON: {err}", fix=_FIX) from err
    problem = _problem(config)
    if not problem:
        try:
            return PiperConfig.from_dict(config)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            problem = f"{type(err).__name__}: {err}"
    raise ModelError(f"tts.voice: {json_path} is not a Piper voice config ({problem})", fix=_FIX)


def _check_session(session: Any, path: Path) -> None:
    names = [i.name for i in session.get_inputs()]
    if not set(_PIPER_INPUTS) <= set(names):
        raise ModelError(
            f"tts.voice: {path} is not a Piper voice: its inputs are {', '.join(names)}; a "
            f"Piper voice's are {', '.join(_PIPER_INPUTS)}", fix=_FIX)


class Synthesizer:
    """``sentences(text)`` yields int16 audio, one sentence (or piece of a long one) at a time,
    blocking per sentence."""

    def __init__(self, settings: TtsSettings) -> None:
        from piper import PiperVoice, SynthesisConfig

        self.info = piper_voice(settings.voice)
        config = _voice_config(self.info.path)
        # PiperVoice.load has no thread setting: build the session ourselves.
        session = onnx_session(self.info.path, "tts.voice", _FIX, threads=settings.threads)
        _check_session(session, self.info.path)
        self._voice = PiperVoice(session=_ShrinkingSession(session), config=config)
        self._check_phonemes()
        self._syn = SynthesisConfig(length_scale=settings.length_scale)
        self.rate_hz: int = config.sample_rate

    def _check_phonemes(self) -> None:
        """The voice's espeak voice and phoneme map work (no model run)."""
        try:
            for phonemes in self._voice.phonemize("Ready."):
                self._voice.phonemes_to_ids(phonemes)
        except (RuntimeError, KeyError, ValueError, TypeError) as err:
            raise ModelError(
                f"tts.voice: {self.info.path}.json does not work with Piper: "
                f"{type(err).__name__}: {err}", fix=_FIX) from err

    def sentences(self, text: str) -> Iterator[Int16Array]:
        try:
            for piece in spoken_pieces(text):
                for chunk in self._voice.synthesize(piece, self._syn):
                    yield chunk.audio_int16_array
        except onnx_errors() as err:
            raise TtsError(f"speech synthesis failed: {err}", fix="run with --debug") from err
        finally:
            _trim_heap()
