"""Doctor checks of the models: present, loadable, their licences, and the wake word firing on a
sample synthesised with the configured voice."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from appliance.audio.format import FRAME_BYTES, FRAME_S, RATE_HZ, Int16Array, resample
from appliance.errors import ModelError
from appliance.models import ModelInfo, piper_voice, whisper_model
from appliance.settings import Settings, WakeModelSettings
from appliance.stt import Transcriber
from appliance.system.doctor_context import CheckResult, DoctorContext, Status
from appliance.tts import Synthesizer
from appliance.wake import WakeWord, model_name, wake_model_info

_LOGGER = logging.getLogger(__name__)

# Below this much free memory, with the service running, models are not loaded a second time
# (a Pi Zero 2 W has 512 MB): doctor only checks that they are present.
LOAD_MIN_AVAILABLE_BYTES = 700 * 1024 * 1024

# What to say to each built-in wake word model.
WAKE_PHRASES = {
    "hey_jarvis": "Hey Jarvis!",
    "alexa": "Alexa!",
    "hey_mycroft": "Hey Mycroft!",
    "hey_rhasspy": "Hey Rhasspy!",
    "okay_nabu": "Okay Nabu!",
}


def should_load(ctx: DoctorContext) -> bool:
    if ctx.quick:
        return False
    return not ctx.service_active or _available_bytes(ctx.meminfo_file) >= LOAD_MIN_AVAILABLE_BYTES


def _available_bytes(meminfo: Path) -> int:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


async def check_models(ctx: DoctorContext, settings: Settings) -> list[CheckResult]:
    load = should_load(ctx)
    results = [
        await _one("stt model", settings.stt.model, lambda: _stt(ctx, settings, load)),
        await _one("tts voice", settings.tts.voice, lambda: _tts(ctx, settings, load)),
        await _one("wake model", _wake_names(settings), lambda: _wake(ctx, settings, load)),
    ]
    if not load:
        why = "--quick" if ctx.quick else "the service is running and memory is short"
        results.append(CheckResult("models", Status.INFO, f"present, not loaded ({why})"))
    return results


async def _one(name: str, ref: str, work: Callable[[], str]) -> CheckResult:
    try:
        detail = await asyncio.to_thread(work)
    except ModelError as err:
        return CheckResult(name, Status.FAIL, err.message, err.fix)
    return CheckResult(name, Status.OK, f"{ref}: {detail}")


def _describe(info: ModelInfo, loaded: bool) -> str:
    return f"{info.path} ({info.source}); licence {info.licence}" + ("; loads" if loaded else "")


def _stt(ctx: DoctorContext, settings: Settings, load: bool) -> str:
    resolved = whisper_model(settings.stt.model)
    if load:
        ctx.loaded["stt"] = Transcriber(settings.stt)
    if isinstance(resolved, ModelInfo):
        return _describe(resolved, load)
    return f"hub model {resolved} (downloaded at first start: needs internet); licence MIT"


def _tts(ctx: DoctorContext, settings: Settings, load: bool) -> str:
    info = piper_voice(settings.tts.voice)
    if load:
        ctx.loaded["tts"] = Synthesizer(settings.tts)
    return _describe(info, load)


def _wake(ctx: DoctorContext, settings: Settings, load: bool) -> str:
    infos = wake_model_info(settings.wake)
    if load:
        ctx.loaded["wake"] = WakeWord(settings.wake)
    return "; ".join(_describe(i, load) for i in infos)


def _wake_names(settings: Settings) -> str:
    return ", ".join(m.model for m in settings.wake.models)


async def check_wake_word_fires(ctx: DoctorContext, settings: Settings) -> list[CheckResult]:
    """Say each wake word with the configured voice and feed it to the wake word detector."""
    if not should_load(ctx):
        return [CheckResult("wake", Status.INFO, "not tested (models not loaded)")]
    return await asyncio.to_thread(wake_word_selftest, ctx, settings)


def wake_word_selftest(ctx: DoctorContext, settings: Settings) -> list[CheckResult]:
    """The doctor's hook into ``appliance.wake``: synthesise each configured wake phrase, run it
    through :class:`appliance.wake.WakeWord` frame by frame, and report whether it fired."""
    tts = ctx.loaded.get("tts") or Synthesizer(settings.tts)
    results = []
    for index, model in enumerate(settings.wake.models):
        name = model_name(model.model)
        phrase = WAKE_PHRASES.get(name) or name.split("_v")[0].replace("_", " ")
        audio = np.concatenate(list(tts.sentences(phrase)))
        samples = resample(audio, tts.rate_hz, RATE_HZ)
        score = _best_score(WakeWord(settings.wake), name, samples)
        results.append(_wake_verdict(index, phrase, score, model, name in WAKE_PHRASES))
    return results


def _best_score(wake: WakeWord, name: str, samples: Int16Array) -> tuple[float, bool]:
    """(highest score of model ``name``, whether the detector fired for it)."""
    silence = np.zeros(RATE_HZ, dtype=np.int16)
    data = np.concatenate([silence, samples, silence]).astype("<i2").tobytes()
    best, fired = 0.0, False
    for n in range(len(data) // FRAME_BYTES):
        frame = data[n * FRAME_BYTES : (n + 1) * FRAME_BYTES]
        scores = wake.engine.scores(frame)
        best = max(best, scores.get(name, 0.0))
        detection = wake.decider.update(scores, n * FRAME_S)
        fired = fired or (detection is not None and detection.wake_word == name)
    return best, fired


def _wake_verdict(index: int, phrase: str, score: tuple[float, bool], model: WakeModelSettings,
                  builtin: bool) -> CheckResult:
    best, fired = score
    name = model_name(model.model)
    text = f"{name}: '{phrase}' in the configured voice scored {best:.2f} (threshold " \
        f"{model.threshold})"
    if fired:
        return CheckResult("wake", Status.OK, f"{text}: fired")
    if not builtin:
        return CheckResult("wake", Status.INFO, f"{text}: did not fire (a synthetic voice may "
                           "not say a custom phrase well): try saying it", "")
    return CheckResult(
        "wake", Status.FAIL, f"{text}: did not fire",
        f"lower its threshold (`sudo appliance config set wake.models[{index}].threshold "
        f"{max(0.1, round(model.threshold - 0.15, 2))}`), or check the wake model file",
    )
