"""Login and TLS against mosquitto with a password file and a CA made by the test."""

from __future__ import annotations

import ssl
from typing import Any

from appliance.mqtt.connection import check_broker
from appliance.mqtt.service import MqttService
from tests.mqtt.broker import SecureBroker, free_port
from tests.mqtt.fakes import FakeController
from tests.mqtt.helpers import mqtt_settings, recording_client, running, text, wait_until

CHECK_TIMEOUT_S = 10.0


def _login(secure: SecureBroker, **extra: Any) -> dict[str, Any]:
    return {"username": secure.username, "password": secure.password, **extra}


def _tls(secure: SecureBroker, **extra: Any) -> dict[str, Any]:
    pki = secure.pki
    tls = {
        "tls": True, "tls_ca_file": str(pki.ca), "tls_certfile": str(pki.client_cert),
        "tls_keyfile": str(pki.client_key),
    }
    return _login(secure, **(tls | extra))


async def test_check_broker_with_the_right_and_wrong_login(secure: SecureBroker) -> None:
    port = secure.broker.port
    ok, message = await check_broker(mqtt_settings(port, **_login(secure)), CHECK_TIMEOUT_S)
    assert ok, message
    assert "as speaker" in message
    wrong = mqtt_settings(port, **_login(secure, password="nope"))
    ok, message = await check_broker(wrong, CHECK_TIMEOUT_S)
    assert not ok
    assert "refused the login" in message
    assert "fix: check [mqtt] username and password" in message
    ok, message = await check_broker(mqtt_settings(port), CHECK_TIMEOUT_S)  # anonymous
    assert not ok
    assert "refused the login" in message


async def test_check_broker_over_tls(secure: SecureBroker) -> None:
    tls_port = secure.tls_port
    ok, message = await check_broker(mqtt_settings(tls_port, **_tls(secure)), CHECK_TIMEOUT_S)
    assert ok, message
    assert "with TLS" in message

    untrusted = _tls(secure, tls_ca_file=str(secure.pki.other_ca))
    ok, message = await check_broker(mqtt_settings(tls_port, **untrusted), CHECK_TIMEOUT_S)
    assert not ok
    assert "not trusted" in message
    assert "tls_ca_file" in message

    insecure = _tls(secure, tls_ca_file=str(secure.pki.other_ca), tls_insecure=True)
    ok, message = await check_broker(mqtt_settings(tls_port, **insecure), CHECK_TIMEOUT_S)
    assert ok, message

    missing = _tls(secure, tls_ca_file="/nonexistent/ca.crt")
    ok, message = await check_broker(mqtt_settings(tls_port, **missing), CHECK_TIMEOUT_S)
    assert not ok
    assert "cannot load the MQTT TLS files" in message

    on_plain_port = mqtt_settings(secure.broker.port, **_tls(secure))
    ok, message = await check_broker(on_plain_port, CHECK_TIMEOUT_S)
    assert not ok
    assert "TLS handshake failed" in message


async def test_check_broker_says_when_nothing_listens() -> None:
    ok, message = await check_broker(mqtt_settings(free_port()), CHECK_TIMEOUT_S)
    assert not ok
    assert "nothing is listening there" in message
    assert "start the broker" in message


async def test_check_broker_with_mqtt_off() -> None:
    ok, message = await check_broker(mqtt_settings(1883, host=""), CHECK_TIMEOUT_S)
    assert ok
    assert "off" in message


async def test_the_speaker_works_over_tls_with_a_login(secure: SecureBroker) -> None:
    pki = secure.pki
    controller = FakeController()
    service = MqttService(mqtt_settings(secure.tls_port, **_tls(secure)), controller)
    context = ssl.create_default_context(cafile=str(pki.ca))
    context.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    async with (
        recording_client(
            secure.tls_port, tls_context=context, username=secure.username,
            password=secure.password,
        ) as rec,
        running(service, rec),
    ):
        await rec.client.publish(service.topics.sub("mute/set"), "ON")
        await rec.wait_for(service.topics.sub("mute"), lambda m: text(m) == "ON")
        await wait_until(lambda: controller.muted, "muting")
    assert controller.calls == [("set_muted", True)]
