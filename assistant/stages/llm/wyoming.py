"""`WyomingLanguageModel`: a Wyoming ``handle`` service on the LAN answers
(``assistant serve`` on a bigger machine, or any Wyoming handle server).

The hub replaces both the skills and the language model on its side: it gets
the question as a ``transcript`` event and answers with ``handled`` (or
``not-handled``), or streams ``handled-start``, ``handled-chunk``\\*,
``handled-stop``. The satellite's own skills (time, timers, volume: the fast
path) still answer first; only what they do not know goes to the hub. The
hub keeps its own persona and memory: only the last user message is sent,
with the ``context`` of the hub's previous answer. A ``handled`` after
streamed chunks (sent for clients that do not stream) ends the answer
without repeating it. Timer events before it (``timer-started``,
``timer-updated``, ``timer-cancelled``, ``timer-finished``: a timer the
hub's skills set for this turn) go to ``on_timer``, so the satellite runs
the countdown itself. A busy hub is asked again (`retry`). Needs the
``wyoming`` package (``pip install .[hub]``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Sequence
from typing import Any

from wyoming.asr import Transcript
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled, HandledChunk, HandledStart, HandledStop, NotHandled
from wyoming.timer import TimerCancelled, TimerFinished, TimerStarted, TimerUpdated

from assistant.core.errors import LanguageModelError
from assistant.core.messages import Message
from assistant.core.uris import Address
from assistant.stages.link import Cancelled, WyomingLink, describe
from assistant.stages.llm.base import GenerationStats
from assistant.stages.retry import (
    BUSY_BUDGET_S,
    Backoff,
    retry_busy,
    retry_busy_stream,
)

TimerSink = Callable[[str, str, int, str], None]
"""``on_timer(kind, timer_id, seconds, name)``: ``kind`` is ``started``
(``seconds`` long), ``updated`` (``seconds`` left), ``paused``,
``cancelled`` or ``finished``; called on the LLM worker thread."""

log = logging.getLogger(__name__)

_FIX = "start it, or fix llm.url (or --hub)"


class WyomingLanguageModel:
    """The hub's ``handle`` service at ``address``; see `base.LanguageModel`.

    One connection per question, closed when the answer ends, on cancel, or
    when the caller closes the iterator. ``language`` goes with each
    question. Grammar-constrained calls (the declared GPIO tools) are not
    possible through a hub: they fail with `LanguageModelError`. A busy hub
    is asked again for at most ``busy_budget_s``. ``on_timer`` (a
    `TimerSink`, set by the composition root) gets the answer's timer events.
    """

    def __init__(
        self,
        address: Address,
        language: str = "",
        *,
        busy_budget_s: float = BUSY_BUDGET_S,
        **link_options: float,
    ) -> None:
        self.address = address
        self.name = f"hub {address}"
        self.language = language or None
        self.last_stats = GenerationStats()
        self.busy_budget_s = busy_budget_s
        self.on_timer: TimerSink | None = None
        self._link_options = link_options
        self._context: dict[str, Any] | None = None
        """The hub's context from its last answer, sent back with the next question."""

    def _link(self) -> WyomingLink:
        return WyomingLink(self.address, error=LanguageModelError, fix=_FIX, **self._link_options)

    def generate(
        self, messages: Sequence[Message], cancel: threading.Event | None = None
    ) -> Generator[str, None, None]:
        """See `LanguageModel.generate`: the last user message, answered by the hub."""
        question = next((m.content for m in reversed(messages) if m.role == "user"), "")
        return self._ask(question, cancel)

    def _ask(self, question: str, cancel: threading.Event | None) -> Generator[str, None, None]:
        yield from retry_busy_stream(
            lambda: self._ask_once(question, cancel),
            Backoff(self.busy_budget_s),
            cancel,
            LanguageModelError,
            self.address,
        )

    def _ask_once(
        self, question: str, cancel: threading.Event | None
    ) -> Generator[str, None, None]:
        started = time.monotonic()
        first_token_s, pieces, stop, streamed = 0.0, 0, "error", False
        try:
            with self._link() as link:
                link.write(Transcript(question, self._context, self.language).event())
                try:
                    while True:
                        event = link.read(cancel)
                        text = ""
                        if Handled.is_type(event.type) or NotHandled.is_type(event.type):
                            # After a stream it repeats the chunks, for clients that do not stream.
                            answer = Handled.from_event(event)
                            self._context = answer.context or self._context
                            text = "" if streamed else answer.text or ""
                            stop = "end"
                        elif HandledStart.is_type(event.type):
                            streamed = True
                            self._context = HandledStart.from_event(event).context
                        elif HandledChunk.is_type(event.type):
                            streamed = True
                            text = HandledChunk.from_event(event).text
                        elif HandledStop.is_type(event.type):
                            stop = "end"
                        elif Error.is_type(event.type):
                            why = Error.from_event(event).text
                            raise LanguageModelError(f"the hub at {self.address} failed: {why}")
                        elif event.type.startswith("timer-"):
                            self._timer(event)
                        if text:
                            if not pieces:
                                first_token_s = time.monotonic() - started
                            pieces += 1
                            yield text
                        if stop == "end":
                            return
                except Cancelled:
                    stop = "cancelled"
                except GeneratorExit:
                    stop = "closed"
                    raise
        finally:
            self.last_stats = GenerationStats(
                generated_tokens=pieces,
                first_token_s=first_token_s,
                total_s=time.monotonic() - started,
                stop=stop,
            )

    def _timer(self, event: Event) -> None:
        """Hand a timer event to ``on_timer``; a malformed one is logged and dropped."""
        if self.on_timer is None:
            log.debug("ignoring %s: nothing follows the hub's timers here", event.type)
            return
        try:
            if TimerStarted.is_type(event.type):
                started = TimerStarted.from_event(event)
                self.on_timer("started", started.id, int(started.total_seconds), started.name or "")
            elif TimerUpdated.is_type(event.type):
                updated = TimerUpdated.from_event(event)
                kind = "updated" if updated.is_active else "paused"
                self.on_timer(kind, updated.id, int(updated.total_seconds), "")
            elif TimerCancelled.is_type(event.type):
                self.on_timer("cancelled", TimerCancelled.from_event(event).id, 0, "")
            elif TimerFinished.is_type(event.type):
                self.on_timer("finished", TimerFinished.from_event(event).id, 0, "")
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("ignoring a malformed %s from the hub: %s", event.type, exc)

    def generate_with_grammar(
        self,
        messages: Sequence[Message],
        gbnf: str,
        cancel: threading.Event | None = None,
        *,
        max_tokens: int = 64,
    ) -> Generator[str, None, None]:
        """Not possible through a hub: raises `LanguageModelError`."""
        raise LanguageModelError(
            f"the hub at {self.address} answers whole questions, so it cannot call the "
            "declared [tools]; use llm.backend = 'llama' or 'openai' for them"
        )

    def prefill(self, messages: Sequence[Message], cancel: threading.Event | None = None) -> int:
        """See `LanguageModel.prefill`: the hub's cache is its own; 0."""
        return 0

    def fits(self, messages: Sequence[Message]) -> bool:
        """Always: only the last message is sent, and the hub trims its own memory."""
        return True

    def warm_up(self) -> None:
        """Check that the hub answers and offers ``handle``."""

        def ask() -> Any:
            with self._link() as link:
                return describe(link)

        backoff = Backoff(self.busy_budget_s)
        info = retry_busy(ask, backoff, None, LanguageModelError, self.address)
        if not info.handle:
            raise LanguageModelError(
                f"the service at {self.address} does not answer questions (no handle "
                "service); point llm.url at `assistant serve` or another Wyoming handle server"
            )
        log.info("handle at %s: %s", self.address, info.handle[0].name)

    def close(self) -> None:
        """Nothing to free; safe to call twice."""
