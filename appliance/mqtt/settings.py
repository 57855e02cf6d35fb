"""The ``[mqtt]`` settings table (defaults in ``config/default.toml``)."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

from appliance.errors import ConfigError
from appliance.fields import rng


@dataclass(frozen=True)
class MqttSettings:
    host: str = rng(line=True)
    port: int = rng(1, 65535)
    username: str = rng(line=True)
    password: str = rng()
    tls: bool = rng()
    tls_ca_file: str = rng(line=True)
    tls_certfile: str = rng(line=True)
    tls_keyfile: str = rng(line=True)
    tls_insecure: bool = rng()
    client_id: str = rng(line=True)
    keepalive_s: int = rng(5, 3600)
    discovery_prefix: str = rng(line=True)
    topic_prefix: str = rng(line=True)
    site_id: str = rng(line=True)
    hermes: bool = rng()
    allow_remote_listen: bool = rng()
    hermes_reply_timeout_s: float = rng(0.5, 60)
    reconnect_initial_s: float = rng(0.01, 60)
    reconnect_max_s: float = rng(0.1, 3600)

    def __post_init__(self) -> None:
        check_topic_prefix(self.topic_prefix, "mqtt.topic_prefix")
        check_topic_prefix(self.discovery_prefix, "mqtt.discovery_prefix")

    @property
    def enabled(self) -> bool:
        return bool(self.host)


def check_topic_prefix(prefix: str, key: str) -> str:
    """``prefix`` without outer slashes; wildcards or an empty level are a ConfigError."""
    cleaned = prefix.strip("/")
    if any(c in cleaned for c in "+#\0") or "//" in cleaned:
        raise ConfigError(
            f"config: '{key}' = {prefix!r} is not a usable MQTT topic prefix",
            fix=f"set '{key}' to plain topic levels such as \"appliance\" (no + # or //)",
            key=key,
        )
    return cleaned


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def resolve_site_id(settings: MqttSettings) -> str:
    """The configured ``site_id``, or the host name; never contains MQTT wildcards or ``/``."""
    raw = settings.site_id or socket.gethostname() or "default"
    return topic_safe(raw) or "default"


def topic_safe(name: str) -> str:
    """``name`` usable as one topic level and as a Home Assistant id (letters, digits, _ and -)."""
    return _UNSAFE.sub("_", name).strip("_")


def resolve_client_id(settings: MqttSettings, site_id: str) -> str:
    return settings.client_id or f"appliance-{site_id}"
