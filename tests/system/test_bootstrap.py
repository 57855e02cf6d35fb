"""scripts/bootstrap and the CI scripts: one clear line when no usable Python is found."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = ["scripts/bootstrap", "scripts/test", ".ci/run", ".ci/trixie"]


@pytest.mark.parametrize("python", ["/nonexistent/python3", "/bin/false"])
def test_bootstrap_without_a_usable_python_says_which_is_needed(python: str,
                                                                tmp_path: Path) -> None:
    env = os.environ | {"VENV": str(tmp_path / "venv"), "PYTHON": python}
    result = subprocess.run([REPO / "scripts/bootstrap", "run"], env=env, capture_output=True,
                            text=True, check=False, timeout=60)
    assert result.returncode == 2
    assert result.stderr == (
        f"bootstrap: Python 3.11 or 3.13 with venv is needed (PYTHON={python} is not one) "
        "(Debian 13 trixie: apt install python3-venv; Debian 12 bookworm: apt install "
        "python3.11-venv)\n")
    assert not (tmp_path / "venv").exists()


def test_shellcheck_is_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "install shellcheck (apt-get install shellcheck)"
    result = subprocess.run([shellcheck, "-x", "-S", "style", *SCRIPTS], cwd=REPO,
                            capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
