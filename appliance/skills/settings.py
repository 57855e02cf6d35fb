"""The ``[skills]`` settings table (defaults in ``config/default.toml``)."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.fields import rng


@dataclass(frozen=True)
class CommandSettings:
    """One of the user's own commands (``[[skills.commands]]``): every key must be given."""

    intent: str = rng(line=True)
    sentences: tuple[str, ...] = rng()
    response: str = rng()
    mqtt_topic: str = rng(line=True)
    mqtt_payload: str = rng()
    command: tuple[str, ...] = rng(line=True)
    timeout_s: float = rng(0.1, 3600)


@dataclass(frozen=True)
class SkillsSettings:
    state_dir: str = rng(line=True)
    ring_timeout_s: float = rng(5, 3600)
    ring_min_volume: int = rng(0, 100)
    missed_grace_s: float = rng(0, 3600)
    snooze_min: int = rng(1, 60)
    volume_step: int = rng(1, 50)
    question_timeout_s: float = rng(2, 120)
    fuzzy_threshold: float = rng(0.5, 1.0)
    stt_prompt: bool = rng()
    commands: tuple[CommandSettings, ...] = rng()
