"""Volume by voice, "stop" and "repeat that".

Voice "mute" is *speaker* mute (volume 0, the level before is remembered for "unmute"): a muted
microphone could not hear "unmute". The microphone is muted by the button, the switch or MQTT.
"""

from __future__ import annotations

from collections.abc import Callable

from appliance.controller import Controller, Recognition, Reply
from appliance.intent.numbers import say_number


def volume_words(volume: int) -> str:
    """Volumes are said on a scale of ten when they fit it: 70 -> "seven", 45 -> "forty-five
    percent"."""
    if volume % 10 == 0:
        return say_number(volume // 10)
    return f"{say_number(volume)} percent"


def requested_volume(slots: dict[str, object]) -> int | None:
    """"volume 7" is on a scale of ten (70); above ten, or with "percent", it is a percentage."""
    percent = slots.get("volume_percent")
    if isinstance(percent, int):
        return percent
    value = slots.get("volume")
    if not isinstance(value, int):
        return None
    return value * 10 if value <= 10 else value


class VolumeSkill:
    intents = frozenset({"VolumeSet", "VolumeUp", "VolumeDown", "VolumeMute", "VolumeUnmute"})

    def __init__(self, controller: Controller, step: int, default_volume: int) -> None:
        self.controller = controller
        self.step = step
        self.default_volume = default_volume
        self._before_mute: int | None = None

    def handle(self, recognition: Recognition) -> Reply:
        now = self.controller.volume
        match recognition.name:
            case "VolumeSet":
                wanted = requested_volume(recognition.slots)
                if wanted is None or not 0 <= wanted <= 100:
                    return Reply("The volume goes from zero to ten.")
                return self._set(wanted)
            case "VolumeUp":
                return self._set(min(100, now + self.step))
            case "VolumeDown":
                return self._set(max(0, now - self.step))
            case "VolumeMute":
                if now > 0:
                    self._before_mute = now
                self.controller.set_volume(0)
                return Reply("")
            case _:
                return self._set(self._before_mute or (now or self.default_volume))

    def _set(self, volume: int) -> Reply:
        self.controller.set_volume(volume)
        if volume > 0:
            self._before_mute = None
        return Reply(f"Volume {volume_words(volume)}." if volume else "")


class RepeatSkill:
    intents = frozenset({"Repeat"})

    def __init__(self, last_reply: Callable[[], Reply | None]) -> None:
        self.last_reply = last_reply

    def handle(self, recognition: Recognition) -> Reply:
        last = self.last_reply()
        return Reply(last.text) if last is not None and last.text else Reply(
            "I haven't said anything yet.")
