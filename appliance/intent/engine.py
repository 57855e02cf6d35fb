"""Sentence templates (hassil syntax) loaded from YAML, matched against transcripts.

Built-in sentences live in ``config/sentences/<language>/``; a user adds files to the directories in
``intent.sentences_dirs`` (``/etc/appliance/sentences`` by default). A malformed file is an error
that names the file, the line and the problem, at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from appliance.control import Recognition
from appliance.errors import IntentError
from appliance.intent.normalize import normalize
from appliance.settings import IntentSettings, defaults_dir, merge

_LOGGER = logging.getLogger(__name__)


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
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
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


def _check(path: Path, data: dict[str, Any]) -> None:
    """Parse every template now, so a bad one fails at start-up and names its file and line."""
    from hassil import Intents
    from hassil.parser import ParseError

    try:
        intents = Intents.from_dict({"language": "en", **data})
        for intent in intents.intents.values():
            for block in intent.data:
                block.sentences  # noqa: B018 (parses the templates)
    except (ParseError, KeyError, TypeError, ValueError) as err:
        raise IntentError(
            f"{path}:{_line_of(path, err)}: bad sentence template: {err}",
            fix="check brackets: (a|b) alternatives, [optional] words, {slot} names",
        ) from err


def _line_of(path: Path, err: Exception) -> int:
    """The first line of ``path`` containing the template named in the error (else 1)."""
    message = str(err)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip().lstrip("-").strip().strip("'\"")
        if text and text in message:
            return number
    return 1


class IntentEngine:
    """``recognize(text)`` gives the best :class:`Recognition`, or None."""

    def __init__(self, settings: IntentSettings, wake_phrases: tuple[str, ...] = ()) -> None:
        self.settings = settings
        self.wake_phrases = wake_phrases
        self.files = sentence_files(settings)
        self.intents = self._load(self.files)

    def _load(self, files: Iterable[Path]) -> Any:
        from hassil import Intents

        merged: dict[str, Any] = {"language": self.settings.language, "intents": {}}
        for path in files:
            data = _read(path)
            _check(path, data)
            merged = merge(merged, {k: v for k, v in data.items() if k != "intents"})
            for name, intent in (data.get("intents") or {}).items():
                blocks = merged["intents"].setdefault(name, {"data": []})
                blocks["data"] = blocks["data"] + list(intent.get("data", []))
        return Intents.from_dict(merged)

    @property
    def intent_names(self) -> list[str]:
        return sorted(self.intents.intents)

    def recognize(self, text: str) -> Recognition | None:
        from hassil import recognize

        plain = normalize(text, self.wake_phrases)
        if not plain:
            return None
        result = recognize(plain, self.intents)
        if result is None or result.intent is None:
            return None
        slots = {name: ent.value for name, ent in result.entities.items()}
        return Recognition(result.intent.name, slots, 1.0, text)
