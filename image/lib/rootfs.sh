# Stage 1: the Debian base root (packages only), cached as a tarball keyed by its inputs.
# shellcheck shell=bash

# build_rootfs_base OUT_TAR: mmdebstrap an arm64 root of SUITE with the packages in packages.txt.
build_rootfs_base() {
    local out="$1" debcache="$CACHE_DIR/apt-archives" packages
    packages=$(grep -v '^[[:space:]]*\(#\|$\)' "$IMAGE_DIR/packages.txt" | paste -sd, -)
    mkdir -p "$debcache"
    ensure_binfmt
    # shellcheck disable=SC2016 # "$1" is the hook's argument, expanded by mmdebstrap's shell
    mmdebstrap \
        --architectures=arm64 --variant=apt --mode=root --format=tar \
        --include="$packages" \
        --dpkgopt=force-unsafe-io \
        --aptopt='Acquire::Retries "3"' \
        --essential-hook="$IMAGE_DIR/hooks/essential-defer-initramfs \"\$1\"" \
        --skip=essential/unlink \
        --setup-hook="mkdir -p \"\$1/var/cache/apt/archives/\"" \
        --setup-hook="sync-in $debcache /var/cache/apt/archives/" \
        --customize-hook="sync-out /var/cache/apt/archives $debcache" \
        --customize-hook="$IMAGE_DIR/hooks/customize-initramfs \"\$1\"" \
        --customize-hook='chroot "$1" apt-get clean' \
        "$SUITE" "$out.partial" \
        "deb $MIRROR $SUITE main non-free-firmware" \
        "deb $MIRROR $SUITE-updates main non-free-firmware" \
        "deb $SECURITY_MIRROR $SUITE-security main non-free-firmware"
    mv "$out.partial" "$out"
}

rootfs_base_tar() {
    local key
    key=$(cache_key "$IMAGE_DIR/packages.txt" "$IMAGE_DIR/hooks/essential-defer-initramfs" \
        "$IMAGE_DIR/hooks/customize-initramfs" "$MIRROR" "$SECURITY_MIRROR" "$SUITE")
    printf '%s/rootfs-base-%s.tar' "$CACHE_DIR" "$key"
}
