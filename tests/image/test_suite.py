"""The Debian release the image is built from (image/build --suite, trixie by default): what it
decides (the wheels' Python and glibc tags, the interpreter that byte-compiles the venv), and the
checks of the root against it. The stages' functions run here on scratch roots, without a build."""

from __future__ import annotations

import configparser
import importlib.util
import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGE_DIR = REPO / "image"
RUNNING = f"{sys.version_info[0]}.{sys.version_info[1]}"

# Records `python -m pip ...` calls, and answers the version probe of find_python (-c CODE X.Y).
FAKE_PYTHON = f"""#!{sys.executable}
import json, os, sys
if sys.argv[1] == "-c":
    sys.exit(0)
with open(os.environ["FAKE_PIP_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[3:]) + "\\n")
"""


def run(script: str, tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    lib = IMAGE_DIR / "lib"
    prologue = (f'set -euo pipefail; IMAGE_DIR="{IMAGE_DIR}"; CACHE_DIR="{tmp}/cache"; '
                f'. "{lib}/common.sh"; . "{lib}/wheels.sh"; . "{lib}/customize.sh"; ')
    return subprocess.run(["bash", "-c", prologue + script], cwd=tmp, capture_output=True,
                          text=True, check=False, timeout=120, env={**os.environ, **env})


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    return line.split("] error: ", 1)[1]


@pytest.mark.parametrize(("suite", "python", "glibc"),
                         [("trixie", "3.13", "2.41"), ("bookworm", "3.11", "2.36")])
def test_each_suite_has_its_python_and_glibc(tmp_path: Path, suite: str, python: str,
                                             glibc: str) -> None:
    result = run(f'suite_settings {suite}; echo "$PYTHON_VERSION $GLIBC_VERSION"; '
                 "pip_platform_args", tmp_path)
    assert result.returncode == 0, result.stderr
    first, *args = result.stdout.splitlines()
    assert first == f"{python} {glibc}"
    platforms = args[1::2]
    assert args[::2] == ["--platform"] * len(platforms)
    newest = int(glibc.split(".")[1])
    assert platforms == [f"manylinux_2_{m}_aarch64" for m in range(17, newest + 1)] + [
        "manylinux2014_aarch64", "linux_aarch64"]


def test_an_unknown_suite_is_refused_before_anything_is_built(tmp_path: Path) -> None:
    result = subprocess.run([str(IMAGE_DIR / "build"), "--suite", "sid", "--out",
                             str(tmp_path / "out"), "--cache", str(tmp_path / "cache")],
                            capture_output=True, text=True, check=False, timeout=60)
    assert error_line(result) == "unknown suite 'sid': trixie (the default) or bookworm"
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "cache").exists()


def test_build_help_names_the_suites() -> None:
    result = subprocess.run([str(IMAGE_DIR / "build"), "--help"], capture_output=True,
                            text=True, check=True, timeout=30)
    assert ("  --suite NAME            Debian release: trixie (default, Python 3.13) or "
            "bookworm (Python 3.11)") in result.stdout.splitlines()


def test_the_default_suite_is_trixie() -> None:
    lines = (IMAGE_DIR / "build").read_text().splitlines()
    assert "SUITE=trixie" in lines


def fake_interpreter(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FAKE_PYTHON)
    path.chmod(0o755)
    return path


