"""What the pipeline asks before the language model: the contract the skills fulfil.

The pipeline knows nothing of intents, timers or GPIO tools. It hands each
transcript to a `Shortcuts` object, once; an `Answer` is spoken instead of an
LLM reply, and None sends the transcript to the language model. The concrete
implementation is `assistant.skills.Skills`, picked by the composition root.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Answer:
    text: str
    """What to say, spoken like any reply; empty for "stop"."""
    path: str
    """Which path answered: ``"intent"`` or ``"tool"``."""
    action: str = ""
    """The intent or tool action, for logs: ``time``, ``timer.set``,
    ``tool.lamp.on``, ``tool.refused`` and so on."""


class Shortcuts(Protocol):
    """Answers that come before, or instead of, the language model.

    `answer` runs on the LLM worker thread and may block on the language
    model (a grammar-constrained tool call), so it honours ``cancel``.
    `due_alerts` may be called from any thread. The composition root closes
    it after the controller has stopped.
    """

    def answer(
        self, transcript: str, last_reply: str, cancel: threading.Event | None = None
    ) -> Answer | None:
        """The answer to ``transcript``, or None for the language model.

        ``last_reply`` is what was said last, by any path, for "repeat that".
        """
        ...

    def due_alerts(self) -> list[str]:
        """Texts to speak for the timers that just came due; removes them."""
        ...

    def close(self) -> None:
        """Release what the skills hold (GPIO pins); safe to call twice."""
        ...
