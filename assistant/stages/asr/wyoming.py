"""`WyomingSpeechToText`: a Wyoming ``asr`` service on the LAN as the recognizer
(wyoming-faster-whisper, ``assistant serve``).

Per utterance, one connection: ``transcribe``, ``audio-start``, an
``audio-chunk`` per block while the button is held, ``audio-stop``; the server
answers ``transcript`` (and, when it streams, ``transcript-start``,
``transcript-chunk``\\*, ``transcript-stop`` before it, shown as partials).

A hub at capacity answers ``busy`` (`retry`). The utterance then goes on
being recorded: what was sent is kept until the server first answers, and
sent again on a new connection after a `retry.Backoff` wait (while the user
speaks, the next block tries once the wait is over; at ``finish``, it waits),
for at most ``busy_budget_s``. Needs the ``wyoming`` package
(``pip install .[hub]``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from wyoming.asr import Transcribe, Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event

from assistant.core.errors import SpeechToTextError
from assistant.core.uris import Address
from assistant.stages.asr.endpoint import SilenceEndpointer
from assistant.stages.audio.pcm import ASR_RATE_HZ, to_mono_int16
from assistant.stages.link import WyomingLink, describe
from assistant.stages.retry import BUSY_BUDGET_S, Backoff, Busy, busy_error, retry_busy

log = logging.getLogger(__name__)

_FIX = "start it, or fix asr.uri (or --hub)"


class WyomingSpeechToText:
    """The recognizer at ``address``; nothing loads here, and a server that is
    down fails `start` (or `warm_up`) with one line from `link.not_answering`.

    Utterances must not overlap (one ASR worker): `start` closes the previous
    utterance's connection if it was abandoned without ``finish``.
    """

    sample_rate_hz = ASR_RATE_HZ

    def __init__(
        self,
        address: Address,
        language: str = "",
        silence_s: float = 1.0,
        *,
        busy_budget_s: float = BUSY_BUDGET_S,
        **link_options: float,
    ) -> None:
        self.address = address
        self.name = f"wyoming {address}"
        self.language = language or None
        self.silence_s = silence_s
        self.busy_budget_s = busy_budget_s
        self._link_options = link_options
        self._current: _WyomingTranscriber | None = None

    def _link(self) -> WyomingLink:
        return WyomingLink(self.address, error=SpeechToTextError, fix=_FIX, **self._link_options)

    def start(self) -> _WyomingTranscriber:
        if self._current is not None:
            self._current.close()
        opening = [
            Transcribe(language=self.language).event(),
            AudioStart(rate=ASR_RATE_HZ, width=2, channels=1).event(),
        ]
        backoff = Backoff(self.busy_budget_s)
        transcriber = _WyomingTranscriber(
            self.address, self._link, opening, SilenceEndpointer(self.silence_s), backoff
        )
        self._current = transcriber
        return transcriber

    def warm_up(self) -> None:
        """Check that the server answers and offers speech recognition."""

        def ask() -> Any:
            with self._link() as link:
                return describe(link)

        backoff = Backoff(self.busy_budget_s)
        info = retry_busy(ask, backoff, None, SpeechToTextError, self.address)
        if not info.asr:
            raise SpeechToTextError(
                f"the service at {self.address} offers no speech recognition; "
                "point asr.uri at a Wyoming asr server"
            )
        streams = any(p.supports_transcript_streaming for p in info.asr)
        log.info("asr at %s: %s (partials: %s)", self.address, info.asr[0].name, streams)


class _WyomingTranscriber:
    """One utterance on its own connection; see `base.Transcriber`.

    ``accept`` sends and never waits for the server (only the socket's send
    buffer); partial transcripts that have arrived are picked up on the way.
    ``finish`` waits for the final transcript and closes the connection.
    The events sent are kept (`_replay`) until the server first answers, to
    send again when it was busy.
    """

    def __init__(
        self,
        address: Address,
        open_link: Callable[[], WyomingLink],
        opening: list[Event],
        endpointer: SilenceEndpointer,
        backoff: Backoff,
    ) -> None:
        self.address = address
        self._open_link = open_link
        self._endpointer = endpointer
        self._backoff = backoff
        self._chunks: list[str] = []
        self._final: str | None = None
        self._replay: list[Event] | None = list(opening)
        self._retry_at = 0.0
        self._link: WyomingLink | None = None
        self._connect()

    def _connect(self) -> None:
        """A new connection, and everything sent so far sent on it."""
        link = self._open_link()
        try:
            for event in self._replay or []:
                link.write(event)
        except BaseException:
            link.close()
            raise
        self._link = link

    def _busy(self, exc: Busy) -> None:
        """The hub refused: close, and plan the next try (or fail)."""
        self.close()
        delay = self._backoff.next_delay() if self._replay is not None else None
        if delay is None:
            raise SpeechToTextError(busy_error(self.address, str(exc), self._backoff))
        log.info("the hub at %s is busy; asking again in %.1f s", self.address, delay)
        self._retry_at = time.monotonic() + delay

    def _send(self, event: Event) -> None:
        if self._replay is not None:
            self._replay.append(event)
        if self._link is None and time.monotonic() >= self._retry_at:
            self._connect()
        elif self._link is not None:
            self._link.write(event)

    def accept(self, samples: np.ndarray) -> None:
        if self._final is not None:
            return  # the server already ended the utterance (its own endpointing)
        data = to_mono_int16(samples)
        self._endpointer.update(data)
        self._send(AudioChunk(rate=ASR_RATE_HZ, width=2, channels=1, audio=data.tobytes()).event())
        try:
            while self._link is not None and self._final is None:
                if (event := self._link.pending()) is None:
                    break
                self._take(event)
        except Busy as exc:
            self._busy(exc)

    def _take(self, event: Event) -> None:
        self._replay = None  # the server took the utterance: no resend from here
        kind = event.type
        if Transcript.is_type(kind):
            self._final = Transcript.from_event(event).text.strip()
        elif TranscriptStart.is_type(kind):
            self._chunks = []
        elif TranscriptChunk.is_type(kind):
            self._chunks.append(TranscriptChunk.from_event(event).text)
        elif TranscriptStop.is_type(kind):
            self._final = "".join(self._chunks).strip()
        elif Error.is_type(kind):
            text = Error.from_event(event).text
            raise SpeechToTextError(f"the asr server at {self.address} failed: {text}")

    def partial(self) -> str:
        return "".join(self._chunks).strip()

    def endpoint(self) -> bool:
        return self._final is not None or self._endpointer.endpoint

    def finish(self) -> str:
        try:
            stopped = False
            while self._final is None:
                if self._link is None:
                    wait = self._retry_at - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)  # the backoff's wait (at most 1 s) on the ASR worker
                    self._connect()
                    stopped = False
                try:
                    if not stopped:
                        self._send_stop()
                        stopped = True
                    assert self._link is not None
                    self._take(self._link.read())
                except Busy as exc:
                    self._busy(exc)
        finally:
            self.close()
        return self._final

    def _send_stop(self) -> None:
        assert self._link is not None
        self._link.write(AudioStop().event())

    def close(self) -> None:
        """Close the connection; safe twice."""
        if self._link is not None:
            self._link.close()
            self._link = None
