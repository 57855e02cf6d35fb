"""`config set` and the file's permissions: the MQTT password it may hold is never world-readable.

A missing file is created 0640 root:appliance (the daemon, user appliance, reads it), or 0600 when
there is no group appliance or no right to give the file to it. A file that is replaced keeps its
mode and owner: never wider, never another group.
"""

from __future__ import annotations

import grp
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.settings import load_settings
from appliance.system.configfile import set_config_value, set_value

NOBODY = 65534
TIMEOUT_S = 60


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _group_file(tmp_path: Path, gid: int | None) -> Path:
    path = tmp_path / "group"
    lines = ["root:x:0:", "audio:x:29:"] + ([f"appliance:x:{gid}:"] if gid is not None else [])
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_new_file_is_0640_for_group_appliance(tmp_path: Path) -> None:
    gid = os.getgid()  # a group this process may give files to, root or not
    path = tmp_path / "etc/appliance/config.toml"
    set_value(path, "mqtt.password", "hunter2", group_file=_group_file(tmp_path, gid))
    assert _mode(path) == 0o640
    st = path.stat()
    assert (st.st_uid, st.st_gid) == (os.geteuid(), gid)  # root:appliance under sudo
    assert load_settings(path).mqtt.password == "hunter2"


def test_a_new_file_is_0600_without_group_appliance(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    set_value(path, "mqtt.password", "hunter2", group_file=_group_file(tmp_path, None))
    assert _mode(path) == 0o600
    assert path.stat().st_uid == os.geteuid()


def test_the_command_line_never_makes_a_world_readable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    assert main(["config", "set", "--config", str(path), "mqtt.password", "hunter2"]) == 0
    assert "mqtt.password" in capsys.readouterr().out
    assert _mode(path) & 0o007 == 0
    try:  # this machine's /etc/group decides which of the two it is
        appliance_gid: int | None = grp.getgrnam("appliance").gr_gid
    except KeyError:
        appliance_gid = None
    assert _mode(path) == (0o600 if appliance_gid is None else 0o640)


def test_the_boot_units_create_it_root_appliance_from_the_images_group_file(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    _group_file(root / "etc", os.getgid()).rename(root / "etc/group")
    path = root / "etc/appliance/config.toml"
    set_config_value(path, "mqtt.password", "hunter2")
    assert _mode(path) == 0o640
    assert path.stat().st_gid == os.getgid()


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644, 0o660])
def test_a_replaced_file_keeps_its_mode(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[stt]\nmodel = "base"\n')
    path.chmod(mode)
    # Even with group appliance there, a private file stays private (and 0644 stays 0644).
    set_value(path, "mqtt.password", "hunter2", group_file=_group_file(tmp_path, os.getgid()))
    assert _mode(path) == mode
    assert tomllib.loads(path.read_text())["mqtt"]["password"] == "hunter2"


def test_a_replaced_file_keeps_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[stt]\nmodel = "base"\n')
    path.chmod(0o640)
    # As root: someone else's file. Otherwise: ours, with our group (all we may give it).
    owner = (1234, 4321) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    os.chown(path, *owner)
    set_value(path, "stt.threads", "3", group_file=_group_file(tmp_path, 990))
    st = path.stat()
    assert (st.st_uid, st.st_gid, _mode(path)) == (*owner, 0o640)
    assert load_settings(path).stt.threads == 3


def test_a_symbolic_link_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real.toml"
    real.write_text('[stt]\nmodel = "base"\n')
    real.chmod(0o600)
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    set_value(link, "stt.threads", "3", group_file=_group_file(tmp_path, None))
    assert link.is_symlink()
    assert _mode(real) == 0o600
    assert load_settings(link).stt.threads == 3


SET_AS_NOBODY = """
import sys
from pathlib import Path
from appliance.system.configfile import set_value
set_value(Path(sys.argv[1]), "mqtt.password", "hunter2", group_file=Path(sys.argv[2]))
"""


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder anyone may write in (pytest's tmp_path is root's only)."""
    folder = Path(tempfile.mkdtemp(prefix="config-modes-"))
    folder.chmod(0o777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def _set_unprivileged(path: Path, group_file: Path) -> None:
    """``set_value`` as a user who may not give files to group appliance (gid 0 here): nobody
    when we are root, else this (unprivileged) process's user."""
    argv = [sys.executable, "-c", SET_AS_NOBODY, str(path), str(group_file)]
    if os.geteuid() == 0:
        argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]
    subprocess.run(argv, check=True, timeout=TIMEOUT_S, cwd=Path(__file__).parents[2])


def test_without_the_right_to_give_it_to_the_group_a_new_file_is_0600(open_dir: Path) -> None:
    path = open_dir / "config.toml"
    _set_unprivileged(path, _group_file(open_dir, 0))
    assert _mode(path) == 0o600
    assert path.stat().st_gid != 0
    assert tomllib.loads(path.read_text())["mqtt"]["password"] == "hunter2"
