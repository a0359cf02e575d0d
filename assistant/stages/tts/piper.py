"""`PiperTextToSpeech`: the `TextToSpeech` backend for piper voices.

Concurrency: `synthesize` blocks and runs on the caller's worker thread, one
call at a time per engine. piper serialises espeak-ng phonemization behind a
process-wide lock, so concurrent calls would not run in parallel anyway; the
ONNX inference itself runs on onnxruntime's own thread pool. `set_volume`
may come from any thread. The engine holds no device: nothing to close.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.config import TtsConfig
from assistant.core.errors import ModelError, TextToSpeechError
from assistant.stages.audio.pcm import AudioChunk
from assistant.stages.tts.sentences import split_sentences
from assistant.stages.tts.text import clean_for_speech

log = logging.getLogger(__name__)

_FIX = "run `./setup.sh` or `assistant models fetch`"


class PiperTextToSpeech:
    """`TextToSpeech` with a piper voice (``<voice>.onnx`` plus ``<voice>.onnx.json``).

    The voice is loaded once, in the constructor, which is the only place
    that touches files. ``TtsConfig.length_scale`` multiplies the voice's own
    length scale (1.0 keeps the voice's pace); ``volume`` is a gain applied
    after piper's peak normalisation, clipped to full scale. ``language``
    (``Config.language``) is passed to `clean_for_speech`: only English
    numbers are spelled out as words.
    """

    def __init__(self, config: TtsConfig, model_path: Path, language: str = "en") -> None:
        model_path = Path(model_path)
        config_path = Path(f"{model_path}.json")
        for path in (model_path, config_path):
            if not path.is_file():
                raise ModelError(f"piper voice file {path} is missing; {_FIX}")
        try:
            voice_config = json.loads(config_path.read_text(encoding="utf-8"))
            rate = int(voice_config["audio"]["sample_rate"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(
                f"piper voice config {config_path} is corrupt ({type(exc).__name__}: {exc}); "
                f"delete it and {_FIX}"
            ) from None
        try:
            from piper import PiperVoice, SynthesisConfig
        except ImportError:
            raise TextToSpeechError(
                "piper-tts is not installed; run `pip install piper-tts` or ./setup.sh"
            ) from None
        started = time.monotonic()
        try:
            self._voice = PiperVoice.load(model_path, config_path=config_path)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(
                f"piper voice {model_path} failed to load ({type(exc).__name__}); "
                f"the file may be corrupt: delete it and {_FIX}"
            ) from None
        self._syn_config: Any = SynthesisConfig(
            length_scale=self._voice.config.length_scale * config.length_scale,
            noise_scale=config.noise_scale if config.noise_scale >= 0 else None,
            noise_w_scale=config.noise_w_scale if config.noise_w_scale >= 0 else None,
            volume=config.volume,
        )
        self.sample_rate_hz: int = self._voice.config.sample_rate or rate
        """Rate of every chunk, in Hertz: the voice's."""
        self.language = language
        self.name: str = f"piper:{model_path.name.removesuffix('.onnx')}"
        """``piper:<voice>``, for logs and ``assistant doctor``."""
        log.info(
            "loaded piper voice %s (%d Hz) in %.2f s",
            model_path,
            self.sample_rate_hz,
            time.monotonic() - started,
        )

    @classmethod
    def from_config(
        cls, config: TtsConfig, models_dir: Path, language: str = "en"
    ) -> PiperTextToSpeech:
        """Load ``<models_dir>/<config.voice>.onnx``."""
        return cls(config, Path(models_dir) / f"{config.voice}.onnx", language)

    def synthesize(self, text: str, cancel: threading.Event | None = None) -> Iterator[AudioChunk]:
        """See `TextToSpeech.synthesize`.

        Each sentence is synthesized separately, so the first chunk is ready
        after one sentence's work and a cancel takes effect within one
        sentence; piper's own espeak sub-splits are joined back into one
        chunk per sentence.
        """
        for sentence in split_sentences(clean_for_speech(text, self.language)):
            if cancel is not None and cancel.is_set():
                return
            samples = self._synthesize_sentence(sentence)
            if cancel is not None and cancel.is_set():
                return
            if len(samples):
                yield AudioChunk(samples, self.sample_rate_hz)

    def _synthesize_sentence(self, sentence: str) -> np.ndarray:
        started = time.monotonic()
        try:
            parts = [
                chunk.audio_int16_array
                for chunk in self._voice.synthesize(sentence, syn_config=self._syn_config)
            ]
        except Exception as exc:  # espeak and onnxruntime raise untyped errors
            raise TextToSpeechError(
                f"piper failed on {sentence[:40]!r} ({type(exc).__name__}: {exc})"
            ) from None
        samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
        log.debug(
            "synthesized %d chars -> %.2f s audio in %.2f s",
            len(sentence),
            len(samples) / self.sample_rate_hz,
            time.monotonic() - started,
        )
        return samples.astype(np.int16, copy=False)

    def set_volume(self, gain: float) -> None:
        """Gain for the sentences synthesized from now on (1.0 keeps piper's
        full-scale level); any thread. Voice commands change it."""
        self._syn_config.volume = gain

    def warm_up(self) -> None:
        """Synthesize one word so onnxruntime's lazy setup is done before the first reply."""
        started = time.monotonic()
        for _ in self.synthesize("Ready."):
            pass
        log.info("warmed up %s in %.2f s", self.name, time.monotonic() - started)
