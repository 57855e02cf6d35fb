"""``appliance firstboot apply|check|hat``: the SD card's first-boot file, and the HAT at boot.

``apply`` (appliance-firstboot.service, once, before the network and SSH start) reads
``/boot/firmware/appliance.toml``: host name, time zone, the login user with SSH keys and/or a
password hash, Wi-Fi, MQTT broker, wake word, HAT. Each part applies on its own, so a mistake in
one leaves the others (and SSH with the user's key) working. Afterwards the file is renamed
``appliance.toml.applied`` (or ``.invalid`` if anything was wrong) with its secrets removed.
``hat`` (appliance-hat.service, every boot) picks the HAT profile when the choice is ``auto``.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import tomlkit

from appliance import firstboot as fb
from appliance.errors import ApplianceError
from appliance.fsutil import atomic_write, fsync_dir
from appliance.system.configfile import set_value

_LOGGER = logging.getLogger(__name__)

BOOT_DIR = Path("/boot/firmware")
HAT_CHOICE = Path("etc/appliance/hat")  # relative to the root: "auto", "none" or a profile
HAT_FILES = Path("usr/share/appliance/hats")
WLAN0_DEVICE = "sys-subsystem-net-devices-wlan0.device"
OVERLAYS = {"respeaker-2mic": "appliance-respeaker-2mic", "voice-bonnet": "appliance-voice-bonnet"}
# appliance: read /etc/appliance/config.toml, so `appliance say` etc. work without sudo.
USER_GROUPS = ("sudo", "adm", "audio", "video", "plugdev", "netdev", "gpio", "spi", "i2c",
               "systemd-journal", "appliance")


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("firstboot", help="the first-boot file on the SD card (image only)")
    _add_actions(p, common)


def _add_actions(p: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    apply = actions.add_parser("apply", parents=[common], help="apply appliance.toml once")
    apply.add_argument("--boot", type=Path, default=BOOT_DIR, help="the boot partition")
    apply.add_argument("--root", type=Path, default=Path("/"), help="the system to change")
    apply.set_defaults(func=apply_main)
    check = actions.add_parser("check", parents=[common], help="check a first-boot file")
    check.add_argument("file", type=Path)
    check.set_defaults(func=check_main)
    hat = actions.add_parser("hat", parents=[common], help="set up the HAT's sound profile")
    hat.add_argument("--root", type=Path, default=Path("/"))
    hat.set_defaults(func=hat_main)


def check_main(args: argparse.Namespace) -> int:
    parsed = fb.parse_text(_read(args.file))
    for problem in parsed.problems:
        sys.stdout.write(f"{args.file}: {problem}\n")
    sys.stdout.write(f"{args.file}: {'valid' if parsed.valid else 'has problems'}\n")
    return 0 if parsed.valid else 1


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise ApplianceError(f"cannot read {path}: {err.strerror}", fix="check the path",
                             code="firstboot_unreadable") from err


def _log_progress(args: argparse.Namespace) -> None:
    """These commands run once per boot under systemd: their steps belong in the journal."""
    if not args.debug:
        _LOGGER.setLevel(logging.INFO)


def apply_main(args: argparse.Namespace) -> int:
    _log_progress(args)
    source = args.boot / fb.FILE_NAME
    if not source.is_file():
        _LOGGER.info("no %s: nothing to apply", source)
        return 0
    text = _read(source)
    parsed = fb.parse_text(text)
    for problem in parsed.problems:
        _LOGGER.error("%s: %s", fb.FILE_NAME, problem)
    failures = FirstBootApplier(args.root, args.boot).apply(parsed.config)
    ok = parsed.valid and not failures
    done = source.with_name(fb.FILE_NAME + (".applied" if ok else ".invalid"))
    _replace_with_redacted(source, done, text)
    _LOGGER.info("first-boot file %s; kept without its secrets as %s",
                 "applied" if ok else "applied in part", done)
    return 0 if ok else 1


def _replace_with_redacted(source: Path, done: Path, text: str) -> None:
    atomic_write(done, fb.redact(text))
    source.unlink()
    fsync_dir(source.parent)


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
        self.path("etc/hosts").write_text(fb.render_hosts(name))
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
        if _passwd_entry(self.path("etc/passwd"), spec.name) is None:
            groups = ",".join(g for g in USER_GROUPS if _has_group(self.path("etc/group"), g))
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
        entry = _passwd_entry(self.path("etc/passwd"), spec.name)
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
        conf.write_text(fb.render_wpa_supplicant(cfg.wifi_country or "", cfg.wifi))
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
                      ("mqtt.username", cfg.mqtt.username), ("mqtt.password", cfg.mqtt.password)]
        if cfg.wake_word is not None:
            if fb.needs_tflite_engine(cfg.wake_word):  # no ONNX file for the default engine
                edits.append(("wake.engine", "pyopen-wakeword"))
            edits.append(("wake.models[0].model", cfg.wake_word))
        if cfg.hat not in (None, "auto"):
            edits.append(("hardware.profile", cfg.hat))
        for key, value in edits:
            set_config_value(self.path("etc/appliance/config.toml"), key, value)

    def hat(self, choice: str) -> None:
        self.path(str(HAT_CHOICE)).write_text(choice + "\n")
        overlay = OVERLAYS.get("respeaker-2mic" if choice == "auto" else choice)
        for config_txt in (self.boot / "config.txt",
                           self.path("etc/default/raspi-firmware-custom")):
            if config_txt.is_file():
                config_txt.write_text(with_overlay(config_txt.read_text(), overlay))


def set_config_value(path: Path, key: str, value: Any) -> None:
    """Set one key in the appliance's config file (created 0640 root:appliance: it may hold the
    MQTT password and the daemon, user appliance, reads it)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# Your settings (the defaults: `appliance config show`).\n")
        path.chmod(0o640)
        group = _group_id(path.parents[2] / "etc/group", "appliance")
        if group is not None and os.geteuid() == 0:
            os.chown(path, 0, group)
    set_value(path, key, tomlkit.item(value).as_string())


