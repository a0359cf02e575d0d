"""The controller's worker threads: which are alive, joining them all, and
the reply worker's body.

Workers run in order per kind: a listener waits for the previous listener
(they share the microphone), and a reply or a prefill waits for the previous
reply (llama.cpp allows one thread at a time). `Workers` only keeps the
threads; the controller thread starts them, and `Controller.stop` joins them
once the controller thread has ended, so the list no longer changes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from assistant.core.events import Event
from assistant.pipeline.failure import worker_failure
from assistant.pipeline.memory import Conversation
from assistant.pipeline.prefill import Prefill
from assistant.pipeline.reply import answer, say
from assistant.pipeline.shortcuts import Shortcuts
from assistant.pipeline.turns import AlertTurn, Replied, Turn, VoiceTurn
from assistant.stages.llm.base import LanguageModel


class Workers:
    """The worker threads started for turns, for `join` to wait on."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self.last_listener: threading.Thread | None = None
        """The newest ``listen-N`` thread: the next listener waits for it."""
        self.last_replier: threading.Thread | None = None
        """The newest ``reply-N`` thread: the next reply and prefill wait for it."""

    def start(self, thread: threading.Thread) -> None:
        """Start ``thread`` and keep it for `join`; forget the ended ones."""
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    def start_prefill(
        self, turn: VoiceTurn, llm: LanguageModel, conversation: Conversation
    ) -> None:
        """Start the turn's ``prefill-N`` worker; it waits for the last reply."""
        turn.prefill = Prefill(
            turn.id, llm=llm, conversation=conversation, previous=self.last_replier
        )
        self.start(turn.prefill.thread)

    def start_reply(
        self,
        turn: Turn,
        llm: LanguageModel,
        conversation: Conversation,
        skills: Shortcuts | None,
        post: Callable[[Event], None],
    ) -> None:
        """Start the turn's ``reply-N`` worker (`run_reply`)."""
        turn.replier = threading.Thread(
            target=run_reply,
            args=(turn, self.last_replier),
            kwargs={"llm": llm, "conversation": conversation, "skills": skills, "post": post},
            name=f"reply-{turn.id}",
            daemon=True,
        )
        self.last_replier = turn.replier
        self.start(turn.replier)

    def join(self, deadline_s: float) -> bool:
        """Wait for every worker until ``deadline_s`` (`time.monotonic`);
        True when none is alive any more."""
        for thread in self._threads:
            thread.join(max(0.0, deadline_s - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)


def run_reply(
    turn: Turn,
    previous: threading.Thread | None,
    *,
    llm: LanguageModel,
    conversation: Conversation,
    skills: Shortcuts | None,
    post: Callable[[Event], None],
) -> None:
    """The ``reply-N`` worker: speak the turn's reply and post `Replied`, or
    one `WorkerFailed`.

    It first waits for the previous reply and for the turn's prefill, which
    the controller cancelled when the transcript came: llama.cpp allows one
    thread at a time, and a cancelled worker stops at its next token or
    chunk (mid-prompt through the abort callback), so the wait is short.
    """
    if previous is not None:
        previous.join()
    prefill = turn.prefill if isinstance(turn, VoiceTurn) else None
    if prefill is not None:
        prefill.finish()  # the controller did already, unless the turn was abandoned
        prefill.thread.join()
    try:
        if isinstance(turn, AlertTurn):
            result = say(turn.streamer, conversation, turn.text, cancel=turn.cancel)
        else:
            result = answer(
                turn.streamer,
                llm,
                conversation,
                turn.transcript,
                shortcuts=skills,
                cancel=turn.cancel,
            )
            if prefill is not None:
                result.prefill_tokens = prefill.tokens
        post(Replied(turn, result))
    except Exception as exc:
        # The streamer and `answer` raise each stage's own error; what is
        # left (memory trimming asks the model) is the LLM's step.
        post(worker_failure(turn.id, exc, "llm"))
