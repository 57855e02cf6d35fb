"""A question asked back ("Which timer?") and waiting for its answer, for a short while."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from appliance.clock import Clock


@dataclass(frozen=True)
class Question:
    kind: str  # "timer" | "alarm": enables the TimerChoose / AlarmChoose sentences
    action: str  # what to do with the answer: "cancel", "status", "add"
    until_mono: float
    extra: dict[str, Any] = field(default_factory=dict)


class Conversation:
    def __init__(self, clock: Clock, timeout_s: float) -> None:
        self.clock = clock
        self.timeout_s = timeout_s
        self._question: Question | None = None

    def ask(self, kind: str, action: str, **extra: Any) -> None:
        self._question = Question(kind, action, self.clock.monotonic() + self.timeout_s, extra)

    def pending(self, kind: str) -> Question | None:
        question = self._question
        if question is None or question.kind != kind:
            return None
        if self.clock.monotonic() > question.until_mono:
            self._question = None
            return None
        return question

    def answered(self) -> None:
        self._question = None

    def context(self) -> dict[str, Any]:
        """For the intent engine: which answer sentences are possible now."""
        question = self._question
        if question is None or self.clock.monotonic() > question.until_mono:
            return {}
        return {"question": question.kind}