def with_overlay(config_txt: str, overlay: str | None) -> str:
    """``config_txt`` with our HAT overlay line replaced by ``overlay`` (None: removed)."""
    lines = [ln for ln in config_txt.splitlines() if not ln.startswith("dtoverlay=appliance-")]
    if overlay is not None:
        lines.append(f"dtoverlay={overlay}")
    return "\n".join(lines) + "\n"


def set_shadow_password(shadow: Path, name: str, crypted: str) -> None:
    """Put ``crypted`` in ``name``'s /etc/shadow entry (never on a command line: ps shows
    those); the file is replaced atomically with its mode and owner."""
    lines = shadow.read_text().splitlines()
    for i, line in enumerate(lines):
        fields = line.split(":")
        if fields[0] == name and len(fields) >= 2:
            fields[1] = crypted
            lines[i] = ":".join(fields)
            break
    else:
        raise ApplianceError(f"user {name} is not in {shadow}", code="firstboot")
    st = shadow.stat()
    tmp = shadow.with_name(shadow.name + "+")
    tmp.write_text("\n".join(lines) + "\n")
    os.chmod(tmp, st.st_mode & 0o7777)
    if os.geteuid() == 0:
        os.chown(tmp, st.st_uid, st.st_gid)
    os.replace(tmp, shadow)


def _passwd_entry(passwd: Path, name: str) -> tuple[int, int, str] | None:
    for line in passwd.read_text().splitlines():
        fields = line.split(":")
        if len(fields) >= 6 and fields[0] == name:
            return int(fields[2]), int(fields[3]), fields[5]
    return None


def _has_group(group_file: Path, name: str) -> bool:
    return _group_id(group_file, name) is not None


def _group_id(group_file: Path, name: str) -> int | None:
    if not group_file.is_file():
        return None
    for line in group_file.read_text().splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] == name:
            return int(fields[2])
    return None


def _safe_error(err: Exception) -> str:
    """An error for the log without what a command printed (it might echo a secret)."""
    if isinstance(err, subprocess.CalledProcessError):
        cmd = err.cmd[0] if isinstance(err.cmd, list) else "command"
        return f"{cmd} failed with exit status {err.returncode}"
    return str(err)


# ---------------------------------------------------------------------------------------------
# The HAT, every boot


def hat_main(args: argparse.Namespace) -> int:
    _log_progress(args)
    root: Path = args.root
    choice_file = root / HAT_CHOICE
    choice = choice_file.read_text().strip() if choice_file.is_file() else "auto"
    profile = choice
    if choice == "auto":
        profile = fb.detect_hat(root / "sys/bus/i2c/devices", _probe_i2c(root))
        _LOGGER.info("HAT auto-detection over I2C: %s", profile)
        if profile != _configured_profile(root):
            set_config_value(root / "etc/appliance/config.toml", "hardware.profile", profile)
    link = root / "etc/asound.conf"
    target = Path("/") / HAT_FILES / profile / "asound.conf"
    if (root / HAT_FILES / profile / "asound.conf").is_file():
        link.unlink(missing_ok=True)
        link.symlink_to(target)
        _mixer_preset(root, profile)
    elif link.is_symlink() and str(os.readlink(link)).startswith(f"/{HAT_FILES}/"):
        link.unlink()
    return 0


def _configured_profile(root: Path) -> str:
    path = root / "etc/appliance/config.toml"
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return "none"
    value = data.get("hardware", {}).get("profile", "none")
    return str(value)


def _probe_i2c(root: Path) -> frozenset[int]:
    """What answers on I2C bus 1, when the kernel created no device node for the codec."""
    if (root / "sys/bus/i2c/devices/1-001a").exists() or not (root / "dev/i2c-1").exists():
        return frozenset()
    cmd = ["i2cdetect", "-y", "1", "0x1a", "0x1a"]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return fb.parse_i2cdetect(result.stdout) if result.returncode == 0 else frozenset()


def _mixer_preset(root: Path, profile: str) -> None:
    preset = root / HAT_FILES / profile / "mixer"
    card = (root / HAT_FILES / profile / "card").read_text().strip()
    cards = root / "proc/asound/cards"
    if not preset.is_file() or not cards.is_file() or f"[{card}" not in cards.read_text():
        _LOGGER.info("sound card %s not present: mixer preset not applied", card)
        return
    result = subprocess.run(["amixer", "-q", "-c", card, "-s"], input=preset.read_text(),
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        _LOGGER.warning("mixer preset for %s: %s", card, result.stderr.strip()[:300])


def main(argv: list[str] | None = None) -> int:
    """``python -m appliance.commands.firstboot ACTION``: what the boot units run. Unlike
    ``appliance firstboot`` it does not import every command (and with them numpy and the model
    runtimes): seconds saved on every boot of a Pi Zero."""
    from appliance.logs import setup_logging

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="debug logging")
    parser = argparse.ArgumentParser(prog="appliance firstboot", parents=[common])
    _add_actions(parser, common)
    args = parser.parse_args(argv)
    setup_logging(args.debug, "warning")
    try:
        code: int = args.func(args)
    except ApplianceError as err:
        _LOGGER.error("%s [%s] (fix: %s)", err.message, err.code, err.fix)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
