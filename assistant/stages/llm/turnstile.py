"""`Turnstile`: replies that share one llama.cpp context take turns on it.

On a hub, several clients wait for answers at once. Served one whole reply
after another, the eighth client hears nothing until seven replies are
done. Through the turnstile a reply that others are waiting behind steps
aside at a sentence boundary (`LlamaLanguageModel` saves its context
first), and the waiting replies go first: a new reply (whose client hears
nothing yet) before every reply coming back for a later sentence, each
kind in order of arrival. So every client's first sentence comes before
anybody's second, even for a client that asked while the others were
already in their later sentences. A new reply steps aside sooner while
other new replies wait: once its client has a first piece to speak
(`Turn.due`). Alone, a reply never steps aside.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Iterator

from assistant.stages.tts.pacing import FirstPiece

CANCEL_POLL_S = 0.05
"""How often a waiting reply looks at its cancel event."""

SENTENCE_ENDS = (".", "!", "?", "\n", ":", ";")
STEP_TOKENS = 24
"""A reply with others waiting steps aside after this many tokens at most,
even inside a sentence (a list, a run-on answer)."""


class Turn:
    """A reply's place at the turnstile: inside or not, and its tokens since
    it last stepped aside."""

    def __init__(self) -> None:
        self.inside = True
        self.since = 0
        self.steps = 0
        self._ended = False
        self._first = FirstPiece()

    def due(self, piece: str, waiting: int, openings: int = 0) -> bool:
        """Whether to step aside after ``piece``, with ``waiting`` replies
        queued, ``openings`` of them new: at the token after a sentence's
        end, not at its full stop. A client's sentence splitter needs what
        follows the stop to know the sentence is whole, and a reply that
        ends there (the end token) then ends without waiting for everyone
        else: "The capital of France is Paris." as a whole reply waited
        behind seven others' first sentences for the end token that told its
        client to speak.

        With new replies waiting, a reply steps aside as soon as its client
        can speak its first piece ("The moon | is about..."), and at once
        if it is past it: eight satellites' first audio waited for seven
        whole first sentences where seven first pieces would do, and a new
        reply for up to `STEP_TOKENS` of a later sentence, whose client was
        already listening."""
        self.since += 1
        after_end, self._ended = self._ended, piece.rstrip(" ").endswith(SENTENCE_ENDS)
        opened = self._first.feed(piece)
        if not waiting:
            return False
        if self.since >= STEP_TOKENS or after_end or (opened and openings):
            self.since = 0
            return True
        return False


class _Ticket:
    __slots__ = ("opening",)

    def __init__(self, opening: bool) -> None:
        self.opening = opening


class Turnstile:
    """A gate for one model: opening callers (a new reply) first, then the
    others (a reply back for a later sentence), each first-come,
    first-served; `waiting` counts the callers queued behind the one inside."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[_Ticket] = deque()
        self._busy = False
        self.entries = 0
        """Turns taken so far: a reply that stepped aside takes several."""

    @property
    def waiting(self) -> int:
        return len(self._queue)

    @property
    def queued(self) -> tuple[int, int]:
        """The `waiting` callers, and how many of them are new replies
        (their clients hear nothing yet): `Turn.due`'s arguments."""
        with self._cond:
            return len(self._queue), sum(ticket.opening for ticket in self._queue)

    def enter(self, cancel: threading.Event | None = None, *, opening: bool = True) -> bool:
        """Block until it is the caller's turn and return True; return False
        (without entering) once ``cancel`` is set while waiting. An
        ``opening`` caller queues behind the opening ones only, ahead of
        every caller back for more (``opening=False``)."""
        ticket = _Ticket(opening)
        with self._cond:
            if opening:
                # Behind the last opening ticket: those before it are opening too.
                at = next((i for i, t in enumerate(self._queue) if not t.opening), None)
                self._queue.insert(len(self._queue) if at is None else at, ticket)
            else:
                self._queue.append(ticket)
            self._cond.notify_all()  # for `wait_for_waiting`
            try:
                while self._busy or self._queue[0] is not ticket:
                    if cancel is not None and cancel.is_set():
                        return False
                    self._cond.wait(CANCEL_POLL_S if cancel is not None else None)
                self._busy = True
                self.entries += 1
                return True
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()

    def leave(self) -> None:
        """Hand the model to the longest waiter."""
        with self._cond:
            self._busy = False
            self._cond.notify_all()

    def wait_for_waiting(self, n: int, timeout_s: float) -> bool:
        """Block until at least ``n`` callers are queued; False after
        ``timeout_s`` (for tests and benches)."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._queue) >= n, timeout_s)

    @contextlib.contextmanager
    def turn(self, cancel: threading.Event | None = None) -> Iterator[Turn | None]:
        """A `Turn` inside the gate for the block (left at its end unless it
        was given up while stepping aside), or None if ``cancel`` came first."""
        if not self.enter(cancel):
            yield None
            return
        turn = Turn()
        try:
            yield turn
        finally:
            if turn.inside:
                self.leave()
