"""The tool call: its grammar, its prompt, and the parse that validates it.

The model's output is never executed. Its output is constrained by a
llama.cpp grammar (GBNF) whose root is either exactly ``{"tool": "<declared
name>", "args": {"action": "<allowed action>"}}`` or plain text, nothing in
between; the grammar offers only the calls the transcript's words asked
for (the ``allowed`` slot of a device intent). `parse_call` then checks the
output against the declarations and that narrowed set again, so even a model
that ignored the grammar could not name an undeclared device or an action
the user did not ask for. Pure functions: no pin, no model.
"""

from __future__ import annotations

import json
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assistant.core.errors import AssistantError
from assistant.core.messages import Message
from assistant.skills.devices import ToolSpec

MAX_CALL_TOKENS = 40
"""Enough for the longest call; a plain-text answer is cut off after the
first piece anyway (see `ToolBox.call`)."""

Allowed = Mapping[str, Sequence[str]]
"""Declared device name -> the actions a call may ask of it this turn."""


class ToolError(AssistantError, ValueError):
    """A tool call names an undeclared tool, carries a bad argument, or was
    not asked for. It is refused out loud, never run: ``spoken`` is the
    explanation to say to the user."""

    stage = "tools"

    def __init__(self, message: str, spoken: str) -> None:
        super().__init__(message)
        self.spoken = spoken


@dataclass(frozen=True)
class ToolCall:
    tool: str
    """A declared device name."""
    action: str
    """One of that device's actions."""


def grammar(specs: Mapping[str, ToolSpec], allowed: Allowed | None = None) -> str:
    """GBNF: a call to a declared tool with an allowed action, or plain text.

    ``allowed`` narrows the calls (None: every declared call); tools and
    actions that are not declared are dropped from it, never added.
    """
    if allowed is None:
        allowed = {name: spec.actions for name, spec in specs.items()}
    rules, names = [], []
    for name, wanted in allowed.items():
        spec = specs.get(name)
        actions = tuple(a for a in wanted if spec is not None and a in spec.actions)
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
        ["root ::= call | text", f'call ::= "{{\\"tool\\": " ({tools}) "}}"', *rules, text]
    )


def messages(specs: Mapping[str, ToolSpec], transcript: str) -> list[Message]:
    """The prompt: the declarations, a few worked examples, then the transcript."""
    lines = [
        "You control devices. Reply with only one JSON object that names a device and an "
        'action, like {"tool": "NAME", "args": {"action": "ACTION"}}. '
        "Use only these devices and actions:"
    ]
    for spec in specs.values():
        kind = "switchable output" if spec.kind == "output" else "input you can read"
        lines.append(f"- {spec.name}: {kind}; actions: {', '.join(spec.actions)}")
    lines.append("If the request is not about these devices, answer in plain text.")
    out = [Message("system", "\n".join(lines))]
    for said, name, action in _examples(specs):
        out.append(Message("user", said))
        out.append(Message("assistant", json.dumps({"tool": name, "args": {"action": action}})))
    out.append(Message("user", transcript))
    return out


def _examples(specs: Mapping[str, ToolSpec]) -> list[tuple[str, str, str]]:
    """Worked examples for the prompt, built from the declared tools so they
    never show an undeclared name: (said, tool, action)."""
    outputs = [s for s in specs.values() if s.kind == "output"]
    inputs = [s for s in specs.values() if s.kind == "input"]
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


def parse_call(
    specs: Mapping[str, ToolSpec],
    output: str,
    replies: Mapping[str, Any],
    allowed: Allowed | None = None,
) -> ToolCall:
    """The validated call in the model's ``output``.

    Raise `ToolError` (with the sentence from ``replies`` to say) for
    anything but a declared tool with one of its actions and no other keys,
    and for a declared call that ``allowed`` does not offer. Strict JSON: a
    repeated key, NaN or Infinity, or nesting deeper than Python's recursion
    limit is malformed too. Nothing else is raised, whatever ``output`` is.
    """
    try:
        data = json.loads(output, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested too deep
        raise ToolError(f"tool output {output[:60]!r} is not JSON", replies["malformed"]) from None
    if not isinstance(data, dict) or set(data) != {"tool", "args"}:
        raise ToolError(f"tool output {output[:60]!r} has the wrong keys", replies["malformed"])
    name, args = data["tool"], data["args"]
    if not isinstance(name, str) or name not in specs:
        spoken = (name if isinstance(name, str) else _short(name))[:30]
        names = ", ".join(spec.spoken for spec in specs.values())
        raise ToolError(
            f"tool {spoken!r} is not declared; declared: {names}",
            replies["no_such_device"].format(name=spoken, names=names),
        )
    spec = specs[name]
    action = args.get("action") if isinstance(args, dict) else None
    if not isinstance(args, dict) or set(args) != {"action"} or action not in spec.actions:
        actions = ", ".join(spec.actions)
        raise ToolError(
            f"tool {name!r}: args {_short(args)} are not allowed; actions: {actions}",
            replies["bad_action"].format(name=spec.spoken, actions=actions),
        )
    if allowed is not None and action not in allowed.get(name, ()):
        raise ToolError(
            f"tool call {name}.{action} was not asked for; allowed: {dict(allowed)}",
            replies["not_asked"].format(name=spec.spoken),
        )
    return ToolCall(name, action)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: with ``{"tool": "fan",
    "tool": "lamp"}`` parsers disagree on which one counts."""
    data = dict(pairs)
    if len(data) != len(pairs):
        raise ValueError("a key is repeated")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_REPR = reprlib.Repr()  # keyword arguments only from Python 3.12
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 40, 40


def _short(value: object) -> str:
    """A short repr of anything from the model: bounded in length and depth
    (a plain repr of "[[[[...]]]]" can exhaust the recursion limit)."""
    return _REPR.repr(value)


def _rule(name: str) -> str:
    return "tool-" + name.replace("_", "-")
