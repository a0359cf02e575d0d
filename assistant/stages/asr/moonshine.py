"""Moonshine: a recognizer whose cost follows the audio's length.

Moonshine base (English, MIT) runs on onnxruntime, which piper already
brings, from the graphs the catalogue rebuilt as ONNX with int8 weights
(``assistant models fetch moonshine-base-en``). Like Whisper it decodes
whole utterances, so it reuses Whisper's streaming transcriber
(`whisper_stream`): the utterance so far is decoded again on a background
thread while it grows and at every pause, which is cheap here, so
``partial()`` has text during speech and ``finish()`` usually has nothing
left to decode.

Every decode goes through Moonshine's guards (`moonshine_decode.guard`). A
final decode that fails one is decoded again by the ``fallback`` engine
(Whisper, when the composition root found it installed); without one, the
guarded text stands and the transcriber reports it as doubtful
(`MoonshineTranscriber.doubt`, and a warning in the log).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.core.config import AsrConfig
from assistant.core.errors import ModelError, SpeechToTextError
from assistant.stages.asr.decode_worker import DecodeWorker
from assistant.stages.asr.endpoint import SilenceEndpointer
from assistant.stages.asr.moonshine_decode import MoonshineDecoder
from assistant.stages.asr.moonshine_tokens import MoonshineTokenizer
from assistant.stages.asr.whisper_stream import StreamingTranscriber
from assistant.stages.asr.whisper_window import Decoded
from assistant.stages.audio.pcm import ASR_RATE_HZ

log = logging.getLogger(__name__)

FILES = ("encoder_model.onnx", "decoder_model_merged.onnx", "tokenizer.bin")
"""What a Moonshine model directory holds (`catalog.toml`'s moonshine-base-en)."""
LONG_AUDIO_S = 45.0
"""Longer utterances go straight to the fallback engine, when there is one:
here Moonshine kept its word error rate on 24 and 47 s of real speech, and
on 78 s looped (its guard caught it, after a 47 s decode)."""


class FallbackDecoder(Protocol):
    """What decodes the utterances Moonshine's guards reject: Whisper's
    `WhisperSpeechToText` is one. ``decode`` runs on the calling thread."""

    name: str

    def decode(self, samples: np.ndarray) -> Decoded: ...

    def warm_up(self) -> None: ...


class MoonshineSpeechToText:
    """Moonshine on the CPU; the sessions load on first `warm_up` or `start`.

    ``n_threads`` is onnxruntime's intra-op thread count (0 lets it choose).
    ``interval_s`` is how much new audio triggers a decode during speech
    (a pause after speech always does). ``fallback`` decodes what fails a
    guard at the end of an utterance; it is warmed up with this engine.

    Utterances may overlap (the hub): their decodes take turns on one
    `DecodeWorker`, finals first, as Whisper's do. `close` stops its thread
    (idempotent).
    """

    name = "moonshine"
    sample_rate_hz = ASR_RATE_HZ

    def __init__(
        self,
        config: AsrConfig,
        model_dir: Path,
        silence_s: float = 1.0,
        n_threads: int = 0,
        *,
        fallback: FallbackDecoder | None = None,
        interval_s: float = 0.5,
    ) -> None:
        model_dir = Path(model_dir)
        missing = [name for name in FILES if not (model_dir / name).is_file()]
        if missing:
            raise ModelError(
                f"Moonshine model directory {model_dir} has no {', '.join(missing)}; "
                f"run `assistant models fetch {model_dir.name}`"
            )
        if config.language and not config.language.startswith("en"):
            raise SpeechToTextError(
                f"asr.engine = 'moonshine' understands English only, not {config.language!r}; "
                "set asr.engine = 'vosk' or 'whisper' for it"
            )
        self.model_dir = model_dir
        self.silence_s = silence_s
        self.n_threads = n_threads
        self.interval_s = interval_s
        self.fallback = fallback
        self._decoder: MoonshineDecoder | None = None
        self._lock = threading.Lock()
        self._decode_lock = threading.Lock()
        self._worker = DecodeWorker("moonshine-decode")

    def _loaded(self) -> MoonshineDecoder:
        with self._lock:
            if self._decoder is None:
                started = time.monotonic()
                try:
                    self._decoder = MoonshineDecoder(
                        self._session(FILES[0]),
                        self._session(FILES[1]),
                        MoonshineTokenizer.load(self.model_dir / FILES[2]),
                    )
                except ModelError:
                    raise
                except Exception as exc:
                    raise ModelError(
                        f"Moonshine model {self.model_dir} failed to load ({exc}); delete it "
                        f"and run `assistant models fetch {self.model_dir.name}`"
                    ) from None
                log.info(
                    "loaded Moonshine model %s in %.2f s",
                    self.model_dir,
                    time.monotonic() - started,
                )
            return self._decoder

    def _session(self, name: str) -> Any:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.n_threads
        options.inter_op_num_threads = 1
        # Its threads wait without spinning: they share the cores with the
        # LLM and Piper, and spinning ones took 1.6x as long here under load.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Every utterance has its own length: no memory pattern to reuse.
        options.enable_mem_pattern = False
        return onnxruntime.InferenceSession(
            str(self.model_dir / name), options, providers=["CPUExecutionProvider"]
        )

    def decode_partial(self, samples: np.ndarray, draft: tuple[int, ...] = ()) -> Decoded:
        """One guarded decode of a whole utterance (mono int16, 16 kHz) on
        the calling thread; what fails a guard comes back flagged
        (`Decoded.fallback`), never decoded again. ``draft``: the tokens of
        an earlier decode of the same utterance (`moonshine_decode`)."""
        decoder = self._loaded()
        try:
            with self._decode_lock:
                return decoder.decode(samples, draft=draft)
        except Exception as exc:
            raise SpeechToTextError(
                f"Moonshine failed to decode {len(samples)} samples: {exc}"
            ) from None

    def decode(self, samples: np.ndarray) -> Decoded:
        """The final text of a whole utterance: `decode_partial`, and when
        that fails a guard, the ``fallback``'s decode instead (its text,
        with `Decoded.fallback` still naming why)."""
        return self.decode_final(samples)[0]

    def decode_final(self, samples: np.ndarray, draft: tuple[int, ...] = ()) -> tuple[Decoded, str]:
        """`decode`, and why its text is doubtful: the guard that failed
        when no fallback decoded the audio again, else ""."""
        audio_s = len(samples) / self.sample_rate_hz
        if audio_s > LONG_AUDIO_S and self.fallback is not None:
            decoded = Decoded("", audio_s, 0, 0.0, f"longer than {LONG_AUDIO_S:.0f} s")
        else:
            decoded = self.decode_partial(samples, draft)
        if not decoded.fallback:
            return decoded, ""
        if self.fallback is None:
            return decoded, decoded.fallback
        log.info("Moonshine's transcript rejected (%s); decoding with %s",
                 decoded.fallback, self.fallback.name)  # fmt: skip
        again = self.fallback.decode(samples)
        elapsed = decoded.elapsed_s + again.elapsed_s
        reason = f"{decoded.fallback}; decoded by {self.fallback.name}"
        return Decoded(again.text, decoded.audio_s, 0, elapsed, reason, again.logprob), ""

    def start(self) -> MoonshineTranscriber:
        self._loaded()
        return MoonshineTranscriber(self)

    def warm_up(self) -> None:
        """Load the sessions (and the fallback) and decode a moment of
        silence, so the first turn is fast."""
        self.decode_partial(np.zeros(self.sample_rate_hz // 2, np.int16))
        if self.fallback is not None:
            self.fallback.warm_up()

    def close(self) -> None:
        """Stop the background decode thread; safe to call twice."""
        self._worker.close()


class MoonshineTranscriber:
    """One utterance (`base.Transcriber`): Whisper's `StreamingTranscriber`
    around Moonshine's decodes, plus `doubt`. Each decode takes the tokens
    of the one before it as its draft."""

    def __init__(self, engine: MoonshineSpeechToText) -> None:
        self._reasons: dict[str, str] = {}
        """Text of each final-quality decode -> why it is doubtful ("" if not)."""
        self._draft: tuple[int, ...] = ()
        """The latest decode's tokens; decodes of one utterance never overlap."""
        self._stream = StreamingTranscriber(
            self._drafted(engine.decode_partial),
            self._noting(engine.decode_final),
            engine._worker,
            SilenceEndpointer(engine.silence_s),
            interval_s=engine.interval_s,
            may_be_final=lambda decoded: not decoded.fallback,
        )
        self.doubt = ""
        """After `finish`: why the final text is not to be trusted (a guard
        failed and no fallback engine decoded it again), or ""."""

    def _drafted(
        self, decode: Callable[[np.ndarray, tuple[int, ...]], Decoded]
    ) -> Callable[[np.ndarray], Decoded]:
        def drafted(samples: np.ndarray) -> Decoded:
            decoded = decode(samples, self._draft)
            self._draft = decoded.tokens
            return decoded

        return drafted

    def _noting(
        self, decode: Callable[[np.ndarray, tuple[int, ...]], tuple[Decoded, str]]
    ) -> Callable[[np.ndarray], Decoded]:
        def noted(samples: np.ndarray) -> Decoded:
            decoded, doubt = decode(samples, self._draft)
            self._draft = decoded.tokens
            self._reasons[decoded.text] = doubt
            return decoded

        return noted

    def accept(self, samples: np.ndarray) -> None:
        self._stream.accept(samples)

    def partial(self) -> str:
        return self._stream.partial()

    def endpoint(self) -> bool:
        return self._stream.endpoint()

    def finish(self) -> str:
        text = self._stream.finish()
        self.doubt = self._reasons.get(text, "")
        if self.doubt:
            log.warning("doubtful transcript %r: %s", text, self.doubt)
        return text

    def close(self) -> None:
        self._stream.close()

    def wait_idle(self, timeout_s: float) -> bool:
        """See `StreamingTranscriber.wait_idle` (benches and tests)."""
        return self._stream.wait_idle(timeout_s)

    @property
    def decodes(self) -> int:
        """Decodes run for this utterance, background and final."""
        return self._stream.decodes
