"""The wheelhouse stage (image/lib/wheels.sh) uses hashed inputs only: its functions run here
with a stand-in for the host's Python that records every pip call (PyPI is outside the
machine), and once for real, offline, building the appliance's wheel without build isolation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGE_DIR = REPO / "image"

FAKE_PYTHON = f"""#!{sys.executable}
# Stands in for `python3 -m pip ...`: records the call, makes what pip would have made.
import json, os, sys
from pathlib import Path
args = sys.argv[3:]  # after "-m pip"
with open(os.environ["FAKE_PIP_LOG"], "a") as log:
    log.write(json.dumps({{"args": args, "pythonpath": os.environ.get("PYTHONPATH", "")}}) + "\\n")
def after(flag):
    return Path(args[args.index(flag) + 1])
if "download" in args:
    (after("--dest") / "dep-1.0-py3-none-any.whl").write_bytes(b"wheel")
elif "install" in args and "--target" in args:
    after("--target").mkdir(parents=True)
elif "wheel" in args:
    (after("--wheel-dir") / "appliance-0.1.0-py3-none-any.whl").write_bytes(b"wheel")
"""


def run_stage(tmp: Path, script: str, python: Path, **env: str) -> subprocess.CompletedProcess[str]:
    lib = IMAGE_DIR / "lib"
    prologue = (f'set -euo pipefail; IMAGE_DIR="{IMAGE_DIR}"; CACHE_DIR="{tmp}/cache"; '
                f'HOST_PYTHON="{python}"; . "{lib}/common.sh"; . "{lib}/wheels.sh"; '
                'suite_settings trixie; ')
    return subprocess.run(["bash", "-c", prologue + script], cwd=tmp, capture_output=True,
                          text=True, check=False, timeout=300, env={**os.environ, **env})


@pytest.fixture
def fake_python(tmp_path: Path) -> Path:
    path = tmp_path / "fake-python3"
    path.write_text(FAKE_PYTHON)
    path.chmod(0o755)
    return path


@dataclass(frozen=True)
class PipCall:
    args: list[str]
    pythonpath: str


def pip_calls(tmp: Path) -> list[PipCall]:
    return [PipCall(**json.loads(line)) for line in (tmp / "pip.log").read_text().splitlines()]


def requirement_file(args: list[str]) -> Path:
    return Path(args[args.index("-r") + 1])


def requirements_in(lock: Path) -> list[str]:
    """The requirements of a pip requirements file, each one logical line (joined where a line
    ends with a backslash), comments left out."""
    requirements: list[str] = []
    current = ""
    for line in lock.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        current += line.rstrip().removesuffix("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            if current.strip():
                requirements.append(current.strip())
            current = ""
    return requirements


def all_hashed(lock: Path) -> bool:
    requirements = requirements_in(lock)
    return bool(requirements) and all("--hash=sha256:" in r for r in requirements)


def test_the_wheelhouse_fetches_only_hashed_requirements(tmp_path: Path,
                                                          fake_python: Path) -> None:
    result = run_stage(tmp_path, f'build_wheelhouse "{REPO}" "$PWD/out"', fake_python,
                       FAKE_PIP_LOG=str(tmp_path / "pip.log"))
    assert result.returncode == 0, result.stderr
    calls = pip_calls(tmp_path)
    commands = [next(a for a in c.args if not a.startswith("-")) for c in calls]
    assert commands == ["download", "download", "install", "wheel"]
    for call in calls[:3]:
        args = call.args
        assert "--only-binary=:all:" in args
        assert all_hashed(requirement_file(args)), requirement_file(args)
    build_env = str(tmp_path / "cache") + "/build-env-"
    install = calls[2].args
    assert requirement_file(install) == REPO / "requirements/build.txt"
    assert "--require-hashes" in install
    assert install[install.index("--target") + 1].startswith(build_env)
    wheel = calls[3].args
    assert "--no-build-isolation" in wheel
    assert wheel[-1] == str(REPO)  # the only thing named on the command line: the source tree
    assert calls[3].pythonpath.startswith(build_env)
    assert (tmp_path / "out/self/appliance-0.1.0-py3-none-any.whl").is_file()
    # The next build takes the dependency wheels and the build backend from the cache.
    (tmp_path / "pip.log").unlink()
    result = run_stage(tmp_path, f'build_wheelhouse "{REPO}" "$PWD/out2"', fake_python,
                       FAKE_PIP_LOG=str(tmp_path / "pip.log"))
    assert result.returncode == 0, result.stderr
    (again,) = pip_calls(tmp_path)
    assert "wheel" in again.args


def test_no_build_lock_is_one_clear_error(tmp_path: Path, fake_python: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    result = run_stage(tmp_path, f'build_self_wheel "{src}" "$PWD/out"', fake_python,
                       FAKE_PIP_LOG=str(tmp_path / "pip.log"))
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.endswith(f"error: {src}/requirements/build.txt is missing: the appliance's wheel "
                         "is built only with the hashed build requirements (make them with uv "
                         "pip compile, as the file's header says)")
    assert not (tmp_path / "pip.log").exists()


def test_the_real_wheel_builds_offline_without_isolation(tmp_path: Path) -> None:
    """This venv has requirements/build.txt installed (scripts/bootstrap): with the cached build
    environment marked complete and pip's index off, the wheel must still build."""
    key = run_stage(tmp_path, f'cache_key "{REPO}/requirements/build.txt"', Path(sys.executable))
    (tmp_path / f"cache/build-env-{key.stdout.strip()}").mkdir(parents=True)
    (tmp_path / f"cache/build-env-{key.stdout.strip()}/.complete").touch()
    result = run_stage(tmp_path, f'build_self_wheel "{REPO}" "$PWD/out"', Path(sys.executable),
                       PIP_NO_INDEX="1")
    assert result.returncode == 0, result.stderr
    (wheel,) = (tmp_path / "out").glob("appliance-*-py3-none-any.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "appliance/_defaults/default.toml" in names
    assert "appliance/system/updates_gate.py" in names
