"""The two kinds of turn the controller runs, and what it tracks of each.

A `VoiceTurn` starts with a press: it listens, then replies to the
transcript. An `AlertTurn` starts while idle when a timer comes due: it has
no listening and speaks the alert's text. Both reply on a ``reply-N`` worker.

Turns are changed on the controller thread only, except `Turn.progress_s`,
which the reply's callbacks set from the worker threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from assistant.core.events import Event, TurnFinished
from assistant.pipeline.listener import Listening
from assistant.pipeline.prefill import Prefill
from assistant.pipeline.reply import ReplyResult, ReplyStreamer


@dataclass(kw_only=True)
class Turn:
    id: int
    started_s: float = 0.0
    """Where the turn's timings start, in clock seconds: the end of speech,
    or when the alert came due."""
    cancel: threading.Event = field(default_factory=threading.Event)
    """Set when the turn is abandoned (barge-in, cancel, failure, stop);
    every worker of the turn checks it."""
    reply_started_s: float = 0.0
    progress_s: float = 0.0
    """When the reply last produced a piece or finished a sentence."""
    streamer: ReplyStreamer | None = None
    replier: threading.Thread | None = None

    def finished(self, result: ReplyResult, now_s: float) -> TurnFinished:
        """The event for the turn's reply ``result``, which came at ``now_s``.

        Its timings are the reply's plus ``ttfa`` (from `started_s` to the
        first audio played) and ``total`` (from `started_s` to ``now_s``),
        in milliseconds.
        """
        timings = dict(result.timings_ms)
        if "first_audio_played" in timings:
            ttfa_s = self.reply_started_s - self.started_s
            timings["ttfa"] = round(ttfa_s * 1000 + timings["first_audio_played"], 1)
        timings["total"] = round((now_s - self.started_s) * 1000, 1)
        return TurnFinished(
            transcript="",
            reply=result.spoken,
            timings_ms=timings,
            interrupted=result.interrupted,
            tokens_per_s=round(result.tokens_per_s, 2),
            generated=result.generated,
            path=result.path,
            prefill_tokens=result.prefill_tokens,
            prompt_tokens_read=result.prompt_tokens_read,
        )


@dataclass(kw_only=True)
class VoiceTurn(Turn):
    """Pressed, listened to, then answered."""

    pressed_s: float
    """When the button was pressed (`ButtonPressed.at_s`)."""
    listening: Listening | None = None
    prefill: Prefill | None = None
    """Reads the partial transcripts into the LLM while listening (``llm.prefill``)."""
    transcript: str = ""
    transcript_doubt: str = ""
    asr_final_ms: float = 0.0

    def end_prefill(self) -> None:
        """Cancel the prefill, if any; the reply worker joins it."""
        if self.prefill is not None:
            self.prefill.finish()

    def stop_listening(self) -> None:
        """End capture and the prefill (abandoning the turn or ignoring it)."""
        if self.listening is not None:
            self.listening.stop()
        self.end_prefill()

    def finished(self, result: ReplyResult, now_s: float) -> TurnFinished:
        """As `Turn.finished`, with the transcript and ``asr_final``."""
        event = super().finished(result, now_s)
        timings = {**event.timings_ms, "asr_final": self.asr_final_ms}
        return replace(
            event,
            transcript=self.transcript,
            transcript_doubt=self.transcript_doubt,
            timings_ms=timings,
        )


@dataclass(kw_only=True)
class AlertTurn(Turn):
    """A due timer, spoken with no listening."""

    text: str


# What the controller posts to itself, in its inbox beside the button events.


@dataclass(frozen=True)
class SpeechStarted(Event):
    """The reply of turn ``turn`` played its first sample."""

    turn: int


@dataclass(frozen=True)
class Replied(Event):
    """The reply worker of ``turn`` finished with ``result``."""

    turn: Turn
    result: ReplyResult


@dataclass(frozen=True)
class StopRequested(Event):
    """`Controller.stop` was called: abandon the turn and end the loop."""
