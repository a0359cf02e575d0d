"""Speculative prefill: read the prompt into the model while the user speaks.

One `Prefill` per voice turn, on its own worker thread ``prefill-N``:

    wait for the previous reply -> until finished: take the latest partial
    transcript, drop its last word, llm.prefill(conversation + those words)

At the release only the difference (the last words, the end of the user's
turn and the assistant's header) is left to evaluate, so the first token
comes sooner. It never changes the answer: the reply is generated from the
final transcript, and the model evaluates only what it does not already
hold. The conversation is only read.

`offer` is called on the listen thread with each new partial and never
blocks: partials are coalesced, the latest wins. `finish` (the controller,
when the final transcript arrives or the turn is abandoned) cancels the
prefill in progress; the reply worker then joins `thread` before it
generates, so the two never use the model at once. A failed prefill is
logged and ends the prefill; the turn goes on without it.
"""

from __future__ import annotations

import logging
import threading

from assistant.pipeline.memory import Conversation
from assistant.stages.llm.base import LanguageModel

log = logging.getLogger(__name__)


def stable_part(partial: str) -> str:
    """The words of ``partial`` that are unlikely to change: all but the
    last, which a recognizer often revises ("cap" -> "capital")."""
    words = partial.split()
    return " ".join(words[:-1])


class Prefill:
    """The prefill worker of turn ``turn``, run by `thread`, which the
    caller starts; joined by the reply worker and by `Controller.stop`."""

    def __init__(
        self,
        turn: int,
        *,
        llm: LanguageModel,
        conversation: Conversation,
        previous: threading.Thread | None = None,
    ) -> None:
        self.llm = llm
        self.conversation = conversation
        self._previous = previous
        self._latest: str | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._finished = threading.Event()
        self.tokens = 0
        """Prompt tokens the prefills evaluated; read after joining `thread`."""
        self.thread = threading.Thread(target=self._run, name=f"prefill-{turn}", daemon=True)

    def offer(self, partial: str) -> None:
        """A new partial transcript, from the listen thread; never blocks."""
        with self._lock:
            self._latest = partial
        self._wake.set()

    def finish(self) -> None:
        """Stop: cancel the prefill in progress (it keeps what it evaluated)
        and take no more partials. Any thread; never blocks."""
        self._finished.set()
        self._wake.set()

    def _run(self) -> None:
        if self._previous is not None:
            # The model is the previous reply's until it ends; it was
            # cancelled or is finishing, so this is short.
            self._previous.join()
        done = ""
        while not self._finished.is_set():
            self._wake.wait()
            with self._lock:
                latest, self._latest = self._latest, None
                self._wake.clear()
            # Checked after the clear: a `finish` before it is seen here, one
            # after it sets the event again.
            if self._finished.is_set():
                break
            text = stable_part(latest or "")
            if not text or text == done:
                continue
            done = text
            try:
                self.tokens += self.llm.prefill(self.conversation.messages(text), self._finished)
            except Exception:
                log.warning("prefill failed; the reply reads the whole prompt", exc_info=True)
                break
        log.debug("prefill evaluated %d prompt tokens", self.tokens)
