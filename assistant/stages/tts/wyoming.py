"""`WyomingTextToSpeech`: a Wyoming ``tts`` service on the LAN as the voice
(wyoming-piper, ``assistant serve``).

Per call, one connection. When the server describes streaming synthesis:
``synthesize-start``, ``synthesize-chunk``, ``synthesize`` (for servers that
ignore streams), ``synthesize-stop``, answered by ``audio-start``,
``audio-chunk``\\*, ``audio-stop`` per sentence and ``synthesize-stopped``.
Otherwise ``synthesize``, answered by one ``audio-start``, ``audio-chunk``\\*,
``audio-stop``. A busy hub is asked again (`retry`). Needs the ``wyoming``
package (``pip install .[hub]``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
from wyoming.audio import AudioChunk as WireChunk
from wyoming.audio import AudioStop
from wyoming.error import Error
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
)

from assistant.core.errors import TextToSpeechError
from assistant.core.uris import Address
from assistant.stages.audio.pcm import AudioChunk, to_mono_int16
from assistant.stages.link import Cancelled, WyomingLink, describe
from assistant.stages.retry import BUSY_BUDGET_S, Backoff, retry_busy_stream
from assistant.stages.tts.text import clean_for_speech

log = logging.getLogger(__name__)

OUTPUT_RATE_HZ = 22050
"""Rate of every chunk yielded, in Hertz: piper's medium and high voices'.
Fixed, so the speaker can be opened before the server is asked; audio at
another rate is resampled."""

_FIX = "start it, or fix tts.uri (or --hub)"


class WyomingTextToSpeech:
    """The voice at ``address``: the server's default voice. Nothing connects
    until `warm_up` or `synthesize`; a server that is down fails them with
    one line from `link.not_answering`. Chunks are yielded as they arrive
    (the server's chunk size, about 50 ms), so playback starts early and a
    cancel is noticed within one chunk; closing the iterator or cancelling
    closes the connection, which ends the server's stream. A busy hub is
    asked again for at most ``busy_budget_s``.
    """

    sample_rate_hz = OUTPUT_RATE_HZ

    def __init__(
        self,
        address: Address,
        language: str = "en",
        volume: float = 1.0,
        *,
        busy_budget_s: float = BUSY_BUDGET_S,
        **link_options: float,
    ) -> None:
        self.address = address
        self.name = f"wyoming {address}"
        self.language = language
        self.busy_budget_s = busy_budget_s
        self._gain = volume
        self._link_options = link_options
        self._streaming: bool | None = None
        """Whether the server streams; asked once, on first use."""

    def _link(self) -> WyomingLink:
        return WyomingLink(self.address, error=TextToSpeechError, fix=_FIX, **self._link_options)

    def _check(self, link: WyomingLink, cancel: threading.Event | None) -> bool:
        if self._streaming is None:
            info = describe(link, cancel)
            if not info.tts:
                raise TextToSpeechError(
                    f"the service at {self.address} offers no speech synthesis; "
                    "point tts.uri at a Wyoming tts server"
                )
            self._streaming = any(p.supports_synthesize_streaming for p in info.tts)
            log.info(
                "tts at %s: %s (streaming: %s)", self.address, info.tts[0].name, self._streaming
            )
        return self._streaming

    def synthesize(self, text: str, cancel: threading.Event | None = None) -> Iterator[AudioChunk]:
        """See `TextToSpeech.synthesize`; chunks are shorter than a sentence."""
        text = clean_for_speech(text, self.language)
        if not text:
            return
        yield from retry_busy_stream(
            lambda: self._synthesize_once(text, cancel),
            Backoff(self.busy_budget_s),
            cancel,
            TextToSpeechError,
            self.address,
        )

    def _synthesize_once(self, text: str, cancel: threading.Event | None) -> Iterator[AudioChunk]:
        with self._link() as link:
            try:
                if self._check(link, cancel):
                    link.write(SynthesizeStart().event())
                    link.write(SynthesizeChunk(text=text).event())
                    link.write(Synthesize(text=text).event())
                    link.write(SynthesizeStop().event())
                    end = SynthesizeStopped.is_type
                else:
                    link.write(Synthesize(text=text).event())
                    end = AudioStop.is_type
                converter = _Converter(self.address)
                while not end((event := link.read(cancel)).type):
                    if WireChunk.is_type(event.type):
                        samples = self._gained(converter.convert(WireChunk.from_event(event)))
                        if cancel is not None and cancel.is_set():
                            return
                        if len(samples):
                            yield AudioChunk(samples, OUTPUT_RATE_HZ)
                    elif Error.is_type(event.type):
                        why = Error.from_event(event).text
                        raise TextToSpeechError(f"the tts server at {self.address} failed: {why}")
                if len(tail := self._gained(converter.flush())):
                    yield AudioChunk(tail, OUTPUT_RATE_HZ)
            except Cancelled:
                return

    def _gained(self, samples: np.ndarray) -> np.ndarray:
        gain = self._gain
        if gain == 1.0 or not len(samples):
            return samples
        return np.clip(samples.astype(np.float32) * gain, -32768, 32767).astype(np.int16)

    def warm_up(self) -> None:
        """Check that the server answers and speaks: synthesize one word."""
        for _ in self.synthesize("Ready."):
            pass

    def set_volume(self, gain: float) -> None:
        """Gain for the chunks from now on (1.0 keeps the server's level); any thread."""
        self._gain = gain


class _Converter:
    """The server's audio chunks as mono int16 at `OUTPUT_RATE_HZ`, resampled
    as one stream (no clicks at chunk edges) when the server's rate differs."""

    def __init__(self, address: Address) -> None:
        self._address = address
        self._stream: Any = None
        self._rate = OUTPUT_RATE_HZ

    def convert(self, chunk: WireChunk) -> np.ndarray:
        if chunk.width != 2 or chunk.channels < 1 or chunk.rate <= 0:
            raise TextToSpeechError(
                f"the tts server at {self._address} sent {chunk.width * 8}-bit audio "
                f"with {chunk.channels} channels; only 16-bit PCM is supported"
            )
        frames = np.frombuffer(chunk.audio, dtype="<i2")
        frames = frames[: len(frames) - len(frames) % chunk.channels]
        samples = to_mono_int16(frames.reshape(-1, chunk.channels))
        if chunk.rate == OUTPUT_RATE_HZ:
            return samples
        if self._stream is None or chunk.rate != self._rate:
            import soxr

            self._stream = soxr.ResampleStream(chunk.rate, OUTPUT_RATE_HZ, 1, dtype="int16")
            self._rate = chunk.rate
        return self._stream.resample_chunk(samples)

    def flush(self) -> np.ndarray:
        """What the resampler still holds, at the end of the audio."""
        if self._stream is None:
            return np.zeros(0, np.int16)
        return self._stream.resample_chunk(np.zeros(0, np.int16), last=True)
