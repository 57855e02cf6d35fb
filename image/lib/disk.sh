# Stage 4: the disk image, assembled from files without mounting anything.
# shellcheck shell=bash

FIRST_SECTOR=8192  # 4 MiB: partitions aligned for SD cards' erase blocks

new_disk_id() { od -An -N4 -tx4 /dev/urandom | tr -d ' \n'; }

# make_boot_fs ROOT OUT SIZE_MB: FAT32 with /boot/firmware's files and the first-boot template.
make_boot_fs() {
    local root="$1" out="$2" size_mb="$3"
    rm -f "$out"
    truncate -s "${size_mb}M" "$out"
    mkfs.vfat -F 32 -n BOOT -i "$DISK_ID" "$out" >/dev/null
    MTOOLS_SKIP_CHECK=1 mcopy -s -p -m -i "$out" "$root"/boot/firmware/* ::/
    MTOOLS_SKIP_CHECK=1 mcopy -i "$out" "$IMAGE_DIR/boot/appliance.toml" ::/appliance.toml
}

# make_root_fs ROOT OUT: ext4 from the directory, sized to its contents plus room to boot.
make_root_fs() {
    local root="$1" out="$2" used_mb size_mb
    used_mb=$(du -sxm "$root" | cut -f1)
    # Enough for ext4's own tables and the first boot; the root grows to fill the card then.
    size_mb=$(( used_mb * 108 / 100 + 160 ))
    rm -f "$out"
    truncate -s "${size_mb}M" "$out"
    mke2fs -q -t ext4 -L rootfs -m 1 -E root_owner=0:0 -d "$root" "$out"
}

# assemble_disk ROOT IMG BOOT_MB: partition table + the two file systems.
assemble_disk() {
    local root="$1" img="$2" boot_mb="$3" boot_img root_img root_mb root_start total
    boot_img="$(dirname "$root")/boot.fat"
    root_img="$(dirname "$root")/root.ext4"
    make_boot_fs "$root" "$boot_img" "$boot_mb"
    find "$root/boot/firmware" -mindepth 1 -delete  # the mount point stays, empty
    make_root_fs "$root" "$root_img"
    root_mb=$(( $(stat -c %s "$root_img") / 1048576 ))
    root_start=$(( FIRST_SECTOR + boot_mb * 2048 ))
    total=$(( FIRST_SECTOR / 2048 + boot_mb + root_mb ))
    rm -f "$img"
    truncate -s "${total}M" "$img"
    sfdisk --quiet "$img" <<TABLE
label: dos
label-id: 0x$DISK_ID
unit: sectors
start=$FIRST_SECTOR, size=$(( boot_mb * 2048 )), type=c, bootable
start=$root_start, size=$(( root_mb * 2048 )), type=83
TABLE
    dd if="$boot_img" of="$img" bs=1M seek=$(( FIRST_SECTOR / 2048 )) conv=notrunc,sparse status=none
    dd if="$root_img" of="$img" bs=1M seek=$(( root_start / 2048 )) conv=notrunc,sparse status=none
    rm -f "$boot_img" "$root_img"
}
