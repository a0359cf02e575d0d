"""PCM samples: the `AudioChunk` value and pure sample conversions.

All audio inside the pipeline is mono signed 16-bit (`numpy.int16`). Each
chunk carries its own rate in Hertz, so no stage has to guess it. Everything
here is pure and thread-safe; audio files are in `wavfile`.
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
    """Mix any PCM down to mono int16: the one conversion for devices and files.

    ``samples`` is 1-D (mono) or 2-D (frames x channels, any count >= 1), of
    any byte order, in one of the usual sample formats, each mapped to the
    same full scale:

    - signed integers of any width (int8, int16, int32, int64; 24-bit audio
      arrives left-justified in int32, as PortAudio and libsndfile give it):
      full scale is 2**(bits - 1);
    - unsigned integers (8-bit WAV is uint8): the midpoint is silence;
    - floats (float16/32/64): full scale is 1.0; each louder sample is
      clipped (before mixing), NaN is silence.

    Channels are averaged, then scaled to int16 (x 32768), rounded to the
    nearest (ties to even) and clipped to [-32768, 32767]. Mono int16 comes
    back as it is (possibly the same array); anything else is a new array.
    `ValueError` for other shapes or dtypes (a caller's bug, not bad input).
    """
    data = np.asarray(samples)
    if data.ndim == 2:
        if data.shape[1] == 0:
            raise ValueError("to_mono_int16: a 2-D array needs at least one channel")
        if data.shape[1] == 1:
            data = data[:, 0]
    elif data.ndim != 1:
        raise ValueError(f"to_mono_int16: expected 1-D or 2-D samples, got shape {data.shape}")
    if data.dtype == np.int16 and data.ndim == 1:
        return data
    scaled = _to_unit_float(data)
    mono = scaled.mean(axis=1) if scaled.ndim == 2 else scaled
    return np.clip(np.rint(mono * 32768.0), -32768, 32767).astype(np.int16)


def _to_unit_float(data: np.ndarray) -> np.ndarray:
    """``data`` as float64 with full scale at 1.0 (see `to_mono_int16`)."""
    kind = data.dtype.kind
    if kind == "f":
        return np.clip(np.nan_to_num(data.astype(np.float64), nan=0.0), -1.0, 1.0)
    if kind not in "iu":
        raise ValueError(f"to_mono_int16: samples of dtype {data.dtype} are not PCM")
    half_range = float(2 ** (8 * data.dtype.itemsize - 1))
    values = data.astype(np.float64)
    if kind == "u":
        values -= half_range
    return values / half_range


def resample(samples: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Band-limited resampling of mono int16 audio with soxr; int16 out."""
    if from_hz == to_hz or len(samples) == 0:
        return samples
    import soxr

    return soxr.resample(np.ascontiguousarray(samples, np.int16), from_hz, to_hz, quality="HQ")


def rms_dbfs(samples: np.ndarray) -> float:
    """Loudness of int16 samples in dB relative to full scale; -inf for silence."""
    if len(samples) == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean((samples.astype(np.float64) / 32768.0) ** 2)))
    return 20 * np.log10(rms) if rms > 0 else float("-inf")
