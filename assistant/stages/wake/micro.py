"""microWakeWord: the bundled TFLite keyword spotters of ``pymicro-wakeword``.

One shared feature frontend (10 ms frames, 40 mel bins) feeds every word's
model; each model runs on a stride of three frames (30 ms) and averages its
last few probabilities, so a detection is a sustained peak, not one frame.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from assistant.core.errors import ConfigError, ModelError
from assistant.stages.audio.pcm import ASR_RATE_HZ
from assistant.stages.wake.base import Detection

log = logging.getLogger(__name__)

BUNDLED_WORDS = ("hey_mycroft", "hey_jarvis", "okay_nabu", "alexa")
"""The models inside the ``pymicro-wakeword`` wheel."""
_FRAME_SAMPLES = 160  # 10 ms at 16 kHz: the frontend's step


def _library() -> Any:
    try:
        import pymicro_wakeword
    except ImportError as exc:
        raise ModelError(
            "wake word: the pymicro-wakeword package is not installed; "
            "run `pip install .[wake]` or set [wake] enabled = false"
        ) from exc
    return pymicro_wakeword


def check_words(words: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``words`` as a tuple, or `ConfigError` naming the first unknown one."""
    if not words:
        raise ConfigError(f"wake.words is empty; expected some of {', '.join(BUNDLED_WORDS)}")
    for word in words:
        if word not in BUNDLED_WORDS:
            raise ConfigError(
                f"wake.words: {word!r} is not a bundled wake word; "
                f"expected one of {', '.join(BUNDLED_WORDS)}"
            )
    return tuple(dict.fromkeys(words))


class MicroWakeWordDetector:
    """`WakeDetector` over microWakeWord; loads its models in the constructor
    (tens of milliseconds). `ModelError` if the package or a model is missing."""

    name = "microWakeWord"
    sample_rate_hz = ASR_RATE_HZ

    def __init__(
        self,
        words: list[str] | tuple[str, ...],
        *,
        threshold: float = 0.0,
        refractory_s: float = 2.0,
    ) -> None:
        self.words = check_words(words)
        self.threshold = threshold
        """Default threshold; 0 keeps each model's own cutoff."""
        self.refractory_s = refractory_s
        lib = _library()
        started = time.monotonic()
        try:
            self._models = {w: lib.MicroWakeWord.from_builtin(lib.Model(w)) for w in self.words}
            self._features = lib.MicroWakeWordFeatures()
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"wake word model failed to load: {exc}; reinstall with `pip install .[wake]`"
            ) from exc
        log.info(
            "wake words %s loaded in %.0f ms",
            ", ".join(self.words),
            (time.monotonic() - started) * 1000,
        )
        self._fed = 0
        self._last_s: dict[str, float] = {}

    def cutoff(self, word: str) -> float:
        """The threshold ``word`` is held to by default."""
        return self.threshold or float(self._models[word].probability_cutoff)

    def process(self, samples: np.ndarray, threshold: float | None = None) -> list[Detection]:
        data = np.asarray(samples, dtype=np.int16).ravel()
        found: list[Detection] = []
        # Features come every 10 ms, so feed the frontend in 10 ms steps to
        # time each detection to the frame that completed it.
        for start in range(0, len(data), _FRAME_SAMPLES):
            piece = data[start : start + _FRAME_SAMPLES]
            self._fed += len(piece)
            for features in self._features.process_streaming(piece.tobytes()):
                for word, model in self._models.items():
                    score = model.process_streaming_prob(features)
                    if score is None or score <= (threshold or self.cutoff(word)):
                        continue
                    t_s = self._fed / self.sample_rate_hz
                    if t_s - self._last_s.get(word, -1e9) < self.refractory_s:
                        continue
                    self._last_s[word] = t_s
                    found.append(Detection(word, round(t_s, 3), round(float(score), 4)))
        return found

    def reset(self) -> None:
        for model in self._models.values():
            # Its reset reloads the interpreter (about 1 ms) to clear the
            # recurrent state; cheap enough between turns.
            model.reset()
        self._features.reset()
        self._fed = 0
        self._last_s.clear()

    def close(self) -> None:
        for model in self._models.values():
            model.close()
