"""Listening: capture one utterance from the microphone and recognise it.

One `Listening` per voice turn, on its own worker thread ``listen-N``:

    stt.start() (may load the model: stage "asr") -> source.open() ->
    source.discard() -> read/accept until stopped, cancelled, an endpoint
    (toggle mode), the source is exhausted or ``max_listen_s`` ->
    source.close() -> transcriber.finish() -> transcriber.close()

It posts exactly one event back to the controller: `Heard`, or a
`WorkerFailed` with the stage of the step that failed; nothing once the turn
is cancelled. Partial transcripts go to ``on_partial`` on the worker thread,
which must not block. The worker never changes the controller's state.

The microphone is shared between turns: a listener first waits for the
previous one (an abandoned listener may still hold the device), and closes
the source and its utterance's transcriber (finished or not) before it
posts. It closes nothing else: the engine and the source belong to whoever
built them.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from assistant.core.config import TurnConfig
from assistant.core.events import Event
from assistant.pipeline.failure import worker_failure
from assistant.stages.asr.base import SpeechToText, Transcriber
from assistant.stages.audio.base import AudioSource
from assistant.stages.vad.base import Endpointer

if TYPE_CHECKING:
    from assistant.pipeline.wake import HandsFreeListen

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
    endpoint_ms: float | None = None
    """A turn that ended itself (hands-free or toggle with an endpointer):
    from the last voiced block read to the end of listening, in milliseconds."""
    doubt: str = ""
    """Why the recognizer doubts ``text``, or "" (`TurnFinished.transcript_doubt`)."""


@runtime_checkable
class PacedSource(Protocol):
    """An `AudioSource` that plays a recording at the pace it was spoken (a
    file as a live microphone): it knows when its last sample was delivered,
    which is when the speaker let go of the button."""

    @property
    def released_s(self) -> float | None:
        """When the last sample was delivered, in the listener's clock seconds."""
        ...


def ready_fraction(partial: str, final: str) -> float | None:
    """Share of the words of ``final`` that ``partial`` already had, as a
    leading-word match (case and punctuation ignored): 1.0 when the partial
    transcript at the release was the whole answer, 0.0 when nothing was
    ready. None when ``final`` has no words. Pure."""
    final_words = re.findall(r"\w+", final.casefold())
    if not final_words:
        return None
    matched = 0
    for ready, heard in zip(re.findall(r"\w+", partial.casefold()), final_words, strict=False):
        if ready != heard:
            break
        matched += 1
    return round(matched / len(final_words), 3)


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
        endpointer: Callable[[], Endpointer] | None = None,
        hands_free: HandsFreeListen | None = None,
    ) -> None:
        """``endpointer`` (toggle mode) ends the turn after trailing
        non-speech instead of the recognizer's own endpoint; ``hands_free``
        is a turn no button started (a wake word, a follow-up)."""
        self.turn = turn
        self.hands_free = hands_free
        self._endpointer = hands_free.endpointer if hands_free is not None else endpointer
        self._endpoint_ms: float | None = None
        self._nothing = False  # the endpointer heard no speech at all
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
                try:
                    end_of_speech_s = self._capture(transcriber)
                finally:
                    self.source.close()
                if self._cancel.is_set():
                    return
                self._step = "asr"
                text = transcriber.finish().strip()
                # Only Moonshine's transcriber can doubt its text.
                doubt = getattr(transcriber, "doubt", "")
            finally:
                # A cancelled turn never finishes its utterance; a remote or
                # Whisper transcriber still holds a connection or queued decodes.
                transcriber.close()
            if self._nothing:
                text = ""  # what a recognizer makes of silence (Whisper invents words)
            asr_ms = round((self.clock() - end_of_speech_s) * 1000, 1)
            heard = Heard(self.turn, text, asr_ms, end_of_speech_s, self._endpoint_ms, doubt)
            self._post(heard)
        except Exception as exc:
            self._post(worker_failure(self.turn, exc, self._step))

    def _capture(self, transcriber: Transcriber) -> float:
        """Feed the microphone to ``transcriber`` until told to stop or done;
        returns the end of speech in seconds."""
        self._step = "audio"
        self.source.open()
        # Audio queued while the assistant spoke is its own voice: drop it;
        # but after a wake word it is the command.
        if self.hands_free is None or not self.hands_free.keep_queued:
            self.source.discard()
        endpointer = self._endpointer() if self._endpointer is not None else None
        voiced_s: float | None = None
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
            if endpointer is not None:
                if endpointer.update(block):
                    voiced_s = now
                if endpointer.endpoint:
                    self._endpoint_ms = round((self.clock() - (voiced_s or now)) * 1000, 1)
                    break
                if self._nothing_said(endpointer, heard_s):
                    break
            elif self.turn_config.mode == "toggle" and transcriber.endpoint():
                break
            if heard_s >= self.turn_config.max_listen_s:
                log.info("listening stopped after %.1f s", heard_s)
                break
        if self._released_s:
            return self._released_s
        # A paced file ends at its last sample's due time, however late this
        # reader took it: so a recognizer slower than speech is charged for it.
        if self.source.exhausted and isinstance(self.source, PacedSource):
            released_s = self.source.released_s
            if released_s is not None:
                return released_s
        return self.clock()

    def _nothing_said(self, endpointer: Endpointer, heard_s: float) -> bool:
        if self.hands_free is None or endpointer.heard_speech:
            return False
        if heard_s < self.hands_free.wait_s:
            return False
        log.info("nothing said within %.1f s", self.hands_free.wait_s)
        self._nothing = True
        return True
