"""The image's shell scripts pass shellcheck (installed from apt: shellcheck)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = [
    "image/build", "image/test", "image/lib/common.sh", "image/lib/rootfs.sh",
    "image/lib/wheels.sh", "image/lib/customize.sh", "image/lib/disk.sh",
    "image/hooks/essential-defer-initramfs", "image/hooks/customize-initramfs",
    "image/overlay/usr/local/sbin/appliance-growroot",
    "image/overlay/usr/lib/appliance-image/updates-allowed",
    "image/overlay/etc/kernel/postinst.d/z51-appliance-dtb",
    "image/overlay/etc/initramfs/post-update.d/z51-appliance-dtb",
]


def is_shell_script(path: Path) -> bool:
    head = path.read_bytes()[:40] if path.is_file() else b""
    return head.startswith(b"#!") and b"python" not in head


def test_every_script_is_listed() -> None:
    found = {str(p.relative_to(REPO)) for p in (REPO / "image").rglob("*")
             if p.relative_to(REPO).parts[1] not in ("cache", "out") and is_shell_script(p)}
    found |= {str(p.relative_to(REPO)) for p in (REPO / "image/lib").glob("*.sh")}
    assert found == set(SCRIPTS)


def test_shellcheck_is_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "install shellcheck (apt-get install shellcheck)"
    result = subprocess.run([shellcheck, "-x", "-S", "style", *SCRIPTS], cwd=REPO,
                            capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
