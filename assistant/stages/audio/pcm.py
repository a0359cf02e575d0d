"""PCM audio values and conversions shared by every audio stage.

All audio inside the pipeline is mono signed 16-bit (`numpy.int16`). Each
chunk carries its own rate, so no stage has to guess it.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.core.errors import AudioError

ASR_RATE_HZ = 16000


@dataclass(frozen=True)
class AudioChunk:
    samples: np.ndarray
    """Mono int16 samples."""
    rate_hz: int
    """Sample rate in Hertz."""

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate_hz

    def to_bytes(self) -> bytes:
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


def read_wav(path: str | Path, header_only: bool = False) -> AudioChunk:
    """Read a PCM WAV file of any rate and channel count as mono int16.

    With ``header_only``, just check the file and return an empty chunk.
    """
    try:
        with wave.open(str(path), "rb") as wav:
            width = wav.getsampwidth()
            channels = wav.getnchannels()
            rate = wav.getframerate()
            raw = b"" if header_only else wav.readframes(wav.getnframes())
    except FileNotFoundError:
        raise AudioError(f"WAV file {path}: no such file") from None
    except (wave.Error, EOFError) as exc:
        raise AudioError(
            f"WAV file {path}: not a PCM WAV file ({exc}); convert it with sox"
        ) from None
    dtypes = {1: np.uint8, 2: np.dtype("<i2"), 4: np.dtype("<i4")}
    if width not in dtypes:
        raise AudioError(f"WAV file {path}: {8 * width}-bit samples are not supported; use 16-bit")
    data = np.frombuffer(raw, dtype=dtypes[width]).reshape(-1, channels)
    return AudioChunk(to_mono_int16(data), rate)


def write_wav(path: str | Path, chunk: AudioChunk) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(chunk.rate_hz)
        wav.writeframes(chunk.to_bytes())
