"""``assistant echo``: cancel a recorded reply from a recorded microphone,
offline, and the ``--reference`` of ``wake --wav`` and ``listen --wav``.

MIC is what the microphone recorded; PLAYED is what the speaker played from
the moment MIC starts (any rate and channels the audio readers accept: both
are read as mono 16 kHz). The echo's delay is unknown, up to 0.3 s.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from assistant.core.errors import AudioError, InputError
from assistant.stages.audio.audiofile import inspect_audio
from assistant.stages.audio.paced import read_samples
from assistant.stages.audio.pcm import ASR_RATE_HZ, AudioChunk
from assistant.stages.audio.wavfile import WavFileSink, write_wav
from assistant.stages.echo import EchoStats, cancel_offline, echo_unavailable

MAX_FILE_S = 3600.0
"""Most of each file read (an hour; ~115 MB at 16 kHz)."""


def cancel_files(mic: Path, reference: Path) -> tuple[np.ndarray, EchoStats]:
    """``mic`` cleaned of ``reference``, mono int16 at 16 kHz, and the stats.
    `AudioError` (one line) for a file that cannot be read or holds no
    audio, or without libspeexdsp; before any work."""
    problem = echo_unavailable()
    if problem:
        raise AudioError(f"echo canceller: {problem}")
    for flag, path in (("--mic/--wav", mic), ("--reference", reference)):
        info = inspect_audio(path)
        if info.frames == 0:
            raise InputError(f"{flag} {path}: holds no audio (0 frames); give a recording")
    heard = read_samples(mic, MAX_FILE_S)
    played = read_samples(reference, MAX_FILE_S)
    if not np.any(played):
        raise InputError(f"--reference {reference}: is all silence; give what the speaker played")
    return cancel_offline(heard, played, ASR_RATE_HZ)


def stats_dict(stats: EchoStats) -> dict:
    """JSON-ready stats: NaN (not measured) becomes None."""
    values = {
        "delay_ms": stats.delay_ms,
        "erle_db": stats.erle_db,
        "drift_ppm": stats.drift_ppm,
        "frames": stats.frames,
    }
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in values.items()}


def run_echo(mic: Path, reference: Path, out: Path) -> dict:
    """``assistant echo``: write ``mic`` cleaned of ``reference`` to ``out``
    (16 kHz mono WAV) and return the JSON-ready result."""
    WavFileSink(out).check_writable()  # before the work, not after
    cleaned, stats = cancel_files(mic, reference)
    write_wav(out, AudioChunk(cleaned, ASR_RATE_HZ))
    return {"out": str(out), "seconds": round(len(cleaned) / ASR_RATE_HZ, 3), **stats_dict(stats)}


def format_result(result: dict) -> str:
    """The result for a terminal, one line."""

    def show(value: float | None, unit: str) -> str:
        return "not found" if value is None else f"{value:g} {unit}"

    return (
        f"wrote {result['out']} ({result['seconds']:g} s): "
        f"echo delay {show(result['delay_ms'], 'ms')}, "
        f"ERLE {show(result['erle_db'], 'dB')}, drift {show(result['drift_ppm'], 'ppm')}"
    )


@contextlib.contextmanager
def cleaned_wav(mic: Path, reference: Path) -> Iterator[Path]:
    """A temporary 16 kHz WAV of ``mic`` cleaned of ``reference``, removed
    afterwards: for commands that take a file (``listen --wav``)."""
    cleaned, _ = cancel_files(mic, reference)
    with tempfile.TemporaryDirectory(prefix="assistant-echo-") as folder:
        path = Path(folder) / "cleaned.wav"
        write_wav(path, AudioChunk(cleaned, ASR_RATE_HZ))
        yield path
