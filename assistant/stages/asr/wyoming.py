"""`WyomingSpeechToText`: a Wyoming ``asr`` service on the LAN as the recognizer
(wyoming-faster-whisper, ``assistant serve``).

Per utterance, one connection: ``transcribe``, ``audio-start``, an
``audio-chunk`` per block while the button is held, ``audio-stop``; the server
answers ``transcript`` (and, when it streams, ``transcript-start``,
``transcript-chunk``\\*, ``transcript-stop`` before it, shown as partials).
Needs the ``wyoming`` package (``pip install .[hub]``).
"""

from __future__ import annotations

import logging

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
        self, address: Address, language: str = "", silence_s: float = 1.0, **link_options: float
    ) -> None:
        self.address = address
        self.name = f"wyoming {address}"
        self.language = language or None
        self.silence_s = silence_s
        self._link_options = link_options
        self._current: WyomingLink | None = None

    def _link(self) -> WyomingLink:
        return WyomingLink(self.address, error=SpeechToTextError, fix=_FIX, **self._link_options)

    def start(self) -> _WyomingTranscriber:
        if self._current is not None:
            self._current.close()
        link = self._current = self._link()
        try:
            link.write(Transcribe(language=self.language).event())
            link.write(AudioStart(rate=ASR_RATE_HZ, width=2, channels=1).event())
        except BaseException:
            link.close()
            raise
        return _WyomingTranscriber(link, SilenceEndpointer(self.silence_s))

    def warm_up(self) -> None:
        """Check that the server answers and offers speech recognition."""
        with self._link() as link:
            info = describe(link)
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
    """

    def __init__(self, link: WyomingLink, endpointer: SilenceEndpointer) -> None:
        self._link = link
        self._endpointer = endpointer
        self._chunks: list[str] = []
        self._final: str | None = None

    def accept(self, samples: np.ndarray) -> None:
        if self._final is not None:
            return  # the server already ended the utterance (its own endpointing)
        data = to_mono_int16(samples)
        self._endpointer.update(data)
        chunk = AudioChunk(rate=ASR_RATE_HZ, width=2, channels=1, audio=data.tobytes())
        self._link.write(chunk.event())
        while self._final is None and (event := self._link.pending()) is not None:
            self._take(event)

    def _take(self, event: Event) -> None:
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
            raise SpeechToTextError(f"the asr server at {self._link.address} failed: {text}")

    def partial(self) -> str:
        return "".join(self._chunks).strip()

    def endpoint(self) -> bool:
        return self._final is not None or self._endpointer.endpoint

    def finish(self) -> str:
        try:
            if self._final is None:
                self._link.write(AudioStop().event())
            while self._final is None:
                self._take(self._link.read())
        finally:
            self._link.close()
        return self._final
