"""Fixtures for the MQTT tests: real mosquitto brokers (plain, and login + TLS)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mqtt.broker import Mosquitto, SecureBroker, plain_broker, secure_broker


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """An anonymous broker shared by a test module (tests use their own site ids)."""
    mosquitto = plain_broker(tmp_path_factory.mktemp("mosquitto"))
    mosquitto.start()
    yield mosquitto
    mosquitto.stop()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A broker for one test, not started: the test kills and restarts it."""
    mosquitto = plain_broker(tmp_path)
    yield mosquitto
    mosquitto.stop()


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    """Password file on both listeners; TLS with a test-made CA and client certificates."""
    setup = secure_broker(tmp_path_factory.mktemp("mosquitto-secure"))
    setup.broker.start()
    yield setup
    setup.broker.stop()
