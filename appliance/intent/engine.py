"""Sentence templates (hassil syntax) loaded from YAML, matched against transcripts.

Sentences come, in this order (later ones add to and override earlier ones), from Home Assistant's
``home-assistant-intents`` (the intents it shares with us, :mod:`appliance.intent.ha_sentences`),
the built-in files in ``config/sentences/<language>/``, the user's files in the directories of
``intent.sentences_dirs`` (``/etc/appliance/sentences`` by default) and the sentences of their own
commands in ``[[skills.commands]]``. A malformed file, or a sentence naming a ``{list}`` or a
``<rule>`` that no file defines, is an error that names the file, the line and the problem, at
start-up (and in ``appliance config check``).

A transcript is normalised (:mod:`appliance.intent.normalize`) and matched exactly; if nothing
matches and a fuzzy threshold is set, misheard or stray words are corrected
(:mod:`appliance.intent.fuzzy`) and the corrected sentence must match exactly, with a confidence
at or above the threshold. Skills may add context (a question being asked: "Which timer?") that
enables sentences marked ``requires_context`` in the templates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from appliance.controller import Recognition
from appliance.errors import IntentError
from appliance.intent import ha_sentences
from appliance.intent.fuzzy import Corrector, template_words
from appliance.intent.normalize import normalize
from appliance.intent.slots import derive_slots, timer_name
from appliance.settings import IntentSettings, defaults_dir, merge

if TYPE_CHECKING:
    from appliance.settings import Settings

# Extra intents from the configuration: (where they come from, intent name, sentences).
ExtraSentences = Sequence[tuple[str, str, Sequence[str]]]
ContextProvider = Callable[[], Mapping[str, Any]]

_LOGGER = logging.getLogger(__name__)
# libyaml's safe loader when PyYAML has it: reading the sentence files ten times faster.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def sentence_files(settings: IntentSettings) -> list[Path]:
    """Built-in files first, then the user's (later files add to and override earlier ones)."""
    builtin = defaults_dir() / "sentences" / settings.language
    if not builtin.is_dir():
        raise IntentError(
            f"intent.language = {settings.language!r}: no sentences in {builtin}",
            fix="use a language the appliance ships (en), or add sentence files for it",
        )
    files = sorted(builtin.glob("*.yaml"))
    for extra in settings.sentences_dirs:
        root = Path(extra).expanduser()
        if root.is_dir():
            files += sorted(root.glob("*.yaml")) + sorted(root.glob(f"{settings.language}/*.yaml"))
    return files


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise IntentError(
            f"{where}: invalid YAML: {getattr(err, 'problem', err)}",
            fix="correct the YAML at that line (indentation, quotes, colons)",
        ) from err
    except OSError as err:
        raise IntentError(f"{path}: cannot read: {err}", fix="check the file") from err
    if not isinstance(data, dict) or not isinstance(data.get("intents", {}), dict):
        raise IntentError(
            f"{path}: expected a mapping with an 'intents:' table",
            fix="see config/sentences/en/*.yaml for the format",
        )
    return data


def _check(data: dict[str, Any], where: Callable[[Exception], str]) -> None:
    """Compile ``data`` alone, so malformed lists or blocks name their place; ``where(err)`` is
    a file and line, or the settings key. The templates are parsed once, merged
    (:func:`check_sentences`)."""
    try:
        _compile(data)
    except (KeyError, TypeError, ValueError) as err:
        raise _template_error(where(err), err) from err


def _template_error(where: str, err: Exception) -> IntentError:
    return IntentError(
        f"{where}: bad sentence template: {err}",
        fix="check brackets: (a|b) alternatives, [optional] words, {slot} names",
    )


def _in_file(path: Path) -> Callable[[Exception], str]:
    return lambda err: f"{path}:{_line_of(path, err)}"


def _line_of(path: Path, err: Exception) -> int:
    """The first line of ``path`` containing the template named in the error (else 1)."""
    return _line_of_text(path, str(err))


