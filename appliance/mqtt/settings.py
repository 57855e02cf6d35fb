"""The ``[mqtt]`` settings table (defaults in ``config/default.toml``)."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

from appliance.fields import rng


@dataclass(frozen=True)
class MqttSettings:
    host: str = rng()
    port: int = rng(1, 65535)
    username: str = rng()
    password: str = rng()
    tls: bool = rng()
    tls_ca_file: str = rng()
    tls_certfile: str = rng()
    tls_keyfile: str = rng()
    tls_insecure: bool = rng()
    client_id: str = rng()
    keepalive_s: int = rng(5, 3600)
    discovery_prefix: str = rng()
    topic_prefix: str = rng()
    site_id: str = rng()
    hermes: bool = rng()
    hermes_reply_timeout_s: float = rng(0.5, 60)
    reconnect_initial_s: float = rng(0.01, 60)
    reconnect_max_s: float = rng(0.1, 3600)

    @property
    def enabled(self) -> bool:
        return bool(self.host)


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
