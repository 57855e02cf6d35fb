"""Applying a checked first-boot file to a system root: host name, time zone, the login user,
Wi-Fi, the appliance's settings and the HAT. Each part applies on its own, so a mistake in one
leaves the others (and SSH with the user's key) working. ``root`` is ``/`` on the Pi, or an
image's root in the tests."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
import subprocess
import tomllib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from appliance import firstboot as fb
from appliance.errors import ApplianceError
from appliance.fsutil import atomic_write
from appliance.system.accounts import group_id, passwd_entry, set_shadow_password
from appliance.system.configfile import set_config_value
from appliance.system.hat import HAT_CHOICE, OVERLAYS, with_overlay

_LOGGER = logging.getLogger(__name__)

WLAN0_DEVICE = "sys-subsystem-net-devices-wlan0.device"
MQTT_CA_FILE = "/etc/appliance/mqtt-ca.pem"  # [mqtt] ca_certs of the first-boot file
# appliance: read /etc/appliance/config.toml, so `appliance say` etc. work without sudo.
USER_GROUPS = ("sudo", "adm", "audio", "video", "plugdev", "netdev", "gpio", "spi", "i2c",
               "systemd-journal", "appliance")


class FirstBootApplier:
    """Applies each part of a checked first-boot file to the system at ``root``."""

    def __init__(self, root: Path, boot: Path) -> None:
        self.root = root
        self.boot = boot
        self.live = root.resolve() == Path("/")

    def apply(self, cfg: fb.FirstBoot) -> list[str]:
        """Apply every part given; returns the names of the parts that failed (logged)."""
        parts: list[tuple[str, Callable[[], None]]] = []
        if cfg.hostname is not None:
            parts.append(("hostname", partial(self.hostname, cfg.hostname)))
        if cfg.timezone is not None:
            parts.append(("timezone", partial(self.timezone, cfg.timezone)))
        if cfg.user is not None:
            parts.append(("user", partial(self.user, cfg.user)))
        if cfg.wifi_country is not None:
            parts.append(("wifi", partial(self.wifi, cfg)))
        parts.append(("appliance settings", partial(self.settings, cfg)))
        if not cfg.salvaged:
            parts.append(("Home Assistant satellite", self.esphome))
        if cfg.hat is not None:
            parts.append(("hat", partial(self.hat, cfg.hat)))
        failed = []
        for name, action in parts:
            try:
                action()
                _LOGGER.info("first boot: %s set", name)
            except (OSError, subprocess.CalledProcessError, ApplianceError) as err:
                _LOGGER.error("first boot: %s not applied: %s", name, _safe_error(err))
                failed.append(name)
        return failed

    def path(self, relative: str) -> Path:
        return self.root / relative.lstrip("/")

    def run(self, argv: list[str]) -> None:
        subprocess.run(argv, text=True, check=True, capture_output=True)

    def hostname(self, name: str) -> None:
        self.path("etc/hostname").write_text(name + "\n")
        self.path("etc/hosts").write_text(render_hosts(name))
        if self.live:
            Path("/proc/sys/kernel/hostname").write_text(name)

    def timezone(self, zone: str) -> None:
        if not self.path(f"usr/share/zoneinfo/{zone}").is_file():
            raise ApplianceError(f"unknown time zone {zone!r}", fix="use a name from "
                                 "/usr/share/zoneinfo, e.g. Europe/Berlin", code="firstboot")
        link = self.path("etc/localtime")
        link.unlink(missing_ok=True)
        link.symlink_to(f"/usr/share/zoneinfo/{zone}")
        self.path("etc/timezone").write_text(zone + "\n")

    def user(self, spec: fb.UserSpec) -> None:
        prefix = [] if self.live else ["--prefix", str(self.root)]
        if passwd_entry(self.path("etc/passwd"), spec.name) is None:
            group_file = self.path("etc/group")
            groups = ",".join(g for g in USER_GROUPS if group_id(group_file, g) is not None)
            self.run(["useradd", *prefix, "--create-home", "--shell", "/bin/bash",
                      "--groups", groups, spec.name])
        # "*": no password can match, but unlike useradd's "!" the account is not "locked", so
        # key logins work whatever sshd's UsePAM says.
        set_shadow_password(self.path("etc/shadow"), spec.name, spec.password_hash or "*")
        self._sudo_and_ssh(spec)
        if spec.ssh_keys:
            self._authorized_keys(spec)

    def _sudo_and_ssh(self, spec: fb.UserSpec) -> None:
        sudoers = self.path("etc/sudoers.d/010_appliance-user")
        sshd = self.path("etc/ssh/sshd_config.d/40-appliance-password.conf")
        if spec.password_hash:
            sudoers.unlink(missing_ok=True)  # sudo asks for the password (group sudo)
            sshd.write_text("# The first-boot file set a password: allow it over SSH.\n"
                            "PasswordAuthentication yes\n")
        else:
            sudoers.write_text(f"# No password was set: SSH key login only.\n"
                               f"{spec.name} ALL=(ALL:ALL) NOPASSWD: ALL\n")
            sudoers.chmod(0o440)
            sshd.unlink(missing_ok=True)

    def _authorized_keys(self, spec: fb.UserSpec) -> None:
        entry = passwd_entry(self.path("etc/passwd"), spec.name)
        if entry is None:
            raise ApplianceError(f"user {spec.name} was not created", code="firstboot")
        uid, gid, home = entry
        ssh_dir = self.path(home) / ".ssh"
        ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        keys_file = ssh_dir / "authorized_keys"
        old = keys_file.read_text().splitlines() if keys_file.exists() else []
        keys_file.write_text("\n".join(dict.fromkeys([*old, *spec.ssh_keys])) + "\n")
        keys_file.chmod(0o600)
        for item in (ssh_dir, keys_file):
            os.chown(item, uid, gid)

    def wifi(self, cfg: fb.FirstBoot) -> None:
        conf = self.path("etc/wpa_supplicant/wpa_supplicant-wlan0.conf")
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.touch(mode=0o600)
        conf.chmod(0o600)
        conf.write_text(render_wpa_supplicant(cfg.wifi_country or "", cfg.wifi))
        if cfg.wifi is not None:
            self._start_wpa_supplicant_with_wlan0()

    def _start_wpa_supplicant_with_wlan0(self) -> None:
        """wpa_supplicant@wlan0 is wanted by the wlan0 device, not by multi-user.target: it
        starts when the interface appears. Enabled the usual way, a card whose Wi-Fi is missing
        or disabled would hold up network.target (and SSH and the speaker after it) for the 90 s
        systemd waits for a wlan0 that never comes."""
        unit = "wpa_supplicant@wlan0.service"
        template = "/lib/systemd/system/wpa_supplicant@.service"
        if not self.path(template).is_file():
            raise ApplianceError(f"{template} is missing", fix="install wpasupplicant",
                                 code="firstboot")
        link = self.path(f"etc/systemd/system/{WLAN0_DEVICE}.wants") / unit
        added = not os.path.lexists(link)
        if added:  # the image has it already: no daemon-reload (~15 s under emulation)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(template)
        if self.live:
            if added:
                self.run(["systemctl", "daemon-reload"])
            # wlan0 is there already: the device's wants were read before the configuration
            # existed; start it now.
            if Path("/sys/class/net/wlan0").exists():
                self.run(["systemctl", "start", "--no-block", unit])

    def settings(self, cfg: fb.FirstBoot) -> None:
        """MQTT broker, wake word and an explicit HAT profile go to /etc/appliance/config.toml,
        validated exactly as the daemon will read them."""
        edits: list[tuple[str, Any]] = []
        if cfg.mqtt is not None:
            edits += [("mqtt.host", cfg.mqtt.host), ("mqtt.port", cfg.mqtt.port),
                      ("mqtt.username", cfg.mqtt.username), ("mqtt.password", cfg.mqtt.password),
                      ("mqtt.tls", cfg.mqtt.tls), ("mqtt.tls_ca_file", self._mqtt_ca(cfg.mqtt))]
        if cfg.wake_word is not None:
            if fb.needs_tflite_engine(cfg.wake_word):  # no ONNX file for the default engine
                edits.append(("wake.engine", "pyopen-wakeword"))
            edits.append(("wake.models[0].model", cfg.wake_word))
        if cfg.hat not in (None, "auto"):
            edits.append(("hardware.profile", cfg.hat))
        for key, value in edits:
            set_config_value(self.path("etc/appliance/config.toml"), key, value)

    def esphome(self) -> None:
        """The image turns the ESPHome API (Home Assistant's Assist satellite) on, encrypted
        with a key of its own, made here once: Home Assistant asks for it when the speaker is
        added (``sudo grep encryption_key /etc/appliance/config.toml``). A key already there
        (a later first-boot file) is kept, so Home Assistant keeps its connection."""
        config = self.path("etc/appliance/config.toml")
        try:
            current = tomllib.loads(config.read_text()) if config.exists() else {}
        except tomllib.TOMLDecodeError:
            current = {}
        section = current.get("esphome", {})
        if isinstance(section, dict) and section.get("encryption_key"):
            return
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        set_config_value(config, "esphome.encryption_key", key)
        set_config_value(config, "esphome.enabled", True)

    def _mqtt_ca(self, mqtt: fb.MqttSpec) -> str:
        """The broker's CA from the first-boot file, written where the daemon reads it (0644:
        a certificate is public); "" (the system's CAs) when none was given."""
        if not mqtt.ca_certs:
            return ""
        atomic_write(self.path(MQTT_CA_FILE), mqtt.ca_certs,
                     prepare=lambda tmp: tmp.chmod(0o644))
        return MQTT_CA_FILE

    def hat(self, choice: str) -> None:
        self.path(str(HAT_CHOICE)).write_text(choice + "\n")
        overlay = OVERLAYS.get("respeaker-2mic" if choice == "auto" else choice)
        for config_txt in (self.boot / "config.txt",
                           self.path("etc/default/raspi-firmware-custom")):
            if config_txt.is_file():
                config_txt.write_text(with_overlay(config_txt.read_text(), overlay))


def wifi_psk(wifi: fb.WifiSpec) -> str:
    """The 256-bit WPA key (as wpa_passphrase computes it), so the passphrase is not stored."""
    if len(wifi.passphrase) == 64:
        return wifi.passphrase.lower()
    key = hashlib.pbkdf2_hmac("sha1", wifi.passphrase.encode(), wifi.ssid.encode(), 4096, 32)
    return key.hex()


def render_wpa_supplicant(country: str, wifi: fb.WifiSpec | None) -> str:
    lines = [
        "# Written by `appliance firstboot` from the boot partition's appliance.toml.",
        "ctrl_interface=DIR=/run/wpa_supplicant GROUP=netdev",
        "update_config=1",
        f"country={country}",
    ]
    if wifi is not None:
        security = f"psk={wifi_psk(wifi)}" if wifi.passphrase else "key_mgmt=NONE"
        # A hex SSID needs no quoting whatever characters the name has.
        lines += ["network={", f"    ssid={wifi.ssid.encode().hex()}", "    scan_ssid=1",
                  f"    {security}", "}"]
    return "\n".join(lines) + "\n"


def render_hosts(hostname: str) -> str:
    return (f"127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n"
            "::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\n"
            "ff02::2\t\tip6-allrouters\n")


def _safe_error(err: Exception) -> str:
    """An error for the log without what a command printed (it might echo a secret)."""
    if isinstance(err, subprocess.CalledProcessError):
        cmd = err.cmd[0] if isinstance(err.cmd, list) else "command"
        return f"{cmd} failed with exit status {err.returncode}"
    return str(err)
