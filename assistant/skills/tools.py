"""The declared devices on their pins, and running a validated call on them.

A tool call only ever switches or reads a gpiozero device built here at
start-up: no shell, no eval, no file path. `ToolBox.call` asks the model for
a call (grammar and validation in `assistant.skills.calls`), and only a call
that names a declared device with an action the user's words asked for
reaches a pin. A pin that fails raises `GpioError` naming the device, its
pin and the fix.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from assistant.core.config import Config
from assistant.core.errors import GpioError
from assistant.skills.calls import (
    MAX_CALL_TOKENS,
    Allowed,
    ToolCall,
    ToolError,
    grammar,
    messages,
    parse_call,
)
from assistant.skills.devices import NO_TOOLS_DECLARED, ToolSpec, parse_tool_specs, reserved_pins
from assistant.skills.lang import language as language_tables
from assistant.stages.llm.base import LanguageModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolResult:
    text: str
    """What to say: the confirmation, the state, or why it was refused."""
    call: ToolCall | None
    """The call that ran; None when it was refused."""


def toolbox_from_config(config: Config, *, pin_factory: Any = None) -> ToolBox | None:
    """The declared tools with their pins open, or None when none is declared.

    Raise `ConfigError` for a bad entry and `GpioError` when a pin cannot be
    opened (no pin factory on this machine: check `gpio_available` first).
    """
    tools = config.tools
    if not tools.outputs and not tools.inputs:
        return None
    return ToolBox.from_config(
        tools.outputs,
        tools.inputs,
        reserved=reserved_pins(config.gpio),
        pin_factory=pin_factory,
        language=config.language,
    )


class ToolBox:
    """The declared tools and their gpiozero devices.

    Devices are built here, once, with the injected ``pin_factory`` (None:
    gpiozero's default; tests pass a ``MockFactory``). `call` runs on the
    LLM worker thread and blocks on the model; `describe` and `state` may be
    called from any thread. The caller closes the toolbox, which releases
    the pins.
    """

    def __init__(
        self, specs: Sequence[ToolSpec], *, pin_factory: Any = None, language: str = "en"
    ) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.replies = language_tables(language).replies
        self._devices: dict[str, Any] = {}
        if not specs:
            return
        from gpiozero import Button, DigitalOutputDevice

        try:
            for spec in specs:
                where = f"tool {spec.name!r} on GPIO{spec.pin} (tools.{spec.kind}s)"
                try:
                    if spec.kind == "output":
                        device = DigitalOutputDevice(spec.pin, pin_factory=pin_factory)
                    else:
                        device = Button(spec.pin, pull_up=True, pin_factory=pin_factory)
                except Exception as exc:
                    raise GpioError(
                        f"{where}: {type(exc).__name__}: {exc}; check the pin number and wiring"
                    ) from exc
                self._devices[spec.name] = device
        except BaseException:
            self.close()
            raise
        log.info(
            "tools ready: %s",
            ", ".join(f"{s.name} ({s.kind} GPIO{s.pin})" for s in specs),
        )

    @classmethod
    def from_config(
        cls,
        outputs: Sequence[str],
        inputs: Sequence[str],
        *,
        reserved: dict[int, str] | None = None,
        pin_factory: Any = None,
        language: str = "en",
    ) -> ToolBox:
        """Parse the ``[tools]`` entries (see `parse_tool_specs`) and open the pins."""
        specs = parse_tool_specs(outputs, inputs, reserved)
        return cls(specs, pin_factory=pin_factory, language=language)

    def __bool__(self) -> bool:
        return bool(self.specs)

    def call(
        self,
        llm: LanguageModel,
        transcript: str,
        allowed: Allowed,
        cancel: threading.Event | None = None,
    ) -> ToolResult | None:
        """Ask the model for one of the ``allowed`` calls and run it.

        None when the model answered in plain text (the normal LLM path
        should answer instead) or ``cancel`` was set before the call ran.
        Blocks on the model; LLM worker thread only. Raises `GpioError` when
        the pin fails, and what the model raises.
        """
        gbnf = grammar(self.specs, allowed)
        pieces = llm.generate_with_grammar(
            messages(self.specs, transcript), gbnf, cancel, max_tokens=MAX_CALL_TOKENS
        )
        output = ""
        try:
            for piece in pieces:
                output += piece
                if output.strip() and not output.lstrip().startswith("{"):
                    log.info("tool path: the model answered in plain text")
                    return None
        finally:
            _close(pieces)  # stops generation when we return early
        if cancel is not None and cancel.is_set():
            log.info("tool path: cancelled before the call ran")
            return None
        log.debug("tool call output: %r", output)
        return self.execute(output, allowed)

    def execute(self, output: str, allowed: Allowed | None = None) -> ToolResult:
        """Parse, validate and run one model output; refuse anything else,
        including a declared call that ``allowed`` does not offer."""
        try:
            call = parse_call(self.specs, output, self.replies, allowed)
            return ToolResult(self.run(call), call)
        except ToolError as exc:
            log.warning("tool call refused: %s", exc)
            return ToolResult(exc.spoken, None)

    def run(self, call: ToolCall) -> str:
        """Act on a validated call and say the resulting state.

        Raise `ToolError` for a call that is not declared (never trust the
        caller) and `GpioError` when the pin fails.
        """
        spec = self.specs.get(call.tool)
        if spec is None or call.action not in spec.actions:
            raise ToolError(f"tool call {call!r} is not declared", self.replies["malformed"])
        device = self._devices[call.tool]
        if call.action != "status":  # an output: inputs only have "status"
            with _pin_errors(spec, call.action):
                if call.action == "on":
                    device.on()
                elif call.action == "off":
                    device.off()
                else:
                    device.toggle()
            log.info("tool %s: %s on GPIO%d", call.tool, call.action, spec.pin)
        return self.state(call.tool)

    def state(self, name: str) -> str:
        """The spoken state of one tool, e.g. "The lamp is on."; `GpioError`
        when its pin cannot be read."""
        spec = self.specs[name]
        device = self._devices[name]
        with _pin_errors(spec, "status"):
            if spec.kind == "output":
                key = "device_on" if device.value else "device_off"
            else:
                key = "device_active" if device.is_pressed else "device_inactive"
        return self.replies[key].format(name=spec.spoken)

    def describe(self) -> str:
        """One line per tool with its pin and current state, for ``/tools``."""
        if not self.specs:
            return NO_TOOLS_DECLARED
        lines = []
        for spec in self.specs.values():
            extra = f" (also: {', '.join(spec.synonyms)})" if spec.synonyms else ""
            lines.append(
                f"{spec.name}: {spec.kind} on GPIO{spec.pin}, actions "
                f"{'/'.join(spec.actions)}{extra} - {self.state(spec.name)}"
            )
        return "\n".join(lines)

    def names(self) -> str:
        """The declared devices as spoken, for a refusal: "lamp, fan, door"."""
        return ", ".join(spec.spoken for spec in self.specs.values())

    def close(self) -> None:
        """Release the pins (outputs go low); safe to call twice."""
        while self._devices:
            _, device = self._devices.popitem()
            try:
                device.close()
            except Exception:
                log.exception("closing %r failed", device)

    def __enter__(self) -> ToolBox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def _pin_errors(spec: ToolSpec, action: str) -> Iterator[None]:
    """gpiozero and pin-driver errors as one `GpioError` naming the device and pin."""
    try:
        yield
    except Exception as exc:
        raise GpioError(
            f"tool {spec.name!r} on GPIO{spec.pin} (tools.{spec.kind}s): {action} failed: "
            f"{type(exc).__name__}: {exc}; check the wiring, and that no other program "
            f"uses GPIO{spec.pin}"
        ) from exc


def _close(pieces: Iterator[str]) -> None:
    if isinstance(pieces, Generator):
        pieces.close()
