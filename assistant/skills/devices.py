"""Declared devices: the `[tools]` entries, each a name on one GPIO pin.

Pure declarations, no pins opened: `parse_tool_specs` turns the config
entries into `ToolSpec`s and refuses any bad name, pin or clash, naming the
entry; `tools.ToolBox` opens the pins. 1-Wire and I2C sensors are not
supported yet; only digital outputs and digital inputs (buttons, switches,
reed contacts) are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from assistant.core.config import GpioConfig
from assistant.core.errors import ConfigError

OUTPUT_ACTIONS = ("on", "off", "toggle", "status")
INPUT_ACTIONS = ("status",)

NO_TOOLS_DECLARED = 'no tools declared; add outputs = ["lamp=5"] or inputs to [tools] in the config'
"""What ``/tools`` shows when nothing is declared (the spoken refusal is the
language's ``no_devices`` reply)."""

_NAME = re.compile(r"[a-z][a-z0-9_]{0,23}")
_PINS = range(2, 28)  # the BCM GPIOs on the 40-pin header


@dataclass(frozen=True)
class ToolSpec:
    name: str
    """Lowercase name the user says ("lamp"); ``_`` is spoken as a space."""
    kind: Literal["output", "input"]
    pin: int
    """BCM GPIO number."""
    synonyms: tuple[str, ...] = ()
    """Other words for it ("light"), recognised as naming it."""

    @property
    def actions(self) -> tuple[str, ...]:
        return OUTPUT_ACTIONS if self.kind == "output" else INPUT_ACTIONS

    @property
    def spoken(self) -> str:
        return self.name.replace("_", " ")


def parse_tool_specs(
    outputs: Sequence[str], inputs: Sequence[str], reserved: dict[int, str] | None = None
) -> list[ToolSpec]:
    """Specs from config entries ``"name=pin"`` or ``"name=pin:synonym,synonym"``.

    Raise `ConfigError` naming the entry for a bad name, a pin off the header,
    a name or pin used twice, or a pin in ``reserved`` (pin -> config key,
    e.g. the push-to-talk button's).
    """
    specs: list[ToolSpec] = []
    reserved = dict(reserved or {})
    words: set[str] = set()
    for kind, key, entries in (
        ("output", "tools.outputs", outputs),
        ("input", "tools.inputs", inputs),
    ):
        for entry in entries:

            def bad(problem: str, entry: str = entry, key: str = key) -> ConfigError:
                return ConfigError(f"config: {key} entry {entry!r}: {problem}")

            head, _, extra = entry.partition(":")
            name, sep, pin_text = (part.strip() for part in head.partition("="))
            name = name.lower()
            if not sep or not _NAME.fullmatch(name):
                raise bad('write "name=pin", the name in lowercase letters, digits and _')
            try:
                pin = int(pin_text)
            except ValueError:
                raise bad(
                    f"pin {pin_text!r} is not a number; use a BCM GPIO from 2 to 27"
                ) from None
            if pin not in _PINS:
                raise bad(f"pin {pin} is not a header GPIO; use a BCM GPIO from 2 to 27")
            if pin in reserved:
                raise bad(f"GPIO{pin} is already used by {reserved[pin]}; pick another pin")
            synonyms = tuple(s.strip().lower() for s in extra.split(",") if s.strip())
            for word in (name, *synonyms):
                if word in words:
                    raise bad(f"{word!r} is declared twice; give each tool its own words")
                words.add(word)
            reserved[pin] = key
            specs.append(ToolSpec(name, kind, pin, synonyms))
    return specs


def reserved_pins(gpio: GpioConfig) -> dict[int, str]:
    """The pins [gpio] already uses (pin -> config key), which tools may not take."""
    pins = {gpio.button_pin: "gpio.button_pin"}
    if gpio.cancel_pin >= 0:
        pins[gpio.cancel_pin] = "gpio.cancel_pin"
    if gpio.led_kind != "none":
        pins.setdefault(gpio.listening_pin, "gpio.listening_pin")
        pins.setdefault(gpio.thinking_pin, "gpio.thinking_pin")
        pins.setdefault(gpio.speaking_pin, "gpio.speaking_pin")
    return pins
