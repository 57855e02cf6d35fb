"""A turn answered elsewhere: Home Assistant's Assist pipeline (``appliance.esphome``).

The turn still hears the command itself (its endpointer, its buffer), so whatever happens
elsewhere the audio is here: when the other side is away, refuses or is slow, the turn answers
locally from the same audio. Only these small protocols are the pipeline's business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from appliance.controller import Sound


@dataclass(frozen=True)
class RemoteAnswer:
    """What the other side made of the command: its transcript, its answer (text, and the
    sound to play when it sent one) and whether it asks a question back."""

    transcript: str
    text: str
    sound: Sound | None = None
    follow_up: bool = False


@dataclass(frozen=True)
class NotAnswered:
    """The other side did not answer: answer here. ``notice`` (said before the local answer)
    is set the first time only, so an outage is announced once, not at every turn."""

    reason: str
    notice: str = ""


class RemoteRun(Protocol):
    """One turn's run on the other side; the turn feeds it the audio it hears."""

    def audio(self, frame: bytes) -> None:
        """A frame of the command (16 kHz, 16-bit mono), the preroll first."""

    def end_audio(self) -> None:
        """The command ended here (our endpointer): no more audio will come."""

    async def answer(self) -> RemoteAnswer | NotAnswered:
        """Waits for the answer, within the run's own time limits; never raises."""

    def spoken(self) -> None:
        """The answer has been played (or cut short)."""

    def cancel(self) -> None:
        """The turn ended before an answer (stop, mute, a new wake word): abort the run."""


class RemoteAssist(Protocol):
    def begin(self, session_id: str, wake_word: str,
              on_speech_end: Callable[[], None]) -> RemoteRun | None:
        """A run for a new turn, or None: this turn is local. ``on_speech_end`` is called if
        the other side hears the end of the command before we do."""
