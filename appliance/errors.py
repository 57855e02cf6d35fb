"""Typed errors: a stable ``code``, a human ``message`` and the ``fix`` a user can apply."""

from __future__ import annotations


class ApplianceError(Exception):
    """Base error: a stable ``code`` (logs, MQTT, doctor); ``message`` and ``fix`` for people."""

    code = "error"

    def __init__(self, message: str, *, fix: str = "", code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.message} (fix: {self.fix})" if self.fix else self.message


class ConfigError(ApplianceError):
    """Invalid configuration; ``key`` is the dotted key path at fault (empty when not one key)."""

    code = "config_invalid"

    def __init__(self, message: str, *, fix: str = "", key: str = "") -> None:
        super().__init__(message, fix=fix)
        self.key = key


class ModelError(ApplianceError):
    code = "model_unavailable"


class AudioDeviceError(ApplianceError):
    code = "audio_device_unavailable"


class AudioFileError(ApplianceError):
    code = "audio_file_invalid"


class SttError(ApplianceError):
    code = "stt_failed"


class TtsError(ApplianceError):
    code = "tts_failed"


class IntentError(ApplianceError):
    code = "intent_failed"
