"""``appliance bench intents``: accuracy of the intent engine on labelled transcripts.

Four sets: ``intents`` (the first one, written with the sentences), ``paraphrases`` (written
before the grammar work, from how people talk), ``heldout`` (written at the same time, never
tuned on: only its score is reported, not its mistakes) and ``paraphrases2`` (a second set
written before the later grammar work of issue 11).

The labelled sets ship inside the package, in ``appliance/intent/bench_data/`` (read through
:mod:`importlib.resources`, so an installed wheel has them too); ``--data DIR`` points elsewhere.
Intent accuracy counts an out-of-domain sentence as right when nothing is recognised; slot
accuracy is over in-domain sentences whose intent was right; a false accept is an out-of-domain
sentence that was given an intent (the speaker would have acted on it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from appliance.controller import Recognition
from appliance.errors import ApplianceError
from appliance.intent.engine import IntentEngine, make_engine
from appliance.settings import Settings
from appliance.wake import model_name

DATA_DIR: Traversable = resources.files("appliance.intent").joinpath("bench_data")


@dataclass(frozen=True)
class Case:
    text: str
    intent: str | None
    slots: dict[str, Any] = field(default_factory=dict)


def load_cases(path: Traversable) -> list[Case]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ApplianceError(f"cannot read the benchmark {path}: {err}",
                             fix=f"pass --data DIR with a readable {path.name}, or reinstall "
                             "appliance (its bench_data/ has the labelled sets)",
                             code="bench_data") from err
    return [Case(str(c["text"] or ""), c.get("intent"), dict(c.get("slots") or {}))
            for c in raw]


def bench_engine(settings: Settings) -> IntentEngine:
    from appliance.settings import load_settings

    # The built-in sentences only: the user's files must not change the benchmark.
    base = load_settings(overrides={"intent": {"sentences_dirs": []}})
    wake = tuple(model_name(m.model) for m in settings.wake.models)
    engine = make_engine(base, wake)
    engine.fuzzy_threshold = settings.skills.fuzzy_threshold
    return engine


@dataclass
class Score:
    total: int = 0
    intent_ok: int = 0
    slots_total: int = 0
    slots_ok: int = 0
    out_of_domain: int = 0
    false_accepts: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, case: Case, got: Recognition | None) -> None:
        self.total += 1
        name = got.name if got is not None else None
        if case.intent is None:
            self.out_of_domain += 1
            self.false_accepts += name is not None
        if name != case.intent:
            self.errors.append(f"{case.text!r}: expected {case.intent}, got {name}")
            return
        self.intent_ok += 1
        if got is not None and case.intent is not None:
            self.slots_total += 1
            if got.slots == case.slots:
                self.slots_ok += 1
            else:
                self.errors.append(f"{case.text!r}: slots {got.slots} != {case.slots}")

    def results(self) -> dict[str, Any]:
        return {
            "utterances": self.total,
            "intent_accuracy_percent": round(100 * self.intent_ok / max(1, self.total), 1),
            "slot_accuracy_percent": round(100 * self.slots_ok / max(1, self.slots_total), 1),
            "out_of_domain": self.out_of_domain,
            "false_accepts": self.false_accepts,
            "false_accept_rate_percent": round(
                100 * self.false_accepts / max(1, self.out_of_domain), 1),
        }


# The labelled sets: (name, file, whether its mistakes are listed). heldout is reported, never
# tuned on: its mistakes are not printed, so nobody writes sentences from them.
SETS = (("intents", "intents.yaml", True), ("paraphrases", "paraphrases.yaml", True),
        ("heldout", "heldout.yaml", False), ("paraphrases2", "paraphrases2.yaml", True))


def run_intents(settings: Settings, data_dir: Path | None = None) -> dict[str, Any]:
    """Each labelled set's score (``intents``, ``paraphrases``, ``heldout``,
    ``paraphrases2``); a ``--data`` directory without a set leaves that set out (``intents.yaml``
    is needed)."""
    root = data_dir or DATA_DIR
    engine = bench_engine(settings)
    results: dict[str, Any] = {"fuzzy_threshold": engine.fuzzy_threshold}
    count, seconds = 0, 0.0
    for name, filename, listed in SETS:
        if name == "intents" or (root / filename).is_file():
            cases = load_cases(root / filename)
            start = time.perf_counter()
            results[name] = _score(engine, cases, listed)
            seconds += time.perf_counter() - start
            count += len(cases)
    results["recognize_ms_mean"] = round(1000 * seconds / max(1, count), 2)
    return results


def _score(engine: IntentEngine, cases: list[Case], listed: bool) -> dict[str, Any]:
    score = Score()
    for case in cases:
        score.add(case, engine.recognize(case.text))
    return {**score.results(), **({"mistakes": score.errors} if listed else {})}
