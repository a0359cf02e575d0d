"""PCM samples: the `AudioChunk` value and pure sample conversions.

All audio inside the pipeline is mono signed 16-bit (`numpy.int16`). Each
chunk carries its own rate in Hertz, so no stage has to guess it. Everything
here is pure and thread-safe; WAV files are in `wavfile`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ASR_RATE_HZ = 16000
"""The rate every recognizer takes and every `AudioSource` delivers, in Hertz."""


@dataclass(frozen=True)
class AudioChunk:
    """A stretch of mono audio that carries its own rate."""

    samples: np.ndarray
    """Mono int16 samples."""
    rate_hz: int
    """Sample rate in Hertz."""

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.rate_hz

    def to_bytes(self) -> bytes:
        """The samples as little-endian 16-bit PCM."""
        return self.samples.astype("<i2", copy=False).tobytes()


def to_mono_int16(samples: np.ndarray) -> np.ndarray:
    """Mix down any channel count and convert float or int PCM to int16."""
    data = np.asarray(samples)
    if data.ndim == 2:
        data = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if data.dtype.kind == "f":
        return (np.clip(data, -1.0, 1.0) * 32767).astype(np.int16)
    if data.dtype == np.int16:
        return data
    if data.dtype == np.int32:
        return (data >> 16).astype(np.int16)
    if data.dtype == np.uint8:
        return ((data.astype(np.int16) - 128) << 8).astype(np.int16)
    return np.clip(data, -32768, 32767).astype(np.int16)


def resample(samples: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Band-limited resampling of mono int16 audio with soxr."""
    if from_hz == to_hz or len(samples) == 0:
        return samples
    import soxr

    out = soxr.resample(samples.astype(np.float32) / 32768.0, from_hz, to_hz, quality="HQ")
    return (np.clip(out, -1.0, 1.0) * 32767).astype(np.int16)


def rms_dbfs(samples: np.ndarray) -> float:
    """Loudness of int16 samples in dB relative to full scale; -inf for silence."""
    if len(samples) == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean((samples.astype(np.float64) / 32768.0) ** 2)))
    return 20 * np.log10(rms) if rms > 0 else float("-inf")
