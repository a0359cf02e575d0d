"""LLM tool calls that drive declared GPIO pins, and nothing else.

Tools are declared in the config (``[tools]``): named outputs such as a lamp
on GPIO5 and named inputs such as a door switch on GPIO6. The model may only
call those: its output is constrained by a llama.cpp grammar (GBNF) whose
root is either exactly ``{"tool": "<declared name>", "args": {"action":
"<allowed action>"}}`` or plain text, nothing in between. For each turn the
grammar offers only the tools the transcript names and the actions its
words ask for (see `ToolBox.allowed`). Every call is parsed and validated
again against the declarations and that narrowed set before a pin moves,
so even a model that ignored the grammar could not reach an undeclared pin
or an action the user did not ask for. A tool call only
ever switches or reads a gpiozero device built at start-up: no shell, no
eval, no file path.

1-Wire and I2C sensors are not supported yet; only digital outputs and
digital inputs (buttons, switches, reed contacts) are.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from assistant.core.config import Config, GpioConfig
from assistant.core.errors import AssistantError, ConfigError, GpioError
from assistant.core.messages import Message
from assistant.skills.intents import normalize

log = logging.getLogger(__name__)

OUTPUT_ACTIONS = ("on", "off", "toggle", "status")
INPUT_ACTIONS = ("status",)
MAX_CALL_TOKENS = 40
"""Enough for the longest call; a plain-text answer is cut off after the
first piece anyway (see `ToolBox.call`)."""

FUZZY_CUTOFF = 0.75
"""difflib similarity for a misheard tool name: "lamb" for "lamp" is 0.75."""

_NAME = re.compile(r"[a-z][a-z0-9_]{0,23}")
_PINS = range(2, 28)  # the BCM GPIOs on the 40-pin header


class ToolError(AssistantError, ValueError):
    """A tool call names an undeclared tool or carries a bad argument.

    ``spoken`` is the explanation to say to the user."""

    def __init__(self, message: str, spoken: str) -> None:
        super().__init__(message)
        self.spoken = spoken


@dataclass(frozen=True)
class ToolSpec:
    name: str
    """Lowercase name the user says ("lamp"); ``_`` is spoken as a space."""
    kind: Literal["output", "input"]
    pin: int
    """BCM GPIO number."""
    synonyms: tuple[str, ...] = ()
    """Other words for it ("light"), used to decide whether to try the tool path."""

    @property
    def actions(self) -> tuple[str, ...]:
        return OUTPUT_ACTIONS if self.kind == "output" else INPUT_ACTIONS

    @property
    def spoken(self) -> str:
        return self.name.replace("_", " ")


@dataclass(frozen=True)
class ToolCall:
    tool: str
    action: str


@dataclass(frozen=True)
class ToolResult:
    text: str
    """What to say: the confirmation, the state, or why it was refused."""
    call: ToolCall | None
    """The call that ran; None when it was refused."""


class GrammarModel(Protocol):
    """What the tool path needs from the language model (`LlamaLanguageModel`)."""

    def generate_with_grammar(
        self, messages: Sequence[Message], gbnf: str, *, max_tokens: int = 64
    ) -> Generator[str, None, None]: ...


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


_SAY = {
    "en": {
        "on": "The {name} is on.",
        "off": "The {name} is off.",
        "pressed": "The {name} is active.",
        "released": "The {name} is not active.",
        "unknown": "I can't do that: there is no device called {name}. I can use: {names}.",
        "bad_action": "I can't do that: the {name} only supports {actions}.",
        "malformed": "I couldn't understand that device command, so I did nothing.",
        "not_asked": "I did nothing: that {name} command didn't match what you asked.",
        "no_tools": "I have no devices to control. They can be declared under [tools] in the "
        "config.",
    },
    "pt": {
        "on": "{name}: ligado.",
        "off": "{name}: desligado.",
        "pressed": "{name}: ativo.",
        "released": "{name}: inativo.",
        "unknown": "Não posso fazer isso: não existe o dispositivo {name}. Posso usar: {names}.",
        "bad_action": "Não posso fazer isso: {name} só aceita {actions}.",
        "malformed": "Não entendi esse comando de dispositivo, então não fiz nada.",
        "not_asked": "Não fiz nada: esse comando para {name} não corresponde ao pedido.",
        "no_tools": "Não tenho dispositivos para controlar. Podem ser declarados em [tools] na "
        "configuração.",
    },
    "es": {
        "on": "{name}: encendido.",
        "off": "{name}: apagado.",
        "pressed": "{name}: activo.",
        "released": "{name}: inactivo.",
        "unknown": "No puedo hacer eso: no existe el dispositivo {name}. Puedo usar: {names}.",
        "bad_action": "No puedo hacer eso: {name} solo admite {actions}.",
        "malformed": "No entendí ese comando de dispositivo, así que no hice nada.",
        "not_asked": "No hice nada: esa orden para {name} no coincide con lo que pediste.",
        "no_tools": "No tengo dispositivos que controlar. Se pueden declarar en [tools] en la "
        "configuración.",
    },
}

_ACTION_WORDS = {
    "on": {"on", "liga", "ligue", "ligar", "acende", "acenda", "enciende", "encender", "prende"},
    "off": {"off", "desliga", "desligue", "desligar", "apaga", "apague", "apagar"},
    "toggle": {"toggle", "alterna", "alternar", "cambia"},
}
# A question only reads. "is"/"esta" count only at the start ("is the lamp
# on", "esta ligada a luz"): "liga esta luz" and "turn it on, it is dark" are
# commands. The nouns and "if"/"whether" count anywhere.
_STATUS_START = {"is", "are", "check", "esta", "estao", "estan"}
_STATUS_ANYWHERE = {"status", "state", "estado", "if", "whether"}
_LEADING_FILLER = {"please", "hey", "ok", "okay", "so", "can", "could", "you", "tell", "me"}
# "turn it off": the object is not a device name, so it is not refused as one.
_PRONOUNS = {
    "it", "this", "that", "them", "these", "those", "everything", "all",
    "isso", "isto", "aquilo", "ele", "ela", "eso", "esto", "aquello", "lo", "la", "todo",
}  # fmt: skip

# "turn on the X", "switch X off", "liga a X", "enciende el X": device commands
# that can be refused without the LLM when X is not declared.
_DEVICE_COMMAND = [
    re.compile(r"(?:turn|switch|put|flip) (?:on|off) (?:the |my |a )?(?P<obj>[a-z0-9 ]+)"),
    re.compile(r"(?:turn|switch|put|flip) (?:the |my |a )?(?P<obj>[a-z0-9 ]+?) (?:on|off)"),
    re.compile(
        r"(?:liga|ligue|desliga|desligue|acende|acenda|apaga|apague) (?:o |a |os |as )?"
        r"(?P<obj>[a-z0-9 ]+)"
    ),
    re.compile(
        r"(?:enciende|encender|prende|prender|apaga|apagar) (?:el |la |los |las )?"
        r"(?P<obj>[a-z0-9 ]+)"
    ),
]


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
        self.say = _SAY.get(language, _SAY["en"])
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

    # -- deciding whether to try the tool path ------------------------------

    def mentioned(self, transcript: str) -> ToolSpec | None:
        """The first declared tool the transcript plausibly talks about, or None."""
        found = self.mentioned_all(transcript)
        return found[0] if found else None

    def mentioned_all(self, transcript: str) -> list[ToolSpec]:
        """The declared tools the transcript names, in declaration order.

        Whole words only, with difflib tolerance for misheard words of four
        letters or more, so "turn on the lamb" still finds the lamp.
        """
        text = f" {normalize(transcript)} "
        words = text.split()
        found = []
        for spec in self.specs.values():
            for word in (spec.spoken, *spec.synonyms):
                fuzzy = len(word) >= 4 and " " not in word
                if f" {word} " in text or (
                    fuzzy and difflib.get_close_matches(word, words, n=1, cutoff=FUZZY_CUTOFF)
                ):
                    found.append(spec)
                    break
        return found

    def allowed(self, transcript: str) -> dict[str, tuple[str, ...]]:
        """The calls the grammar offers for this transcript: only the tools it
        names, and only what its words ask for. A question ("is the lamp
        on?", "esta ligada?") may only read; "on", "off", "toggle" (and
        their pt/es verbs) may only do that. A transcript that names a tool
        without such a word ("I bought a new lamp") offers nothing, so no pin
        moves on a mere mention. A 135M model cannot be trusted to tell "on"
        from "off" (measured: it said "on" for "turn off the lamp"), so the
        grammar narrows the choice and the model decides call or text."""
        ordered = normalize(transcript).split()
        words = set(ordered)
        lead = next((w for w in ordered if w not in _LEADING_FILLER), "")
        question = (
            lead in _STATUS_START
            or bool(words & _STATUS_ANYWHERE)
            or transcript.strip().endswith("?")
        )
        asked = {action for action, verbs in _ACTION_WORDS.items() if words & verbs}
        out = {}
        for spec in self.mentioned_all(transcript):
            wanted = {"status"} if question else asked
            actions = tuple(a for a in spec.actions if a in wanted)
            if actions:
                out[spec.name] = actions
        return out

    def refuse_unknown_device(self, transcript: str) -> str | None:
        """For "turn on the heater" when no heater is declared: the spoken
        refusal. None when the transcript is not such a command."""
        obj = device_command(transcript)
        if obj is not None and self.mentioned(obj) is None:
            log.info("refused an undeclared device: %r", obj)
            return self.say["unknown"].format(name=obj, names=self._names())
        return None

    # -- the grammar-constrained call ----------------------------------------

    def grammar(self, allowed: dict[str, tuple[str, ...]] | None = None) -> str:
        """GBNF: a call to a declared tool with an allowed action, or plain text.

        ``allowed`` (tool -> actions, see `allowed`) narrows the calls; tools
        and actions that are not declared are dropped from it, never added.
        """
        if allowed is None:
            allowed = {name: spec.actions for name, spec in self.specs.items()}
        rules, names = [], []
        for name, actions in allowed.items():
            spec = self.specs.get(name)
            actions = tuple(a for a in actions if spec is not None and a in spec.actions)
            if not actions:
                continue
            names.append(name)
            choices = " | ".join(f'"\\"{a}\\""' for a in actions)
            rules.append(
                f'{_rule(name)} ::= "\\"{name}\\", \\"args\\": {{\\"action\\": " ({choices}) "}}"'
            )
        # No leading space either: " {...}" would be a call that skipped `allowed`.
        text = "text ::= [^{ \\t\\n] [^\\n]*"
        if not names:
            return "\n".join(["root ::= text", text])
        tools = " | ".join(_rule(name) for name in names)
        return "\n".join(
            [
                "root ::= call | text",
                f'call ::= "{{\\"tool\\": " ({tools}) "}}"',
                *rules,
                text,
            ]
        )

    def messages(self, transcript: str) -> list[Message]:
        """The prompt: the declarations, a few worked examples, then the transcript."""
        lines = [
            "You control devices. Reply with only one JSON object that names a device and an "
            'action, like {"tool": "NAME", "args": {"action": "ACTION"}}. '
            "Use only these devices and actions:"
        ]
        for spec in self.specs.values():
            kind = "switchable output" if spec.kind == "output" else "input you can read"
            lines.append(f"- {spec.name}: {kind}; actions: {', '.join(spec.actions)}")
        lines.append("If the request is not about these devices, answer in plain text.")
        out = [Message("system", "\n".join(lines))]
        for said, name, action in self._examples():
            out.append(Message("user", said))
            out.append(Message("assistant", _call_json(name, action)))
        out.append(Message("user", transcript))
        return out

    def _examples(self) -> list[tuple[str, str, str]]:
        """Worked examples for the prompt, built from the declared tools so
        they never show an undeclared name: (said, tool, action)."""
        outputs = [s for s in self.specs.values() if s.kind == "output"]
        inputs = [s for s in self.specs.values() if s.kind == "input"]
        examples = []
        if outputs:
            first, last = outputs[0], outputs[-1]
            examples += [
                (f"switch the {first.spoken} off", first.name, "off"),
                (f"is the {last.spoken} on?", last.name, "status"),
            ]
        if inputs:
            examples.append((f"check the {inputs[0].spoken}", inputs[0].name, "status"))
        return examples

    def call(self, llm: GrammarModel, transcript: str) -> ToolResult | None:
        """Ask the model for a call and run it. None when the model answered in
        plain text (the normal LLM path should answer instead). Blocks on the
        model; LLM worker thread only."""
        allowed = self.allowed(transcript)
        if not allowed:
            log.info("tool path: a tool is named but no action asked for")
            return None
        gbnf = self.grammar(allowed)
        pieces = llm.generate_with_grammar(
            self.messages(transcript), gbnf, max_tokens=MAX_CALL_TOKENS
        )
        output = ""
        try:
            for piece in pieces:
                output += piece
                if output.strip() and not output.lstrip().startswith("{"):
                    log.info("tool path: the model answered in plain text")
                    return None
        finally:
            pieces.close()  # stops generation when we return early
        log.debug("tool call output: %r", output)
        return self.execute(output, allowed)

    def execute(self, output: str, allowed: dict[str, tuple[str, ...]] | None = None) -> ToolResult:
        """Parse, validate and run one model output; refuse anything else,
        including a declared call that ``allowed`` (see `allowed`) does not offer."""
        try:
            call = self.parse(output)
            if allowed is not None and call.action not in allowed.get(call.tool, ()):
                raise ToolError(
                    f"tool call {call.tool}.{call.action} was not asked for; allowed: {allowed}",
                    self.say["not_asked"].format(name=self.specs[call.tool].spoken),
                )
            return ToolResult(self.run(call), call)
        except ToolError as exc:
            log.warning("tool call refused: %s", exc)
            return ToolResult(exc.spoken, None)

    def parse(self, output: str) -> ToolCall:
        """The validated call in ``output``; raise `ToolError` for anything but
        a declared tool with an allowed action and no other keys."""
        try:
            data = json.loads(output)
        except ValueError:
            raise ToolError(
                f"tool output {output[:60]!r} is not JSON", self.say["malformed"]
            ) from None
        if not isinstance(data, dict) or set(data) != {"tool", "args"}:
            raise ToolError(
                f"tool output {output[:60]!r} has the wrong keys", self.say["malformed"]
            )
        name, args = data["tool"], data["args"]
        if not isinstance(name, str) or name not in self.specs:
            spoken = str(name)[:30]
            raise ToolError(
                f"tool {spoken!r} is not declared; declared: {self._names()}",
                self.say["unknown"].format(name=spoken, names=self._names()),
            )
        spec = self.specs[name]
        action = args.get("action") if isinstance(args, dict) else None
        if not isinstance(args, dict) or set(args) != {"action"} or action not in spec.actions:
            raise ToolError(
                f"tool {name!r}: args {args!r} are not allowed; actions: {', '.join(spec.actions)}",
                self.say["bad_action"].format(name=spec.spoken, actions=", ".join(spec.actions)),
            )
        return ToolCall(name, action)

    def run(self, call: ToolCall) -> str:
        """Act on a validated call and say the resulting state."""
        spec = self.specs.get(call.tool)
        if spec is None or call.action not in spec.actions:  # never trust the caller
            raise ToolError(f"tool call {call!r} is not declared", self.say["malformed"])
        device = self._devices[call.tool]
        if call.action == "on":
            device.on()
        elif call.action == "off":
            device.off()
        elif call.action == "toggle":
            device.toggle()
        log.info("tool %s: %s on GPIO%d", call.tool, call.action, spec.pin)
        return self.state(call.tool)

    def state(self, name: str) -> str:
        """The spoken state of one tool, e.g. "The lamp is on."."""
        spec = self.specs[name]
        device = self._devices[name]
        if spec.kind == "output":
            key = "on" if device.value else "off"
        else:
            key = "pressed" if device.is_pressed else "released"
        return self.say[key].format(name=spec.spoken)

    def describe(self) -> str:
        """One line per tool with its pin and current state, for ``/tools``."""
        if not self.specs:
            return 'no tools declared; add outputs = ["lamp=5"] or inputs to [tools] in the config'
        lines = []
        for spec in self.specs.values():
            extra = f" (also: {', '.join(spec.synonyms)})" if spec.synonyms else ""
            lines.append(
                f"{spec.name}: {spec.kind} on GPIO{spec.pin}, actions "
                f"{'/'.join(spec.actions)}{extra} - {self.state(spec.name)}"
            )
        return "\n".join(lines)

    def _names(self) -> str:
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


def device_command(transcript: str) -> str | None:
    """The object of a device command ("turn on the heater" -> "heater"), or
    None when the transcript is not one or its object is a pronoun ("turn it off")."""
    text = normalize(transcript)
    for pattern in _DEVICE_COMMAND:
        found = pattern.fullmatch(text)
        if found and found.group("obj").split()[0] not in _PRONOUNS:
            return found.group("obj")
    return None


def no_tools_refusal(language: str = "en") -> str:
    """What to say to a device command when no tool is declared at all."""
    return _SAY.get(language, _SAY["en"])["no_tools"]


def _rule(name: str) -> str:
    return "tool-" + name.replace("_", "-")


def _call_json(name: str, action: str) -> str:
    return json.dumps({"tool": name, "args": {"action": action}})
