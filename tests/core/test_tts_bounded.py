"""Speech in bounded pieces: the splitter on many texts (no model), and Piper on a long text."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from appliance.settings import load_settings
from appliance.tts import PIECE_CHARS, Synthesizer, pieces

CHECKS = hypothesis_settings(max_examples=300, deadline=None, database=None)

WORD = st.one_of(st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'", min_size=1,
                         max_size=15),
                 st.sampled_from(["4:35", "1,000", "e.g", "U.S.A", "don't", "\u00e9t\u00e9"]))
CLAUSE_PUNCT = st.sampled_from([",", ";", ":", " \u2014", "\u2014", " -", " --"])
SENTENCE_PUNCT = st.sampled_from([".", "!", "?", "...", ".\"", "?)"])
SPACE = st.sampled_from([" ", "  ", "\n", "\t", " \n "])
CLAUSE = st.lists(WORD, min_size=1, max_size=30)
SENTENCE = st.tuples(st.lists(st.tuples(CLAUSE, CLAUSE_PUNCT), min_size=1, max_size=6),
                     SENTENCE_PUNCT)
LIMIT = st.integers(min_value=20, max_value=250)

LONG_UNPUNCTUATED = " ".join(
    ("the quick brown fox jumps over the lazy dog while the kettle boils and the pasta timer "
     "keeps counting down in the kitchen near the window " * 10).split()
)[:1000].rsplit(" ", 1)[0]

Where = tuple[int, tuple[int, int]]  # a token's sentence, and its clause in that sentence


def _text(sentences: list[tuple[list[tuple[list[str], str]], str]],
          spaces: list[str]) -> tuple[str, list[Where]]:
    """The text, and for each of its tokens the sentence and clause it is in."""
    tokens: list[str] = []
    where: list[Where] = []
    for s, (clauses, end) in enumerate(sentences):
        for c, (words, punct) in enumerate(clauses):
            said = [*words[:-1], words[-1] + (end if c == len(clauses) - 1 else punct)]
            for token in " ".join(said).split():
                tokens.append(token)
                where.append((s, (s, c)))
    return "".join(t + spaces[i % len(spaces)] for i, t in enumerate(tokens)), where


def _length(words: list[str]) -> int:
    return len(" ".join(words))


@CHECKS
@given(text=st.text(), limit=LIMIT)
def test_any_text_in_pieces_under_the_limit_and_nothing_lost(text: str, limit: int) -> None:
    out = pieces(text, limit)
    assert all(0 < len(p) <= limit for p in out)
    assert "".join("".join(p.split()) for p in out) == "".join(text.split())


@CHECKS
@given(words=st.lists(WORD, max_size=300), spaces=st.lists(SPACE, min_size=1), limit=LIMIT)
def test_words_are_never_cut(words: list[str], spaces: list[str], limit: int) -> None:
    text = "".join(w + spaces[i % len(spaces)] for i, w in enumerate(words))
    out = pieces(text, limit)
    assert all(0 < len(p) <= limit for p in out)
    assert " ".join(out).split() == words
    assert [w for p in out for w in p.split()] == words  # no word spans two pieces


@CHECKS
@given(sentences=st.lists(SENTENCE, min_size=1, max_size=6), spaces=st.lists(SPACE, min_size=1),
       limit=LIMIT)
def test_cuts_at_the_strongest_boundary(sentences: Any, spaces: list[str], limit: int) -> None:
    """A cut inside a sentence only when the sentence is over the limit; inside a clause only
    when the clause is."""
    text, where = _text(sentences, spaces)
    out = pieces(text, limit)
    tokens = text.split()
    assert " ".join(out).split() == tokens
    sizes: dict[int | tuple[int, int], list[str]] = {}
    for token, (sentence, clause) in zip(tokens, where, strict=True):
        sizes.setdefault(sentence, []).append(token)
        sizes.setdefault(clause, []).append(token)
    cut = 0
    for piece in out[:-1]:
        cut += len(piece.split())
        (s1, c1), (s2, c2) = where[cut - 1], where[cut]
        if s1 == s2:
            assert _length(sizes[s1]) > limit, f"cut inside a short sentence: {piece!r}"
        if c1 == c2:
            assert _length(sizes[c1]) > limit, f"cut inside a short clause: {piece!r}"


def test_a_normal_answer_goes_to_piper_whole() -> None:
    answer = "It's 4:35 PM. Your pasta timer has nine minutes left."
    assert pieces(answer) == [answer]
    assert pieces("  Hello\n there.  ") == ["Hello there."]
    assert pieces("") == [] and pieces(" \n ") == []


def test_a_long_sentence_is_cut_between_clauses_and_short_sentences_stay_together() -> None:
    clause = "the pasta timer has ten minutes left"  # 36 characters
    text = f"Hello. Here you are. {', '.join([clause] * 8)}. Bye now!"
    assert pieces(text, 120) == [
        "Hello. Here you are.",
        f"{clause}, {clause}, {clause},",
        f"{clause}, {clause}, {clause},",
        f"{clause}, {clause}.",
        "Bye now!",
    ]


def test_a_clause_just_over_the_limit_is_cut_in_two_halves_not_one_word_off() -> None:
    words = ["word"] * 32  # 159 characters
    out = pieces(" ".join(words), 150)
    assert [len(p) for p in out] == [79, 79]


def test_a_word_longer_than_the_limit_is_cut() -> None:
    url = "https://example.org/" + "a" * 300
    out = pieces(f"See {url} now", 150)
    assert all(len(p) <= 150 for p in out)
    assert "".join(out).replace(" ", "") == f"See{url}now"


@pytest.mark.models
def test_a_long_unpunctuated_text_is_synthesised_whole_in_bounded_pieces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tts = Synthesizer(load_settings().tts)
    sent: list[str] = []
    real = tts._voice.synthesize

    def recording(text: str, *args: Any) -> Any:
        sent.append(text)
        return real(text, *args)

    monkeypatch.setattr(tts._voice, "synthesize", recording)
    assert len(LONG_UNPUNCTUATED) > 990
    audio = list(tts.sentences(LONG_UNPUNCTUATED))
    assert len(sent) > 1 and all(len(p) <= PIECE_CHARS for p in sent), [len(p) for p in sent]
    assert " ".join(sent).split() == LONG_UNPUNCTUATED.split()
    assert len(audio) >= len(sent) and all(len(a) > 0 for a in audio)
    # As long as the same words said in short sentences: nothing dropped, nothing repeated.
    short = re.sub(r"((?:\S+ ){12}\S+) ", r"\1. ", LONG_UNPUNCTUATED)
    reference_s = sum(map(len, tts.sentences(short))) / tts.rate_hz
    total_s = sum(map(len, audio)) / tts.rate_hz
    assert 0.8 * reference_s < total_s < 1.2 * reference_s, (total_s, reference_s)
    assert np.abs(np.concatenate(audio)).max() > 1000  # speech, not silence


PROBE = """
import gc, json, resource, sys
from appliance.settings import load_settings
from appliance.tts import Synthesizer

def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024

tts = Synthesizer(load_settings().tts)
list(tts.sentences("It's 4:35 PM. Your pasta timer has nine minutes left."))
gc.collect()
before, peak_before = rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
samples = sum(len(a) for a in tts.sentences(sys.argv[1]))
gc.collect()
print(json.dumps({"before": before, "after": rss_mb(), "seconds": samples / tts.rate_hz,
                  "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - peak_before}))
"""


@pytest.mark.models
def test_memory_stays_bounded_and_comes_back_after_a_long_text() -> None:
    """In one piece, this text raised the peak by 1,120 MB and kept it (issue 16)."""
    result = subprocess.run([sys.executable, "-c", PROBE, LONG_UNPUNCTUATED],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    mb = json.loads(result.stdout)
    assert mb["seconds"] > 40
    assert mb["peak"] < 400, mb
    assert mb["after"] < mb["before"] + 60, mb
