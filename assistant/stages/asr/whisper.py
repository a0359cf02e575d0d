"""faster-whisper: the optional, more accurate, non-streaming recognizer.

Installed with ``pip install .[whisper]``. Whisper decodes a whole utterance
at once, so audio is buffered while the button is held and decoded in
``finish()``; there are no partial results.
"""

from __future__ import annotations

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


class WhisperSpeechToText:
    """faster-whisper on the CPU with int8 weights.

    ``model_dir`` is a CTranslate2 conversion (``model.bin`` and friends).
    ``n_threads`` 0 lets CTranslate2 choose. The model loads on first
    `warm_up` or `start`; utterances must not overlap (one ASR worker).
    """

    name = "whisper"
    sample_rate_hz = ASR_RATE_HZ

    def __init__(
        self, config: AsrConfig, model_dir: Path, silence_s: float = 1.0, n_threads: int = 0
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
        self._model: Any = None
        self._lock = threading.Lock()

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
            return self._model

    def start(self) -> _WhisperTranscriber:
        return _WhisperTranscriber(
            self._loaded_model(), self.language, SilenceEndpointer(self.silence_s)
        )

    def warm_up(self) -> None:
        """Load the model and run the encoder once, so the first turn is fast."""
        _decode(self._loaded_model(), np.zeros(self.sample_rate_hz // 2, np.int16), self.language)


def _decode(model: Any, samples: np.ndarray, language: str | None) -> str:
    audio = samples.astype(np.float32) / 32768.0
    try:
        segments, _info = model.transcribe(
            audio,
            language=language,
            beam_size=1,
            vad_filter=False,
            condition_on_previous_text=False,
            without_timestamps=True,
        )
        # transcribe() is lazy: the decode happens while iterating.
        return "".join(segment.text for segment in segments).strip()
    except Exception as exc:
        raise SpeechToTextError(f"Whisper failed to decode {len(samples)} samples: {exc}") from None


class _WhisperTranscriber:
    """One buffered utterance; see `base.Transcriber`.

    ``partial()`` is always "": a background decode would compete with the
    LLM for the Pi's cores and block nothing useful. ``finish()`` blocks for
    the whole decode and returns "" without decoding when the energy
    detector heard no speech, because Whisper invents text on silence.
    """

    def __init__(self, model: Any, language: str | None, endpointer: SilenceEndpointer) -> None:
        self._model = model
        self._language = language
        self._endpointer = endpointer
        self._blocks: list[np.ndarray] = []
        self._final: str | None = None

    def accept(self, samples: np.ndarray) -> None:
        if self._final is not None:
            raise SpeechToTextError("Whisper transcriber got audio after finish(); start a new one")
        data = to_mono_int16(samples)
        self._endpointer.update(data)
        self._blocks.append(data.copy())

    def partial(self) -> str:
        return ""

    def endpoint(self) -> bool:
        return self._endpointer.endpoint

    def finish(self) -> str:
        if self._final is None:
            if not self._blocks or not self._endpointer.heard_speech:
                log.debug("no speech heard; skipping the Whisper decode")
                self._final = ""
            else:
                started = time.monotonic()
                self._final = _decode(self._model, np.concatenate(self._blocks), self._language)
                log.debug("Whisper decoded in %.2f s", time.monotonic() - started)
            self._blocks = []
            self._model = None
        return self._final
