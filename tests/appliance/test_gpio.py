"""Buttons and LEDs against gpiozero's MockFactory (no hardware needed)."""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from assistant.appliance import gpio
from assistant.appliance.gpio import GpioButtons, LedIndicator, gpio_available
from assistant.core.config import GpioConfig
from assistant.core.errors import GpioError
from assistant.core.events import (
    ButtonPressed,
    ButtonReleased,
    CancelPressed,
    Event,
    State,
    StateChanged,
    TranscriptReady,
)

TIMEOUT_S = 5.0


@pytest.fixture
def fast_error(monkeypatch):
    """Shrink the error flash so a whole flash finishes quickly."""
    monkeypatch.setattr(gpio, "ERROR_FLASH_S", 0.005)
    monkeypatch.setattr(gpio, "ERROR_FLASHES", 4)


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    """Poll `predicate` until true; fail after TIMEOUT_S."""
    deadline = time.monotonic() + TIMEOUT_S
    tick = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        tick.wait(0.005)


def values(pin) -> list[float]:
    return [float(s.state) for s in pin.states]


def highs(pin) -> int:
    """How many times the pin went fully on."""
    history = values(pin)
    return sum(1 for a, b in zip(history, history[1:], strict=False) if a < 1.0 and b == 1.0)


def changed(old: State, new: State) -> StateChanged:
    return StateChanged(old=old, new=new)


# -- buttons ---------------------------------------------------------------


def test_press_and_release_submit_events_in_order(factory):
    events: queue.Queue[Event] = queue.Queue()
    with GpioButtons(GpioConfig(), events.put_nowait, pin_factory=factory):
        pin = factory.pin(17)
        pin.drive_low()
        assert isinstance(events.get(timeout=TIMEOUT_S), ButtonPressed)
        pin.drive_high()
        assert isinstance(events.get(timeout=TIMEOUT_S), ButtonReleased)
    assert events.empty()


def test_button_pin_gets_configured_pull_and_bounce(factory):
    config = GpioConfig(button_pin=5, bounce_s=0.08)
    with GpioButtons(config, lambda e: None, pin_factory=factory):
        pin = factory.pin(5)
        assert pin.pull == "up"
        assert pin.bounce == pytest.approx(0.08)


def test_zero_bounce_means_no_debounce(factory):
    with GpioButtons(GpioConfig(bounce_s=0.0), lambda e: None, pin_factory=factory):
        assert factory.pin(17).bounce is None


def test_pull_down_button_is_pressed_by_driving_high(factory):
    events: queue.Queue[Event] = queue.Queue()
    with GpioButtons(GpioConfig(pull_up=False), events.put_nowait, pin_factory=factory):
        pin = factory.pin(17)
        assert pin.pull == "down"
        pin.drive_high()
        assert isinstance(events.get(timeout=TIMEOUT_S), ButtonPressed)
        pin.drive_low()
        assert isinstance(events.get(timeout=TIMEOUT_S), ButtonReleased)


def test_cancel_button_submits_cancel_on_press_only(factory):
    events: queue.Queue[Event] = queue.Queue()
    with GpioButtons(GpioConfig(cancel_pin=27), events.put_nowait, pin_factory=factory):
        pin = factory.pin(27)
        pin.drive_low()
        assert isinstance(events.get(timeout=TIMEOUT_S), CancelPressed)
        pin.drive_high()
    assert events.empty()


def test_no_cancel_pin_reserves_only_the_talk_button(factory):
    with GpioButtons(GpioConfig(cancel_pin=-1), lambda e: None, pin_factory=factory):
        assert [info.name for info in factory.pins] == ["GPIO17"]


def test_failing_submit_is_logged_not_raised(factory, caplog):
    def submit(event: Event) -> None:
        raise RuntimeError("queue closed")

    with (
        GpioButtons(GpioConfig(), submit, pin_factory=factory),
        caplog.at_level(logging.ERROR, logger="assistant.appliance.gpio"),
    ):
        factory.pin(17).drive_low()
    assert "submitting ButtonPressed failed" in caplog.text


def test_close_is_idempotent_and_frees_the_pins(factory):
    buttons = GpioButtons(GpioConfig(cancel_pin=27), lambda e: None, pin_factory=factory)
    buttons.close()
    buttons.close()
    again = GpioButtons(GpioConfig(cancel_pin=27), lambda e: None, pin_factory=factory)
    again.close()


