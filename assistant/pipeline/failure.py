"""How a worker thread reports a failure: one `WorkerFailed`, with its stage.

Workers (the listener, the reply) never change the controller's state and
never publish `TurnFailed` themselves. They catch what ends them, turn it
into one `WorkerFailed` with `worker_failure`, and post it; the controller
publishes the single `TurnFailed` if the turn is still current.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from assistant.core.errors import AssistantError
from assistant.core.events import Event

log = logging.getLogger(__name__)

_HUB_DOWN = re.compile(r"^the hub at \S+ is not answering")
"""How a remote engine reports its server down (`stages.link.not_answering`)."""

_WHERE_UNKNOWN = frozenset({"assistant", "config", "model"})
"""Stages of errors that say what is wrong but not which step: a `ModelError`
from ``stt.start()`` is a recognition failure."""


@dataclass(frozen=True)
class WorkerFailed(Event):
    """Posted to the controller (not published): turn ``turn`` failed."""

    turn: int
    stage: str
    """`AssistantError.stage`, or the step that raised anything else."""
    message: str


def worker_failure(turn: int, exc: BaseException, step: str) -> WorkerFailed:
    """The event for ``exc``, raised while the worker was in ``step`` (a
    stage name such as ``"asr"``). An `AssistantError` names its own stage,
    unless that stage says nothing of where (a `ModelError`); anything else is
    a bug, logged here with its traceback, and reported under ``step``."""
    if isinstance(exc, AssistantError):
        stage = step if exc.stage in _WHERE_UNKNOWN else exc.stage
        return WorkerFailed(turn, stage, str(exc))
    log.error("turn %d: unexpected failure in %s", turn, step, exc_info=exc)
    return WorkerFailed(turn, step, f"{type(exc).__name__}: {exc}")


def spoken_failure(stage: str, message: str) -> str | None:
    """What to say aloud after a turn failed with ``message``, or None.

    Only a hub that stopped answering for recognition or the language model
    is said: a satellite has no screen, and its own voice still works. A
    failing voice or speaker is never asked to speak its own failure.
    """
    if stage not in ("asr", "llm"):
        return None
    found = _HUB_DOWN.match(message)
    return f"Sorry, {found.group(0)}." if found else None
