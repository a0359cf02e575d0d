"""The hub's conversations: memory that outlives a connection.

A client may keep one connection for many turns, or open one per question
(as the satellites' remote language model does) and carry the hub's
``context`` from each ``handled`` answer to its next ``transcript``, as
Home Assistant does with its conversation id. Either way the turns land in
the same `Session`: the context holds ``conversation_id``, a random token
the hub made, so one client cannot stumble into another's memory. At most
`MAX_CONVERSATIONS` are kept; the least recently used is forgotten first.
Used on the event-loop thread only.
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable

from assistant.hub.services import Session

log = logging.getLogger(__name__)

MAX_CONVERSATIONS = 64
"""Conversations remembered at once: a household's satellites and Home
Assistant several times over. Each holds at most ``llm.max_turns`` exchanges."""
CONTEXT_KEY = "conversation_id"


class Conversations:
    """`Session`\\s by conversation id, least recently used first."""

    def __init__(self, new_session: Callable[[], Session], limit: int = MAX_CONVERSATIONS) -> None:
        self._new_session = new_session
        self._limit = limit
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, conversation_id: str | None) -> tuple[str, Session]:
        """The session for ``conversation_id``, or a new one (with a new id)
        when it is None or unknown (forgotten, or made up)."""
        if conversation_id is not None and conversation_id in self._sessions:
            self._sessions.move_to_end(conversation_id)
            return conversation_id, self._sessions[conversation_id]
        conversation_id = secrets.token_hex(8)
        self._sessions[conversation_id] = session = self._new_session()
        while len(self._sessions) > self._limit:
            _old, oldest = self._sessions.popitem(last=False)
            oldest.close()
        log.debug("new conversation %s (%d kept)", conversation_id, len(self._sessions))
        return conversation_id, session

    def close(self) -> None:
        """Forget every conversation and close its skills; safe to call twice."""
        while self._sessions:
            self._sessions.popitem()[1].close()


def conversation_id(context: object) -> str | None:
    """The id in a client's ``context``, if it holds a string one."""
    if isinstance(context, dict):
        value = context.get(CONTEXT_KEY)
        if isinstance(value, str) and len(value) <= 64:
            return value
    return None
