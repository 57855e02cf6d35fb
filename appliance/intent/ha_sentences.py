"""Sentences from the field: Home Assistant's intents (``home-assistant-intents``, Apache-2.0).

The package holds, per language, hassil data (``intents``, ``lists``, ``expansion_rules``,
``skip_words``) written by many people for Home Assistant's voice assistant. The intents it
shares with this speaker are imported when the intent engine is built (a few milliseconds: the
JSON is read and rewritten, nothing is downloaded), before our own sentence files, which add
sentences to the same intents and whose lists and rules override theirs.

How the mapping works:

- **Intents.** ``INTENTS`` maps theirs to ours (HassStartTimer -> TimerSet, ...). Theirs that our
  skills cannot honour are not imported: pausing and resuming timers, taking time off a timer,
  media players, lights, lists, weather. HassSetVolumeRelative is split into VolumeUp and
  VolumeDown by the word of its ``{volume_step}`` list ("volume up" / "volume down"); its forms
  with an amount ("volume up by 20 percent") are left out: our step is fixed.
- **Slots.** Their lists are replaced by ours, so a slot comes out as our skills want it:
  ``{timer_hours:hours}`` -> ``{hours}`` (then ``duration_s``, :mod:`appliance.intent.slots`),
  ``{timer_name:name}`` -> ``{name}``, and ``{volume:volume_level}`` with its optional "%" ->
  ``({volume_percent} percent|{volume})`` (our scale-of-ten reading of "volume 7" is kept). A
  timer named by how long it was set for (``start_minutes``) becomes ``{minutes}`` where our
  skills find a timer by its duration (cancel, status); where ``duration_s`` already means
  something else (the time to add), such sentences are left out.
- **What we do not have.** A sentence that needs a list we do not have (``{area}``, ``{floor}``,
  Home Assistant's entity ``{name}``, a ``conversation_command``, a step in percent) is left out;
  an *optional* part that needs one (``mute [the music]``: we are not the TV) is cut from the
  sentence. Blocks that need context from Home Assistant (``domain: media_player``) are left out;
  ``requires_context: {area: {slot: true}}`` (the satellite's own room) is dropped, because this
  speaker is the device those sentences are said to.
- **Normalised text.** Their templates are written for raw text ("ten minutes", "5-minute",
  "50%"); ours match a transcript already normalised by :mod:`appliance.intent.normalize`
  (digits, no punctuation, "%" -> "percent", "an hour and a half" -> "1 hours 30 minutes").
  Our lists take digits only, their ``( |-)`` still matches a space, and their "half" forms
  (``{timer_half}``) are left out because the normaliser has already turned them into digits.
  Their ``skip_words`` ("please", "can you") are not imported: the normaliser drops politeness
  when the engine is lenient, and a strict engine must see every word.
- **Names.** Their expansion rules are imported under ``ha_`` names (``<ha_timer_set>``), so a
  rule of ours with the same name (``<the>``: optional in ours, required in theirs) never changes
  the meaning of theirs by accident; a file that defines ``ha_timer_set`` replaces theirs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

PACKAGE = "home-assistant-intents"
PREFIX = "ha_"

# Their intent -> ours. HassSetVolumeRelative is split by its volume_step value (SPLIT).
INTENTS: Mapping[str, str] = {
    "HassGetCurrentTime": "GetTime",
    "HassGetCurrentDate": "GetDate",
    "HassStartTimer": "TimerSet",
    "HassCancelTimer": "TimerCancel",
    "HassCancelAllTimers": "TimerCancelAll",
    "HassIncreaseTimer": "TimerAddTime",
    "HassTimerStatus": "TimerStatus",
    "HassSetVolume": "VolumeSet",
    "HassMediaPlayerMute": "VolumeMute",
    "HassMediaPlayerUnmute": "VolumeUnmute",
    "HassNevermind": "Stop",
}
# Their intent -> (their list, {its output value: our intent}).
SPLIT: Mapping[str, tuple[str, Mapping[str, str]]] = {
    "HassSetVolumeRelative": ("volume_step", {"up": "VolumeUp", "down": "VolumeDown"}),
}
# (their list, their slot) -> our reference. Anything else is something we do not have.
SLOTS: Mapping[tuple[str, str], str] = {
    ("timer_hours", "hours"): "{hours}",
    ("timer_minutes", "minutes"): "{minutes}",
    ("timer_seconds", "seconds"): "{seconds}",
    ("timer_name", "name"): "{name}",
}
# A timer named by the duration it was set for: only where our skills look timers up that way.
START_SLOTS: Mapping[tuple[str, str], str] = {
    ("timer_hours", "start_hours"): "{hours}",
    ("timer_minutes", "start_minutes"): "{minutes}",
    ("timer_seconds", "start_seconds"): "{seconds}",
}
FIND_BY_DURATION = frozenset({"TimerCancel", "TimerStatus"})
# "50 %", "50 percent" (normalised: "50 percent") or a plain "5" (our scale of ten).
_VOLUME = re.compile(r"\{volume:volume_level\}(?:\[\(\[ \]%\)\| percent\])?")
OUR_VOLUME = "({volume_percent} percent|{volume})"
# Rules naming things this speaker does not control ("mute the music": the TV's, not ours).
FOREIGN_RULES = frozenset({"media"})
# The satellite's own room, given by Home Assistant: this speaker is that device.
_HERE_CONTEXT = {"area": {"slot": True}}

_REF = re.compile(r"\{([^{}]+)\}")
_OUR_REFS = frozenset(_REF.findall(OUR_VOLUME))
_RULE = re.compile(r"<([^<>]+)>")


def load(language: str) -> dict[str, Any]:
    """Our intents from the package's data for ``language`` (empty if it has none)."""
    from home_assistant_intents import get_intents

    data = get_intents(language)
    return convert(data) if data else {"intents": {}}