def test_bad_button_pin_is_one_line_gpio_error(factory):
    with pytest.raises(GpioError) as info:
        GpioButtons(GpioConfig(button_pin=40), lambda e: None, pin_factory=factory)
    message = str(info.value)
    assert "GPIO40" in message and "gpio.button_pin" in message
    assert "\n" not in message


def test_cancel_on_the_talk_pin_fails_and_releases_the_talk_pin(factory):
    with pytest.raises(GpioError, match="gpio.cancel_pin.*already used"):
        GpioButtons(GpioConfig(cancel_pin=17), lambda e: None, pin_factory=factory)
    # The half-built object released GPIO17, so a correct config works now.
    GpioButtons(GpioConfig(), lambda e: None, pin_factory=factory).close()


def test_led_on_a_button_pin_is_gpio_error(factory):
    busy = r"listening LED on GPIO17 \(gpio.listening_pin\)"
    with (
        GpioButtons(GpioConfig(), lambda e: None, pin_factory=factory),
        pytest.raises(GpioError, match=busy),
    ):
        LedIndicator(GpioConfig(listening_pin=17), pin_factory=factory)


# -- separate LEDs -----------------------------------------------------------


@pytest.fixture
def leds(factory):
    indicator = LedIndicator(GpioConfig(), pin_factory=factory)
    try:
        yield indicator, factory.pin(22), factory.pin(23), factory.pin(24)
    finally:
        indicator.close()


def test_idle_is_dark_and_listening_is_solid(leds):
    indicator, listening, thinking, speaking = leds
    indicator.show(State.LISTENING)
    assert (listening.state, thinking.state, speaking.state) == (1, 0, 0)
    indicator.show(State.IDLE)
    assert (listening.state, thinking.state, speaking.state) == (0, 0, 0)


def test_thinking_blinks_the_thinking_led_only(leds):
    indicator, listening, thinking, speaking = leds
    indicator.show(State.THINKING)
    wait_until(lambda: highs(thinking) >= 2, "the thinking LED to blink twice")
    assert listening.state == 0 and speaking.state == 0


def test_speaking_pulses_through_intermediate_brightness(leds):
    indicator, listening, thinking, speaking = leds
    indicator.show(State.SPEAKING)
    wait_until(
        lambda: any(0.0 < v < 1.0 for v in values(speaking)), "the speaking LED to fade (PWM)"
    )
    assert listening.state == 0 and thinking.state == 0


def test_leaving_a_state_stops_its_pattern(leds):
    indicator, listening, thinking, speaking = leds
    indicator.show(State.THINKING)
    wait_until(lambda: highs(thinking) >= 1, "the thinking LED to blink")
    indicator.show(State.LISTENING)
    thinking.clear_states()
    # The blink thread was stopped and joined, so nothing writes the pin now.
    assert values(thinking) == [0.0]
    assert listening.state == 1


def test_error_flashes_all_leds_then_goes_dark(leds, fast_error):
    indicator, *pins = leds
    indicator.show(State.ERROR)
    for pin in pins:
        wait_until(lambda pin=pin: highs(pin) == gpio.ERROR_FLASHES and pin.state == 0, "flash")
    assert [pin.state for pin in pins] == [0, 0, 0]


def test_idle_right_after_error_lets_the_flash_finish(leds, monkeypatch):
    monkeypatch.setattr(gpio, "ERROR_FLASHES", 3)
    monkeypatch.setattr(gpio, "ERROR_FLASH_S", 0.02)
    indicator, listening, _, _ = leds
    indicator.on_event(changed(State.THINKING, State.ERROR))
    indicator.on_event(changed(State.ERROR, State.IDLE))
    wait_until(lambda: highs(listening) == 3 and listening.state == 0, "the whole error flash")


def test_new_turn_replaces_the_error_flash_at_once(leds):
    indicator, listening, thinking, speaking = leds
    indicator.on_event(changed(State.THINKING, State.ERROR))
    indicator.on_event(changed(State.IDLE, State.LISTENING))
    thinking.clear_states()
    speaking.clear_states()
    assert listening.state == 1
    assert values(thinking) == [0.0] and values(speaking) == [0.0]


def test_other_events_are_ignored(leds):
    indicator, listening, _, _ = leds
    indicator.show(State.LISTENING)
    indicator.on_event(TranscriptReady(text="hello"))
    assert listening.state == 1
    indicator.on_event(changed(State.LISTENING, State.IDLE))
    assert listening.state == 0


