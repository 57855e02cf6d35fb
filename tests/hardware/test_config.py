"""Profiles, wiring and the config errors a user can make in [hardware]."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from appliance.errors import ConfigError
from appliance.hardware import check_profile, resolve
from appliance.settings import load_settings

Make = Callable[..., Any]


def test_defaults_load_with_no_hardware() -> None:
    wiring = resolve(load_settings().hardware)
    assert (wiring.profile, wiring.leds.type, wiring.buttons, wiring.pins) == (
        "none", "none", (), ()
    )


def test_respeaker_2mic_profile_sets_leds_button_and_sound_card(make_settings: Make) -> None:
    wiring = resolve(make_settings(profile="respeaker-2mic"))
    leds = wiring.leds
    assert (leds.type, leds.count, leds.data_pin, leds.clock_pin, leds.color_order) == (
        "dotstar", 3, 10, 11, "BGR"
    )
    assert leds.uses_spi
    assert [(b.name, b.pin) for b in wiring.buttons] == [("main", 17)]
    assert wiring.alsa_device == "plughw:CARD=seeed2micvoicec,DEV=0"


def test_respeaker_4mic_powers_its_leds_from_gpio5(make_settings: Make) -> None:
    wiring = resolve(make_settings(profile="respeaker-4mic"))
    assert (wiring.leds.count, wiring.leds.power_pin, wiring.buttons) == (12, 5, ())
    assert wiring.alsa_card == "seeed4micvoicec"


def test_voice_bonnet_bit_bangs_its_dotstars(make_settings: Make) -> None:
    wiring = resolve(make_settings(profile="voice-bonnet"))
    assert (wiring.leds.data_pin, wiring.leds.clock_pin, wiring.leds.uses_spi) == (5, 6, False)


def test_unknown_profile_names_the_key_and_the_choices() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(overrides={"hardware": {"profile": "respeaker-6mic"}})
    assert err.value.key == "hardware.profile"
    assert "'respeaker-2mic'" in err.value.fix
    assert "'custom'" in err.value.fix


def test_pin_used_twice_by_two_buttons(make_settings: Make) -> None:
    with pytest.raises(ConfigError) as err:
        make_settings(buttons={"volume_up": {"pin": 23}, "volume_down": {"pin": 23}})
    assert err.value.key == "hardware.buttons.volume_down.pin"
    assert "GPIO23 is used twice" in err.value.message
    assert "hardware.buttons.volume_down.pin" in err.value.fix


def test_button_on_the_hats_own_button_pin(make_settings: Make) -> None:
    with pytest.raises(ConfigError) as err:
        make_settings(profile="respeaker-2mic", buttons={"extra": {"pin": 17}})
    assert err.value.key == "hardware.buttons.extra.pin"
    assert "respeaker-2mic HAT's button" in err.value.message


def test_mute_switch_on_the_led_power_pin(make_settings: Make) -> None:
    with pytest.raises(ConfigError) as err:
        make_settings(profile="respeaker-4mic", mute_switch_pin=5)
    assert err.value.key == "hardware.mute_switch_pin"
    assert "LED power pin" in err.value.message


def test_button_on_an_spi_pin_of_the_leds(make_settings: Make) -> None:
    with pytest.raises(ConfigError) as err:
        make_settings(profile="respeaker-2mic", buttons={"volume_up": {"pin": 9}})
    assert "SPI0 MISO" in err.value.message


def test_button_on_an_i2s_pin_of_the_hat(make_settings: Make) -> None:
    with pytest.raises(ConfigError) as err:
        make_settings(profile="voice-bonnet", buttons={"volume_up": {"pin": 18}})
    assert "I2S BCLK" in err.value.message


def test_led_count_zero(make_settings: Make) -> None:
    with pytest.raises(ConfigError) as err:
        make_settings(profile="custom", custom={"led_type": "neopixel-spi", "led_count": 0})
    assert err.value.key == "hardware.custom.led_count"
    assert 'led_type\' = "none"' in err.value.fix


def test_spi_neopixels_need_gpio10(make_settings: Make) -> None:
    with pytest.raises(ConfigError) as err:
        make_settings(profile="custom", custom={"led_type": "neopixel-spi", "led_pin": 12})
    assert err.value.key == "hardware.custom.led_pin"
    assert "neopixel-pwm" in err.value.fix


def test_pwm_neopixels_are_allowed_with_a_warning(make_settings: Make) -> None:
    wiring = resolve(make_settings(profile="custom",
                                   custom={"led_type": "neopixel-pwm", "led_pin": 12}))
    assert len(wiring.warnings) == 1
    assert "GPIO12" in wiring.warnings[0]
    with pytest.raises(ConfigError):
        make_settings(profile="custom", custom={"led_type": "neopixel-pwm", "led_pin": 4})


def test_bad_colour_and_night_time(make_settings: Make) -> None:
    with pytest.raises(ConfigError) as err:
        make_settings(colors={"listening": "blue"})
    assert err.value.key == "hardware.colors.listening"
    with pytest.raises(ConfigError) as err:
        make_settings(night={"start": "25:00"})
    assert err.value.key == "hardware.night.start"


def test_user_file_with_a_typo_in_a_button_key(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[hardware.buttons.main]\nshrot = "talk"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(config)
    assert err.value.key == "hardware.buttons.main.shrot"


def test_doctor_checks_report_present_devices(tmp_path: Path, make_settings: Make) -> None:
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev/spidev0.0").touch()
    (tmp_path / "dev/gpiochip0").touch()
    (tmp_path / "proc/asound").mkdir(parents=True)
    (tmp_path / "proc/asound/cards").write_text(
        " 0 [vc4hdmi        ]: vc4-hdmi - vc4-hdmi\n"
        " 1 [seeed2micvoicec]: seeed-voicecard - seeed2micvoicec\n"
    )
    checks = check_profile(make_settings(profile="respeaker-2mic"), root=tmp_path)
    assert [name for name, _, _ in checks] == [
        "hardware profile respeaker-2mic", "hardware libraries", "SPI device "
        f"{tmp_path}/dev/spidev0.0", "GPIO chip /dev/gpiochip*", "sound card seeed2micvoicec",
    ]
    assert all(ok for _, ok, _ in checks)


def test_doctor_checks_report_missing_devices(tmp_path: Path, make_settings: Make) -> None:
    checks = check_profile(make_settings(profile="respeaker-4mic"), root=tmp_path)
    failed = {name: detail for name, ok, detail in checks if not ok}
    assert set(failed) == {f"SPI device {tmp_path}/dev/spidev0.0", "GPIO chip /dev/gpiochip*",
                           "sound card seeed4micvoicec"}
    assert "dtparam=spi=on" in failed[f"SPI device {tmp_path}/dev/spidev0.0"]


def test_doctor_with_no_hardware_reports_just_the_profile() -> None:
    assert check_profile(load_settings().hardware) == [
        ("hardware profile none", True, "no LEDs")
    ]