def convert(data: Mapping[str, Any]) -> dict[str, Any]:
    """Their hassil data -> ours: our intent names, our lists, their rules under ``ha_`` names."""
    rules: dict[str, str] = dict(data.get("expansion_rules") or {})
    lists: Mapping[str, Any] = data.get("lists") or {}
    intents: dict[str, list[dict[str, Any]]] = {}
    for theirs, intent in (data.get("intents") or {}).items():
        for ours, sentences in _sentences(theirs, intent, lists, rules):
            if sentences:
                intents.setdefault(ours, []).append({"sentences": sentences})
    used = _used_rules((s for blocks in intents.values() for b in blocks
                        for s in b["sentences"]), rules)
    return {
        "intents": {name: {"data": blocks} for name, blocks in intents.items()},
        "expansion_rules": {PREFIX + name: _prefixed(rules[name]) for name in sorted(used)},
    }


def _sentences(theirs: str, intent: Mapping[str, Any], lists: Mapping[str, Any],
               rules: Mapping[str, str]) -> Iterable[tuple[str, list[str]]]:
    """(our intent, our sentences) per block of their intent that we can honour."""
    if theirs in SPLIT:
        list_name, targets = SPLIT[theirs]
        words = _list_words(lists.get(list_name) or {})
        for value, ours in targets.items():
            if value in words:
                yield from _blocks(ours, intent, rules, {list_name: words[value]})
    elif theirs in INTENTS:
        yield from _blocks(INTENTS[theirs], intent, rules, {})


def _blocks(ours: str, intent: Mapping[str, Any], rules: Mapping[str, str],
            fixed: Mapping[str, str]) -> Iterable[tuple[str, list[str]]]:
    for block in intent.get("data") or []:
        if not _usable_block(block):
            continue
        converted = (to_ours(text, ours, rules, fixed) for text in block.get("sentences") or [])
        yield ours, [text for text in converted if text is not None]


def _usable_block(block: Mapping[str, Any]) -> bool:
    context = block.get("requires_context") or {}
    return (not block.get("slots") and not block.get("excludes_context")
            and context in ({}, _HERE_CONTEXT))


def to_ours(text: str, ours: str, rules: Mapping[str, str],
            fixed: Mapping[str, str] | None = None) -> str | None:
    """Their template as ours, or None when it needs something we do not have.

    ``fixed`` replaces a list by words ({"volume_step": "(up|increase)"})."""
    text = _VOLUME.sub(OUR_VOLUME, text)
    for name, words in (fixed or {}).items():
        text = text.replace("{" + name + "}", words)
    slots = {**SLOTS, **(START_SLOTS if ours in FIND_BY_DURATION else {})}
    while True:
        foreign = _first_foreign(text, slots, rules)
        if foreign is None:
            break
        cut = _without_optional(text, foreign)
        if cut is None:
            return None
        text = cut
    text = _REF.sub(lambda m: slots.get(_list_slot(m.group(1)), m.group(0)), text)
    return " ".join(_RULE.sub(lambda m: f"<{PREFIX}{m.group(1)}>", text).split())


def _list_slot(ref: str) -> tuple[str, str]:
    list_name, _, slot = ref.partition(":")
    return list_name, slot or list_name


def _first_foreign(text: str, slots: Mapping[tuple[str, str], str],
                   rules: Mapping[str, str]) -> re.Match[str] | None:
    """The first {list} or <rule> in ``text`` that we do not have."""
    for match in _REF.finditer(text):
        if match.group(1) not in _OUR_REFS and _list_slot(match.group(1)) not in slots:
            return match
    for match in _RULE.finditer(text):
        if _rule_is_foreign(match.group(1), slots, rules, set()):
            return match
    return None


def _rule_is_foreign(name: str, slots: Mapping[tuple[str, str], str],
                     rules: Mapping[str, str], seen: set[str]) -> bool:
    if name in FOREIGN_RULES or name not in rules:
        return True
    if name in seen:
        return False
    seen.add(name)
    body = rules[name]
    return (any(_list_slot(ref) not in slots for ref in _REF.findall(body))
            or any(_rule_is_foreign(sub, slots, rules, seen) for sub in _RULE.findall(body)))


def _without_optional(text: str, ref: re.Match[str]) -> str | None:
    """``text`` without the innermost ``[...]`` holding ``ref``; None if ``ref`` is required."""
    opened: list[int] = []
    for i, char in enumerate(text):
        if char == "[":
            opened.append(i)
        elif char == "]" and opened:
            start = opened.pop()
            if start < ref.start() and i >= ref.end():  # inner groups close first
                return text[:start] + " " + text[i + 1:]
    return None


def _list_words(slot_list: Mapping[str, Any]) -> dict[str, str]:
    """A values list's output -> the words that say it ({"up": "(up|increase)"})."""
    out: dict[str, str] = {}
    for value in slot_list.get("values") or []:
        if isinstance(value, Mapping):
            out[str(value.get("out"))] = str(value.get("in"))
    return out


def _used_rules(sentences: Iterable[str], rules: Mapping[str, str]) -> set[str]:
    """Their rules that the imported sentences name, directly or through other rules."""
    todo = [name[len(PREFIX):] for text in sentences for name in _RULE.findall(text)]
    used: set[str] = set()
    while todo:
        name = todo.pop()
        if name in used or name not in rules:
            continue
        used.add(name)
        todo += _RULE.findall(rules[name])
    return used


def _prefixed(rule: str) -> str:
    return _RULE.sub(lambda m: f"<{PREFIX}{m.group(1)}>", rule)
