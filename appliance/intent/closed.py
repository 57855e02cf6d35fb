"""Closed-vocabulary recognition: which of the sentences the speaker knows was said?

Whisper is free to write any English; the speaker only needs to know which of its commands was
said. When the free transcript is not understood, this module:

1. **expands** the intent templates into *skeletons* (:mod:`appliance.intent.skeletons`), word
   sequences with a placeholder where a number, a name, an amount or a time goes (``set a timer
   for <amount>``), once per engine;
2. **retrieves** the skeletons closest to the transcript by the letter trigrams they share (an
   inverted index: a few milliseconds, whatever the number of skeletons), then aligns each of the
   best few word by word and fills its placeholders with what was heard in their place (the
   numbers and names keep their values: only the words around them are corrected);
3. **asks Whisper** (:class:`SentenceScorer`, forced decoding over the same encoded audio) how
   likely each filled sentence is for this audio, against the free transcript: a candidate is
   accepted only when the audio supports it nearly as well as what Whisper wrote freely
   (``max_penalty`` nats), so out-of-domain speech ("what time does the pharmacy close") stays
   not understood, while "Can't sell it all timers." becomes "cancel all timers".

Pure text steps (1, 2) have no model and are tested on their own; step 3 is behind the small
:class:`SentenceScorer` protocol.
"""

from __future__ import annotations

import array
import difflib
import itertools
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from appliance.controller import NOTHING_MOOT, Moot, Recognition
from appliance.intent.skeletons import (
    NUMBER,
    SPAN_WORDS,
    Skeleton,
    Slot,
    Token,
    choice_values,
    goes_on,
    skeletons,
)

_LOGGER = logging.getLogger(__name__)


# -- retrieval and filling ---------------------------------------------------------------------


_SOUNDS = str.maketrans("vbdgcqzx", "fptkkkss")
_VOWELS = re.compile(r"(?<=.)[aeiouyhw']+")
_DOUBLES = re.compile(r"(.)\1+")


def sound_key(word: str) -> str:
    """A rough key of how a word sounds ("volume" and "follow" -> "flm", "fl"): voiced and
    unvoiced consonants as one, vowels after the first letter dropped."""
    if word == "#":
        return word
    word = word.replace("ph", "f").replace("ck", "k").translate(_SOUNDS)
    return _DOUBLES.sub(r"\1", _VOWELS.sub("", word))


def _word_trigrams(word: str) -> frozenset[str]:
    """Letter trigrams of a word (with its edges), and of its sound key (marked with ~)."""
    grams: set[str] = set()
    for text, mark in ((f" {word} ", ""), (f" {sound_key(word)} ", "~")):
        grams.update(mark + text[i : i + 3] for i in range(len(text) - 2))
    return frozenset(grams)


def _trigrams(words: Iterable[str], cache: dict[str, frozenset[str]] | None = None
              ) -> set[str]:
    """The trigrams of the words (a word's are computed once per ``cache``)."""
    cache = {} if cache is None else cache
    grams: set[str] = set()
    for word in words:
        if word not in cache:
            cache[word] = _word_trigrams(word)
        grams |= cache[word]
    return grams


def _skeleton_words(skeleton: Skeleton) -> list[str]:
    return [t if isinstance(t, str) else "#" for t in skeleton.tokens]


@dataclass(frozen=True)
class Candidate:
    intent: str
    words: tuple[str, ...]  # the filled sentence, normalised (what the engine matches)
    similarity: float  # 0-1, how close the words are to what was heard


class SkeletonIndex:
    """The skeletons, and the closest of them to a normalised transcript."""

    def __init__(self, all_skeletons: Sequence[Skeleton],
                 choices: Mapping[str, Sequence[str]]) -> None:
        self.skeletons = list(all_skeletons)
        self.choices = choices
        cache: dict[str, frozenset[str]] = {}
        ids: dict[str, int] = {}
        gram_ids = array.array("i")
        owners = array.array("i")
        sizes = []
        for i, skeleton in enumerate(self.skeletons):
            grams = _trigrams(_skeleton_words(skeleton), cache)
            sizes.append(len(grams))
            gram_ids.extend(ids.setdefault(g, len(ids)) for g in grams)
            owners.extend(itertools.repeat(i, len(grams)))
        gram_array = np.frombuffer(gram_ids, np.int32)
        order = np.argsort(gram_array, kind="stable")
        by_gram = np.frombuffer(owners, np.int32)[order]
        bounds = np.searchsorted(gram_array[order], np.arange(len(ids) + 1))
        self._postings = {g: by_gram[bounds[n] : bounds[n + 1]] for g, n in ids.items()}
        self._sizes = np.asarray(sizes, np.float32)

    def nearest(self, words: Sequence[str], k: int = 40) -> list[Skeleton]:
        """The ``k`` skeletons sharing the most letter trigrams with ``words`` (Dice score)."""
        masked = ["#" if NUMBER.match(w) else w for w in words]
        grams = _trigrams(masked)
        hits = [self._postings[g] for g in grams if g in self._postings]
        if not hits or not self.skeletons:
            return []
        counts = np.bincount(np.concatenate(hits), minlength=len(self.skeletons))
        dice = 2 * counts / (self._sizes + len(grams))
        best = np.argsort(-dice, kind="stable")[:k]
        return [self.skeletons[i] for i in best if counts[i] > 0]

    def candidates(self, words: Sequence[str], k: int = 40, keep: int = 8) -> list[Candidate]:
        """The ``keep`` best filled sentences among the ``k`` nearest skeletons."""
        found: dict[tuple[str, tuple[str, ...]], Candidate] = {}
        for skeleton in self.nearest(words, k):
            filled = fill(skeleton, words, self.choices)
            if filled is None:
                continue
            similarity = difflib.SequenceMatcher(
                None, " ".join(words), " ".join(filled), autojunk=False).ratio()
            key = (skeleton.intent, filled)
            if key not in found or found[key].similarity < similarity:
                found[key] = Candidate(skeleton.intent, filled, similarity)
        return sorted(found.values(), key=lambda c: -c.similarity)[:keep]


