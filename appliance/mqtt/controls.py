"""What the MQTT bridge asks of the pipeline: the :class:`Controller` and its wake-word controls.

The pipeline has every member (Home Assistant's wake word select and sensitivity number use the
last five). Once :class:`appliance.controller.Controller` declares the wake-word members too,
this protocol is just ``Controller``.
"""

from __future__ import annotations

from typing import Protocol

from appliance.controller import Controller


class MqttController(Controller, Protocol):
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
