"""The image's security updates: what apt reads from our file over Debian's (the real
apt-config), the apt services' drop-ins, and their condition script run for real on settings
files (``[updates] security``)."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.system import updates_gate

IMAGE_DIR = Path(__file__).resolve().parents[2] / "image"
OVERLAY = IMAGE_DIR / "overlay"
OUR_APT_FILE = OVERLAY / "etc/apt/apt.conf.d/52appliance-security-updates"
CONDITION = OVERLAY / "usr/lib/appliance-image/updates-allowed"

# What the unattended-upgrades package installs, less its comments (the same in bookworm's
# 2.9.1+nmu3 and trixie's 2.12, read from the built image):
# 50unattended-upgrades also takes point-release updates (label=Debian).
DEBIAN_50 = """\
Unattended-Upgrade::Origins-Pattern {
        "origin=Debian,codename=${distro_codename},label=Debian";
        "origin=Debian,codename=${distro_codename},label=Debian-Security";
        "origin=Debian,codename=${distro_codename}-security,label=Debian-Security";
};
Unattended-Upgrade::Package-Blacklist {
};
"""
DEBIAN_20 = 'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n'


def apt_config(tmp_path: Path, *, ours: bool) -> dict[str, list[str]]:
    """``apt-config dump`` of an /etc/apt made here (Debian's files, and ours if ``ours``): each
    key's values (a list's items are under ``KEY::``)."""
    parts = tmp_path / "etc/apt/apt.conf.d"
    parts.mkdir(parents=True, exist_ok=True)
    (parts / "50unattended-upgrades").write_text(DEBIAN_50)
    (parts / "20auto-upgrades").write_text(DEBIAN_20)
    if ours:
        (parts / OUR_APT_FILE.name).write_text(OUR_APT_FILE.read_text())
    (tmp_path / "apt.conf").write_text(f'Dir::Etc "{tmp_path}/etc/apt";\n')
    out = subprocess.run(["apt-config", "dump"], env={**os.environ, "APT_CONFIG":
                         str(tmp_path / "apt.conf")}, capture_output=True, text=True,
                         check=True, timeout=30).stdout
    values: dict[str, list[str]] = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        values.setdefault(key, []).append(value.rstrip(";").strip('"'))
    return values


def test_apt_installs_debian_security_fixes_only_and_never_reboots(tmp_path: Path) -> None:
    debian = apt_config(tmp_path / "debian", ours=False)
    assert len(debian["Unattended-Upgrade::Origins-Pattern::"]) == 3  # point releases too
    ours = apt_config(tmp_path / "ours", ours=True)
    assert ours["Unattended-Upgrade::Origins-Pattern::"] == [
        "origin=Debian,codename=${distro_codename}-security,label=Debian-Security",
        "origin=Debian,codename=${distro_codename},label=Debian-Security",
    ]
    assert ours["Unattended-Upgrade::Automatic-Reboot"] == ["false"]
    assert ours["APT::Periodic::Update-Package-Lists"] == ["1"]
    assert ours["APT::Periodic::Unattended-Upgrade"] == ["1"]
    assert ours["Unattended-Upgrade::Remove-Unused-Kernel-Packages"] == ["true"]
    packages = (IMAGE_DIR / "packages.txt").read_text().split()
    assert "unattended-upgrades" in packages


@pytest.mark.parametrize("unit", ["apt-daily.service", "apt-daily-upgrade.service"])
def test_both_apt_services_ask_the_settings_first(unit: str) -> None:
    dropin = configparser.ConfigParser(strict=False, interpolation=None)
    dropin.read(OVERLAY / f"etc/systemd/system/{unit}.d/appliance.conf")
    condition = dropin["Service"]["ExecCondition"]
    assert condition == "/usr/lib/appliance-image/updates-allowed"
    assert os.access(OVERLAY / condition.lstrip("/"), os.X_OK)
    assert int(dropin["Service"]["Nice"]) > 0


def condition(tmp_path: Path, config: str, python: str = sys.executable) -> tuple[int, str]:
    """The drop-ins' condition script, run for real (this venv's Python in the Pi's)."""
    path = tmp_path / "config.toml"
    path.write_text(config)
    result = subprocess.run([str(CONDITION), "--config", str(path)],
                            env={**os.environ, "APPLIANCE_PYTHON": python},
                            capture_output=True, text=True, check=False, timeout=60)
    return result.returncode, result.stderr


def test_the_condition_skips_the_run_only_when_updates_are_off(tmp_path: Path) -> None:
    assert condition(tmp_path, "") == (0, "")
    code, err = condition(tmp_path, "[updates]\nsecurity = false\n")
    assert code == 1
    assert "security updates are off (updates.security = false), skipped" in err
    assert "sudo appliance config set updates.security true" in err


def test_a_broken_config_or_venv_keeps_updates_on(tmp_path: Path) -> None:
    code, err = condition(tmp_path, "[updates]\nsecurity = 'no'\n")
    assert code == 0
    assert err.count("\n") == 1  # one line: the problem, the fix, and that updates stay on
    assert "'updates.security' must be true or false" in err
    assert "security updates stay on (the default) until it is fixed" in err
    code, _err = condition(tmp_path, "[updates]\nsecurity = false\n",
                           python=str(tmp_path / "no-venv/bin/python"))
    assert code == 0


def test_the_gate_exit_codes(tmp_path: Path) -> None:
    off = tmp_path / "off.toml"
    off.write_text("[updates]\nsecurity = false\n")
    on = tmp_path / "on.toml"
    on.write_text("[updates]\nsecurity = true\n")
    assert updates_gate.main(["--config", str(off)]) == updates_gate.OFF
    assert updates_gate.main(["--config", str(on)]) == updates_gate.RUN
    assert updates_gate.main(["--config", str(tmp_path / "missing.toml")]) == updates_gate.RUN
