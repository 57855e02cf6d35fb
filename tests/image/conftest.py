"""Fixtures for the image tests: real SSH keys, a small system root, the image's helper code."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

IMAGE_DIR = Path(__file__).resolve().parents[2] / "image"


@pytest.fixture(scope="session")
def ssh_public_key(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real ed25519 public key line, made by ssh-keygen."""
    folder = tmp_path_factory.mktemp("keys")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "me@laptop",
                    "-f", str(folder / "id")], check=True, timeout=30)
    return (folder / "id.pub").read_text().strip()


@pytest.fixture
def system_root(tmp_path: Path) -> Path:
    """A directory laid out like the image's root, with the account files useradd edits."""
    root = tmp_path / "root"
    for folder in ("etc/ssh/sshd_config.d", "etc/sudoers.d", "etc/appliance", "etc/default",
                   "home", "lib/systemd/system", "usr/share/zoneinfo/Europe"):
        (root / folder).mkdir(parents=True)
    etc = root / "etc"
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\nsudo:x:27:\naudio:x:29:\nusers:x:100:\n"
                               "appliance:x:990:\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (etc / "gshadow").write_text("root:*::\nsudo:*::\naudio:*::\nusers:*::\nappliance:!::\n")
    (etc / "shadow").chmod(0o640)
    (etc / "default/raspi-firmware-custom").write_text(
        (IMAGE_DIR / "boot/config-custom.txt").read_text())
    shutil.copy("/usr/share/zoneinfo/Europe/Berlin", root / "usr/share/zoneinfo/Europe/Berlin")
    (root / "lib/systemd/system/wpa_supplicant@.service").write_text(
        "[Unit]\nDescription=WPA supplicant for %I\n[Service]\nExecStart=/bin/true\n"
        "[Install]\nWantedBy=multi-user.target\n")
    return root


@pytest.fixture
def boot_dir(tmp_path: Path) -> Path:
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "config.txt").write_text("arm_64bit=1\n" + (IMAGE_DIR / "boot/config-custom.txt")
                                     .read_text())
    return boot


@pytest.fixture(scope="session")
def bootcheck() -> ModuleType:
    """image/lib/bootcheck.py (a build helper, not part of the package)."""
    name = "bootcheck"
    spec = importlib.util.spec_from_file_location(name, IMAGE_DIR / "lib" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module
