"""The disk assembly (image/lib/disk.sh) and the boot-partition check (image/lib/bootcheck.py)
on a small image built here: real mkfs/mtools/sfdisk/dtc, a stand-in kernel and device tree.
The full build runs the same check with --firmware on the real image."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import ModuleType

IMAGE_DIR = Path(__file__).resolve().parents[2] / "image"
DISK_ID = "1a2b3c4d"

# The labels our overlays use, as the Pi's device trees (Raspberry Pi and upstream) have them.
BASE_DTS = """/dts-v1/;
/ {
    compatible = "raspberrypi,4-model-b", "brcm,bcm2711";
    #address-cells = <1>;
    #size-cells = <1>;
    soc {
        gpio: gpio@7e200000 { reg = <0x7e200000 0xb4>; };
        i2s: i2s@7e203000 { reg = <0x7e203000 0x24>; #sound-dai-cells = <0>; status = "disabled"; };
        spi: spi@7e204000 { reg = <0x7e204000 0x200>; status = "disabled"; };
        i2c1: i2c@7e804000 { reg = <0x7e804000 0x1000>; status = "disabled"; };
    };
};
"""


def bash(script: str, tmp: Path) -> None:
    lib = IMAGE_DIR / "lib"
    prologue = (f'set -euo pipefail; IMAGE_DIR="{IMAGE_DIR}"; DISK_ID={DISK_ID}; '
                f'. "{lib}/common.sh"; . "{lib}/customize.sh"; . "{lib}/disk.sh"; ')
    subprocess.run(["bash", "-c", prologue + script], cwd=tmp, check=True, timeout=120)


def build_small_image(tmp: Path, base_dts: str = BASE_DTS, cmdline_id: str = DISK_ID) -> Path:
    firmware = tmp / "root/boot/firmware"
    firmware.mkdir(parents=True)
    (tmp / "root/etc").mkdir()
    (tmp / "root/etc/hostname").write_text("appliance\n")
    # What Debian's raspi-firmware hook writes, then our /etc/default/raspi-firmware-custom.
    (firmware / "config.txt").write_text(
        "arm_64bit=1\nenable_uart=1\nupstream_kernel=1\nkernel=vmlinuz-6.1.0-test-arm64\n"
        "initramfs initrd.img-6.1.0-test-arm64\n" + (IMAGE_DIR / "boot/config-custom.txt")
        .read_text())
    (firmware / "cmdline.txt").write_text(
        f"console=tty0 console=ttyS1,115200 root=PARTUUID={cmdline_id}-02 rw fsck.repair=yes\n")
    (firmware / "vmlinuz-6.1.0-test-arm64").write_bytes(b"kernel")
    (firmware / "initrd.img-6.1.0-test-arm64").write_bytes(b"initrd")
    (tmp / "base.dts").write_text(base_dts)
    # Like Debian's: no __symbols__ (no -@); the build adds the labels the overlays need.
    subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o",
                    str(firmware / "bcm2711-rpi-4-b.dtb"), str(tmp / "base.dts")],
                   check=True, timeout=30)
    bash("compile_overlays root/boot/firmware/overlays; label_device_trees root/boot/firmware; "
         'assemble_disk "$PWD/root" "$PWD/small.img" 40', tmp)
    return tmp / "small.img"


def test_small_image_passes_the_check(tmp_path: Path, bootcheck: ModuleType) -> None:
    image = build_small_image(tmp_path)
    assert bootcheck.check_image(image, firmware=False) == []
    disk_id, parts = bootcheck.read_mbr(image)
    assert disk_id == DISK_ID
    assert [p.type_id for p in parts] == [0x0C, 0x83]
    # The root file system was made from the directory, with the boot mount point left empty.
    root_fs = tmp_path / "root.ext4"
    subprocess.run(["dd", f"if={image}", f"of={root_fs}", "bs=512", f"skip={parts[1].start}",
                    f"count={parts[1].sectors}", "status=none"], check=True, timeout=60)
    hostname = subprocess.run(["debugfs", "-R", "cat /etc/hostname", str(root_fs)],
                              capture_output=True, text=True, check=True, timeout=30)
    assert hostname.stdout == "appliance\n"
    firmware_dir = subprocess.run(["debugfs", "-R", "ls /boot/firmware", str(root_fs)],
                                  capture_output=True, text=True, check=True, timeout=30)
    assert "config.txt" not in firmware_dir.stdout


def test_wrong_root_in_cmdline_is_caught(tmp_path: Path, bootcheck: ModuleType) -> None:
    image = build_small_image(tmp_path, cmdline_id="deadbeef")
    problems = bootcheck.check_image(image, firmware=False)
    assert problems == [f"cmdline.txt does not say root=PARTUUID={DISK_ID}-02"]


def test_overlay_needing_a_missing_node_is_caught(tmp_path: Path, bootcheck: ModuleType) -> None:
    image = build_small_image(tmp_path, base_dts=BASE_DTS.replace("i2s: i2s@", "pcm: pcm@"))
    problems = bootcheck.check_image(image, firmware=False)
    assert len(problems) == 2
    assert all(p.startswith("overlay appliance-") and "bcm2711-rpi-4-b.dtb" in p
               for p in problems)


def test_real_build_requires_the_firmware(tmp_path: Path, bootcheck: ModuleType) -> None:
    image = build_small_image(tmp_path)
    problems = bootcheck.check_image(image, firmware=True)
    assert "start4.elf missing (Pi firmware)" in problems
    assert "bcm2837-rpi-zero-2-w.dtb missing (device tree)" in problems


def test_config_txt_rules(bootcheck: ModuleType) -> None:
    bc = bootcheck
    files = {"vmlinuz-1", "initrd-1"}
    good = "arm_64bit=1\ndtparam=spi=on\ndtparam=i2c_arm=on\ndtoverlay=appliance-voice-bonnet\n"
    assert bc.check_config_txt(good, files, {"appliance-voice-bonnet.dtbo"}) == []
    problems = bc.check_config_txt("kernel=vmlinuz-2\ndtoverlay=appliance-voice-bonnet\n",
                                   files, set())
    assert "config.txt lacks 'arm_64bit=1'" in problems
    assert "config.txt lacks 'dtparam=spi=on'" in problems
    assert "config.txt names vmlinuz-2, not on the partition" in problems
    assert ("config.txt loads overlay appliance-voice-bonnet but overlays/"
            "appliance-voice-bonnet.dtbo is missing") in problems


def apply_overlay(base: Path, overlay: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["fdtoverlay", "-i", str(base), "-o", str(out), str(overlay)],
                          capture_output=True, text=True, check=False, timeout=30)


def test_dtb_symbols_makes_the_overlays_apply_once(tmp_path: Path) -> None:
    (tmp_path / "base.dts").write_text(BASE_DTS)
    base = tmp_path / "bcm2711-rpi-4-b.dtb"
    subprocess.run(["dtc", "-q", "-o", str(base), str(tmp_path / "base.dts")], check=True,
                   timeout=30)
    bash("compile_overlays overlays", tmp_path)
    overlay = tmp_path / "overlays/appliance-respeaker-2mic.dtbo"
    assert apply_overlay(base, overlay, tmp_path / "out.dtb").returncode != 0
    bash(f"label_device_trees {tmp_path}", tmp_path)
    patched = base.read_bytes()
    assert apply_overlay(base, overlay, tmp_path / "out.dtb").returncode == 0
    bash(f"label_device_trees {tmp_path}", tmp_path)
    assert base.read_bytes() == patched  # nothing left to add: file untouched
    tree = subprocess.run(["dtc", "-q", "-I", "dtb", "-O", "dts", str(tmp_path / "out.dtb")],
                          capture_output=True, text=True, check=True, timeout=30).stdout
    assert 'simple-audio-card,name = "seeed2micvoicec"' in tree
    assert 'compatible = "wlf,wm8960"' in tree
