"""One transcribe request's audio: any client format in, 16 kHz mono int16 out.

A client announces its format in ``audio-start`` (any rate, 1 to 4 bytes a
sample, any number of channels) and may change it in any ``audio-chunk``.
A chunk may end inside a frame (Home Assistant's REST speech-to-text
forwards each HTTP chunk as it comes, 825 bytes of 16-bit audio and the
like): the partial frame is carried over to the next chunk, and one left at
the end of the audio is dropped with a debug line.
`ClientAudio` turns each chunk into the recognizer's format with the
appliance's own conversions (`pcm.to_mono_int16`, then soxr, streaming so
chunk edges leave no clicks) and stops taking audio after ``max_audio_s``.
`Utterance` feeds the converted audio to the recognizer on the ASR lane.
Both are used on the event-loop thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable

import numpy as np

from assistant.hub.frames import FrameError
from assistant.hub.lanes import EngineLane
from assistant.stages.asr.base import SpeechToText, Transcriber
from assistant.stages.audio.pcm import ASR_RATE_HZ, to_mono_int16

log = logging.getLogger(__name__)

_DTYPES = {1: np.dtype("u1"), 2: np.dtype("<i2"), 4: np.dtype("<i4")}

AHEAD_S = 1.0
"""Audio this far ahead of the wall clock is a recording sent whole, not a
microphone: a satellite streams at the speaker's pace (network bursts of a
few hundred ms included), HA's REST speech-to-text and `wyoming-bench`
upload a file as fast as they can."""


def pcm_frames(audio: bytes, width: int, channels: int) -> np.ndarray:
    """Little-endian PCM bytes as a (frames x channels) array; 8-bit is
    unsigned and 24-bit is widened to left-justified int32, as WAV has them.
    `FrameError` when the bytes are not whole frames (`ClientAudio` only
    passes whole ones)."""
    frame = width * channels
    if len(audio) % frame:
        raise FrameError(
            f"audio-chunk of {len(audio)} bytes is not whole frames of {width} x {channels} bytes"
        )
    if width == 3:
        raw = np.frombuffer(audio, np.uint8).reshape(-1, 3)
        padded = np.zeros((len(raw), 4), np.uint8)
        padded[:, 1:] = raw  # low byte zero: a 24-bit sample in the top of an int32
        samples = padded.view("<i4").reshape(-1)
    else:
        samples = np.frombuffer(audio, _DTYPES[width])
    return samples.reshape(-1, channels)


class ClientAudio:
    """The audio of one utterance, converted chunk by chunk.

    `convert` returns the new 16 kHz samples (possibly none) of a chunk of
    any byte length; `finish` returns the resampler's tail. After
    ``max_audio_s`` seconds nothing more is returned and `truncated` is True.
    """

    def __init__(self, rate_hz: int, max_audio_s: float) -> None:
        self.rate_hz = rate_hz
        self.max_samples = int(max_audio_s * ASR_RATE_HZ)
        self.samples = 0
        self.truncated = False
        self._resampler = self._new_resampler(rate_hz)
        self._carry = b""
        """The start of a frame that the last chunk ended inside."""
        self._carry_format = (0, 0)

    def convert(self, audio: bytes, rate_hz: int, width: int, channels: int) -> np.ndarray:
        audio = self._whole_frames(audio, width, channels)
        if rate_hz != self.rate_hz:
            # A new rate mid-stream: flush the old resampler, start another.
            tail = self._flush()
            self.rate_hz, self._resampler = rate_hz, self._new_resampler(rate_hz)
            return self._bounded(np.concatenate([tail, self._resample(audio, width, channels)]))
        return self._bounded(self._resample(audio, width, channels))

    def finish(self) -> np.ndarray:
        if self._carry:
            log.debug("dropping the audio's last %d bytes: not a whole frame", len(self._carry))
            self._carry = b""
        return self._bounded(self._flush())

    def _whole_frames(self, audio: bytes, width: int, channels: int) -> bytes:
        """``audio`` after the carried partial frame, cut to whole frames;
        the rest is carried to the next chunk."""
        if self._carry and self._carry_format != (width, channels):
            log.debug("dropping %d bytes of a partial frame: the format changed", len(self._carry))
            self._carry = b""
        if self._carry:
            audio = self._carry + audio
        frame = width * channels
        cut = len(audio) - len(audio) % frame
        self._carry, self._carry_format = audio[cut:], (width, channels)
        return audio[:cut] if self._carry else audio

    def _resample(self, audio: bytes, width: int, channels: int) -> np.ndarray:
        mono = to_mono_int16(pcm_frames(audio, width, channels))
        if self._resampler is None:
            return mono
        return self._resampler.resample_chunk(mono, last=False)

    def _flush(self) -> np.ndarray:
        if self._resampler is None:
            return np.zeros(0, np.int16)
        return self._resampler.resample_chunk(np.zeros(0, np.int16), last=True)

    def _bounded(self, samples: np.ndarray) -> np.ndarray:
        room = self.max_samples - self.samples
        if len(samples) > room:
            if not self.truncated:
                log.info("transcribe audio is over %.0f s; ignoring the rest", self.max_seconds)
            self.truncated = True
            samples = samples[: max(room, 0)]
        self.samples += len(samples)
        return samples

    @property
    def max_seconds(self) -> float:
        return self.max_samples / ASR_RATE_HZ

    @staticmethod
    def _new_resampler(rate_hz: int):
        if rate_hz == ASR_RATE_HZ:
            return None
        import soxr

        return soxr.ResampleStream(rate_hz, ASR_RATE_HZ, 1, dtype="int16", quality="HQ")


class Utterance:
    """A transcribe request in progress, fed to the recognizer on its lane.

    At most one lane job per utterance is queued at a time: chunks that
    arrive while it waits or runs collect in `pending` and go in the next
    job. So reading the client's audio never waits for the lane, and a lane
    busy with other clients' decodes costs one queue wait per batch, not one
    per chunk. Audio that arrives faster than real time (`AHEAD_S`) is held
    for the final decode: partial results of a recording nobody is speaking
    help no one, and a partial decode in flight at ``audio-stop`` would
    delay the final one. The transcriber itself is made on the lane (``stt.start`` may
    load the model). New words of a growing partial result go to
    ``on_words``; a failure in a job is raised by the next `add` or `finish`.
    Feeding audio is partial work on the lane and the final text is final
    work, both under ``client``'s turn (`lanes`). The transcriber is closed
    on the lane when the utterance ends or is abandoned.
    """

    def __init__(
        self,
        stt: SpeechToText,
        lane: EngineLane,
        audio: ClientAudio,
        on_words: Callable[[str], Awaitable[None]],
        *,
        client: Hashable = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stt = stt
        self.lane = lane
        self.client = client
        self.abandoned = False
        self.audio = audio
        self.on_words = on_words
        self.sent = ""
        self.pending: list[np.ndarray] = []
        self.transcriber: Transcriber | None = None
        self.job: asyncio.Future | None = None
        self.held = False
        """True once the audio ran ahead of real time: no more partial work."""
        self._clock = clock
        self._first_at: float | None = None
        self._received = 0

    def add(self, samples: np.ndarray) -> None:
        """Queue ``samples`` (16 kHz mono int16); on the event loop."""
        if len(samples):
            self.pending.append(samples)
            self._pace(len(samples))
        if self.job is not None and self.job.done():
            job, self.job = self.job, None
            job.result()  # a failed batch raises here
        if self.job is None and self.pending and not self.held:
            self.job = asyncio.ensure_future(self._feed())

    def _pace(self, samples: int) -> None:
        now = self._clock()
        if self._first_at is None:
            self._first_at = now
        self._received += samples
        ahead_s = self._received / ASR_RATE_HZ - (now - self._first_at)
        if ahead_s > AHEAD_S and not self.held:
            self.held = True
            log.debug("audio %.1f s ahead of real time: held for the final decode", ahead_s)

    async def finish(self) -> str:
        """The final text, after every queued sample and the resampler's tail."""
        if self.job is not None:
            await self.job
        tail = self.audio.finish()
        if len(tail):
            self.pending.append(tail)
        batch = np.concatenate(self.pending) if self.pending else np.zeros(0, np.int16)
        self.pending = []
        text = await self.lane.call(self._finish, batch, client=self.client)
        if new := self.delta(text):
            await self.on_words(new)
        return text

    def abandon(self) -> None:
        """The client went away: drop the queued audio and any job's outcome."""
        self.pending = []
        self.abandoned = True
        if self.job is not None:
            self.job.cancel()
        # The transcriber belongs to the lane's thread: close it there, after
        # the job in hand (which may be making it).
        self.lane.submit(self._close, client=self.client)

    def delta(self, text: str) -> str:
        """The words of ``text`` not sent yet, when it extends what was sent."""
        if text.startswith(self.sent) and len(text) > len(self.sent):
            new, self.sent = text[len(self.sent) :], text
            return new
        return ""

    async def _feed(self) -> None:
        while self.pending and not self.held:
            batch, self.pending = np.concatenate(self.pending), []
            partial = await self.lane.call(self._accept, batch, client=self.client, partial=True)
            if new := self.delta(partial):
                await self.on_words(new)

    def _started(self) -> Transcriber:
        if self.transcriber is None:
            self.transcriber = self.stt.start()
        return self.transcriber

    def _accept(self, samples: np.ndarray) -> str:  # on the lane
        if self.abandoned:  # its task was cancelled after the job was taken
            return ""
        transcriber = self._started()
        transcriber.accept(samples)
        return transcriber.partial()

    def _finish(self, samples: np.ndarray) -> str:  # on the lane
        transcriber = self._started()
        try:
            if len(samples):
                transcriber.accept(samples)
            return transcriber.finish()
        finally:
            transcriber.close()

    def _close(self) -> None:  # on the lane
        if self.transcriber is not None:
            self.transcriber.close()