def fill(skeleton: Skeleton, words: Sequence[str],
         choices: Mapping[str, Sequence[str]]) -> tuple[str, ...] | None:
    """The skeleton with each placeholder replaced by what was heard where it stands.

    The skeleton's words are matched to the heard words; a placeholder takes the heard words
    between the matched words around it: a number the first number there, a name up to three
    words, a duration or a time all of them as heard, a choice (am/pm, a day) the closest of its
    values. None: something a placeholder needs was not heard.
    """
    tokens = skeleton.tokens
    literal = [t if isinstance(t, str) else f"\x02{i}" for i, t in enumerate(tokens)]
    matcher = difflib.SequenceMatcher(None, literal, list(words), autojunk=False)
    heard_at: dict[int, int] = {}
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            heard_at[a + k] = b + k
    if not _covers(matcher.get_opcodes(), tokens, words):
        return None
    out: list[str] = []
    used: set[int] = set(heard_at.values())
    for i, token in enumerate(tokens):
        if isinstance(token, str):
            out.append(token)
            continue
        before = max((heard_at[j] for j in heard_at if j < i), default=-1)
        after = min((heard_at[j] for j in heard_at if j > i), default=len(words))
        gap = [k for k in range(before + 1, after) if k not in used]
        value = _slot_value(token, [words[k] for k in gap], choices)
        if value is None:
            return None
        taken, value_words = value
        used.update(gap[k] for k in taken)
        out += value_words
    return tuple(out)


# Words that start a statement, not a command said to the speaker ("I set an alarm but ...").
_SUBJECTS = frozenset(["i", "we", "he", "she", "they", "it's", "i'm", "we're", "they're"])
# How many heard words a placeholder may stand for (a name, an amount, a time: several).
_PLACEHOLDER_WORDS = {"words": 3, "span": 7, "choice": 3, "number": 1}


def _covers(opcodes: Sequence[tuple[str, int, int, int, int]], tokens: Sequence[Token],
            words: Sequence[str]) -> bool:
    """Whether a sentence accounts for what was heard. Words heard in place of the sentence's
    own are its mishearings (a few for one: "can't sell it" for "cancel"), but not words left
    over: none after it (a command that stops short of the speech, "stop it" for "stop it, you
    two", is not what was said), at most one before it (the wake word's last syllable in the
    pre-roll; not a subject: "I set an alarm ..." is a statement), and no more in place of a
    part of it than that part could be misheard as."""
    if words and words[0] in _SUBJECTS and (not tokens or tokens[0] != words[0]):
        return False
    for op, a0, a1, b0, b1 in opcodes:
        if op == "insert" and (b1 == len(words) or (b0 == 0 and (
                b1 > 1 or words[0] in _SUBJECTS))):
            return False
        if op == "replace":
            room = sum(2 if isinstance(t, str) else _PLACEHOLDER_WORDS[t.kind]
                       for t in tokens[a0:a1])
            if b1 - b0 > room + 1:
                return False
    return True


