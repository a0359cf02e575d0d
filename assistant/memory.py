"""Conversation memory: the system prompt plus the last few exchanges.

Pure Python and model-free, so it is tested with plain calls. The language
model decides what fits; `Conversation.trim` only asks it through a callback.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .llm import Message

log = logging.getLogger(__name__)


class Conversation:
    """The system prompt and up to ``max_turns`` past (user, reply) exchanges.

    Thread-safe: the controller may `add` or `reset` from its thread while a
    worker reads `messages`. Every method is quick except `trim`, which calls
    ``fits`` (tokenizing, milliseconds) under the lock.
    """

    def __init__(self, system_prompt: str, max_turns: int) -> None:
        if max_turns < 0:
            raise ValueError(f"max_turns = {max_turns} is negative; use 0 to keep no history")
        self.system_prompt = system_prompt
        self.max_turns = max_turns
        self._exchanges: list[tuple[str, str]] = []
        self._lock = threading.RLock()

    def __len__(self) -> int:
        """Number of exchanges held."""
        with self._lock:
            return len(self._exchanges)

    def messages(self, user_text: str | None = None) -> list[Message]:
        """System message, the history in order, then ``user_text`` if given."""
        with self._lock:
            out = [Message("system", self.system_prompt)] if self.system_prompt else []
            for user, reply in self._exchanges:
                out.append(Message("user", user))
                out.append(Message("assistant", reply))
        if user_text is not None:
            out.append(Message("user", user_text))
        return out

    def add(self, user_text: str, reply_text: str) -> None:
        """Record one finished exchange; drop the oldest beyond ``max_turns``.

        An exchange whose reply is empty (cancelled before the first token, or
        the model said nothing) is not recorded: a user message without an
        answer would break the user/assistant alternation chat templates
        expect. A partial reply from a cancelled turn is recorded as it is.
        """
        if not user_text.strip() or not reply_text.strip():
            log.debug("not recording an exchange with an empty side")
            return
        with self._lock:
            self._exchanges.append((user_text, reply_text))
            excess = len(self._exchanges) - self.max_turns
            if excess > 0:
                del self._exchanges[:excess]

    def reset(self) -> None:
        """Forget every exchange; the system prompt stays."""
        with self._lock:
            self._exchanges.clear()

    def trim(self, fits: Callable[[list[Message]], bool], user_text: str) -> int:
        """Drop the oldest exchanges until ``fits(self.messages(user_text))``.

        Returns how many exchanges were dropped. When even the system prompt
        and ``user_text`` alone do not fit, all history is dropped and the
        model is left to deal with the rest (it shortens its reply budget or
        raises `LanguageModelError`).
        """
        dropped = 0
        with self._lock:
            while self._exchanges and not fits(self.messages(user_text)):
                del self._exchanges[0]
                dropped += 1
        if dropped:
            log.debug("dropped %d old exchange(s) to fit the context", dropped)
        return dropped
