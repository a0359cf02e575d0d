"""The hub's conversations: memory that outlives a connection.

A client may keep one connection for many turns, or open one per question
and carry a conversation id in the ``transcript``'s ``context``
(``{"conversation_id": ...}``). Two kinds of id land in the same store:

- the hub's own: a random token the hub made, returned in the ``context``
  of ``handled-start`` and ``handled``, which the project's satellites send
  back with their next question;
- the client's own: Home Assistant 2024.9 and later open one connection per
  turn and send the conversation id that they keep (a ULID). An id the hub
  does not know is adopted as a new conversation's key, so HA's next turn
  under the same id finds the memory.

Every id is scoped to the client's host: the same id from another host is
another conversation, so one machine cannot stumble into another's memory.
An id longer than `MAX_ID_CHARS` or with other characters than letters,
digits and ``._:-`` is ignored with a debug line (a fresh conversation).
At most `MAX_CONVERSATIONS` are kept; the least recently used is forgotten
first. Used on the event-loop thread only.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable

from assistant.hub.services import Session

log = logging.getLogger(__name__)

MAX_CONVERSATIONS = 64
"""Conversations remembered at once: a household's satellites and Home
Assistant several times over. Each holds at most ``llm.max_turns`` exchanges."""
CONTEXT_KEY = "conversation_id"
MAX_ID_CHARS = 64
_ID = re.compile(r"[A-Za-z0-9._:-]+")


class Conversations:
    """`Session`\\s by (host, conversation id), least recently used first."""

    def __init__(self, new_session: Callable[[], Session], limit: int = MAX_CONVERSATIONS) -> None:
        self._new_session = new_session
        self._limit = limit
        self._sessions: OrderedDict[tuple[str, str], Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, conversation_id: str | None, host: str = "") -> tuple[str, Session]:
        """The session of ``conversation_id`` for a client on ``host``: the
        one kept under it, else a new one under that id (the client's own,
        or one forgotten); with None, a new one under a new id of the hub's."""
        conversation_id = conversation_id or secrets.token_hex(8)
        key = (host, conversation_id)
        if key in self._sessions:
            self._sessions.move_to_end(key)
            return conversation_id, self._sessions[key]
        self._sessions[key] = session = self._new_session()
        while len(self._sessions) > self._limit:
            _old, oldest = self._sessions.popitem(last=False)
            oldest.close()
        kept = len(self._sessions)
        log.debug("new conversation %s for %s (%d kept)", conversation_id, host, kept)
        return conversation_id, session

    def close(self) -> None:
        """Forget every conversation and close its skills; safe to call twice."""
        while self._sessions:
            self._sessions.popitem()[1].close()


def conversation_id(context: object) -> str | None:
    """The id in a client's ``context``, when it holds a well-formed one."""
    if not isinstance(context, dict) or context.get(CONTEXT_KEY) is None:
        return None
    value = context[CONTEXT_KEY]
    if isinstance(value, str) and len(value) <= MAX_ID_CHARS and _ID.fullmatch(value):
        return value
    log.debug(
        "ignoring the conversation id %.80r: expected up to %d letters, digits or ._:-",
        value,
        MAX_ID_CHARS,
    )
    return None
