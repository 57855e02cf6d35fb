"""Check an image's partition table and boot partition: what the Pi's firmware will read.

    python3 image/lib/bootcheck.py IMAGE.img [--firmware]

Without mounting: the MBR is parsed here, files are read with mtools, device-tree overlays are
applied to the image's own device trees with fdtoverlay (the firmware does the same at boot, so
an overlay that needs a label the base tree lacks fails here too). ``--firmware`` also requires
the Raspberry Pi firmware and device trees (a real build; the unit test's small image has none).
Prints one line per problem; exit status 1 if there is any.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

SECTOR = 512
ALIGN_SECTORS = 8192
FIRMWARE_FILES = ("bootcode.bin", "start.elf", "fixup.dat", "start4.elf", "fixup4.dat")
# Pi 4 B, Pi 3 B / 3 B+, Zero 2 W, as the Debian (upstream) kernel names them.
BOARD_DTBS = ("bcm2711-rpi-4-b.dtb", "bcm2837-rpi-3-b.dtb", "bcm2837-rpi-3-b-plus.dtb",
              "bcm2837-rpi-zero-2-w.dtb")
OUR_OVERLAYS = ("appliance-respeaker-2mic", "appliance-voice-bonnet")
REQUIRED_CONFIG = ("arm_64bit=1", "dtparam=spi=on", "dtparam=i2c_arm=on")
SECRET_KEYS = ("password_hash", "passphrase", "password")


@dataclass(frozen=True)
class Partition:
    number: int
    bootable: bool
    type_id: int
    start: int  # sectors
    sectors: int


def read_mbr(image: Path) -> tuple[str, list[Partition]]:
    """The disk identifier (8 hex digits) and the primary partitions of an MBR disk image."""
    with image.open("rb") as fh:
        mbr = fh.read(SECTOR)
    if mbr[510:512] != b"\x55\xaa":
        raise ValueError("no MBR boot signature")
    disk_id = f"{struct.unpack_from('<I', mbr, 440)[0]:08x}"
    parts = []
    for i in range(4):
        flag, type_id, start, sectors = struct.unpack_from("<B3xB3xII", mbr, 446 + 16 * i)
        if type_id:
            parts.append(Partition(i + 1, flag == 0x80, type_id, start, sectors))
    return disk_id, parts


def check_partitions(image: Path, parts: list[Partition]) -> list[str]:
    problems = []
    if [p.type_id for p in parts] != [0x0C, 0x83]:
        problems.append("expected two partitions: FAT32 (LBA) boot, then Linux root")
        return problems
    boot, root = parts
    if not boot.bootable:
        problems.append("the boot partition is not marked bootable")
    if any(p.start % ALIGN_SECTORS for p in parts):
        problems.append("partitions are not aligned to 4 MiB")
    if root.start + root.sectors > image.stat().st_size // SECTOR:
        problems.append("the root partition runs past the end of the image")
    if root.start < boot.start + boot.sectors:
        problems.append("the partitions overlap")
    return problems


class BootFs:
    """Files of the FAT partition at ``offset`` bytes into ``image``, read with mtools."""

    def __init__(self, image: Path, offset: int) -> None:
        self.spec = f"{image}@@{offset}"
        self.env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}

    def names(self, folder: str = "") -> set[str]:
        out = subprocess.run(["mdir", "-b", "-i", self.spec, f"::/{folder}"], env=self.env,
                             capture_output=True, text=True, check=False).stdout
        return {line.rstrip("/").rsplit("/", 1)[-1] for line in out.split()}

    def read(self, name: str) -> bytes:
        return subprocess.run(["mtype", "-i", self.spec, f"::/{name}"], env=self.env,
                              capture_output=True, check=True).stdout

    def copy_out(self, name: str, dest: Path) -> None:
        subprocess.run(["mcopy", "-n", "-i", self.spec, f"::/{name}", str(dest)],
                       env=self.env, capture_output=True, check=True)


def check_config_txt(text: str, files: set[str], overlays: set[str]) -> list[str]:
    lines = {ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")}
    problems = [f"config.txt lacks '{want}'" for want in REQUIRED_CONFIG if want not in lines]
    wanted = [ln.split("=", 1)[1].split(",")[0] for ln in lines if ln.startswith("dtoverlay=")]
    if not any(name in OUR_OVERLAYS for name in wanted):
        problems.append("config.txt loads none of the HAT overlays")
    problems += [f"config.txt loads overlay {n} but overlays/{n}.dtbo is missing"
                 for n in wanted if f"{n}.dtbo" not in overlays]
    for line in lines:
        named = re.match(r"^(?:kernel=|initramfs\s+)(\S+)", line)
        if named and named.group(1) not in files:
            problems.append(f"config.txt names {named.group(1)}, not on the partition")
    return problems


def check_cmdline(text: str, disk_id: str) -> list[str]:
    if f"root=PARTUUID={disk_id}-02" not in text.split():
        return [f"cmdline.txt does not say root=PARTUUID={disk_id}-02"]
    return []


def check_first_boot_template(raw: bytes) -> list[str]:
    try:
        data = tomllib.loads(raw.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        return [f"appliance.toml template: {err}"]
    filled = [key for section in data.values() if isinstance(section, dict)
              for key, value in section.items() if key in SECRET_KEYS and value]
    return [f"appliance.toml template has a value for {key}" for key in filled]


def check_overlays_apply(boot: BootFs, dtbs: list[str], overlays: set[str]) -> list[str]:
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for dtb in dtbs:
            boot.copy_out(dtb, Path(tmp) / dtb)
            for name in OUR_OVERLAYS:
                if f"{name}.dtbo" not in overlays:
                    continue
                boot.copy_out(f"overlays/{name}.dtbo", Path(tmp) / f"{name}.dtbo")
                result = subprocess.run(
                    ["fdtoverlay", "-i", str(Path(tmp) / dtb), "-o", str(Path(tmp) / "out.dtb"),
                     str(Path(tmp) / f"{name}.dtbo")], capture_output=True, text=True, check=False)
                if result.returncode != 0:
                    problems.append(f"overlay {name} does not apply to {dtb}: "
                                    f"{result.stderr.strip()[:200]}")
    return problems


def check_image(image: Path, firmware: bool) -> list[str]:
    disk_id, parts = read_mbr(image)
    problems = check_partitions(image, parts)
    if problems:
        return problems
    boot = BootFs(image, parts[0].start * SECTOR)
    files, overlays = boot.names(), boot.names("overlays")
    for name in ("config.txt", "cmdline.txt", "appliance.toml"):
        if name not in files:
            problems.append(f"{name} missing from the boot partition")
    if problems:
        return problems
    problems += check_config_txt(boot.read("config.txt").decode(), files, overlays)
    problems += check_cmdline(boot.read("cmdline.txt").decode(), disk_id)
    problems += check_first_boot_template(boot.read("appliance.toml"))
    dtbs = sorted(name for name in files if name.endswith(".dtb"))
    if firmware:
        problems += [f"{name} missing (Pi firmware)" for name in FIRMWARE_FILES
                     if name not in files]
        problems += [f"{name} missing (device tree)" for name in BOARD_DTBS if name not in files]
        dtbs = [name for name in BOARD_DTBS if name in files]
    problems += check_overlays_apply(boot, dtbs, overlays)
    return problems


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        sys.stderr.write(__doc__ or "")
        return 2
    problems = check_image(Path(argv[0]), firmware="--firmware" in argv)
    for problem in problems:
        sys.stdout.write(f"{argv[0]}: {problem}\n")
    sys.stdout.write(f"{argv[0]}: boot partition {'OK' if not problems else 'has problems'}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
