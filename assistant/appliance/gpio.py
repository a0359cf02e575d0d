"""Push-to-talk buttons and status LEDs on the Raspberry Pi header (gpiozero).

The pipeline never imports gpiozero: `GpioButtons` turns edges into input
events handed to a `submit` callback, and `LedIndicator` subscribes to the
`EventBus` and shows `StateChanged`. Every device takes a keyword-only
``pin_factory`` (``None``: gpiozero's default, lgpio on a Pi 5); tests pass a
``MockFactory``. gpiozero is imported lazily so this module imports anywhere.

LED patterns (``led_kind = "separate"``: one LED per busy state):

========== ============================ ==================================
state      separate LEDs                one RGB LED
========== ============================ ==================================
idle       all off                      off
listening  listening LED solid          blue, solid
thinking   thinking LED blinks (2 Hz)   amber, blinks
speaking   speaking LED pulses (PWM)    green, pulses
error      all three blink fast, ~3 s   red, blinks fast, ~3 s
woken      listening LED blinks fast    blue, blinks fast (a wake word
           while it listens             started the turn; a follow-up
                                        is solid, like a press)
========== ============================ ==================================

Idle is off rather than a slow breath: the box sits in a room all day, and
"dark means ready" keeps the error flash easy to notice.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.core.config import GpioConfig
from assistant.core.errors import GpioError
from assistant.core.events import (
    ButtonPressed,
    ButtonReleased,
    CancelPressed,
    Event,
    State,
    StateChanged,
    WakeDetected,
)

log = logging.getLogger(__name__)

BLINK_ON_S = 0.25
"""Thinking blink: on and off time in seconds (2 Hz)."""
PULSE_FADE_S = 0.6
"""Speaking pulse: fade-in and fade-out time in seconds."""
ERROR_FLASH_S = 0.1
"""Error blink: on and off time in seconds."""
ERROR_FLASHES = 15
"""Error blinks before the LEDs go dark by themselves (~3 s in all)."""
WAKE_BLINK_S = 0.08
"""After a wake word: listening blink on and off time in seconds (~6 Hz)."""

RGB_COLOURS: dict[State, tuple[float, float, float]] = {
    State.LISTENING: (0.0, 0.0, 1.0),  # blue
    State.THINKING: (1.0, 0.5, 0.0),  # amber
    State.SPEAKING: (0.0, 1.0, 0.0),  # green
    State.ERROR: (1.0, 0.0, 0.0),  # red
}

NO_FACTORY = "no GPIO on this machine (gpiozero found no pin factory); using keyboard push-to-talk"


def gpio_available(config: GpioConfig) -> str | None:
    """None when GPIO can be used, else a one-line reason for falling back.

    Makes gpiozero's default pin factory (and keeps it as the process-wide
    default, which the devices then share). Blocks briefly; call it once at
    start-up from the main thread.
    """
    if not config.enabled:
        return "GPIO is disabled (gpio.enabled = false); using keyboard push-to-talk"
    try:
        from gpiozero import Device
    except ImportError:
        return "gpiozero is not installed; using keyboard push-to-talk"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            Device.ensure_pin_factory()
        except Exception as exc:
            tried = "; ".join(str(w.message) for w in caught) or str(exc)
            log.debug("gpiozero pin factories failed: %s", tried)
            model = _board_model()
            if "Raspberry Pi" in model:
                return (
                    f"gpiozero found no pin factory on this {model} ({tried}); install lgpio "
                    "with `pip install 'pi-voice-assistant[pi]'`; using keyboard push-to-talk"
                )
            return NO_FACTORY
    for w in caught:
        log.debug("gpiozero: %s", w.message)
    log.info("GPIO pin factory: %s", type(Device.pin_factory).__name__)
    return None


def _board_model() -> str:
    try:
        return Path("/proc/device-tree/model").read_text(errors="replace").strip("\0 \n")
    except OSError:
        return ""


def _open(where: str, make: Callable[[], Any]) -> Any:
    """Build one gpiozero device, turning its errors into a one-line GpioError.

    ``where`` names the device, its pin and config key, e.g.
    ``"push-to-talk button on GPIO17 (gpio.button_pin)"``.
    """
    try:
        return make()
    except Exception as exc:
        raise GpioError(_explain(where, exc)) from exc


def _explain(where: str, exc: Exception) -> str:
    name = type(exc).__name__
    text = str(exc).strip() or name
    if name == "BadPinFactory":
        fix = "install lgpio on a Pi, or set gpio.enabled = false"
        return f"{where}: gpiozero found no pin factory; {fix}"
    if name == "GPIOPinInUse":
        return f"{where}: pin already used by another device here; give each role its own pin"
    if name == "PinInvalidPin":
        return f"{where}: {text}; use a BCM GPIO number from 2 to 27"
    if isinstance(exc, PermissionError) or "permission" in text.lower():
        return f"{where}: permission denied ({text}); add the user to the gpio group"
    if "busy" in text.lower():
        fix = "another program or a HAT overlay holds it; free it or pick another pin"
        return f"{where}: pin busy ({text}); {fix}"
    return f"{where}: {name}: {text}; check the pin number and wiring"


def _close_all(devices: list[Any]) -> None:
    while devices:
        device = devices.pop()
        try:
            device.close()
        except Exception:
            log.exception("closing %r failed", device)


class GpioButtons:
    """Push-to-talk (and optional cancel) buttons.

    gpiozero calls back on its own thread; the callbacks only build an event
    and call `submit`, which must not block. Press and release of the
    push-to-talk button submit `ButtonPressed` and `ButtonReleased`; the cancel
    button submits `CancelPressed` on press. The caller closes this object
    (`close` or a ``with`` block), which releases the pins.
    """

    def __init__(
        self, config: GpioConfig, submit: Callable[[Event], None], *, pin_factory: Any = None
    ) -> None:
        from gpiozero import Button

        self._submit = submit
        self._devices: list[Any] = []
        bounce = config.bounce_s or None  # gpiozero wants None, not 0, for "no debounce"

        def button(pin: int, **extra: Any) -> Any:
            return Button(
                pin, pull_up=config.pull_up, bounce_time=bounce, pin_factory=pin_factory, **extra
            )

        try:
            talk = _open(
                f"push-to-talk button on GPIO{config.button_pin} (gpio.button_pin)",
                lambda: button(config.button_pin, hold_time=config.hold_s),
            )
            self._devices.append(talk)
            talk.when_pressed = lambda: self._emit(ButtonPressed())
            talk.when_released = lambda: self._emit(ButtonReleased())
            if config.cancel_pin >= 0:
                cancel = _open(
                    f"cancel button on GPIO{config.cancel_pin} (gpio.cancel_pin)",
                    lambda: button(config.cancel_pin),
                )
                self._devices.append(cancel)
                cancel.when_pressed = lambda: self._emit(CancelPressed())
        except BaseException:
            _close_all(self._devices)
            raise
        log.info(
            "buttons ready: push-to-talk GPIO%d%s",
            config.button_pin,
            f", cancel GPIO{config.cancel_pin}" if config.cancel_pin >= 0 else "",
        )

    def _emit(self, event: Event) -> None:
        # Runs on gpiozero's callback thread: an exception here would only
        # reach gpiozero's thread, so log it instead.
        try:
            self._submit(event)
        except Exception:
            log.exception("submitting %s failed", type(event).__name__)

    def close(self) -> None:
        """Release the pins; safe to call twice."""
        _close_all(self._devices)

    def __enter__(self) -> GpioButtons:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LedIndicator:
    """Indicator: shows the pipeline state on LEDs (patterns in the module docstring).

    Subscribe `on_event` to the `EventBus`. Any thread may call `on_event`
    and `show`; a lock keeps pattern switches whole. Blinks and pulses run on
    gpiozero's background threads, so both return within milliseconds
    (switching pattern stops the previous background thread, which wakes at
    once). With ``led_kind = "none"`` no pin is touched. The caller closes it.
    """

    def __init__(self, config: GpioConfig, *, pin_factory: Any = None) -> None:
        self._kind = config.led_kind
        self._devices: list[Any] = []
        self._error_until_s = 0.0
        self._woken = False
        self._lock = threading.Lock()
        if self._kind == "none":
            return
        from gpiozero import LED, PWMLED, RGBLED

        high = config.active_high
        try:
            if self._kind == "rgb":
                pins = (config.listening_pin, config.thinking_pin, config.speaking_pin)
                self._rgb = _open(
                    "RGB LED on GPIO{}/{}/{} (gpio.listening_pin/thinking_pin/speaking_pin)".format(
                        *pins
                    ),
                    lambda: RGBLED(*pins, active_high=high, pwm=True, pin_factory=pin_factory),
                )
                self._devices.append(self._rgb)
            else:
                for attr, key, cls in (
                    ("_listening", "listening_pin", LED),
                    ("_thinking", "thinking_pin", LED),
                    ("_speaking", "speaking_pin", PWMLED),  # pulse needs PWM
                ):
                    pin = getattr(config, key)
                    device = _open(
                        f"{key.split('_')[0]} LED on GPIO{pin} (gpio.{key})",
                        lambda cls=cls, pin=pin: cls(
                            pin, active_high=high, pin_factory=pin_factory
                        ),
                    )
                    self._devices.append(device)
                    setattr(self, attr, device)
        except BaseException:
            _close_all(self._devices)
            raise

    def on_event(self, event: Event) -> None:
        """EventBus subscriber: react to `StateChanged`, ignore everything else.

        Idle right after an error lets the error flash finish (it ends dark,
        which is idle); any other state replaces the flash at once.
        """
        if isinstance(event, WakeDetected) and self._devices:
            with self._lock:
                self._show_wake()
            return
        if not isinstance(event, StateChanged) or not self._devices:
            return
        with self._lock:
            if event.new is State.LISTENING and self._woken:
                return  # the wake blink goes on while it listens
            if event.new is State.IDLE and time.monotonic() < self._error_until_s:
                return
            self._show(event.new)

    def show(self, state: State) -> None:
        """Show `state` now, replacing whatever pattern is running."""
        if not self._devices:
            return
        with self._lock:
            self._show(state)

    def _show_wake(self) -> None:
        """A wake word: the listening LED blinks fast until the next state."""
        self._show(State.LISTENING)
        self._woken = True
        led = self._rgb if self._kind == "rgb" else self._listening
        extra = {"on_color": RGB_COLOURS[State.LISTENING]} if self._kind == "rgb" else {}
        led.blink(on_time=WAKE_BLINK_S, off_time=WAKE_BLINK_S, **extra)

    def _show(self, state: State) -> None:
        self._woken = False
        self._error_until_s = 0.0
        if state is State.ERROR:
            self._error_until_s = time.monotonic() + 2 * ERROR_FLASH_S * ERROR_FLASHES
        if self._kind == "rgb":
            self._show_rgb(state)
        else:
            self._show_separate(state)

    def _show_rgb(self, state: State) -> None:
        led = self._rgb
        colour = RGB_COLOURS.get(state)
        if colour is None:
            led.off()
        elif state is State.LISTENING:
            led.color = colour
        elif state is State.THINKING:
            led.blink(on_time=BLINK_ON_S, off_time=BLINK_ON_S, on_color=colour)
        elif state is State.SPEAKING:
            led.pulse(fade_in_time=PULSE_FADE_S, fade_out_time=PULSE_FADE_S, on_color=colour)
        else:
            led.blink(
                on_time=ERROR_FLASH_S, off_time=ERROR_FLASH_S, on_color=colour, n=ERROR_FLASHES
            )

    def _show_separate(self, state: State) -> None:
        listening, thinking, speaking = self._listening, self._thinking, self._speaking
        if state is State.ERROR:
            for led in (listening, thinking, speaking):
                led.blink(on_time=ERROR_FLASH_S, off_time=ERROR_FLASH_S, n=ERROR_FLASHES)
            return
        for led in (listening, thinking, speaking):
            led.off()
        if state is State.LISTENING:
            listening.on()
        elif state is State.THINKING:
            thinking.blink(on_time=BLINK_ON_S, off_time=BLINK_ON_S)
        elif state is State.SPEAKING:
            speaking.pulse(fade_in_time=PULSE_FADE_S, fade_out_time=PULSE_FADE_S)

    def close(self) -> None:
        """Turn the LEDs off and release the pins; safe to call twice."""
        with self._lock:
            _close_all(self._devices)

    def __enter__(self) -> LedIndicator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
