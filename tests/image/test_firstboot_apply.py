"""``appliance firstboot apply`` on a small system root (real useradd, systemctl --root)."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.settings import load_settings

SECRET = "s3cret-passphrase"
HASH = "$6$saltsalt$" + "x" * 86


def write_file(boot: Path, text: str) -> None:
    (boot / "appliance.toml").write_text(text)


def run_apply(root: Path, boot: Path) -> int:
    return main(["firstboot", "apply", "--root", str(root), "--boot", str(boot)])


def good_file(key: str, password_hash: str = "") -> str:
    return f"""
hostname = "kitchen"
timezone = "Europe/Berlin"
wake_word = "alexa"
hat = "voice-bonnet"
[user]
name = "anna"
ssh_keys = ["{key}"]
password_hash = "{password_hash}"
[wifi]
country = "DE"
ssid = "Home"
passphrase = "{SECRET}"
[mqtt]
host = "10.0.2.2"
port = 1884
password = "{SECRET}"
"""


def shadow_field(root: Path, name: str) -> str:
    for line in (root / "etc/shadow").read_text().splitlines():
        if line.startswith(name + ":"):
            return line.split(":")[1]
    raise AssertionError(f"{name} not in shadow")


def test_good_file_applies_everything_and_loses_its_secrets(
    system_root: Path, boot_dir: Path, ssh_public_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_file(boot_dir, good_file(ssh_public_key))
    assert run_apply(system_root, boot_dir) == 0
    log = capsys.readouterr().err
    etc = system_root / "etc"
    assert (etc / "hostname").read_text() == "kitchen\n"
    assert "127.0.1.1\tkitchen" in (etc / "hosts").read_text()
    assert os.readlink(etc / "localtime") == "/usr/share/zoneinfo/Europe/Berlin"
    keys = system_root / "home/anna/.ssh/authorized_keys"
    assert keys.read_text() == ssh_public_key + "\n"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert shadow_field(system_root, "anna") == "*"  # no password, yet not locked for keys
    assert "NOPASSWD" in (etc / "sudoers.d/010_appliance-user").read_text()
    assert not (etc / "ssh/sshd_config.d/40-appliance-password.conf").exists()
    wpa = etc / "wpa_supplicant/wpa_supplicant-wlan0.conf"
    assert stat.S_IMODE(wpa.stat().st_mode) == 0o600
    assert "country=DE" in wpa.read_text()
    assert SECRET not in wpa.read_text()
    # Started by the wlan0 device when it appears: no boot waits for a missing wlan0.
    wants = etc / "systemd/system/sys-subsystem-net-devices-wlan0.device.wants"
    assert os.readlink(wants / "wpa_supplicant@wlan0.service") == (
        "/lib/systemd/system/wpa_supplicant@.service")
    assert not (etc / "systemd/system/multi-user.target.wants/wpa_supplicant@wlan0.service"
                ).exists()
    config = tomllib.loads((etc / "appliance/config.toml").read_text())
    assert config["mqtt"]["host"] == "10.0.2.2"
    assert config["mqtt"]["port"] == 1884
    assert config["wake"]["models"][0]["model"] == "alexa"
    assert "engine" not in config["wake"]  # alexa has an ONNX model: the default engine
    assert config["hardware"]["profile"] == "voice-bonnet"
    assert stat.S_IMODE((etc / "appliance/config.toml").stat().st_mode) == 0o640
    assert (etc / "appliance/hat").read_text() == "voice-bonnet\n"
    for config_txt in (boot_dir / "config.txt", etc / "default/raspi-firmware-custom"):
        text = config_txt.read_text()
        assert "dtoverlay=appliance-voice-bonnet" in text
        assert "dtoverlay=appliance-respeaker-2mic" not in text
        assert "dtparam=spi=on" in text
    assert not (boot_dir / "appliance.toml").exists()
    kept = (boot_dir / "appliance.toml.applied").read_text()
    assert SECRET not in kept
    assert ssh_public_key in kept
    assert "first boot: user set" in log
    assert SECRET not in log


def test_password_hash_enables_password_login_and_sudo_asks(
    system_root: Path, boot_dir: Path, ssh_public_key: str
) -> None:
    write_file(boot_dir, good_file(ssh_public_key, HASH))
    assert run_apply(system_root, boot_dir) == 0
    assert shadow_field(system_root, "anna") == HASH
    sshd = system_root / "etc/ssh/sshd_config.d/40-appliance-password.conf"
    assert "PasswordAuthentication yes" in sshd.read_text()
    assert not (system_root / "etc/sudoers.d/010_appliance-user").exists()
    assert HASH not in (boot_dir / "appliance.toml.applied").read_text()


def test_malformed_file_keeps_the_key_login_and_is_kept_as_invalid(
    system_root: Path, boot_dir: Path, ssh_public_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = good_file(ssh_public_key, HASH).replace('hostname = "kitchen"', 'hostname = kitchen')
    write_file(boot_dir, text)
    assert run_apply(system_root, boot_dir) == 1
    log = capsys.readouterr().err
    keys = system_root / "home/anna/.ssh/authorized_keys"
    assert keys.read_text() == ssh_public_key + "\n"
    assert shadow_field(system_root, "anna") == "*"  # a salvaged user never gets the password
    assert not (system_root / "etc/hostname").exists()
    assert not (system_root / "etc/appliance/config.toml").exists()
    invalid = boot_dir / "appliance.toml.invalid"
    assert invalid.is_file()
    assert not (boot_dir / "appliance.toml").exists()
    assert HASH not in invalid.read_text()
    assert SECRET not in invalid.read_text()
    assert "not valid TOML" in log
    assert SECRET not in log
    assert HASH not in log


def test_one_bad_section_applies_the_rest(
    system_root: Path, boot_dir: Path, ssh_public_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_file(boot_dir, good_file(ssh_public_key).replace('timezone = "Europe/Berlin"',
                                                           'timezone = "Mars/Olympus"'))
    assert run_apply(system_root, boot_dir) == 1
    log = capsys.readouterr().err
    assert "timezone not applied" in log
    assert (system_root / "etc/hostname").read_text() == "kitchen\n"
    assert (system_root / "home/anna/.ssh/authorized_keys").is_file()
    assert (boot_dir / "appliance.toml.invalid").is_file()


def test_okay_nabu_switches_to_the_engine_that_has_it(
    system_root: Path, boot_dir: Path, ssh_public_key: str
) -> None:
    write_file(boot_dir, good_file(ssh_public_key).replace('"alexa"', '"okay_nabu"'))
    assert run_apply(system_root, boot_dir) == 0
    config_file = system_root / "etc/appliance/config.toml"
    wake = tomllib.loads(config_file.read_text())["wake"]
    assert (wake["engine"], wake["models"][0]["model"]) == ("pyopen-wakeword", "okay_nabu")
    settings = load_settings(config_file)  # and the daemon accepts it
    assert settings.wake.engine == "pyopen-wakeword"


def test_no_file_changes_nothing(system_root: Path, boot_dir: Path) -> None:
    before = sorted(p.relative_to(system_root) for p in system_root.rglob("*"))
    assert run_apply(system_root, boot_dir) == 0
    assert sorted(p.relative_to(system_root) for p in system_root.rglob("*")) == before


def test_check_command_reports_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "appliance.toml"
    bad.write_text(f'[wifi]\ncountry = "Germany"\nssid = "x"\npassphrase = "{SECRET}"\n')
    assert main(["firstboot", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "wifi.country" in out
    assert SECRET not in out


def make_card(root: Path, present: bool) -> None:
    devices = root / "sys/bus/i2c/devices/1-001a"
    devices.mkdir(parents=True)
    (devices / "name").write_text("wm8960\n")
    if present:
        (devices / "driver").symlink_to(root / "sys")
    hats = root / "usr/share/appliance/hats"
    hats.mkdir(parents=True)
    real = Path(__file__).resolve().parents[2] / "image/overlay/usr/share/appliance/hats"
    for item in real.iterdir():
        target = hats / item.name
        if item.is_symlink():
            target.symlink_to(os.readlink(item))
        else:
            target.mkdir()
            for f in item.iterdir():
                (target / f.name).write_text(f.read_text())


def test_hat_auto_detects_the_codec_and_sets_the_profile(system_root: Path) -> None:
    make_card(system_root, present=True)
    assert main(["firstboot", "hat", "--root", str(system_root)]) == 0
    config = tomllib.loads((system_root / "etc/appliance/config.toml").read_text())
    assert config["hardware"]["profile"] == "respeaker-2mic"
    link = system_root / "etc/asound.conf"
    assert os.readlink(link) == "/usr/share/appliance/hats/respeaker-2mic/asound.conf"


def test_hat_auto_without_a_hat_removes_our_alsa_default(system_root: Path) -> None:
    make_card(system_root, present=False)
    (system_root / "etc/asound.conf").symlink_to("/usr/share/appliance/hats/wm8960/asound.conf")
    assert main(["firstboot", "hat", "--root", str(system_root)]) == 0
    assert not (system_root / "etc/asound.conf").is_symlink()
    assert not (system_root / "etc/appliance/config.toml").exists()  # "none" is the default


def test_wifi_without_wpa_supplicant_is_reported_and_the_rest_applies(
    system_root: Path, boot_dir: Path, ssh_public_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (system_root / "lib/systemd/system/wpa_supplicant@.service").unlink()
    write_file(boot_dir, good_file(ssh_public_key))
    assert run_apply(system_root, boot_dir) == 1
    log = capsys.readouterr().err
    assert "wifi not applied" in log and "install wpasupplicant" in log
    assert SECRET not in log
    assert (system_root / "etc/hostname").read_text() == "kitchen\n"
    assert (boot_dir / "appliance.toml.invalid").is_file()


def test_wifi_keeps_the_images_own_device_link(
    system_root: Path, boot_dir: Path, ssh_public_key: str
) -> None:
    wants = system_root / "etc/systemd/system/sys-subsystem-net-devices-wlan0.device.wants"
    wants.mkdir(parents=True)
    (wants / "wpa_supplicant@wlan0.service").symlink_to(
        "/lib/systemd/system/wpa_supplicant@.service")
    write_file(boot_dir, good_file(ssh_public_key))
    assert run_apply(system_root, boot_dir) == 0  # an existing link is no error
    assert os.readlink(wants / "wpa_supplicant@wlan0.service") == (
        "/lib/systemd/system/wpa_supplicant@.service")


def test_first_boot_turns_on_the_satellite_with_a_key_of_its_own_kept_after(
    system_root: Path, boot_dir: Path, ssh_public_key: str
) -> None:
    config_file = system_root / "etc/appliance/config.toml"
    write_file(boot_dir, good_file(ssh_public_key))
    assert run_apply(system_root, boot_dir) == 0
    settings = load_settings(config_file)
    assert settings.esphome.enabled
    key = settings.esphome.key
    assert key is not None and len(key) == 32
    write_file(boot_dir, good_file(ssh_public_key))  # a later file: the same key
    assert run_apply(system_root, boot_dir) == 0
    assert load_settings(config_file).esphome.key == key
    other_root = system_root.parent / "other"
    other_root.mkdir()
    (other_root / "etc").mkdir()
    (other_root / "etc/group").write_text((system_root / "etc/group").read_text())
    from appliance.system.firstboot_apply import FirstBootApplier
    FirstBootApplier(other_root, boot_dir).esphome()
    assert load_settings(other_root / "etc/appliance/config.toml").esphome.key != key
