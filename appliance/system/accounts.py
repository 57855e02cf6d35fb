"""The account files of a system root (``etc/passwd``, ``etc/group``, ``etc/shadow``), read and
edited directly: first boot works on a mounted image as on the running Pi."""

from __future__ import annotations

import os
from pathlib import Path

from appliance.errors import ApplianceError


def passwd_entry(passwd: Path, name: str) -> tuple[int, int, str] | None:
    """``name``'s (uid, gid, home) in ``passwd``; None if there is no such user."""
    for line in passwd.read_text().splitlines():
        fields = line.split(":")
        if len(fields) >= 6 and fields[0] == name:
            return int(fields[2]), int(fields[3]), fields[5]
    return None


def group_id(group_file: Path, name: str) -> int | None:
    """The gid of group ``name``; None if ``group_file`` is missing or has no such group."""
    if not group_file.is_file():
        return None
    for line in group_file.read_text().splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] == name:
            return int(fields[2])
    return None


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
