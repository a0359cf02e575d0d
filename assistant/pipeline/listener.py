"""Listening: capture one utterance from the microphone and recognise it.

One `Listening` per voice turn, on its own worker thread ``listen-N``:

    stt.start() (may load the model: stage "asr") -> source.open() ->
    source.discard() -> read/accept until stopped, cancelled, an endpoint
    (toggle mode), the source is exhausted or ``max_listen_s`` ->
    source.close() -> transcriber.finish()

It posts exactly one event back to the controller: `Heard`, or a
`WorkerFailed` with the stage of the step that failed; nothing once the turn
is cancelled. Partial transcripts go to ``on_partial`` on the worker thread,
which must not block. The worker never changes the controller's state.

The microphone is shared between turns: a listener first waits for the
previous one (an abandoned listener may still hold the device), and closes
the source before it posts. It closes nothing else: the engine and the
source belong to whoever built them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from assistant.core.config import TurnConfig
from assistant.core.events import Event
from assistant.pipeline.failure import worker_failure
from assistant.stages.asr.base import SpeechToText, Transcriber
from assistant.stages.audio.base import AudioSource

log = logging.getLogger(__name__)

_PARTIAL_EVERY_S = 0.2
_READ_TIMEOUT_S = 0.1


@dataclass(frozen=True)
class Heard(Event):
    """Posted to the controller (not published): turn ``turn`` was recognised."""

    turn: int
    text: str
    """The final text, stripped; "" when nothing was recognised."""
    asr_final_ms: float
    """From the end of speech to the final text, in milliseconds."""
    end_of_speech_s: float
    """When speech ended: the button's release, else when capture stopped, in seconds."""


class Listening:
    """One utterance, run by `thread` (``listen-N``), which the caller starts
    and joins. `stop` (end of speech) and the turn's ``cancel`` event may be
    set from any thread."""

    def __init__(
        self,
        turn: int,
        *,
        stt: SpeechToText,
        source: AudioSource,
        turn_config: TurnConfig,
        post: Callable[[Event], None],
        on_partial: Callable[[str], None],
        cancel: threading.Event,
        previous: threading.Thread | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.turn = turn
        self.stt = stt
        self.source = source
        self.turn_config = turn_config
        self._post = post
        self._on_partial = on_partial
        self._cancel = cancel
        self._previous = previous
        self.clock = clock
        self._stop = threading.Event()
        self._released_s: float | None = None
        self._step = "asr"
        self.thread = threading.Thread(target=self._run, name=f"listen-{turn}", daemon=True)

    def stop(self, released_s: float | None = None) -> None:
        """End capture and recognise what was heard. ``released_s`` is when
        the button was released (the end of speech), if it was."""
        self._released_s = released_s
        self._stop.set()

    def _run(self) -> None:
        if self._previous is not None:
            self._previous.join()
        self._step = "asr"
        try:
            transcriber = self.stt.start()
            try:
                end_of_speech_s = self._capture(transcriber)
            finally:
                self.source.close()
            if self._cancel.is_set():
                return
            self._step = "asr"
            text = transcriber.finish().strip()
            asr_ms = round((self.clock() - end_of_speech_s) * 1000, 1)
            self._post(Heard(self.turn, text, asr_ms, end_of_speech_s))
        except Exception as exc:
            self._post(worker_failure(self.turn, exc, self._step))

    def _capture(self, transcriber: Transcriber) -> float:
        """Feed the microphone to ``transcriber`` until told to stop or done;
        returns the end of speech in seconds."""
        self._step = "audio"
        self.source.open()
        # Audio queued while the assistant spoke is its own voice: drop it.
        self.source.discard()
        heard_s = 0.0
        last_partial, partial_at = "", 0.0
        while not (self._stop.is_set() or self._cancel.is_set()):
            self._step = "audio"
            block = self.source.read(_READ_TIMEOUT_S)
            if block is None:
                if self.source.exhausted:
                    break
                continue
            self._step = "asr"
            transcriber.accept(block)
            heard_s += len(block) / self.stt.sample_rate_hz
            now = self.clock()
            if now - partial_at >= _PARTIAL_EVERY_S:
                partial_at = now
                text = transcriber.partial()
                if text and text != last_partial:
                    last_partial = text
                    self._on_partial(text)
            if self.turn_config.mode == "toggle" and transcriber.endpoint():
                break
            if heard_s >= self.turn_config.max_listen_s:
                log.info("listening stopped after %.1f s", heard_s)
                break
        return self._released_s or self.clock()