def _slot_value(slot: Slot, span: list[str], choices: Mapping[str, Sequence[str]]
                ) -> tuple[list[int], list[str]] | None:
    """(positions in ``span`` used, the words) for one placeholder, or None."""
    if not span:
        return None
    if slot.kind == "number":
        at = [k for k, w in enumerate(span) if NUMBER.match(w)][:1]
        return (at, [span[at[0]]]) if at else None
    if slot.kind == "span":  # an amount or a time: from its first number or word to its last
        vocabulary = set(choices.get(SPAN_WORDS, ()))
        inside = [k for k, w in enumerate(span) if NUMBER.match(w) or w in vocabulary]
        if not any(NUMBER.match(span[k]) for k in inside):
            return None
        kept = list(range(inside[0], inside[-1] + 1))
        return kept, [span[k] for k in kept]
    if slot.kind == "choice":
        heard = " ".join(span)
        values = choices.get(slot.name, ())
        close = difflib.get_close_matches(heard, values, n=1, cutoff=0.5)
        return (list(range(len(span))), close[0].split()) if close else None
    at = [k for k, w in enumerate(span) if not NUMBER.match(w)][:3]
    return (at, [span[k] for k in at]) if at else None


# -- scoring with Whisper ----------------------------------------------------------------------


class SentenceScorer(Protocol):
    def __call__(self, texts: Sequence[str]) -> list[float] | None:
        """Whisper's log-probability of each text for the audio (None: cannot score)."""


@dataclass(frozen=True)
class Choice:
    recognition: Recognition
    sentence: str
    penalty: float  # nats below the free transcript (0: as likely)


def spoken_form(words: Sequence[str], like: str) -> str:
    """A normalised sentence written as Whisper writes: capital first letter, the free
    transcript's final punctuation."""
    text = " ".join(words)
    end = like.rstrip()[-1:] if like.rstrip()[-1:] in ".?!" else "."
    return " " + text[:1].upper() + text[1:] + end


def choose(transcript: str, candidates: Sequence[Candidate], *, recognize: Any,
           scorer: SentenceScorer, max_penalty: float) -> Choice | None:
    """The most likely candidate the engine understands, if the audio supports it.

    ``recognize(text)`` is the engine's exact match; a candidate it does not understand (a
    filled slot out of range, say) is dropped before scoring.
    """
    parsed = []
    for cand in candidates:
        got = recognize(" ".join(cand.words))
        if got is not None:
            parsed.append((cand, got))
    if not parsed:
        return None
    texts = [" " + transcript.strip()] + [spoken_form(c.words, transcript) for c, _ in parsed]
    scores = scorer(texts)
    if scores is None:
        return None
    free, rest = scores[0], scores[1:]
    best = int(np.argmax(rest))
    cand, got = parsed[best]
    penalty = free - rest[best]
    _LOGGER.debug("closed vocabulary: %r -> %r (%.2f nats below the free transcript)",
                  transcript, " ".join(cand.words), penalty)
    if penalty > max_penalty:
        return None
    recognition = Recognition(got.name, got.slots, got.confidence, transcript)
    return Choice(recognition, " ".join(cand.words), round(max(0.0, penalty), 3))


# The last words of a request: "set a timer for ten minutes, please" is not going on.
_CLOSING = re.compile(r"\b(please|thanks|thank you)\W*$", re.IGNORECASE)


class ClosedVocabulary:
    """The closed-vocabulary step of one intent engine (built with it, in its loading thread)."""

    def __init__(self, engine: Any, max_penalty: float, *, retrieve: int = 40,
                 score: int = 8) -> None:
        self.engine = engine
        self.max_penalty = max_penalty
        self.retrieve = retrieve
        self.score = score
        self.index = SkeletonIndex(skeletons(engine.intents), choice_values(engine.intents))
        # For is_whole_command: the skeletons by their first word (those that start with a
        # number or a name may start with any word).
        self._by_first_word: dict[str, list[Skeleton]] = defaultdict(list)
        self._any_start: list[Skeleton] = []
        for skeleton in self.index.skeletons:
            first = skeleton.tokens[0]
            group = self._by_first_word[first] if isinstance(first, str) else self._any_start
            group.append(skeleton)

    def choose(self, transcript: str, scorer: SentenceScorer) -> Choice | None:
        from appliance.intent.normalize import normalize

        words = normalize(transcript, self.engine.wake_phrases).split()
        if not words:
            return None
        candidates = self.index.candidates(words, self.retrieve, self.score)
        return choose(transcript, candidates, recognize=self.engine.recognize_exact,
                      scorer=scorer, max_penalty=self.max_penalty)

    def is_whole_command(self, transcript: str, moot: Moot = NOTHING_MOOT) -> bool:
        """Understood as it is, and no command starts with these words and means more, in the
        state ``moot`` tells (or it ends with "please" or "thanks", as a request ends)."""
        from appliance.intent.normalize import normalize

        found = self.engine.recognize(transcript)
        if found is None:
            return False
        if _CLOSING.search(transcript):
            return True
        words = normalize(transcript, self.engine.wake_phrases).split()
        if not words:
            return False
        # (a word that starts commands is not a timer's name there: "stop" ... "timer for 5
        # minutes" is cancelling one, as the engine understands it, not naming one)
        starting = self._by_first_word.get(words[0]) or self._any_start
        return not goes_on(starting, words, found.name, self.index.choices, moot)
