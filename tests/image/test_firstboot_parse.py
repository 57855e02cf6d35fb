"""The first-boot file: checking, salvaging, redacting; Wi-Fi keys; HAT detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance import firstboot as fb
from appliance.system.firstboot_apply import render_wpa_supplicant, wifi_psk
from appliance.system.hat import detect_hat, parse_i2cdetect

IMAGE_DIR = Path(__file__).resolve().parents[2] / "image"

SECRET = "correct horse battery"


def full_file(key: str) -> str:
    return f"""
hostname = "Kitchen-Speaker"
timezone = "Europe/Berlin"
wake_word = "alexa"
hat = "voice-bonnet"

[user]
name = "anna"
ssh_keys = ["{key}"]
password_hash = "$6$saltsalt$abcdefghijklmnopqrstuvwxyz0123456789./ABCDEFGH"

[wifi]
country = "de"
ssid = "Home Net"
passphrase = "{SECRET}"

[mqtt]
host = "homeassistant.local"
port = 1884
username = "speaker"
password = "{SECRET}"
"""


def test_template_on_the_boot_partition_is_valid_and_creates_no_login() -> None:
    parsed = fb.parse_text((IMAGE_DIR / "boot/appliance.toml").read_text())
    assert parsed.problems == ()
    assert parsed.config.user is None  # no key, no password: no account
    assert parsed.config.wifi is None
    assert parsed.config.mqtt is None
    assert parsed.config.hat == "auto"


def test_full_file_gives_every_part(ssh_public_key: str) -> None:
    parsed = fb.parse_text(full_file(ssh_public_key))
    cfg = parsed.config
    assert parsed.valid
    assert cfg.hostname == "kitchen-speaker"
    assert (cfg.timezone, cfg.wake_word, cfg.hat) == ("Europe/Berlin", "alexa", "voice-bonnet")
    assert cfg.user == fb.UserSpec("anna", (ssh_public_key,), cfg.user.password_hash if cfg.user
                                   else "")
    assert cfg.user is not None
    assert cfg.user.password_hash.startswith("$6$")
    assert cfg.wifi == fb.WifiSpec("DE", "Home Net", SECRET)
    assert cfg.mqtt == fb.MqttSpec("homeassistant.local", 1884, "speaker", SECRET)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('hostname = "-bad-"', "hostname"),
        ('timezone = "../../etc/shadow"', "timezone"),
        ('wake_word = "computer"', "wake_word"),
        ('hat = "sound-blaster"', "hat"),
        ('colour = "red"', "colour"),
        ('[user]\nname = "root"\nssh_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB"]', "user."),
        (f'[user]\nname = "anna"\npassword_hash = "{SECRET}"', "user.password_hash"),
        (f'[wifi]\nssid = "x"\npassphrase = "{SECRET}"', "wifi.country"),
        ('[wifi]\ncountry = "DE"\nssid = "x"\npassphrase = "short"', "wifi.passphrase"),
        ('[mqtt]\nhost = "broker"\nport = 70000', "mqtt.port"),
        ('[mqtt]\nhost = "not a host!"', "mqtt.host"),
        ('[mqtt]\nhost = "b"\ncolour = 1', "mqtt.colour"),
    ],
)
def test_each_mistake_is_named_by_its_key_without_the_value(text: str, key: str) -> None:
    parsed = fb.parse_text(text)
    assert not parsed.valid
    assert any(p.startswith(key) for p in parsed.problems), parsed.problems
    assert not any(SECRET in p for p in parsed.problems)


def test_a_bad_section_leaves_the_others(ssh_public_key: str) -> None:
    text = full_file(ssh_public_key).replace('port = 1884', 'port = "many"')
    parsed = fb.parse_text(text)
    assert parsed.problems == ("mqtt.port: a whole number from 1 to 65535",)
    assert parsed.config.mqtt is None
    assert parsed.config.user is not None
    assert parsed.config.user.ssh_keys == (ssh_public_key,)
    assert parsed.config.wifi is not None


def test_a_damaged_key_is_refused(ssh_public_key: str) -> None:
    kind, body, _ = ssh_public_key.split(" ", 2)
    swapped = f"ssh-rsa {body}"  # the blob says ssh-ed25519
    truncated = f"{kind} {body[:-8]}"
    for line in (swapped, truncated, "hello world"):
        parsed = fb.parse_text(f'[user]\nname = "anna"\nssh_keys = ["{line}"]')
        assert parsed.config.user is None
        assert parsed.problems
        assert parsed.problems[0].startswith("user.ssh_keys[0]")


def test_syntax_error_salvages_the_user_and_keys_only(ssh_public_key: str) -> None:
    text = full_file(ssh_public_key).replace('hostname = "Kitchen-Speaker"', 'hostname = "oops')
    parsed = fb.parse_text(text)
    assert len(parsed.problems) == 1
    assert parsed.problems[0].startswith("not valid TOML")
    assert SECRET not in parsed.problems[0]
    assert parsed.config == fb.FirstBoot(user=fb.UserSpec("anna", (ssh_public_key,), ""),
                                         salvaged=True)


def test_syntax_error_without_a_name_uses_the_fallback_user(ssh_public_key: str) -> None:
    parsed = fb.parse_text(f"ssh_keys = [\n  \"{ssh_public_key}\"\n[[[")
    assert parsed.config.user == fb.UserSpec(fb.FALLBACK_USER, (ssh_public_key,), "")


def test_syntax_error_without_keys_applies_nothing() -> None:
    parsed = fb.parse_text(f'[wifi\nssid = "x"\npassphrase = "{SECRET}"')
    assert parsed.config == fb.FirstBoot(salvaged=True)
    assert not parsed.valid


def test_redact_removes_every_secret_and_keeps_the_rest(ssh_public_key: str) -> None:
    text = full_file(ssh_public_key) + "# a comment\n"
    redacted = fb.redact(text)
    assert SECRET not in redacted
    assert "$6$" not in redacted
    assert ssh_public_key in redacted
    assert "# a comment" in redacted
    parsed = fb.parse_text(redacted)
    assert parsed.config.mqtt is not None
    assert parsed.config.mqtt.password == ""
    assert parsed.config.user is not None
    assert parsed.config.user.password_hash == ""


@pytest.mark.parametrize(
    ("ssid", "passphrase", "psk"),
    [  # IEEE 802.11i-2004, annex H.4.1 test vectors
        ("IEEE", "password", "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"),
        ("ThisIsASSID", "ThisIsAPassword",
         "0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af"),
    ],
)
def test_wifi_key_matches_the_standard(ssid: str, passphrase: str, psk: str) -> None:
    wifi = fb.WifiSpec("GB", ssid, passphrase)
    assert wifi_psk(wifi) == psk
    conf = render_wpa_supplicant("GB", wifi)
    assert f"psk={psk}" in conf
    assert passphrase not in conf
    assert f"ssid={ssid.encode().hex()}" in conf
    assert "country=GB" in conf


def test_open_network_has_no_key() -> None:
    conf = render_wpa_supplicant("FR", fb.WifiSpec("FR", "Cafe", ""))
    assert "key_mgmt=NONE" in conf
    assert "psk=" not in conf


def make_i2c_device(devices: Path, name: str, bound: bool) -> None:
    node = devices / "1-001a"
    node.mkdir(parents=True)
    (node / "name").write_text(name + "\n")
    if bound:
        (node / "driver").symlink_to(devices)


def test_hat_found_when_the_codec_driver_bound(tmp_path: Path) -> None:
    make_i2c_device(tmp_path, "wm8960", bound=True)
    assert detect_hat(tmp_path) == "respeaker-2mic"


def test_no_hat_when_the_overlay_node_has_no_driver(tmp_path: Path) -> None:
    make_i2c_device(tmp_path, "wm8960", bound=False)  # overlay loaded, nothing answered
    assert detect_hat(tmp_path) == "none"
    assert detect_hat(tmp_path / "missing") == "none"


I2CDETECT_HAT = """\
     0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f
00:
10:                               1a
20:
"""
I2CDETECT_UU = I2CDETECT_HAT.replace("1a", "UU")
I2CDETECT_EMPTY = I2CDETECT_HAT.replace("1a", "--")
I2CDETECT_FULL = """\
     0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f
00:          -- -- -- -- -- 08 -- -- -- -- -- -- --
10: -- -- -- -- -- -- -- -- -- -- 1a -- -- -- -- --
70: -- -- -- -- -- -- -- 77
"""


def test_i2cdetect_table_is_read_by_position(tmp_path: Path) -> None:
    assert parse_i2cdetect(I2CDETECT_HAT) == {0x1A}
    assert parse_i2cdetect(I2CDETECT_UU) == {0x1A}
    assert parse_i2cdetect(I2CDETECT_EMPTY) == set()
    assert parse_i2cdetect(I2CDETECT_FULL) == {0x08, 0x1A, 0x77}
    assert detect_hat(tmp_path, parse_i2cdetect(I2CDETECT_HAT)) == "respeaker-2mic"
    assert detect_hat(tmp_path, parse_i2cdetect(I2CDETECT_EMPTY)) == "none"
