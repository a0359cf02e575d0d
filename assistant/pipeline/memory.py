"""Conversation memory: the system prompt, the last few exchanges, and the
last thing said.

Pure Python and model-free, so it is tested with plain calls. The language
model decides what fits; `Conversation.trim` only asks it through a callback.

When history must shrink, at least half of it goes at once. Dropping the
single oldest exchange would change the prompt right after the system
prompt on every later turn, so llama.cpp could reuse only the system prompt
from its KV cache and would re-evaluate the whole history each turn
(measured: 1.8 s instead of 0.3 s to the first token for a 400-token prompt
on the 2-core dev box). Halving makes that re-evaluation rare.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from assistant.core.messages import Message

log = logging.getLogger(__name__)


class Conversation:
    """The system prompt, up to ``max_turns`` past (user, reply) exchanges,
    and `last_reply`.

    Thread-safe: the reply worker may `add` or `note_reply` while another
    thread calls `reset` (the "forget" intent) or reads `messages`. Every
    method is quick except `trim`, which calls ``fits`` (tokenizing,
    milliseconds) under the lock.
    """

    def __init__(self, system_prompt: str, max_turns: int) -> None:
        if max_turns < 0:
            raise ValueError(f"max_turns = {max_turns} is negative; use 0 to keep no history")
        self.system_prompt = system_prompt
        self.max_turns = max_turns
        self._exchanges: list[tuple[str, str]] = []
        self._last_reply = ""
        self._lock = threading.RLock()

    @property
    def last_reply(self) -> str:
        """What was said last, by any path (the LLM, an intent, a tool, a
        timer alert), for "repeat that"; "" before the first reply."""
        with self._lock:
            return self._last_reply

    def note_reply(self, spoken: str) -> None:
        """Remember ``spoken`` as `last_reply`; an empty reply (a "stop", or
        one cancelled before its first word) changes nothing."""
        if spoken.strip():
            with self._lock:
                self._last_reply = spoken

    def __len__(self) -> int:
        """Number of exchanges held."""
        with self._lock:
            return len(self._exchanges)

    def messages(self, user_text: str | None = None) -> list[Message]:
        """System message, the history in order, then ``user_text`` if given."""
        return self._messages_without(0, user_text)

    def add(self, user_text: str, reply_text: str) -> None:
        """Record one finished exchange. Beyond ``max_turns``, the oldest
        half of the history is dropped.

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
            if len(self._exchanges) > self.max_turns:
                self._drop(len(self._exchanges) - self.max_turns)

    def reset(self) -> None:
        """Forget every exchange and `last_reply`; the system prompt stays."""
        with self._lock:
            self._exchanges.clear()
            self._last_reply = ""

    def trim(self, fits: Callable[[list[Message]], bool], user_text: str) -> int:
        """Drop the oldest exchanges until ``fits(self.messages(user_text))``;
        when any must go, at least half of them go.

        Returns how many exchanges were dropped. When even the system prompt
        and ``user_text`` alone do not fit, all history is dropped and the
        model is left to deal with the rest (it shortens its reply budget or
        raises `LanguageModelError`).
        """
        with self._lock:
            needed = 0
            while needed < len(self._exchanges) and not fits(
                self._messages_without(needed, user_text)
            ):
                needed += 1
            return self._drop(needed) if needed else 0

    def _messages_without(self, oldest: int, user_text: str | None = None) -> list[Message]:
        """`messages` as they would be with the ``oldest`` exchanges dropped."""
        with self._lock:
            kept = self._exchanges[oldest:]
            out = [Message("system", self.system_prompt)] if self.system_prompt else []
            for user, reply in kept:
                out.append(Message("user", user))
                out.append(Message("assistant", reply))
        if user_text is not None:
            out.append(Message("user", user_text))
        return out

    def _drop(self, needed: int) -> int:
        """Drop the ``needed`` oldest exchanges, or the oldest half if more."""
        count = min(len(self._exchanges), max(needed, (len(self._exchanges) + 1) // 2))
        del self._exchanges[:count]
        log.debug("dropped %d old exchange(s); %d kept", count, len(self._exchanges))
        return count
