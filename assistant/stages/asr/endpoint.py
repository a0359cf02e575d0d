"""End of an utterance from audio energy: the endpointer both recognizers use in toggle mode."""

from __future__ import annotations

import numpy as np

from assistant.stages.audio.pcm import ASR_RATE_HZ


class SilenceEndpointer:
    """Energy-based end-of-utterance detector: speech first, then quiet.

    Pure and cheap: feed int16 blocks of any length with `update`; levels are
    measured on fixed 20 ms frames so the result does not depend on block
    size. A frame is speech when it is louder than ``threshold_dbfs`` and
    ``margin_db`` above a noise floor that follows the quietest frames down at
    once and drifts up by ``floor_rise_db_per_s`` (so a fan or hum is not
    speech). ``endpoint`` latches true after at least ``min_speech_s`` of
    speech followed by ``silence_s`` of non-speech.
    """

    FRAME_S = 0.02

    def __init__(
        self,
        silence_s: float = 1.0,
        *,
        rate_hz: int = ASR_RATE_HZ,
        threshold_dbfs: float = -50.0,
        margin_db: float = 12.0,
        min_speech_s: float = 0.1,
        floor_rise_db_per_s: float = 3.0,
    ) -> None:
        self.silence_s = silence_s
        self.threshold_dbfs = threshold_dbfs
        self.margin_db = margin_db
        self.min_speech_s = min_speech_s
        self._frame_len = max(1, round(rate_hz * self.FRAME_S))
        self._rise_db = floor_rise_db_per_s * self.FRAME_S
        self._pending = np.zeros(0, dtype=np.int16)
        self._floor_dbfs: float | None = None
        self.speech_s = 0.0
        """Total speech heard, in seconds."""
        self.trailing_quiet_s = 0.0
        """Non-speech since the last speech frame (or the start), in seconds."""
        self._endpoint = False

    @property
    def heard_speech(self) -> bool:
        return self.speech_s >= self.min_speech_s

    @property
    def endpoint(self) -> bool:
        return self._endpoint

    @property
    def noise_floor_dbfs(self) -> float | None:
        return self._floor_dbfs

    def update(self, samples: np.ndarray) -> bool:
        """Add a block; return True if any complete frame in it was speech."""
        data = np.concatenate([self._pending, np.asarray(samples, dtype=np.int16).ravel()])
        n_frames = len(data) // self._frame_len
        self._pending = data[n_frames * self._frame_len :]
        if n_frames == 0:
            return False
        frames = data[: n_frames * self._frame_len].reshape(n_frames, self._frame_len)
        power = np.mean((frames.astype(np.float64) / 32768.0) ** 2, axis=1)
        # -100 dBFS stands in for digital silence so the floor stays finite.
        levels = 10.0 * np.log10(np.maximum(power, 1e-10))
        any_speech = False
        for level in levels:
            floor = level if self._floor_dbfs is None else min(level, self._floor_dbfs)
            is_speech = level > self.threshold_dbfs and level > floor + self.margin_db
            self._floor_dbfs = float(min(level, floor + self._rise_db))
            if is_speech:
                any_speech = True
                self.speech_s += self.FRAME_S
                self.trailing_quiet_s = 0.0
            else:
                self.trailing_quiet_s += self.FRAME_S
            if self.heard_speech and self.trailing_quiet_s >= self.silence_s - 1e-9:
                self._endpoint = True
        return any_speech
