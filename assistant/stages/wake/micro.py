"""microWakeWord: the bundled TFLite keyword spotters of ``pymicro-wakeword``.

One shared feature frontend (10 ms frames, 40 mel bins) feeds every word's
model; each model runs on a stride of three frames (30 ms) and averages its
last few probabilities, so a detection is a sustained peak, not one frame.

Each word is heard twice: as said, and by a second copy of its model on the
same features re-timed to be `SPEEDUPS` faster. The models miss slow speech
(about 140 words a minute, or a pause after "hey"): the raw probability
stays low at any level or block size, and a lower cutoff or a shorter
average lets in more look-alike sentences than it recovers; the same
features played faster cross the cutoff (benchmarks/wake/clean.py). The
copy costs a second model run per stride: 0.28 -> 0.40 % of a core here.
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
SPEEDUPS = (1.0, 1.45)
"""How much faster each word's models hear the speech: 1.0 as said, 1.45 for
slow speakers (the best of 1.2 to 1.6 on benchmarks/wake/clean.py's set)."""


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


class _Retimer:
    """10 ms feature frames re-timed as if the speech were ``factor`` times
    faster: linear interpolation between neighbouring frames. The spectrum
    and pitch stay as they were, which resampling the audio would not do."""

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self.reset()

    def reset(self) -> None:
        self._last: np.ndarray | None = None
        self._fed = 0  # index of the next frame in
        self._made = 0  # index of the next frame out

    def push(self, frame: np.ndarray) -> list[np.ndarray]:
        """The frames out that ``frame`` completes: none, one or more."""
        if self.factor == 1.0:
            return [frame]
        out = []
        # Frame out j sits at time j * factor, in frames in; each lies
        # between the last frame in and this one.
        while (at := self._made * self.factor) <= self._fed:
            weight = at - (self._fed - 1)
            last = frame if self._last is None else self._last
            out.append(last * (1.0 - weight) + frame * weight)
            self._made += 1
        self._last = frame
        self._fed += 1
        return out


class MicroWakeWordDetector:
    """`WakeDetector` over microWakeWord; loads its models in the constructor
    (tens of milliseconds). `ModelError` if the package or a model is missing.

    ``speedups`` are the rates each word is heard at (`SPEEDUPS`), one model
    copy each; ``(1.0,)`` is the bare model. A word is detected when any of
    its copies crosses the threshold."""

    name = "microWakeWord"
    sample_rate_hz = ASR_RATE_HZ

    def __init__(
        self,
        words: list[str] | tuple[str, ...],
        *,
        threshold: float = 0.0,
        refractory_s: float = 2.0,
        speedups: tuple[float, ...] = SPEEDUPS,
    ) -> None:
        self.words = check_words(words)
        self.threshold = threshold
        """Default threshold; 0 keeps each model's own cutoff."""
        self.refractory_s = refractory_s
        self.speedups = tuple(speedups)
        if not self.speedups or min(self.speedups) <= 0:
            raise ValueError(f"speedups must be positive factors, e.g. (1.0,); got {speedups!r}")
        lib = _library()
        started = time.monotonic()
        try:
            self._looks = {
                w: [
                    (lib.MicroWakeWord.from_builtin(lib.Model(w)), _Retimer(f))
                    for f in self.speedups
                ]
                for w in self.words
            }
            self._features = lib.MicroWakeWordFeatures()
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"wake word model failed to load: {exc}; reinstall with `pip install .[wake]`"
            ) from exc
        log.info(
            "wake words %s loaded in %.0f ms (heard at %s x speed)",
            ", ".join(self.words),
            (time.monotonic() - started) * 1000,
            "/".join(f"{f:g}" for f in self.speedups),
        )
        self._fed = 0
        self._last_s: dict[str, float] = {}

    def cutoff(self, word: str) -> float:
        """The threshold ``word`` is held to by default."""
        return self.threshold or float(self._looks[word][0][0].probability_cutoff)

    def process(self, samples: np.ndarray, threshold: float | None = None) -> list[Detection]:
        data = np.asarray(samples, dtype=np.int16).ravel()
        found: list[Detection] = []
        # Features come every 10 ms, so feed the frontend in 10 ms steps to
        # time each detection to the frame that completed it.
        for start in range(0, len(data), _FRAME_SAMPLES):
            piece = data[start : start + _FRAME_SAMPLES]
            self._fed += len(piece)
            for features in self._features.process_streaming(piece.tobytes()):
                for word, looks in self._looks.items():
                    score = max(
                        (
                            model.process_streaming_prob(frame) or 0.0
                            for model, retimer in looks
                            for frame in retimer.push(features)
                        ),
                        default=0.0,
                    )
                    if score <= (threshold or self.cutoff(word)):
                        continue
                    t_s = self._fed / self.sample_rate_hz
                    if t_s - self._last_s.get(word, -1e9) < self.refractory_s:
                        continue
                    self._last_s[word] = t_s
                    found.append(Detection(word, round(t_s, 3), round(float(score), 4)))
        return found

    def reset(self) -> None:
        for looks in self._looks.values():
            for model, retimer in looks:
                # Its reset reloads the interpreter (about 1 ms) to clear the
                # recurrent state; cheap enough between turns.
                model.reset()
                retimer.reset()
        self._features.reset()
        self._fed = 0
        self._last_s.clear()

    def close(self) -> None:
        for looks in self._looks.values():
            for model, _ in looks:
                model.close()