def _line_of_text(path: Path, message: str) -> int:
    """The first line of ``path`` holding a template that ``message`` contains (else 1)."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip().lstrip("-").strip().strip("'\"")
        if text and text in message:
            return number
    return 1


@dataclass(frozen=True)
class Origin:
    """Where a block of sentences came from: a file, a settings key or a package."""

    label: str
    path: Path | None = None

    def where(self, sentence: str) -> str:
        return f"{self.path}:{_line_of_text(self.path, sentence)}" if self.path else self.label


def check_sentences(intents: Any, origins: Mapping[str, Sequence[Origin]]) -> None:
    """Parse every template now, so a bad one fails at start-up, not at the first command; every
    ``{list}`` and ``<rule>`` a sentence names must be defined (by any file): hassil would only
    find out while matching, with a traceback."""
    from hassil.parser import ParseError

    for name, intent in intents.intents.items():
        for block, origin in zip(intent.data, origins.get(name, ()), strict=True):
            try:
                sentences = block.sentences
            except (ParseError, KeyError, TypeError, ValueError) as err:
                raise _template_error(origin.where(str(err)), err) from err
            lists = {**intents.slot_lists, **block.slot_lists}
            rules = {**intents.expansion_rules, **block.expansion_rules}
            for sentence in sentences:
                missing = next(_missing(sentence.expression, lists, rules, set()), None)
                if missing is not None:
                    text = sentence.text or ""
                    known = sorted(lists if missing.startswith("{") else rules)
                    raise _missing_error(origin.where(text), text, missing, known)


def _missing(expression: Any, lists: Mapping[str, Any], rules: Mapping[str, Any],
             seen: set[str]) -> Iterator[str]:
    """``{name}`` or ``<name>`` for each list or rule ``expression`` names that is not defined."""
    from hassil.expression import Group, ListReference, RuleReference

    if isinstance(expression, ListReference):
        if not expression.is_inline_range and expression.list_name not in lists:
            yield "{" + expression.list_name + "}"
    elif isinstance(expression, RuleReference):
        rule = rules.get(expression.rule_name)
        if rule is None:
            yield f"<{expression.rule_name}>"
        elif expression.rule_name not in seen:
            seen.add(expression.rule_name)
            yield from _missing(rule.expression, lists, rules, seen)
    elif isinstance(expression, Group):
        for item in expression.items:
            yield from _missing(item, lists, rules, seen)


def _missing_error(where: str, sentence: str, missing: str, known: list[str]) -> IntentError:
    name = missing[1:-1]
    if missing.startswith("{"):
        return IntentError(
            f"{where}: the sentence {sentence!r} names the list {missing}, which no sentence "
            "file defines",
            fix=f"add a '{name}' list under 'lists:' in a sentence file (values: [red, green], "
            f"or range: {{from: 1, to: 10}}), or use a list that exists: {', '.join(known)}",
        )
    return IntentError(
        f"{where}: the sentence {sentence!r} names the rule {missing}, which no sentence file "
        "defines",
        fix=f"add '{name}' under 'expansion_rules:' in a sentence file, or use a rule that "
        f"exists: {', '.join('<' + k + '>' for k in known)}",
    )


class IntentEngine:
    """``recognize(text)`` gives the best :class:`Recognition`, or None."""

    def __init__(
        self, settings: IntentSettings, wake_phrases: tuple[str, ...] = (), *,
        fuzzy_threshold: float | None = None, extra: ExtraSentences = (),
    ) -> None:
        self.settings = settings
        self.wake_phrases = wake_phrases
        self.fuzzy_threshold = fuzzy_threshold
        self.files = sentence_files(settings)
        self._origins: dict[str, list[Origin]] = {}
        self.data = self._merge(self.files, extra)
        self.intents = _compile(self.data)
        check_sentences(self.intents, self._origins)
        self.corrector = Corrector(template_words(self.data))
        self._contexts: list[ContextProvider] = []

    def _merge(self, files: Iterable[Path], extra: ExtraSentences) -> dict[str, Any]:
        merged: dict[str, Any] = {"language": self.settings.language, "intents": {}}
        merged = self._add(merged, ha_sentences.load(self.settings.language),
                           Origin(ha_sentences.PACKAGE))
        for path in files:
            data = _read(path)
            _check({"language": "en", **data}, _in_file(path))
            merged = self._add(merged, data, Origin(str(path), path))
        for where, name, sentences in extra:
            data = {"intents": {name: {"data": [{"sentences": list(sentences)}]}}}
            _check({**merged, **data}, lambda _err: where)  # noqa: B023 (called at once)
            merged = self._add(merged, data, Origin(where))
        return merged

    def _add(self, merged: dict[str, Any], data: dict[str, Any],
             origin: Origin) -> dict[str, Any]:
        """``data`` merged into ``merged``; each of its blocks remembers where it came from."""
        for name, intent in (data.get("intents") or {}).items():
            blocks = len(intent.get("data", [])) if isinstance(intent, dict) else 0
            self._origins.setdefault(name, []).extend([origin] * blocks)
        return _add(merged, data)

    @property
    def intent_names(self) -> list[str]:
        return sorted(self.intents.intents)

    def add_context(self, provider: ContextProvider) -> None:
        """``provider()`` gives context values (``{"question": "timer"}``) at each recognition."""
        self._contexts.append(provider)

    def remove_context(self, provider: ContextProvider) -> None:
        self._contexts.remove(provider)

    def context(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for provider in self._contexts:
            out.update(provider())
        return out

    def recognize(self, text: str) -> Recognition | None:
        plain = normalize(text, self.wake_phrases, lenient=self.fuzzy_threshold is not None)
        if not plain:
            return None
        context = self.context()
        found = self._match(plain, context)
        if found is not None:
            return Recognition(found[0], found[1], 1.0, text)
        if self.fuzzy_threshold is None:
            return None
        for candidate in self.corrector.candidates(plain.split(), self.fuzzy_threshold):
            found = self._match(" ".join(candidate.words), context)
            if found is not None:
                _LOGGER.debug("fuzzy: %r -> %r (%.2f)", plain, candidate.words,
                              candidate.confidence)
                return Recognition(found[0], found[1], round(candidate.confidence, 3), text)
        return None

    def recognize_exact(self, plain: str) -> Recognition | None:
        """A normalised sentence matched as it is (no fuzzy correction): the closed-vocabulary
        step's check of its candidates (:mod:`appliance.intent.closed`)."""
        found = self._match(plain, self.context())
        return None if found is None else Recognition(found[0], found[1], 1.0, plain)

    def _match(self, plain: str, context: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        from hassil import recognize_best

        result = recognize_best(plain, self.intents, intent_context=context or None)
        if result is None or result.intent is None:
            return None
        raw = {name: ent.value for name, ent in result.entities.items() if name not in context}
        slots = timer_name(result.intent.name, derive_slots(raw))
        return None if slots is None else (result.intent.name, slots)

    def stt_prompt(self) -> str:
        """What the recogniser should expect (Whisper's initial prompt): the ``prompt`` text of
        the sentence files (a user's file may replace it, e.g. to add their own commands)."""
        return str(self.data.get("prompt", "")).strip()


def _add(merged: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    merged = merge(merged, {k: v for k, v in data.items() if k != "intents"})
    for name, intent in (data.get("intents") or {}).items():
        blocks = merged["intents"].setdefault(name, {"data": []})
        blocks["data"] = blocks["data"] + list(intent.get("data", []))
    return merged


def _compile(data: dict[str, Any]) -> Any:
    from hassil import Intents

    return Intents.from_dict(data)


def make_engine(settings: Settings, wake_phrases: tuple[str, ...] = ()) -> IntentEngine:
    """The engine as the daemon runs it: fuzzy threshold and own commands from ``[skills]``.

    Context providers are the pipeline's to add (and to add again after a reload)."""
    skills = settings.skills
    extra = [(f"skills.commands[{i}].sentences", cmd.intent, cmd.sentences)
             for i, cmd in enumerate(skills.commands) if cmd.sentences]
    return IntentEngine(settings.intent, wake_phrases,
                        fuzzy_threshold=skills.fuzzy_threshold, extra=extra)
