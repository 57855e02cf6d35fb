# Shared helpers for image/build and image/test (sourced, not run).
# shellcheck shell=bash

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# step NAME CMD...: run one build step and record how long it took.
STEP_TIMES=()
step() {
    local name="$1" start end
    shift
    start=$(date +%s)
    log "step: $name"
    "$@"
    end=$(date +%s)
    STEP_TIMES+=("$(printf '%-28s %5ss' "$name" "$((end - start))")")
}

print_step_times() {
    local line
    log "step timings:"
    for line in "${STEP_TIMES[@]}"; do printf '  %s\n' "$line" >&2; done
}

need_tools() {
    local tool missing=()
    for tool in "$@"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
    [ "${#missing[@]}" -eq 0 ] || die "missing tools: ${missing[*]} (the apt-get install line is in README.md, 'Build it')"
}

# The first Debian mirror in the host's apt sources that serves SUITE (one-line or deb822 format).
host_mirror() {
    local suite="$1" file
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -r "$file" ] || continue
        awk -v suite="$suite" '
            /^deb[ \t]/ { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i ~ /:\/\//) { if ($(i+1) == suite) { print $i; exit } break } }
            /^URIs:/ { uri = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite && uri != "") { print uri; exit } }
            /^$/ { uri = "" }
        ' "$file"
    done | head -n 1
}

# suite_settings SUITE: what the image's Debian release decides. Its Python: the wheels' tags
# (cpXY), the venv's lib/pythonX.Y and the interpreter that byte-compiles it; its glibc: the
# newest manylinux tag a wheel may have. The root itself is checked against these (check_root).
suite_settings() {
    SUITE="$1"
    # shellcheck disable=SC2034 # read by the stages (wheels.sh, customize.sh)
    case "$SUITE" in
        trixie) PYTHON_VERSION=3.13 GLIBC_VERSION=2.41 ;;
        bookworm) PYTHON_VERSION=3.11 GLIBC_VERSION=2.36 ;;
        *) die "unknown suite '$1': trixie (the default) or bookworm" ;;
    esac
}

# find_python X.Y: the path of a host interpreter of that version (on PATH, Debian's, or one
# of pyenv's), with pip. pip evaluates a lock's markers (python_full_version < '3.12') for the
# Python it runs on, whatever --python-version says, so the wheelhouse needs the image's own.
find_python() {
    local want="$1" candidate
    for candidate in "python$want" "/usr/bin/python$want" \
        "${PYENV_ROOT:-${HOME:-/root}/.pyenv}/versions/$want".*/bin/"python$want" python3; do
        if "$candidate" -c 'import sys, pip; sys.exit("%d.%d" % sys.version_info[:2] != sys.argv[1])' \
            "$want" >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

# sha256 of the given files' contents plus extra strings: a cache key.
cache_key() {
    { for f in "$@"; do if [ -f "$f" ]; then cat "$f"; else printf '%s\n' "$f"; fi; done; } \
        | sha256sum | cut -c1-16
}

# Binfmt for running arm64 package scripts under qemu-user.
ensure_binfmt() {
    if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
        update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
    fi
    arch-test arm64 >/dev/null 2>&1 || die "cannot run arm64 binaries: install qemu-user-static and binfmt-support"
}

project_version() {
    python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
        "$1/pyproject.toml"
}
