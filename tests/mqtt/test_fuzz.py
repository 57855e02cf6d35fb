"""Hostile input at every subscribed topic: no crash, one warning line each, nothing changes."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from appliance.mqtt.service import MqttService
from tests.mqtt.broker import Mosquitto
from tests.mqtt.fakes import FakeController
from tests.mqtt.helpers import TIMEOUT_S, mqtt_settings, recording_client, running, wait_until

# Anything but a string (and not null, which means "absent").
NOT_STR = st.one_of(
    st.integers(), st.floats(allow_nan=False), st.booleans(),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=4), st.integers()),
)
NOT_TEXT = st.one_of(NOT_STR, st.just(""), st.none())  # where a non-empty string is required
NOT_OBJECT = st.one_of(st.integers(), st.text(max_size=5), st.lists(st.booleans(), max_size=3))
WORDS = st.text(alphabet="bcdgkxyz{}[]<>", min_size=1, max_size=12)  # no number, no ON/OFF


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


COMMON = st.one_of(
    st.binary(max_size=64).map(lambda b: b"\xff" + b),  # never UTF-8
    st.integers(1024 * 1024 + 1, 1024 * 1024 + 4096).map(lambda n: b"{" * n),  # > 1 MB
    st.text(max_size=16).map(lambda s: ("\x00" + s).encode()),  # control characters
)
BAD_JSON = st.text(max_size=40).map(lambda s: "{" + s).filter(_not_json)
NON_OBJECT_JSON = st.one_of(st.none(), NOT_OBJECT).map(json.dumps)


def _json(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[bytes]:
    return strategy.map(lambda value: json.dumps(value).encode())


def hermes_wrong_types(topic: str, site: str) -> st.SearchStrategy[bytes]:
    fixed = st.fixed_dictionaries
    if topic.endswith("/say"):
        return _json(st.one_of(
            fixed({"text": NOT_TEXT, "siteId": st.just(site)}),
            fixed({"text": st.just("hi"), "siteId": NOT_STR}),
            fixed({"text": st.just("hi"), "siteId": st.just(site), "id": NOT_STR}),
        ))
    if topic.endswith("/startSession"):
        return _json(st.one_of(
            fixed({"siteId": st.just(site), "init": NOT_OBJECT}),
            fixed({"siteId": st.just(site), "init": fixed({"type": NOT_STR | WORDS})}),
            fixed({"siteId": st.just(site), "init": fixed({"type": st.just("notification")})}),
            fixed({"siteId": NOT_STR, "init": fixed({"type": st.just("action")})}),
        ))
    if topic.endswith(("/endSession", "/continueSession")):
        return _json(st.one_of(
            fixed({"sessionId": NOT_TEXT, "text": st.just("x")}),
            fixed({"sessionId": st.just("s"), "text": NOT_STR}),
        ))
    return _json(fixed({"siteId": NOT_STR}))  # toggleOn/Off, startListening


def bad_payloads(topic: str, site: str) -> st.SearchStrategy[bytes]:
    """Payloads that are wrong for ``topic`` whatever the strategy draws."""
    if topic.startswith("hermes/"):
        specific = st.one_of(
            BAD_JSON.map(str.encode), NON_OBJECT_JSON.map(str.encode),
            hermes_wrong_types(topic, site),
        )
    elif topic.endswith("/say"):
        specific = st.one_of(
            BAD_JSON.map(str.encode), st.just(b"   "),
            _json(st.fixed_dictionaries({"text": NOT_TEXT})),
        )
    elif topic.endswith("/volume/set"):
        specific = st.one_of(
            st.integers(101, 10**9).map(str), st.integers(max_value=-1).map(str),
            st.sampled_from(["nan", "inf", "-inf", "1e400"]), WORDS,
        ).map(str.encode)
    else:  # mute/set, listen, homeassistant/status
        specific = WORDS.map(str.encode)
    return st.one_of(COMMON, specific)


class FrozenClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_fuzzed_payloads_change_nothing_and_warn_once_each(
    broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="appliance.mqtt")
    controller = FakeController()
    clock = FrozenClock()
    service = MqttService(mqtt_settings(broker.port), controller, clock=clock)
    loop = asyncio.get_running_loop()
    seen_topics: set[str] = set()

    def warnings() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name.startswith("appliance.mqtt")]

    availability = (service.topics.availability,)
    async with recording_client(broker.port, availability) as rec, running(service, rec):
        sender = rec.client

        async def one(topic: str, payload: bytes, stray_topic: str) -> None:
            received, rejected, logged = service.stats.received, service.stats.rejected, len(
                warnings()
            )
            clock.now += 3600  # past the rate limit: every bad message may warn once
            await sender.publish(stray_topic, payload)  # not subscribed: must not arrive
            await sender.publish(topic, payload)
            await wait_until(lambda: service.stats.received > received, "the message")
            assert service.stats.received == received + 1
            assert service.stats.rejected == rejected + 1
            (record,) = warnings()[logged:]
            assert topic in record.getMessage()
            assert "\n" not in record.getMessage()
            assert record.exc_info is None
            seen_topics.add(topic)

        @hypothesis_settings(
            max_examples=150, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        @given(st.data())
        def fuzz(data: st.DataObject) -> None:
            topic = data.draw(st.sampled_from(service.subscriptions), label="topic")
            payload = data.draw(bad_payloads(topic, service.site_id), label="payload")
            level = data.draw(st.text(alphabet="abcxyz/", min_size=1, max_size=12))
            stray = f"{service.topics.base}/{level}x"
            future = asyncio.run_coroutine_threadsafe(one(topic, payload, stray), loop)
            future.result(TIMEOUT_S * 2)

        await asyncio.to_thread(fuzz)
    assert controller.calls == []
    assert (controller.volume, controller.muted, controller.wake_enabled) == (50, False, True)
    assert len(seen_topics) >= len(service.subscriptions) // 2  # spread over the topics


async def test_bad_messages_warn_once_per_topic_per_minute() -> None:
    controller = FakeController()
    clock = FrozenClock()
    service = MqttService(mqtt_settings(1), controller, clock=clock)  # no broker needed
    volume_set = service.topics.sub("volume/set")
    logger = logging.getLogger("appliance.mqtt.service")
    with _Capture(logger) as lines:
        for _ in range(5):
            await service.handle_message(volume_set, b"loud")
        await service.handle_message("somewhere/else", b"x")
        clock.now += 61
        await service.handle_message(volume_set, b"louder")
    assert len(lines) == 3
    assert "volume/set" in lines[0]
    assert "number" in lines[0]
    assert "no handler" in lines[1]
    assert "(4 more since the last warning)" in lines[2]
    assert service.stats.rejected == 7
    assert controller.calls == []


class _Capture(logging.Handler):
    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logging.WARNING)
        self.logger = logger
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def __enter__(self) -> list[str]:
        self.logger.addHandler(self)
        return self.lines

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)
