"""The sentences the speaker knows, as skeletons: what the closed-vocabulary step chooses from.

The intent templates (hassil) are expanded into word sequences with a placeholder where a number,
a name, an amount or a time goes (``set a timer for <amount>``); small lists of words (am/pm,
the days) are choices. Optional words multiply the skeletons, so each template gives at most
``MAX_PER_TEMPLATE``, sampled so that every alternative appears. :func:`goes_on` says whether
words already understood may be the start of a longer command that means more (then the turn
waits for the end-of-speech silence).
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from appliance.controller import NOTHING_MOOT, Moot

MAX_PER_TEMPLATE = 300  # skeletons of one template (optional words multiply them)
NUMBER = re.compile(r"^\d+(?:\.\d+)?$")


@dataclass(frozen=True)
class Slot:
    """A placeholder in a skeleton: ``number`` (a range list) or ``words`` (a wildcard)."""

    name: str
    kind: str  # "number" | "words"

    def __str__(self) -> str:
        return f"<{self.name}>"


Token = str | Slot


@dataclass(frozen=True)
class Skeleton:
    intent: str
    tokens: tuple[Token, ...]

    @property
    def text(self) -> str:
        return " ".join(str(t) for t in self.tokens)


# -- 1. expansion ------------------------------------------------------------------------------


def skeletons(intents: Any) -> list[Skeleton]:
    """Every skeleton of every template of a hassil ``Intents`` (duplicates removed).

    Templates that need context (``requires_context``: an answer to a question) are left out:
    their words are short ("the pasta one") and only mean something when asked.
    """
    seen: set[tuple[str, tuple[Token, ...]]] = set()
    out: list[Skeleton] = []
    for name, intent in intents.intents.items():
        for block in intent.data:
            if block.requires_context:
                continue
            for sentence in block.sentences:
                for text in itertools.islice(_expand(sentence.expression, intents),
                                             MAX_PER_TEMPLATE):
                    tokens = _tokens(text)
                    if tokens and (name, tokens) not in seen:
                        seen.add((name, tokens))
                        out.append(Skeleton(name, tokens))
    return out


_MARK = "\x01"  # a placeholder in an expanded text: MARK kind:slot MARK


def _tokens(text: str) -> tuple[Token, ...]:
    out: list[Token] = []
    for i, part in enumerate(text.split(_MARK)):
        if i % 2:
            kind, _, slot = part.partition(":")
            out.append(Slot(slot, kind))
        else:
            out += part.split()
    return tuple(out)


def _expand(expr: Any, intents: Any, depth: int = 0) -> Iterator[str]:
    """The texts of an expression (hassil joins its pieces as written: "timer[s]")."""
    import hassil.expression as ex

    if depth > 30:
        return
    if isinstance(expr, ex.TextChunk):
        yield expr.text
    elif isinstance(expr, ex.Sentence):
        yield from _expand(expr.expression, intents, depth + 1)
    elif isinstance(expr, ex.Alternative):
        for item in expr.items:
            yield from _expand(item, intents, depth + 1)
    elif isinstance(expr, ex.Permutation):
        for order in itertools.permutations(expr.items):
            yield from _sequence(list(order), intents, depth, " ")
    elif isinstance(expr, ex.Group):
        yield from _sequence(expr.items, intents, depth, "")
    elif isinstance(expr, ex.RuleReference):
        yield from _rule(expr.rule_name, intents, depth)
    elif isinstance(expr, ex.ListReference):
        yield _placeholder(expr.list_name, intents)


def _rule(name: str, intents: Any, depth: int) -> Iterator[str]:
    rule = intents.expansion_rules.get(name)
    if rule is not None and _has_numbers(rule, intents):
        # a duration or a time of day: kept as heard (Whisper writes numbers well)
        yield f" {_MARK}span:{name}{_MARK} "
    elif rule is not None:
        yield from _expand(rule, intents, depth + 1)


def _placeholder(list_name: str, intents: Any) -> str:
    """A list's placeholder: a choice among its words, a number (a range), or a name."""
    from hassil.intents import RangeSlotList, TextSlotList

    slot_list = intents.slot_lists.get(list_name)
    kind = ("choice" if isinstance(slot_list, TextSlotList)
            else "number" if isinstance(slot_list, RangeSlotList) else "words")
    return f" {_MARK}{kind}:{list_name}{_MARK} "


def _has_numbers(rule: Any, intents: Any) -> bool:
    from hassil.intents import RangeSlotList

    names = rule.expression.list_names(intents.expansion_rules) if hasattr(
        rule.expression, "list_names") else []
    return any(isinstance(intents.slot_lists.get(n), RangeSlotList) for n in names)


def _sequence(items: Sequence[Any], intents: Any, depth: int, glue: str) -> Iterator[str]:
    parts = [list(dict.fromkeys(itertools.islice(_expand(i, intents, depth + 1),
                                                 MAX_PER_TEMPLATE))) for i in items]
    yield from dict.fromkeys(_amounts(glue.join(combo)) for combo in _combinations(parts))


def _combinations(parts: list[list[str]]) -> Iterator[tuple[str, ...]]:
    """Every combination of the parts, or when there are more than ``MAX_PER_TEMPLATE`` a
    fixed sample of them in which every alternative of every part appears (optional words
    multiply: "(cancel|delete|...) [all|both] [of] [the|my] timers [that i set|...]")."""
    total = math.prod(len(p) for p in parts)
    if total <= MAX_PER_TEMPLATE:
        yield from itertools.product(*parts)
        return
    pick = random.Random(total)
    widest = max(len(p) for p in parts)
    for n in range(widest):  # each alternative at least once, with the others' first
        yield tuple(p[n] if n < len(p) else p[0] for p in parts)
    for _ in range(MAX_PER_TEMPLATE - widest):
        yield tuple(pick.choice(p) for p in parts)


