"""TLS to the MQTT broker from the first-boot file: ``[mqtt] tls = true`` and the broker's CA
pasted as PEM (``ca_certs``), applied to a system root, then used to reach a real TLS mosquitto."""

from __future__ import annotations

import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance import firstboot as fb
from appliance.cli import main
from appliance.mqtt.connection import check_broker
from appliance.settings import load_settings
from tests.mqtt.broker import Mosquitto, Pki, free_port, make_pki

CHECK_TIMEOUT_S = 10.0


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[int]:
    """Anonymous, TLS only, with a server certificate for 127.0.0.1 signed by ``pki.ca``."""
    port = free_port()
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto-tls"), (
        f"listener {port} 127.0.0.1\nallow_anonymous true\n"
        f"cafile {pki.ca}\ncertfile {pki.server_cert}\nkeyfile {pki.server_key}\n"
    ), port)
    broker.start()
    yield port
    broker.stop()


def _file(host: str, port: int | None, pem: str | None, tls: str = "true") -> str:
    lines = ["[mqtt]", f'host = "{host}"', f"tls = {tls}"]
    lines += [f"port = {port}"] if port is not None else []
    lines += [f"ca_certs = '''\n{pem}'''"] if pem is not None else []
    return "\n".join(lines) + "\n"


def test_tls_with_a_pasted_ca_is_parsed(pki: Pki) -> None:
    pem = pki.ca.read_text()
    parsed = fb.parse_text(_file("broker.lan", None, "# our CA, from the router\n" + pem))
    assert parsed.problems == ()
    assert parsed.config.mqtt == fb.MqttSpec("broker.lan", 8883, "", "", True, pem)
    plain = fb.parse_text(_file("broker.lan", None, None, tls="false"))
    assert plain.config.mqtt == fb.MqttSpec("broker.lan", 1883, "", "", False, "")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (_file("b", None, None, tls='"yes"'), "mqtt.tls: true or false"),
        (_file("b", None, "MIIB...\n"), "mqtt.ca_certs: not a PEM certificate"),
        (_file("b", None, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
         "mqtt.ca_certs: not a PEM certificate"),
        (_file("b", None, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
         "mqtt.ca_certs: holds a private key"),
    ],
)
def test_a_bad_tls_setting_is_named_and_the_mqtt_section_skipped(text: str, problem: str) -> None:
    parsed = fb.parse_text(text)
    (found,) = parsed.problems
    assert found.startswith(problem)
    assert "AAAA" not in found
    assert parsed.config.mqtt is None


def test_a_ca_without_tls_is_a_problem(pki: Pki) -> None:
    parsed = fb.parse_text(_file("b", None, pki.ca.read_text(), tls="false"))
    assert parsed.problems == ("mqtt.ca_certs: only used with TLS: add tls = true",)


def test_the_check_command_accepts_a_tls_file(
    tmp_path: Path, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / fb.FILE_NAME
    path.write_text(_file("broker.lan", 8884, pki.ca.read_text()))
    assert main(["firstboot", "check", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: valid\n"


async def test_the_applied_settings_reach_a_tls_broker_with_that_ca(
    system_root: Path, boot_dir: Path, pki: Pki, tls_broker: int
) -> None:
    pem = pki.ca.read_text()
    (boot_dir / fb.FILE_NAME).write_text(_file("127.0.0.1", tls_broker, pem))
    assert main(["firstboot", "apply", "--root", str(system_root), "--boot",
                 str(boot_dir)]) == 0
    etc = system_root / "etc/appliance"
    config = tomllib.loads((etc / "config.toml").read_text())["mqtt"]
    assert config["tls"] is True
    assert config["tls_ca_file"] == "/etc/appliance/mqtt-ca.pem"
    assert config["port"] == tls_broker
    assert (etc / "mqtt-ca.pem").read_text() == pem
    assert stat.S_IMODE((etc / "mqtt-ca.pem").stat().st_mode) == 0o644
    assert pem in (boot_dir / "appliance.toml.applied").read_text()  # public: kept

    # What the daemon on that root reads (/etc/appliance/... is under the test's root here).
    settings = load_settings(etc / "config.toml",
                             overrides={"mqtt": {"tls_ca_file": str(etc / "mqtt-ca.pem")}})
    ok, message = await check_broker(settings.mqtt, CHECK_TIMEOUT_S)
    assert ok, message
    assert "with TLS" in message
    untrusted = load_settings(etc / "config.toml",
                              overrides={"mqtt": {"tls_ca_file": str(pki.other_ca)}})
    ok, message = await check_broker(untrusted.mqtt, CHECK_TIMEOUT_S)
    assert not ok
    assert "not trusted" in message


def test_tls_without_a_ca_uses_the_systems_cas(system_root: Path, boot_dir: Path) -> None:
    (boot_dir / fb.FILE_NAME).write_text(_file("broker.example.org", None, None))
    assert main(["firstboot", "apply", "--root", str(system_root), "--boot",
                 str(boot_dir)]) == 0
    mqtt = load_settings(system_root / "etc/appliance/config.toml").mqtt
    assert (mqtt.tls, mqtt.tls_ca_file, mqtt.port) == (True, "", 8883)
    assert not (system_root / "etc/appliance/mqtt-ca.pem").exists()
