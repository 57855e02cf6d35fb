"""Capped exponential backoff with jitter, for anything that reconnects (no clock inside)."""

from __future__ import annotations

import random
from collections.abc import Callable

_MAX_DOUBLINGS = 64


class Backoff:
    """``next_delay()`` doubles from ``initial_s`` up to ``max_s``, +/- ``jitter`` of itself."""

    def __init__(
        self, initial_s: float, max_s: float, *, jitter: float = 0.2,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self.jitter = jitter
        self._rand = rand
        self.failures = 0

    def next_delay(self) -> float:
        # The exponent stops growing long after the cap: 2.0**1024 is an OverflowError, and a
        # broker can stay away for days at one retry a minute.
        base = min(self.max_s, self.initial_s * 2.0 ** min(self.failures, _MAX_DOUBLINGS))
        self.failures += 1
        return base * (1 + self.jitter * (2 * self._rand() - 1))

    def reset(self) -> None:
        self.failures = 0

    @property
    def first_failure(self) -> bool:
        """True before the first delay of an outage: warn then, stay quiet on the retries."""
        return self.failures == 0