def test_the_wheels_are_fetched_by_the_images_python_for_its_tags(tmp_path: Path) -> None:
    """pip reads a lock's markers (python_full_version < '3.12') for the Python it runs on, so
    the download runs on an interpreter of the image's version, found among pyenv's."""
    pyenv = tmp_path / "pyenv"
    found = fake_interpreter(pyenv / "versions/3.97.2/bin/python3.97")
    (tmp_path / "req.txt").write_text("dep==1.0\n")
    result = run('suite_settings trixie; PYTHON_VERSION=3.97; download_wheels req.txt dest; '
                 'echo "$HOST_PYTHON"', tmp_path, PYENV_ROOT=str(pyenv),
                 FAKE_PIP_LOG=str(tmp_path / "pip.log"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(found)
    (args,) = [json.loads(line) for line in (tmp_path / "pip.log").read_text().splitlines()]
    assert args[args.index("--python-version") + 1] == "3.97"
    assert args[args.index("--abi") + 1] == "cp397"
    assert args[args.index("--implementation") + 1] == "cp"
    platforms = [args[i + 1] for i, a in enumerate(args) if a == "--platform"]
    assert "manylinux_2_41_aarch64" in platforms
    assert "manylinux_2_42_aarch64" not in platforms


def test_no_python_of_the_images_version_is_one_clear_error(tmp_path: Path) -> None:
    # An interpreter of another version under that name is not taken either.
    wrong = tmp_path / "pyenv/versions/3.97.0/bin/python3.97"
    wrong.parent.mkdir(parents=True)
    wrong.symlink_to(sys.executable)
    result = run("suite_settings trixie; PYTHON_VERSION=3.97; host_pip --version",
                 tmp_path, PYENV_ROOT=str(tmp_path / "pyenv"))
    assert error_line(result) == (
        "no Python 3.97 with pip on this machine (the image's Python: pip reads the lock's "
        "markers for the Python it runs on): install it (pyenv install 3.97), build on Debian "
        "trixie, or set HOST_PYTHON")


def test_find_python_takes_the_running_version_and_checks_it(tmp_path: Path) -> None:
    # (the running interpreter first on PATH: a system python3.13 without pip, as in a Debian
    # 13 root, is rightly passed over)
    path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
    result = run(f"find_python {RUNNING}", tmp_path, PATH=path)
    assert result.returncode == 0, result.stderr
    probe = subprocess.run([result.stdout.strip(), "-c", "import sys; print(sys.version_info[:2])"],
                           capture_output=True, text=True, check=True, timeout=30)
    assert probe.stdout.strip() == str(sys.version_info[:2])


def dpkg_status(root: Path, **versions: str) -> None:
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("".join(
        f"Package: {name}\nStatus: install ok installed\nArchitecture: arm64\n"
        f"Version: {version}\n\n"
        for name, version in versions.items()))


def test_a_trixie_root_matches_the_trixie_wheels_only(tmp_path: Path) -> None:
    root = tmp_path / "root"
    dpkg_status(root, **{"libc6": "2.41-12", "python3": "3.13.5-1", "python3-venv": "3.13.5-1"})
    assert run(f"suite_settings trixie; check_root {root}", tmp_path).returncode == 0
    assert error_line(run(f"suite_settings bookworm; check_root {root}", tmp_path)) == (
        "the root's python3 is 3.13.5-1, the wheels are for Python 3.11 (bookworm)")


def test_a_root_with_a_newer_glibc_than_the_tags_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    dpkg_status(root, **{"python3": "3.11.2-1+b1", "libc6": "2.37-1"})
    assert error_line(run(f"suite_settings bookworm; check_root {root}", tmp_path)) == (
        "the root's glibc is 2.37-1, the wheels are for glibc 2.36 (bookworm)")
    root2 = tmp_path / "root2"
    dpkg_status(root2, **{"libc6": "2.36-9+deb12u14"})
    assert error_line(run(f"suite_settings bookworm; check_root {root2}", tmp_path)) == (
        "the root's python3 is missing, the wheels are for Python 3.11 (bookworm)")


def root_with_python(tmp_path: Path, magic: str | None = None) -> Path:
    """A root whose Python is the running one (its importlib source, as Debian ships it), and a
    venv with one module."""
    root = tmp_path / "root"
    importlib_dir = root / f"usr/lib/python{RUNNING}/importlib"
    importlib_dir.mkdir(parents=True)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    source = (stdlib / "importlib/_bootstrap_external.py").read_text()
    if magic is not None:
        source = re.sub(r"^MAGIC_NUMBER = \(\d+\)", f"MAGIC_NUMBER = ({magic})", source, count=1,
                        flags=re.M)
    (importlib_dir / "_bootstrap_external.py").write_text(source)
    site = root / f"opt/appliance/venv/lib/python{RUNNING}/site-packages"
    site.mkdir(parents=True)
    (site / "module.py").write_text("def where():\n    return __file__\n")
    return root


def test_the_venv_is_byte_compiled_for_the_roots_python_with_its_paths(tmp_path: Path) -> None:
    root = root_with_python(tmp_path)
    result = run(f"PYTHON_VERSION={RUNNING}; bytecode_magic {root}; compile_python {root}",
                 tmp_path, HOST_PYTHON=sys.executable)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(int.from_bytes(importlib.util.MAGIC_NUMBER[:2], "little"))
    site = root / f"opt/appliance/venv/lib/python{RUNNING}/site-packages"
    (pyc,) = (site / "__pycache__").glob("module.*.pyc")
    assert pyc.read_bytes()[:4] == importlib.util.MAGIC_NUMBER
    # The path recorded is the one on the Pi, not the build machine's.
    assert f"/opt/appliance/venv/lib/python{RUNNING}/site-packages/module.py".encode() in \
        pyc.read_bytes()
    assert str(tmp_path).encode() not in pyc.read_bytes()


def test_bytecode_of_another_python_is_refused(tmp_path: Path) -> None:
    root = root_with_python(tmp_path, magic="3999")
    result = run(f"PYTHON_VERSION={RUNNING}; compile_python {root}", tmp_path,
                 HOST_PYTHON=sys.executable)
    have = int.from_bytes(importlib.util.MAGIC_NUMBER[:2], "little")
    assert error_line(result) == (
        f"{sys.executable} writes bytecode {have}, the image's Python {RUNNING} 3999: "
        "byte-compile with the image's Python version")
    assert not list(root.rglob("*.pyc"))


def test_nothing_the_image_keeps_lives_in_tmp() -> None:
    """systemd 257 (trixie) mounts a tmpfs on /tmp: the overlay puts nothing there, and no unit
    of ours reads, runs or waits for anything under /tmp or /var/tmp."""
    overlay = IMAGE_DIR / "overlay"
    assert not (overlay / "tmp").exists()
    assert not (overlay / "var/tmp").exists()
    units = [*(overlay / "usr/lib/systemd/system").glob("*.service"),
             REPO / "systemd/appliance.service"]
    assert len(units) >= 5
    for unit in units:
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(unit.read_text())
        for section in parser.sections():
            for key, value in parser.items(section):
                if key.startswith(("Exec", "Condition", "RequiresMountsFor", "Working",
                                   "ReadWrite", "Environment")):
                    assert "/tmp/" not in value and not value.endswith("/tmp"), (unit, key)
    tmpfiles = (REPO / "systemd/appliance.tmpfiles.conf").read_text().splitlines()
    paths = [line.split()[1] for line in tmpfiles if line.strip() and not line.startswith("#")]
    assert paths
    assert not [p for p in paths if p.startswith(("/tmp", "/var/tmp"))]
    # The venv's bytecode and the first-boot state are kept under /opt and /var/lib.
    assert "/var/lib/appliance-image/root-grown" in (
        overlay / "usr/lib/systemd/system/appliance-growroot.service").read_text()


def test_cleanup_leaves_tmp_empty(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for folder in ("tmp/build", "var/tmp", "var/log/apt", "usr/share/doc/pkg",
                   "etc/dpkg/dpkg.cfg.d", "var/cache/apt", "var/lib/apt/lists"):
        (root / folder).mkdir(parents=True)
    (root / "tmp/build/left").write_text("x")
    (root / "var/tmp/left").write_text("x")
    (root / "usr/share/doc/pkg/copyright").write_text("c")
    result = run(f"cleanup_root {root}", tmp_path)
    assert result.returncode == 0, result.stderr
    assert list((root / "tmp").iterdir()) == []
    assert list((root / "var/tmp").iterdir()) == []
    assert (root / "usr/share/doc/pkg/copyright").read_text() == "c"
    assert os.listdir(root / "etc/dpkg/dpkg.cfg.d") == ["appliance-nodoc"]
