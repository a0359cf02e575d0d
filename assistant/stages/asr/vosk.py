"""Vosk: the default, streaming recognizer.

One `vosk.Model` is shared by every utterance; each utterance gets its own
`KaldiRecognizer`, as Vosk requires one recognizer per stream.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.config import AsrConfig
from assistant.core.errors import ModelError, SpeechToTextError
from assistant.stages.asr.endpoint import SilenceEndpointer
from assistant.stages.audio.pcm import ASR_RATE_HZ, to_mono_int16

log = logging.getLogger(__name__)

FETCH_HINT = "run `assistant models fetch vosk-model-small-en-us-0.15` (the English model for a Pi)"


class VoskSpeechToText:
    """Vosk recognizer; the model loads on first `warm_up` or `start`.

    ``config.grammar``, when non-empty, restricts recognition to those
    phrases (small models only; big models ignore it). Thread-safe to start
    utterances from any thread; each `Transcriber` belongs to one thread.
    """

    name = "vosk"
    sample_rate_hz = ASR_RATE_HZ

    def __init__(self, config: AsrConfig, model_dir: Path, silence_s: float = 1.0) -> None:
        model_dir = Path(model_dir)
        if not model_dir.is_dir():
            raise ModelError(f"Vosk model directory {model_dir} is missing; {FETCH_HINT}")
        if not ((model_dir / "am" / "final.mdl").is_file() or (model_dir / "final.mdl").is_file()):
            raise ModelError(
                f"Vosk model directory {model_dir} has no am/final.mdl, so it is not a Vosk model; "
                f"{FETCH_HINT}"
            )
        self.model_dir = model_dir
        self.silence_s = silence_s
        # Vosk skips words it gets as \uXXXX escapes, so non-ASCII must stay raw.
        self._grammar = (
            json.dumps([*config.grammar, "[unk]"], ensure_ascii=False) if config.grammar else None
        )
        self._model: Any = None
        self._lock = threading.Lock()

    def _loaded_model(self) -> Any:
        with self._lock:
            if self._model is None:
                import vosk

                vosk.SetLogLevel(-2)  # -1 still prints warnings, e.g. for "[unk]"
                started = time.monotonic()
                try:
                    self._model = vosk.Model(str(self.model_dir))
                except Exception as exc:
                    raise ModelError(
                        f"Vosk model {self.model_dir} failed to load ({exc}); "
                        f"delete it and fetch it again: {FETCH_HINT}"
                    ) from None
                log.info(
                    "loaded Vosk model %s in %.2f s", self.model_dir, time.monotonic() - started
                )
            return self._model

    def start(self) -> _VoskTranscriber:
        model = self._loaded_model()
        try:
            import vosk

            if self._grammar is None:
                recognizer = vosk.KaldiRecognizer(model, float(self.sample_rate_hz))
            else:
                recognizer = vosk.KaldiRecognizer(model, float(self.sample_rate_hz), self._grammar)
            recognizer.SetWords(False)
        except Exception as exc:
            raise SpeechToTextError(f"Vosk recognizer for {self.model_dir} failed: {exc}") from None
        return _VoskTranscriber(recognizer, SilenceEndpointer(self.silence_s))

    def warm_up(self) -> None:
        """Load the model and decode a moment of silence, so the first turn is fast."""
        transcriber = self.start()
        transcriber.accept(np.zeros(self.sample_rate_hz // 4, dtype=np.int16))
        transcriber.finish()


def _text(result_json: str, key: str) -> str:
    # A grammar maps everything outside it to [unk]; that is not a transcript.
    words = json.loads(result_json).get(key, "").split()
    return " ".join(w for w in words if w != "[unk]")


class _VoskTranscriber:
    """One utterance on one `KaldiRecognizer`; see `base.Transcriber`.

    ``endpoint`` needs both the energy detector (speech, then ``silence_s`` of
    quiet) and Vosk's own endpoint after the last speech, so a loud pause
    inside a word or a cough alone does not end a turn.
    """

    def __init__(self, recognizer: Any, endpointer: SilenceEndpointer) -> None:
        self._recognizer = recognizer
        self._endpointer = endpointer
        self._segments: list[str] = []
        self._partial = ""
        self._decoder_ended = False
        self._final: str | None = None

    def accept(self, samples: np.ndarray) -> None:
        if self._final is not None:
            raise SpeechToTextError("Vosk transcriber got audio after finish(); start a new one")
        data = to_mono_int16(samples)
        if self._endpointer.update(data):
            self._decoder_ended = False
        try:
            if self._recognizer.AcceptWaveform(data.tobytes()):
                text = _text(self._recognizer.Result(), "text")
                if text:
                    self._segments.append(text)
                self._partial = ""
                self._decoder_ended = True
            else:
                self._partial = _text(self._recognizer.PartialResult(), "partial")
                if self._partial:
                    self._decoder_ended = False
        except Exception as exc:
            raise SpeechToTextError(f"Vosk failed to decode audio: {exc}") from None

    def partial(self) -> str:
        return " ".join([*self._segments, self._partial]).strip()

    def endpoint(self) -> bool:
        return self._decoder_ended and self._endpointer.endpoint

    def finish(self) -> str:
        if self._final is None:
            try:
                last = _text(self._recognizer.FinalResult(), "text")
            except Exception as exc:
                raise SpeechToTextError(f"Vosk failed to finish the utterance: {exc}") from None
            self._final = " ".join([*self._segments, last]).strip()
            self._recognizer = None
        return self._final

    def close(self) -> None:
        """Free the recognizer (its decoder's memory); idempotent."""
        self._recognizer = None