_NUMBER_MARK = f"{_MARK}number:[^{_MARK}]+{_MARK}"
_AMOUNT = re.compile(  # numbers with their units: "<hours> hours and <minutes> minutes"
    rf"(?:{_NUMBER_MARK}[\s-]*(?:hours?|minutes?|seconds?|percent)?\s*(?:and\s+(?={_MARK}))?)+")


def _amounts(text: str) -> str:
    """A run of numbers and their units as one span, kept as heard (templates written out
    number by number, as Home Assistant's are, would otherwise multiply the skeletons)."""
    return _AMOUNT.sub(f" {_MARK}span:amount{_MARK} ", text)


SPAN_WORDS = "<span words>"  # in choice_values: the words an amount or a time may hold


def choice_values(intents: Any) -> dict[str, list[str]]:
    """The spoken values of each list of words (am/pm, the days): what a choice is filled from;
    and under ``SPAN_WORDS`` every word of the amounts and times ("hours", "past", "tomorrow")."""
    from hassil.intents import TextSlotList

    out: dict[str, list[str]] = {}
    for name, slot_list in intents.slot_lists.items():
        if isinstance(slot_list, TextSlotList):
            out[name] = [t for v in slot_list.values
                         for t in itertools.islice(_expand(v.text_in, intents), 20)]
            out[name] = [" ".join(t.split()) for t in out[name] if t.strip()]
    words = {"hour", "hours", "minute", "minutes", "second", "seconds", "percent", "and"}
    for rule in intents.expansion_rules.values():
        if _has_numbers(rule, intents):
            words.update(_words_in(rule.expression, intents, 0))
    out[SPAN_WORDS] = sorted(words)
    return out


def _words_in(expr: Any, intents: Any, depth: int) -> set[str]:
    """Every literal word an expression may say (its lists' values included), once each."""
    import hassil.expression as ex
    from hassil.intents import TextSlotList

    if depth > 30:
        return set()
    if isinstance(expr, ex.TextChunk):
        return set(expr.text.split())
    if isinstance(expr, ex.Sentence):
        return _words_in(expr.expression, intents, depth + 1)
    if isinstance(expr, ex.Group):
        return set().union(*(_words_in(i, intents, depth + 1) for i in expr.items))
    if isinstance(expr, ex.RuleReference):
        rule = intents.expansion_rules.get(expr.rule_name)
        return set() if rule is None else _words_in(rule, intents, depth + 1)
    if isinstance(expr, ex.ListReference):
        slot_list = intents.slot_lists.get(expr.list_name)
        if isinstance(slot_list, TextSlotList):
            return set().union(*(_words_in(v.text_in, intents, depth + 1)
                                 for v in slot_list.values))
    return set()


# -- answering before the end-of-speech silence ---------------------------------------------------

def goes_on(all_skeletons: Sequence[Skeleton], words: Sequence[str], intent: str,
            choices: Mapping[str, Sequence[str]], moot: Moot = NOTHING_MOOT) -> bool:
    """Whether ``words`` (understood as ``intent``) may be the start of a longer command that
    means more: another intent ("turn it up" ... "to 7"), or the same one with another slot
    ("set a timer for 10 minutes" ... "for the pasta"), or a number still without its unit.

    Only then is the end-of-speech silence worth waiting for; words that can only go on with
    words that change nothing ("what time is it" ... "now") are a whole command, and so are
    words whose longer commands are ``moot`` in the present state (with no timers, "stop" ...
    "the timer"; with one, "cancel the timer" ... "for the eggs").
    """
    heard = list(words)
    for skeleton in all_skeletons:
        if skeleton.intent in moot.idle:
            continue
        same = skeleton.intent == intent
        if same and intent in moot.one_target:
            continue
        rest = _rest_after(skeleton.tokens, heard, choices)
        if rest is not None and (not same or any(isinstance(t, Slot) for t in rest)):
            return True
    return False


def _rest_after(tokens: Sequence[Token], words: list[str],
                choices: Mapping[str, Sequence[str]]) -> Sequence[Token] | None:
    """What the skeleton still has to say once it has said exactly ``words`` (None: it does
    not start with them, or has nothing more)."""
    i = 0  # the next word
    for k, token in enumerate(tokens):
        if i == len(words):
            return tokens[k:]
        if isinstance(token, str):
            if token != words[i]:
                return None
            i += 1
            continue
        following = next((t for t in tokens[k + 1 :] if isinstance(t, str)), None)
        step = _placeholder_words(token, words[i:], choices, following)
        if step is None:
            return None
        i += step
        if i == len(words) and token.kind == "span" and NUMBER.match(words[-1]):
            return tokens[k:]  # "for 10": the amount itself goes on ("minutes")
    return None


def _placeholder_words(token: Slot, words: list[str], choices: Mapping[str, Sequence[str]],
                       following: str | None) -> int | None:
    """How many of ``words`` the placeholder takes, up to the skeleton's ``following`` word
    (None: it cannot start here)."""
    if token.kind == "span":  # an amount or a time: "at 7 30 tomorrow", "10 minutes"
        n = 0
        while n < len(words) and words[n] != following:
            n += 1
        return n if any(NUMBER.match(w) for w in words[:n]) else None
    if token.kind == "number":
        return 1 if NUMBER.match(words[0]) else None
    if token.kind == "choice":
        for value in choices.get(token.name, ()):
            size = len(value.split())
            if words[:size] == value.split():
                return size
        return None
    return 1  # a name: one word here (names are short)