def test_active_low_leds_light_when_the_pin_is_low(factory):
    with LedIndicator(GpioConfig(active_high=False), pin_factory=factory) as indicator:
        pin = factory.pin(22)
        assert pin.state == 1  # dark
        indicator.show(State.LISTENING)
        assert pin.state == 0


def test_bad_led_pin_is_gpio_error(factory):
    with pytest.raises(GpioError, match=r"speaking LED on GPIO45 \(gpio.speaking_pin\)"):
        LedIndicator(GpioConfig(speaking_pin=45), pin_factory=factory)
    # the LEDs built before the bad one were released
    LedIndicator(GpioConfig(), pin_factory=factory).close()


# -- RGB LED -----------------------------------------------------------------


@pytest.fixture
def rgb(factory):
    indicator = LedIndicator(GpioConfig(led_kind="rgb"), pin_factory=factory)
    try:
        # red, green, blue = listening_pin, thinking_pin, speaking_pin
        yield indicator, factory.pin(22), factory.pin(23), factory.pin(24)
    finally:
        indicator.close()


def test_rgb_listening_is_solid_blue(rgb):
    indicator, red, green, blue = rgb
    indicator.show(State.LISTENING)
    assert (red.state, green.state, blue.state) == (0, 0, 1)
    indicator.show(State.IDLE)
    assert (red.state, green.state, blue.state) == (0, 0, 0)


def test_rgb_thinking_blinks_amber(rgb):
    indicator, red, green, blue = rgb
    indicator.show(State.THINKING)
    wait_until(lambda: highs(red) >= 2, "red to blink")
    assert 0.5 in values(green) and max(values(green)) == 0.5
    assert values(blue) == [0.0]


def test_rgb_speaking_pulses_green(rgb):
    indicator, red, green, blue = rgb
    indicator.show(State.SPEAKING)
    wait_until(lambda: any(0.0 < v < 1.0 for v in values(green)), "green to fade")
    assert values(red) == [0.0] and values(blue) == [0.0]


def test_rgb_error_flashes_red_then_goes_dark(rgb, fast_error):
    indicator, red, green, blue = rgb
    indicator.show(State.ERROR)
    wait_until(lambda: highs(red) == gpio.ERROR_FLASHES and red.state == 0, "the red flash")
    assert values(green) == [0.0] and values(blue) == [0.0]


# -- no LEDs -----------------------------------------------------------------


def test_led_kind_none_touches_no_pin(factory):
    with LedIndicator(GpioConfig(led_kind="none"), pin_factory=factory) as indicator:
        for state in State:
            indicator.on_event(changed(State.IDLE, state))
            indicator.show(state)
    assert len(factory.pins) == 0


# -- availability --------------------------------------------------------------


@pytest.fixture
def default_factory():
    """Run with no process-wide pin factory, and leave none behind."""
    previous = Device.pin_factory
    Device.pin_factory = None
    try:
        yield
    finally:
        if Device.pin_factory is not None:
            Device.pin_factory.close()
        Device.pin_factory = previous


def test_gpio_disabled_in_config_gives_reason():
    reason = gpio_available(dataclasses.replace(GpioConfig(), enabled=False))
    assert reason is not None and "gpio.enabled = false" in reason


def test_gpio_available_with_a_working_factory(default_factory, monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    assert gpio_available(GpioConfig()) is None
    assert isinstance(Device.pin_factory, MockFactory)


def test_gpio_unavailable_gives_one_line_reason(default_factory, monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    monkeypatch.setattr(gpio, "_board_model", lambda: "")
    assert gpio_available(GpioConfig()) == gpio.NO_FACTORY
    assert Device.pin_factory is None


def test_buttons_without_a_pin_factory_raise_gpio_error(default_factory, monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    with pytest.raises(GpioError, match=r"GPIO17 \(gpio.button_pin\).*no pin factory"):
        GpioButtons(GpioConfig(), lambda e: None)


def test_gpio_unavailable_on_a_pi_names_the_fix(default_factory, monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    monkeypatch.setattr(gpio, "_board_model", lambda: "Raspberry Pi 5 Model B Rev 1.0")
    reason = gpio_available(GpioConfig())
    assert reason is not None and "Raspberry Pi 5" in reason and "[pi]" in reason
    assert "\n" not in reason
