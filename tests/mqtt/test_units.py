"""Pure parts: reconnect backoff, rate limits, state mapping, payloads, settings, failures."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import aiomqtt
import pytest
from aiomqtt.exceptions import MqttConnectError

from appliance.backoff import Backoff
from appliance.controller import Recognition
from appliance.errors import ConfigError
from appliance.events import State
from appliance.mqtt import hermes
from appliance.mqtt import topics as tp
from appliance.mqtt.connection import connection_loop, describe_failure
from appliance.mqtt.discovery import HA_STATES, ha_state, is_listening
from appliance.mqtt.payloads import BadPayload, WarnLimiter
from appliance.mqtt.settings import resolve_client_id, resolve_site_id, topic_safe
from appliance.mqtt.topics import Topics
from tests.mqtt.broker import free_port
from tests.mqtt.helpers import TIMEOUT_S, mqtt_settings, wait_until


async def test_an_absent_broker_is_retried_with_the_backoff_and_warned_about_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="appliance.mqtt")
    backoff = Backoff(0.01, 0.04, jitter=0.0)

    async def serve(client: aiomqtt.Client) -> None:
        raise AssertionError("nothing listens on the port: no connection to serve")

    settings = mqtt_settings(free_port())
    loop = asyncio.create_task(connection_loop(settings, "t/availability", serve, backoff))
    try:
        await wait_until(lambda: backoff.failures >= 5, "five failed attempts")
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(loop, TIMEOUT_S)
    records = [r for r in caplog.records if r.name == "appliance.mqtt.connection"]
    (warning,) = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert warning.startswith("cannot connect to MQTT broker")
    assert "nothing is listening there" in warning
    retries = [r.getMessage() for r in records if r.levelno == logging.DEBUG]
    assert [m.split(":")[0] for m in retries[:4]] == [f"MQTT retry {n} failed" for n in range(1, 5)]


def test_a_broker_away_for_days_waits_the_capped_delay() -> None:
    backoff = Backoff(1.0, 60.0, jitter=0.0)
    delays = [backoff.next_delay() for _ in range(3 * 24 * 60)]  # three days, one try a minute
    assert delays[:8] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert set(delays[6:]) == {60.0}


def test_warn_limiter_holds_back_repeats_per_key() -> None:
    limiter = WarnLimiter(interval_s=60)
    assert limiter.check("a", 0.0) == 0
    assert limiter.check("a", 10.0) is None
    assert limiter.check("b", 10.0) == 0
    assert limiter.check("a", 59.0) is None
    assert limiter.check("a", 61.0) == 2


def test_every_state_maps_to_a_home_assistant_assistant_state() -> None:
    mapped = {state: ha_state(state) for state in State}
    assert set(mapped.values()) <= set(HA_STATES)
    assert mapped[State.WAKE] == mapped[State.LISTENING] == "listening"
    assert (mapped[State.THINKING], mapped[State.SPEAKING]) == ("processing", "responding")
    assert mapped[State.STARTING] == "idle"
    assert [s for s in State if is_listening(s)] == [State.WAKE, State.LISTENING]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [(b"hello", "hello"), (b'  {"text": "hi"} ', "hi"), ("héllo wörld".encode(), "héllo wörld")],
)
def test_say_takes_plain_text_or_json(payload: bytes, expected: str) -> None:
    assert tp.parse_say(payload) == expected


@pytest.mark.parametrize(
    "payload", [b"", b"\xff\xfe", b'{"text": 3}', b"{broken", b"a\x00b", b"x" * 70_000]
)
def test_say_rejects_junk(payload: bytes) -> None:
    with pytest.raises(BadPayload):
        tp.parse_say(payload)


def test_numbers_and_switches() -> None:
    assert tp.parse_volume(b"42") == 42
    assert tp.parse_volume(b"42.6") == 43
    assert tp.parse_mute(b"ON") is True
    assert tp.parse_mute(b"false") is False
    for bad in (b"101", b"-1", b"nan", b"inf", b"loud"):
        with pytest.raises(BadPayload):
            tp.parse_volume(bad)
    with pytest.raises(BadPayload):
        tp.parse_mute(b"maybe")
    with pytest.raises(BadPayload):
        tp.parse_wake_word(b"siri", ("hey_jarvis",))


def test_hermes_parsing_defaults_and_types() -> None:
    say = hermes.parse_say(b'{"text": "hi"}')
    assert (say.site_id, say.request_id, say.session_id) == ("default", "", None)
    start = hermes.parse_start_session(b'{"siteId": "k", "init": {"type": "action"}}')
    assert (start.site_id, start.action, start.text) == ("k", True, "")
    end = hermes.parse_session_reply(b'{"sessionId": "s", "text": null}', follow_up=False)
    assert (end.session_id, end.text) == ("s", "")
    with pytest.raises(BadPayload):
        hermes.parse_start_session(b'{"init": {"type": "notification"}}')


def test_hermes_topics_never_carry_wildcards() -> None:
    topic, payload = hermes.hotword_detected("my/wake+word#", "site", 0.8)
    assert topic == "hermes/hotword/my_wake_word/detected"
    assert payload["modelId"] == "my/wake+word#"
    topic, _ = hermes.intent(Recognition("a/b"), "site", "s")
    assert topic == "hermes/intent/a_b"


def test_site_and_client_ids() -> None:
    assert resolve_site_id(mqtt_settings(1883, site_id="Living Room!")) == "Living_Room"
    default = mqtt_settings(1883, site_id="")
    assert resolve_site_id(default) == topic_safe(socket.gethostname())
    assert resolve_client_id(default, "kitchen") == "appliance-kitchen"


def test_topic_prefixes_are_checked() -> None:
    topics = Topics.for_site(mqtt_settings(1883, topic_prefix="home/speakers/"), "k")
    assert topics.availability == "home/speakers/k/availability"
    with pytest.raises(ConfigError) as err:
        Topics.for_site(mqtt_settings(1883, topic_prefix="home/+"), "k")
    assert err.value.key == "mqtt.topic_prefix"


def test_settings_are_validated() -> None:
    with pytest.raises(ConfigError) as err:
        mqtt_settings(70000)
    assert err.value.key == "mqtt.port"


def test_failures_are_explained() -> None:
    settings = mqtt_settings(1883)
    refused = describe_failure(aiomqtt.MqttError("[Errno 111] Connection refused"), settings)
    assert "nothing is listening" in refused.message
    assert "systemctl start mosquitto" in refused.fix
    unknown = describe_failure(aiomqtt.MqttError("[Errno -2] Name or service not known"), settings)
    assert "does not resolve" in unknown.message
    login = describe_failure(MqttConnectError(5), settings)
    assert "refused the login" in login.message
    assert login.code == "mqtt_unavailable"
