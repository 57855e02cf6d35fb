"""The systemd files: the unit verifies cleanly and is well sandboxed; sysusers/tmpfiles work on a
plain Debian root and on a Raspberry Pi OS-like one (run with --root: no systemd as PID 1 here)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parents[2] / "systemd"
UNIT = SYSTEMD / "appliance.service"
INSTALLED_EXEC = "/opt/appliance/venv/bin/appliance"
MAX_EXPOSURE = 2.5


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: apt-get install systemd"
    return path


def unit_directives(text: str) -> dict[str, list[str]]:
    """``Key=value`` lines of a unit (keys may repeat)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key.strip(), []).append(value.strip())
    return out


@pytest.fixture
def verifiable_unit(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this machine's appliance script (verify checks the
    binary exists; the image installs it at /opt/appliance/venv/bin/appliance)."""
    script = Path(sys.executable).with_name("appliance")
    assert script.is_file()
    text = UNIT.read_text()
    assert f"ExecStart={INSTALLED_EXEC} run" in text
    copy = tmp_path / "appliance.service"
    copy.write_text(text.replace(INSTALLED_EXEC, str(script)))
    return copy


def test_unit_verifies_without_warnings(verifiable_unit: Path) -> None:
    result = subprocess.run([_tool("systemd-analyze"), "verify", str(verifiable_unit)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
    assert result.stderr.strip() == ""


def test_verify_catches_a_broken_unit(verifiable_unit: Path) -> None:
    """The check above can fail: a typo in a directive is reported."""
    verifiable_unit.write_text(verifiable_unit.read_text().replace("ProtectHome=", "ProtectHom="))
    result = subprocess.run([_tool("systemd-analyze"), "verify", str(verifiable_unit)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert "ProtectHom" in result.stderr


def test_exposure_is_low(verifiable_unit: Path) -> None:
    result = subprocess.run(
        [_tool("systemd-analyze"), "security", "--offline=true", "--no-pager",
         str(verifiable_unit)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    match = re.search(r"Overall exposure level for appliance\.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout


def test_unit_has_the_appliance_contract() -> None:
    d = unit_directives(UNIT.read_text())
    assert d["Type"] == ["notify"]
    assert d["NotifyAccess"] == ["main"]
    assert d["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert d["Restart"] == ["on-failure"]
    assert "StartLimitBurst" in d
    assert "StartLimitIntervalSec" in d
    assert int(d["WatchdogSec"][0]) >= 10
    assert d["User"] == ["appliance"]
    assert "audio" in d["SupplementaryGroups"][0].split()
    # A group missing on plain Debian here would stop the service (status=216/GROUP).
    assert not {"gpio", "spi"} & set(d["SupplementaryGroups"][0].split())
    assert d["ProtectSystem"] == ["strict"]
    assert d["DevicePolicy"] == ["closed"]
    assert {"char-alsa rw", "char-gpiochip rw", "char-spi rw"} <= set(d["DeviceAllow"])
    assert "PrivateDevices" not in d  # it would hide /dev/snd
    assert d["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6 AF_NETLINK"]
    assert "@system-service" in d["SystemCallFilter"]
    for key in ("StateDirectory", "CacheDirectory", "ConfigurationDirectory"):
        assert d[key] == ["appliance"]


def _debian_root(root: Path, extra_groups: str = "") -> None:
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
    (root / "etc/group").write_text("root:x:0:\naudio:x:29:\nnogroup:x:65534:\n" + extra_groups)


def _sysusers(root: Path) -> dict[str, list[str]]:
    subprocess.run([_tool("systemd-sysusers"), f"--root={root}",
                    str(SYSTEMD / "appliance.sysusers.conf")],
                   check=True, capture_output=True, timeout=60)
    lines = (root / "etc/group").read_text().split()
    return {line.split(":")[0]: line.split(":") for line in lines}


def test_sysusers_on_plain_debian_creates_the_missing_groups(tmp_path: Path) -> None:
    _debian_root(tmp_path)
    groups = _sysusers(tmp_path)
    for name in ("audio", "gpio", "spi"):
        assert "appliance" in groups[name][3].split(","), name
    user = next(line for line in (tmp_path / "etc/passwd").read_text().splitlines()
                if line.startswith("appliance:"))
    assert user.split(":")[5:] == ["/var/lib/appliance", "/usr/sbin/nologin"]


def test_sysusers_on_pi_os_joins_the_existing_groups(tmp_path: Path) -> None:
    _debian_root(tmp_path, "gpio:x:997:pi\nspi:x:999:pi\n")
    groups = _sysusers(tmp_path)
    assert groups["gpio"][2] == "997"
    assert groups["spi"][2] == "999"
    assert set(groups["gpio"][3].split(",")) == {"pi", "appliance"}
    assert set(groups["spi"][3].split(",")) == {"pi", "appliance"}


def test_tmpfiles_makes_a_private_utterance_directory(tmp_path: Path) -> None:
    _debian_root(tmp_path)
    _sysusers(tmp_path)
    subprocess.run([_tool("systemd-tmpfiles"), "--create", f"--root={tmp_path}",
                    str(SYSTEMD / "appliance.tmpfiles.conf")],
                   check=True, capture_output=True, timeout=60)
    uid = int(next(line for line in (tmp_path / "etc/passwd").read_text().splitlines()
                   if line.startswith("appliance:")).split(":")[2])
    folder = tmp_path / "var/lib/appliance/utterances"
    assert folder.stat().st_mode & 0o777 == 0o700
    assert folder.stat().st_uid == uid
    assert (tmp_path / "etc/appliance").is_dir()
