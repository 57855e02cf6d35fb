"""Controls the ``Controller`` protocol does not have yet (proposed for ``appliance.controller``).

The MQTT bridge offers the wake-word entities only when the controller has them, so it works with
today's pipeline and lights them up once the pipeline grows these members.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class WakeControl(Protocol):
    @property
    def wake_words(self) -> tuple[str, ...]:
        """Names of the loaded wake-word models."""

    @property
    def active_wake_word(self) -> str: ...

    @property
    def wake_threshold(self) -> float:
        """Detection threshold (0.01-0.99) of the active wake word; lower is more sensitive."""

    def set_active_wake_word(self, name: str) -> None: ...

    def set_wake_threshold(self, threshold: float) -> None: ...
