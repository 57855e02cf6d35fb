"""The ``[esphome]`` settings table (defaults in ``config/default.toml``)."""

from __future__ import annotations

import base64
import binascii
import re
import socket
from dataclasses import dataclass

from appliance.errors import ConfigError
from appliance.fields import rng

MODES = ("local", "home-assistant")
_NAME = re.compile(r"[a-z0-9-]+")
MAX_NAME = 31  # ESPHome's limit


@dataclass(frozen=True)
class EsphomeSettings:
    enabled: bool = rng()
    address: str = rng(line=True)
    port: int = rng(0, 65535)
    name: str = rng(line=True)
    friendly_name: str = rng(line=True)
    encryption_key: str = rng(line=True)
    zeroconf: bool = rng()
    mode: str = rng(choices=MODES)
    ha_start_timeout_s: float = rng(0.1, 30)
    ha_answer_timeout_s: float = rng(1, 120)

    def __post_init__(self) -> None:
        if self.name and (not _NAME.fullmatch(self.name) or len(self.name) > MAX_NAME):
            raise ConfigError(
                f"config: 'esphome.name' = {self.name!r} is not a usable device name",
                fix=f"at most {MAX_NAME} lower-case letters, digits and '-', e.g. "
                "\"kitchen-speaker\"",
                key="esphome.name")
        if self.encryption_key:
            decode_key(self.encryption_key)

    @property
    def key(self) -> bytes | None:
        """The 32-byte Noise pre-shared key, or None: plaintext."""
        return decode_key(self.encryption_key) if self.encryption_key else None


def decode_key(text: str) -> bytes:
    """``esphome.encryption_key``: base64 of 32 bytes (what ESPHome's ``api: encryption: key:``
    and Home Assistant's "encryption key" field take)."""
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ConfigError(
            "config: 'esphome.encryption_key' is not base64 of 32 bytes",
            fix="make one with `openssl rand -base64 32` (or leave it \"\" for no encryption)",
            key="esphome.encryption_key")
    return key


def resolve_name(settings: EsphomeSettings) -> str:
    """The device name Home Assistant shows and zeroconf announces: the setting, else the host
    name made safe (lower case, letters, digits and '-')."""
    if settings.name:
        return settings.name
    raw = re.sub(r"[^a-z0-9-]+", "-", (socket.gethostname() or "appliance").lower()).strip("-")
    return raw[:MAX_NAME].strip("-") or "appliance"
