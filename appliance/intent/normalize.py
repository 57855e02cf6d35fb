"""Turn a Whisper transcript into the plain form the sentence templates are written in."""

from __future__ import annotations

import re
import unicodedata

_FILLERS = ("um", "uh", "erm", "er", "hmm", "ah", "oh")
_PUNCT = re.compile(r"[^\w\s':%-]")
_SPACES = re.compile(r"\s+")
_WAKE_PREFIXES = ("hey", "hi", "ok", "okay")


def normalize(text: str, wake_phrases: tuple[str, ...] = ()) -> str:
    """Lower-case, no punctuation, no filler words, no leading wake phrase ("hey jarvis, ...")."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    text = _PUNCT.sub(" ", text)
    words = [w.strip("-'") for w in text.split()]
    words = [w for w in words if w and w not in _FILLERS]
    text = _SPACES.sub(" ", " ".join(words)).strip()
    for spoken in _wake_variants(wake_phrases):
        if text == spoken:
            return ""
        if text.startswith(spoken + " "):
            return text[len(spoken) + 1 :]
    return text


def _wake_variants(wake_phrases: tuple[str, ...]) -> list[str]:
    """"hey_jarvis" -> "hey jarvis", "jarvis" (people and Whisper drop the "hey"), longest first."""
    out: set[str] = set()
    for phrase in wake_phrases:
        words = phrase.replace("_", " ").lower().split()
        out.add(" ".join(words))
        if len(words) > 1 and words[0] in _WAKE_PREFIXES:
            out.add(" ".join(words[1:]))
    return sorted(out, key=len, reverse=True)
