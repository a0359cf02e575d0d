"""Speech recognition behind one streaming interface.

A `SpeechToText` engine is loaded once and hands out one `Transcriber` per
utterance: ``start()``, then ``accept()``\\* while the button is held (or
until ``endpoint()``), then ``finish()`` exactly once. Audio is mono int16 at
`ASR_RATE_HZ`.

The backends live in `asr_vosk` (default, streaming) and `asr_whisper`
(optional extra); only `make_speech_to_text` and the composition root pick
one. `SilenceEndpointer` is the small energy detector both use for
toggle-mode endpointing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .config import AsrConfig
from .errors import ConfigError
from .pcm import ASR_RATE_HZ

if TYPE_CHECKING:
    from .asr_vosk import VoskSpeechToText
    from .asr_whisper import WhisperSpeechToText

__all__ = [
    "SilenceEndpointer",
    "SpeechToText",
    "Transcriber",
    "VoskSpeechToText",
    "WhisperSpeechToText",
    "make_speech_to_text",
]


class Transcriber(Protocol):
    """One utterance.

    Used from one worker thread only. ``accept`` must keep up with real time
    and never waits for a full decode; ``finish`` may block for the final
    decode (milliseconds for Vosk, about the utterance length for Whisper on a
    Pi). Nothing is closed by the caller: the transcriber is done after
    ``finish``.
    """

    def accept(self, samples: np.ndarray) -> None:
        """Feed mono int16 samples at 16 kHz, any block length (20-30 ms typical)."""
        ...

    def partial(self) -> str:
        """Best text so far, "" if none; cheap, never blocks on a decode."""
        ...

    def endpoint(self) -> bool:
        """True once speech was heard and then trailing silence (toggle mode)."""
        ...

    def finish(self) -> str:
        """Final text, stripped; "" when nothing was recognized."""
        ...


class SpeechToText(Protocol):
    """A loaded recognizer. ``start`` and ``warm_up`` are called from the ASR
    worker thread; implementations load their model on first use and may be
    warmed up ahead of the first turn."""

    name: str
    sample_rate_hz: int

    def start(self) -> Transcriber: ...

    def warm_up(self) -> None: ...


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


def make_speech_to_text(
    config: AsrConfig, models_dir: Path, silence_s: float = 1.0
) -> SpeechToText:
    """Build the engine named by ``config.engine``; raises `ModelError` (or
    `SpeechToTextError` for a missing extra) at once, before any turn.

    Model names may be absolute paths; otherwise they are looked up in
    ``models_dir``. The model itself is loaded on first ``warm_up``/``start``.
    """
    if config.engine == "vosk":
        from .asr_vosk import VoskSpeechToText

        return VoskSpeechToText(config, Path(models_dir) / config.vosk_model, silence_s)
    if config.engine == "whisper":
        from .asr_whisper import WhisperSpeechToText

        return WhisperSpeechToText(config, Path(models_dir) / config.whisper_model, silence_s)
    raise ConfigError(
        f"asr.engine = {config.engine!r} is not allowed; expected 'vosk' or 'whisper'"
    )


def __getattr__(name: str) -> Any:
    # Re-export the backends lazily: they import this module for the
    # endpointer, and importing them here eagerly would be circular.
    if name == "VoskSpeechToText":
        from .asr_vosk import VoskSpeechToText

        return VoskSpeechToText
    if name == "WhisperSpeechToText":
        from .asr_whisper import WhisperSpeechToText

        return WhisperSpeechToText
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
