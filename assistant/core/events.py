"""Pipeline state and events.

Events are past-tense facts as frozen dataclasses. The controller publishes
them on an `EventBus`; LEDs, the console, logs and metrics only subscribe.
Inputs (button presses) are events too, sent *to* the controller.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


class State(enum.Enum):
    IDLE = "idle"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    ERROR = "error"


def _now() -> float:
    return time.monotonic()


@dataclass(frozen=True)
class Event:
    at_s: float = field(default_factory=_now, kw_only=True)
    """`time.monotonic()` when the event happened, in seconds."""


# Inputs: sent to the controller by GPIO, the keyboard or tests.
@dataclass(frozen=True)
class ButtonPressed(Event):
    pass


@dataclass(frozen=True)
class ButtonReleased(Event):
    pass


@dataclass(frozen=True)
class CancelPressed(Event):
    pass


@dataclass(frozen=True)
class WakeDetected(Event):
    """A wake word was heard: starts a turn like `ButtonPressed` (and, while
    it speaks with ``wake.barge_in``, stops the reply). The controller
    publishes it on the bus when it acts on it, for the LEDs and earcons."""

    word: str
    """Model id, e.g. ``hey_mycroft``."""
    score: float
    """The detector's averaged probability, 0 to 1."""
    t_s: float = 0.0
    """Where in the microphone's stream it ended, in seconds since it opened."""


# Facts the controller publishes.
@dataclass(frozen=True)
class StateChanged(Event):
    old: State
    new: State


@dataclass(frozen=True)
class PartialTranscript(Event):
    text: str


@dataclass(frozen=True)
class TranscriptReady(Event):
    text: str


@dataclass(frozen=True)
class ReplyToken(Event):
    text: str


@dataclass(frozen=True)
class SentenceSpoken(Event):
    text: str
    """A sentence whose audio was all handed to the speaker."""


@dataclass(frozen=True)
class EndpointReached(Event):
    """A turn with no button release stopped listening by itself."""

    endpoint_ms: float
    """From the last voiced audio to the end of listening, in milliseconds."""


@dataclass(frozen=True)
class TurnIgnored(Event):
    reason: str
    """Why no reply was made: ``short-press`` or ``no-speech``."""


@dataclass(frozen=True)
class TurnFinished(Event):
    transcript: str
    reply: str
    """The reply as spoken; shorter than generated after a barge-in."""
    timings_ms: dict[str, float]
    """Stage timings in milliseconds, keyed like ``--json`` output."""
    interrupted: bool = False
    tokens_per_s: float = 0.0
    generated: str = ""
    """Everything the LLM produced, spoken or not."""
    path: str = "llm"
    """Which path answered: ``llm``, ``intent`` or ``tool``."""
    ready_fraction: float | None = None
    """Share (0 to 1) of the transcript's words that the partial transcript
    already had at the release (a leading-word match); None when not
    measured (only a paced file turn, ``listen --realtime``, measures it)."""
    prefill_tokens: int = 0
    """Prompt tokens the speculative prefill read into the LLM while the
    user spoke (``llm.prefill``)."""
    prompt_tokens_read: int = 0
    """Prompt tokens the LLM still had to read once the transcript was
    final: the wait before the first token that caching and prefill did not
    take away."""
    transcript_doubt: str = ""
    """Why the recognizer doubts the transcript (Moonshine: a guard failed
    and no Whisper was there to decode it again), or ""."""


@dataclass(frozen=True)
class TurnFailed(Event):
    """A turn ended in an error; published once per failure, then the state
    goes ERROR -> IDLE."""

    stage: str
    """Where it failed: ``audio`` (microphone or speaker; the speaker is
    reopened on the next turn), ``asr`` (recognition, or loading its model),
    ``llm``, ``tts``, ``skills``, ``gpio`` (a tool's pin), or ``controller``
    (a bug in the controller itself). It is the ``stage`` of the
    `AssistantError` raised; an error that does not say where (``model``,
    ``config``, ``assistant``) or an unexpected exception is reported under
    the stage of the step that raised it. A reply with no progress for
    ``turn.reply_timeout_s`` is ``llm`` while thinking, ``audio`` while
    speaking."""
    message: str
    """One line naming the problem and, for an `AssistantError`, the fix."""


Subscriber = Callable[[Event], None]


class EventBus:
    """Fan-out of events to subscribers.

    `publish` calls every subscriber synchronously on the publishing thread,
    in subscription order. Subscribers must return quickly and never block;
    one that raises is logged and does not stop the others.
    """

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; return a function that removes it."""
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber %r failed on %s", subscriber, type(event).__name__)
