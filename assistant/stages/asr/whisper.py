"""faster-whisper: the optional, more accurate recognizer, decoding during speech.

Installed with ``pip install .[whisper]``. Whisper decodes whole utterances,
so the utterance is decoded again on a background thread while it grows
(`whisper_stream`), each time on an encoder window cut to the audio
(`whisper_window`): partials come from those decodes, and the final text is
often ready when the button is released.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.config import AsrConfig
from assistant.core.errors import ModelError, SpeechToTextError
from assistant.stages.asr.decode_worker import DecodeWorker
from assistant.stages.asr.endpoint import SilenceEndpointer
from assistant.stages.asr.whisper_stream import StreamingTranscriber
from assistant.stages.asr.whisper_window import FULL_WINDOW_S, Decoded, ShortWindowDecoder
from assistant.stages.audio.pcm import ASR_RATE_HZ

log = logging.getLogger(__name__)


class WhisperSpeechToText:
    """faster-whisper on the CPU with int8 weights.

    ``model_dir`` is a CTranslate2 conversion (``model.bin`` and friends).
    ``n_threads`` 0 lets CTranslate2 choose; the background decodes use the
    same threads, and run only while listening (where they share the cores
    with the LLM reading the prompt ahead, if it does).

    ``interval_s`` is how much new audio triggers a partial decode during
    speech; ``margin_s`` and ``min_window_s`` size its encoder window
    (`whisper_window.window_s`). Decodes whose text can become the
    transcript use at least ``final_window_s`` (``asr.whisper_final_window_s``),
    and a window shorter than Whisper's own 30 s only counts when its
    average log-probability is at least ``min_logprob``
    (``asr.whisper_min_logprob``); else the audio is decoded again on 30 s.
    A background decode during speech that passes the same test is as good
    as a final one. When speech went on after a pause, the final decode
    covers only the audio after it (`decode_tail`, on a window of at least
    ``tail_window_s``; 0 decodes the whole utterance instead).

    The model loads on first `warm_up` or `start`. Utterances may overlap
    (the hub): each keeps its own audio, and their decodes share one worker
    (`DecodeWorker`): a final decode goes before every partial one, and
    utterances take turns. `close` stops the decode thread (idempotent); an
    engine that is never closed leaves only an idle daemon thread.
    """

    name = "whisper"
    sample_rate_hz = ASR_RATE_HZ

    def __init__(
        self,
        config: AsrConfig,
        model_dir: Path,
        silence_s: float = 1.0,
        n_threads: int = 0,
        *,
        interval_s: float = 0.75,
        margin_s: float = 2.0,
        min_window_s: int = 10,
        final_window_s: int = 10,
        min_logprob: float = -0.6,  # as asr.whisper_min_logprob; see whisper_window
        tail_window_s: int = 10,
    ) -> None:
        try:
            import faster_whisper  # noqa: F401
        except ImportError:
            raise SpeechToTextError(
                "asr.engine = 'whisper' needs faster-whisper, which is not installed; "
                "install it with `pip install .[whisper]` or set asr.engine = 'vosk'"
            ) from None
        model_dir = Path(model_dir)
        if not (model_dir / "model.bin").is_file():
            raise ModelError(
                f"Whisper model directory {model_dir} is missing or has no model.bin; "
                f"run `assistant models fetch {model_dir.name}`"
            )
        self.model_dir = model_dir
        self.language = config.language or None
        self.silence_s = silence_s
        self.n_threads = n_threads
        self.interval_s = interval_s
        self.margin_s = margin_s
        self.min_window_s = min_window_s
        self.final_window_s = final_window_s
        self.min_logprob = min_logprob
        self.tail_window_s = tail_window_s
        self._model: Any = None
        self._decoder: ShortWindowDecoder | None = None
        self._lock = threading.Lock()
        self._decode_lock = threading.Lock()
        self._worker = DecodeWorker()

    def _loaded_model(self) -> Any:
        with self._lock:
            if self._model is None:
                from faster_whisper import WhisperModel

                started = time.monotonic()
                try:
                    self._model = WhisperModel(
                        str(self.model_dir),
                        device="cpu",
                        compute_type="int8",
                        cpu_threads=self.n_threads,
                    )
                except Exception as exc:
                    raise ModelError(
                        f"Whisper model {self.model_dir} failed to load ({exc}); delete it and "
                        f"run `assistant models fetch {self.model_dir.name}`"
                    ) from None
                log.info(
                    "loaded Whisper model %s in %.2f s", self.model_dir, time.monotonic() - started
                )
                self._decoder = ShortWindowDecoder(
                    self._model,
                    self.language,
                    margin_s=self.margin_s,
                    min_window_s=self.min_window_s,
                )
            return self._model

    @contextlib.contextmanager
    def _loaded_decoder(self) -> Iterator[ShortWindowDecoder]:
        """The decoder (loading the model if needed), held alone: one decode
        at a time, whichever thread asks."""
        self._loaded_model()
        assert self._decoder is not None
        with self._decode_lock:
            yield self._decoder

    def decode(self, samples: np.ndarray) -> Decoded:
        """Transcribe a whole utterance of mono int16 at 16 kHz now, as its
        final text, on the calling thread (after any decode in flight);
        loads the model if needed."""
        with self._loaded_decoder() as decoder:
            return decoder.decode(samples, self.final_window_s, min_logprob=self.min_logprob)

    def decode_pause(self, samples: np.ndarray) -> Decoded:
        """`decode` for a pause during speech: an output in doubt is returned
        flagged in `Decoded.fallback`, not decoded again on 30 s there (speech
        often goes on, and a 30 s decode in flight at the release delays the
        final text by seconds); `decode_full` settles it if it is needed."""
        with self._loaded_decoder() as decoder:
            return decoder.decode(
                samples, self.final_window_s, fall_back=False, min_logprob=self.min_logprob
            )

    def decode_full(self, samples: np.ndarray) -> Decoded:
        """The 30 s decode `decode` falls back to, straight away: for an
        utterance whose short window was in doubt at a pause, with no speech
        after it."""
        with self._loaded_decoder() as decoder:
            return decoder.decode_full(samples, "in doubt at the last pause")

    def may_be_final(self, decoded: Decoded) -> bool:
        """Whether a cheap decode is as good as `decode`'s would be: the same
        window at least, no loop, and confident enough."""
        return (
            decoded.window_s >= self.final_window_s
            and not decoded.fallback
            and (decoded.window_s >= FULL_WINDOW_S or decoded.logprob >= self.min_logprob)
        )

    def decode_tail(self, samples: np.ndarray, prompt: str) -> Decoded:
        """The end of an utterance, after a pause where ``prompt`` was said,
        decoded as final text on a window of at least ``tail_window_s``; an
        output in doubt (as `decode` would decode again on 30 s) is returned
        flagged in `Decoded.fallback`, not decoded again."""
        with self._loaded_decoder() as decoder:
            return decoder.decode(
                samples,
                self.tail_window_s,
                fall_back=False,
                min_logprob=self.min_logprob,
                prompt=prompt,
            )

    def decode_partial(self, samples: np.ndarray) -> Decoded:
        """A cheap decode for partial text: the short window, and an output
        that looks like a loop is returned flagged, not decoded again."""
        with self._loaded_decoder() as decoder:
            return decoder.decode(samples, fall_back=False)

    def start(self) -> StreamingTranscriber:
        # Utterances may overlap (the hub transcribes for several clients at
        # once): each transcriber keeps its own audio, and their decodes take
        # turns on the one worker, finals first. Each has at most one decode
        # queued; closing one (abandoned, or finished) takes it off the queue.
        self._loaded_model()
        return StreamingTranscriber(
            self.decode_partial,
            self.decode,
            self._worker,
            SilenceEndpointer(self.silence_s),
            interval_s=self.interval_s,
            may_be_final=self.may_be_final,
            decode_tail=self.decode_tail if self.tail_window_s else None,
            decode_pause=self.decode_pause,
            decode_full=self.decode_full,
        )

    def warm_up(self) -> None:
        """Load the model and decode a moment of silence on both windows, so
        the first turn is fast."""
        silence = np.zeros(self.sample_rate_hz // 2, np.int16)
        self.decode_partial(silence)
        self.decode(silence)

    def close(self) -> None:
        """Stop the background decode thread; safe to call twice."""
        self._worker.close()
