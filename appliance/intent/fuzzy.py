"""Fuzzy fallback for transcripts that almost match: misheard words corrected, stray words dropped.

Only words the templates do not know are touched: each one is either replaced by the closest
template word or dropped, and only when at least as many words were heard right (a lone
misheard word, "nute", is never guessed into "unmute"). Every candidate sentence is then
matched *exactly* by hassil, so slots are always checked by the templates, and the candidate's
confidence is how similar it is to what was heard (character similarity, 0-1). Candidates are
tried best first and never below the threshold: a sentence that needs too much correcting is not
understood, never acted on.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

MAX_UNKNOWN = 4  # more unknown words than this: no fuzzy attempt at all
# Lists whose words are taken as heard, never guessed from a word like them: a timer named by its
# food ("the rice") must not be made from "the race", nor "the dough" from "the dog".
NOT_GUESSED = frozenset({"food"})
_WORD = re.compile(r"[a-z][a-z']*")
_SLOT_OR_RULE = re.compile(r"\{[^}]*\}|<[^>]*>")


def template_words(data: Mapping[str, Any]) -> set[str]:
    """Every literal word in the sentence templates, expansion rules and slot lists."""
    texts: list[str] = list((data.get("expansion_rules") or {}).values())
    for intent in (data.get("intents") or {}).values():
        for block in intent.get("data", []):
            texts += [str(s) for s in block.get("sentences", [])]
    for name, slot_list in (data.get("lists") or {}).items():
        if name in NOT_GUESSED:
            continue
        for value in slot_list.get("values", []) if isinstance(slot_list, dict) else []:
            texts.append(str(value.get("in", "")) if isinstance(value, dict) else str(value))
    words: set[str] = set()
    for text in texts:
        words.update(_WORD.findall(_SLOT_OR_RULE.sub(" ", str(text).lower())))
    return words


_NAMED = frozenset(["alarm", "alarms"])


def _droppable(words: list[str], i: int) -> bool:
    return i < len(words) - 1 and words[i + 1] not in _NAMED


@dataclass(frozen=True)
class Candidate:
    words: tuple[str, ...]
    confidence: float


class Corrector:
    def __init__(self, vocabulary: Iterable[str], min_word_ratio: float = 0.7) -> None:
        self.vocabulary = sorted(set(vocabulary))
        self.min_word_ratio = min_word_ratio

    def known(self, word: str) -> bool:
        return word in self.vocabulary or not word.isalpha()

    def candidates(self, words: list[str], threshold: float) -> Iterator[Candidate]:
        """Corrected versions of ``words``, most similar first, none below ``threshold``."""
        unknown = [i for i, w in enumerate(words) if not self.known(w)]
        anchors = sum(1 for w in words if w.isalpha() and w in self.vocabulary)
        if not unknown or len(unknown) > MAX_UNKNOWN or anchors < len(unknown):
            return  # too little was heard right to guess the rest
        # The last word is never dropped: a sentence cut short of what was said is another
        # sentence ("how late is it [open]" is not the time). Nor is a word that says which
        # alarm: "the smoke alarm", "the car alarm" are not the speaker's.
        options = [self._options(words[i], droppable=_droppable(words, i)) for i in unknown]
        original = " ".join(words)
        found: list[Candidate] = []
        for choice in itertools.product(*options):
            fixed = list(words)
            for i, replacement in zip(unknown, choice, strict=True):
                fixed[i] = replacement
            text = " ".join(w for w in fixed if w)
            if text == original or not text:
                continue
            score = difflib.SequenceMatcher(None, original, text, autojunk=False).ratio()
            if score >= threshold:
                found.append(Candidate(tuple(w for w in fixed if w), score))
        yield from sorted(found, key=lambda c: -c.confidence)

    def _options(self, word: str, *, droppable: bool = True) -> list[str]:
        """The word itself (a name, for a wildcard), its closest template words, or nothing."""
        close = difflib.get_close_matches(word, self.vocabulary, n=2, cutoff=self.min_word_ratio)
        return [word, *close, *([""] if droppable else [])]
