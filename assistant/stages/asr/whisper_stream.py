"""Recognition during speech for a whole-utterance recognizer (Whisper).

`StreamingTranscriber` buffers the utterance and has a `DecodeWorker`
decode it again and again while it grows, so ``partial()`` has text while
the user speaks, and ``finish()`` often has nothing left to do: when the
last final-quality decode already covered every bit of speech (only silence
came after it), its text is the final text.

Two kinds of decode: cheap ones (``decode_partial``, a short encoder
window) feed ``partial()``; final-quality ones (``decode_final``) run at a
pause after speech and at ``finish()``. Only final-quality text is ever
final: a cheap decode counts as one only when ``may_be_final`` says so (it
was as confident as ``decode_final`` demands; see `whisper_window`).
Whisper decodes at a pause with ``decode_pause``, which returns its doubt
instead of decoding again on 30 s: speech often goes on after a pause, and
a 30 s decode in flight at the release held the final text back by seconds
(3-4 s here on "front ... left"). When no speech came after a pause decode
in doubt, ``finish()`` goes straight to ``decode_full`` (the 30 s window).

The tail-only final pass: when speech went on after the last pause decode,
``finish()`` decodes only the audio after that pause (``decode_tail``),
with the pause decode's text as the prompt, and the final text is the two
joined. The cut comes from the audio: a pause decode starts only while the
endpointer hears at least ``pause_s`` of quiet at the end of its audio, so
its end is in a pause. A tail decode with any doubt (a loop, below the
confidence floor, "no speech" on voiced audio) is thrown away
and the whole utterance decoded as before, and there is no tail pass after
a pause decode that was in doubt itself. Word timestamps on the partials
were measured as the other way to cut, and placed fewer cuts where the
tail was trusted (``benchmarks/whisper_tail.py``, benchmarks/README.md).

Who runs what: ``accept``, ``partial``, ``endpoint`` and ``finish`` are
called by the listener thread (or by one thread at a time: the hub's
lane); every decode runs on the worker's thread (`decode_worker`): those
during speech as partial jobs, except a decode at a pause, which is
final-quality and goes with the final one that ``finish`` queues and
waits for, before every transcriber's partial ones. The decode callables must serialize themselves
against callers outside the worker (the engine holds a lock).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from assistant.core.errors import SpeechToTextError
from assistant.stages.asr.decode_worker import DecodeWorker
from assistant.stages.asr.endpoint import SilenceEndpointer
from assistant.stages.asr.hypotheses import LocalAgreement
from assistant.stages.asr.whisper_window import FULL_WINDOW_S, Decoded
from assistant.stages.audio.pcm import ASR_RATE_HZ, to_mono_int16

log = logging.getLogger(__name__)

Decode = Callable[[np.ndarray], Decoded]
DecodeTail = Callable[[np.ndarray, str], Decoded]
"""Decode audio that continues the given text (the prompt)."""

MAX_UTTERANCE_S = 300.0
"""Audio kept per utterance (`TurnConfig.max_listen_s` allows up to 300 s)."""


class StreamingTranscriber:
    """One utterance; see `base.Transcriber`.

    A background decode of the whole utterance so far is queued when voiced
    audio arrived since the last one and either ``interval_s`` of new audio
    came in since the last one ended (a partial decode) or the endpointer
    hears a ``pause_s`` pause after speech (a final-quality one). Nothing is
    decoded while only silence comes in, nor past Whisper's 30 s window (the
    final decode handles longer audio). Partials are the local agreement of
    those decodes. ``finish`` waits for a decode in flight, reuses the last
    final-quality one when it covered all the speech plus ``tail_s``, else
    has the worker decode the final audio once, ahead of every partial; ""
    without decoding when no speech was heard, since Whisper invents text
    on silence.
    """

    def __init__(
        self,
        decode_partial: Decode,
        decode_final: Decode,
        worker: DecodeWorker,
        endpointer: SilenceEndpointer,
        *,
        interval_s: float = 0.75,
        pause_s: float = 0.25,
        tail_s: float = 0.25,
        rate_hz: int = ASR_RATE_HZ,
        may_be_final: Callable[[Decoded], bool] = lambda decoded: False,
        decode_tail: DecodeTail | None = None,
        decode_pause: Decode | None = None,
        decode_full: Decode | None = None,
    ) -> None:
        self._decode_partial = decode_partial
        self._decode_pause = decode_final if decode_pause is None else decode_pause
        self._pause_may_doubt = decode_pause is not None
        self._decode_full = decode_full
        self._decode_tail = decode_tail
        self._may_be_final = may_be_final
        self._decode_final = decode_final
        self._worker = worker
        self._endpointer = endpointer
        self._rate_hz = rate_hz
        self._interval = round(interval_s * rate_hz)
        self._pause_s = pause_s
        self._tail = round(tail_s * rate_hz)
        self._stream_limit = FULL_WINDOW_S * rate_hz
        self._max = round(MAX_UTTERANCE_S * rate_hz)
        self._cond = threading.Condition()
        self._blocks: list[np.ndarray] = []
        self._n = 0
        self._voiced_end = 0
        """Sample index just after the last speech heard."""
        self._snapshot_n = 0
        """Length of the audio the latest decode (done or in flight) started on."""
        self._final_snapshot_n = 0
        """The same for the latest final-quality decode."""
        self._done_n = 0
        """Length of the audio when the latest decode ended: the next interval
        counts from there, so slow decodes leave the cores some rest and one
        is less likely to be in flight at release."""
        self._gap = self._interval
        """Audio to wait for after a decode: ``interval_s``, or twice the
        last decode's time (its wait in the worker's queue included) if that
        is longer, so that partial decodes keep the cores busy a third of
        the time at most, and back off when other utterances keep the
        worker busy (the hub)."""
        self._queued_at = 0.0
        """`time.monotonic` when the queued decode was queued."""
        self._paused = False
        """The endpointer hears a pause after speech (as of the last block)."""
        self._queued = False
        self._decoding = False
        self._closed = False
        self._last: tuple[int, Decoded] | None = None
        """The latest final-quality background decode: (samples it covered, result)."""
        self._doubted_n = 0
        """Length of the audio of the latest decode at a pause that was in
        doubt (with ``decode_pause``): when nothing but silence came after
        it, `finish` goes straight to ``decode_full``."""
        self._cut: tuple[int, Decoded] | None = None
        """The latest decode at a pause, whose audio ends in that pause, if
        its short window was trusted: where a tail decode starts, and its
        prompt."""
        self._agreement = LocalAgreement()
        self._partial = ""
        self._final: str | None = None
        self.decodes = 0
        """Decodes run for this utterance, background and final."""

    def accept(self, samples: np.ndarray) -> None:
        if self._final is not None:
            raise SpeechToTextError("Whisper transcriber got audio after finish(); start a new one")
        data = to_mono_int16(samples)
        voiced = self._endpointer.update(data)
        with self._cond:
            room = self._max - self._n
            if len(data) > room:
                if room > 0:
                    log.warning(
                        "utterance longer than %.0f s; the rest is ignored", MAX_UTTERANCE_S
                    )
                data = data[:room]
            if len(data) == 0:
                return
            self._blocks.append(data.copy())
            self._n += len(data)
            quiet_s = self._endpointer.trailing_quiet_s
            if voiced:
                self._voiced_end = max(self._voiced_end, self._n - round(quiet_s * self._rate_hz))
            self._paused = self._endpointer.heard_speech and quiet_s >= self._pause_s
            if self._wants_decode():
                self._queued = True
                self._queued_at = time.monotonic()
                # A decode at a pause is final-quality, and often the final
                # text itself (reused at release): it goes with the finals.
                self._worker.submit(
                    self._decode_in_background, self, final=self._paused, dropped=self._dropped
                )

    def _wants_decode(self) -> bool:
        """Called with the lock held."""
        if self._queued or self._closed or not self._endpointer.heard_speech:
            return False
        if self._n > self._stream_limit:
            return False
        if self._paused:
            return self._voiced_end > self._final_snapshot_n
        if self._voiced_end <= self._snapshot_n:
            return False
        return self._n - max(self._snapshot_n, self._done_n) >= self._gap

    def _audio(self) -> np.ndarray:
        """The utterance so far; called with the lock held."""
        if len(self._blocks) > 1:
            self._blocks = [np.concatenate(self._blocks)]
        return self._blocks[0] if self._blocks else np.zeros(0, np.int16)

    def _decode_in_background(self) -> None:
        with self._cond:
            if self._closed or not self._queued:
                return
            self._queued = False
            self._decoding = True
            audio = self._audio()
            self._snapshot_n = n = self._n
            final = self._paused
            if final:
                self._final_snapshot_n = n
            waited_s = time.monotonic() - self._queued_at
        result = None
        try:
            result = (self._decode_pause if final else self._decode_partial)(audio)
        except Exception as exc:
            # finish() decodes again and reports the error if it persists.
            log.warning("background Whisper decode failed: %s", exc)
        finally:
            with self._cond:
                self.decodes += 1
                self._decoding = False
                self._done_n = self._n
                if result is not None:
                    busy_s = waited_s + result.elapsed_s
                    self._gap = max(self._interval, round(2 * busy_s * self._rate_hz))
                # decode_final's text is final; decode_pause's only as trusted
                # as a cheap decode (it may return its doubt instead).
                final_quality = final and not self._pause_may_doubt
                trusted = result is not None and (final_quality or self._may_be_final(result))
                if result is not None and final and not trusted:
                    self._doubted_n = n
                # A pause decode in doubt (a loop, low confidence) says its
                # tail would be too: no tail pass after it.
                if result is not None and final and result.text and not result.fallback:
                    self._cut = (n, result)
                if trusted:
                    self._last = (n, result)
                    self._final_snapshot_n = max(self._final_snapshot_n, n)
                if result is not None and (final_quality or not result.fallback):
                    self._partial = self._agreement.update(result.text)
                self._cond.notify_all()

    def partial(self) -> str:
        with self._cond:
            return self._partial

    def endpoint(self) -> bool:
        return self._endpointer.endpoint

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until no background decode is queued or running; False if
        one still is after ``timeout_s``. For benches and tests: the
        listener never waits."""
        with self._cond:
            return self._cond.wait_for(lambda: not (self._queued or self._decoding), timeout_s)

    def _dropped(self) -> None:
        """The worker dropped the queued decode (closing): none is queued now."""
        with self._cond:
            self._queued = False
            self._cond.notify_all()

    def close(self) -> None:
        """Drop the utterance without a final decode (a cancelled turn, a
        client gone); any queued background decode leaves the worker's queue.
        Idempotent, from any thread; `finish` closes too."""
        with self._cond:
            self._closed = True
            self._queued = False
            self._blocks = []
            self._cond.notify_all()
        self._worker.discard(self)

    def finish(self) -> str:
        if self._final is not None:
            return self._final
        with self._cond:
            self._closed = True
            self._queued = False
            while self._decoding:
                self._cond.wait()
            audio = self._audio()
            last = self._last
            cut = self._cut
            doubted_n = self._doubted_n
            self._blocks = []
        self._worker.discard(self)
        if len(audio) == 0 or not self._endpointer.heard_speech:
            log.debug("no speech heard; skipping the Whisper decode")
            self._final = ""
        elif last is not None and last[0] >= min(len(audio), self._voiced_end + self._tail):
            log.debug(
                "reusing the decode of %.2f s: only silence came after it", last[0] / self._rate_hz
            )
            self._final = last[1].text
        else:
            text = self._after_pause(audio, cut)
            if text is None:
                decode = self._decode_final
                if self._decode_full is not None and doubted_n >= min(
                    len(audio), self._voiced_end + self._tail
                ):
                    # The short window already doubted all this speech at the pause.
                    decode = self._decode_full
                decoded = self._worker.run_final(lambda: decode(audio), self)
                text = decoded.text
                self.decodes += 1
            self._final = text
        return self._final

    def _after_pause(self, audio: np.ndarray, cut: tuple[int, Decoded] | None) -> str | None:
        """The final text from a decode of the audio after the last pause
        decode, prompted with its text; None when there is no such decode
        or the tail's is in doubt (then the whole audio is decoded)."""
        if self._decode_tail is None or cut is None or cut[0] >= len(audio):
            return None
        n, before = cut
        decode_tail = self._decode_tail
        tail = self._worker.run_final(lambda: decode_tail(audio[n:], before.text), self)
        self.decodes += 1
        if tail.fallback:
            log.debug("tail decode after %.2f s in doubt (%s)", n / self._rate_hz, tail.fallback)
            return None
        log.debug(
            "decoded %.2f s after a pause at %.2f s in %.0f ms",
            (len(audio) - n) / self._rate_hz,
            n / self._rate_hz,
            tail.elapsed_s * 1000,
        )
        return f"{before.text} {tail.text}".strip()
