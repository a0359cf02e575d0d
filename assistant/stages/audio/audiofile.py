"""Reading audio files with libsndfile (`soundfile`), block by block.

`AudioFileReader` gives any file `ACCEPTED` names as mono int16 blocks at its
own rate (every sample format is read as float and mixed down by
`pcm.to_mono_int16`), so a file's length costs no memory; `inspect_audio`
checks a file by its header. Only regular, non-empty files are opened: a
FIFO or a device node would block or never end, so it is refused before it
is opened. Every failure is a one-line `AudioError` naming the file, the
problem and what is accepted. Nothing here is shared between threads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from assistant.core.errors import AudioError
from assistant.stages.audio.pcm import to_mono_int16

log = logging.getLogger(__name__)

ACCEPTED = (
    "a WAV file (8/16/24/32-bit PCM, 32/64-bit float, A-law or u-law; "
    "any rate and channel count), FLAC, OGG or MP3"
)
"""What `WavFileSource`, `inspect_audio` and `read_wav` accept, for messages."""

MIN_RATE_HZ = 1000
MAX_RATE_HZ = 768000
"""Sample rates accepted when reading, in Hertz; others are corrupt headers."""

MAX_BLOCK_SAMPLES = 1 << 16
"""Most samples (frames x channels) read from a file at once: bounds memory
for files with many channels at high rates."""


@dataclass(frozen=True)
class AudioInfo:
    """What a readable audio file holds."""

    rate_hz: int
    """Sample rate in Hertz."""
    channels: int
    frames: int
    """Length in frames (samples per channel)."""
    format: str
    """libsndfile's description, e.g. ``WAV, Signed 24 bit PCM``."""

    @property
    def duration_s(self) -> float:
        return self.frames / self.rate_hz


_CUT_SHORT = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
"""libsndfile's log line for a WAV data chunk longer than the file."""

_UNKNOWN_LENGTH = 0x7FFFFFF0
"""Data sizes at or above this are placeholders of a stream still being written."""


def _refuse(path: Path, problem: str) -> AudioError:
    problem = " ".join(problem.split())  # libsndfile's messages may span lines
    return AudioError(f"audio file {path}: {problem}; give {ACCEPTED}")


def _reason(exc: Exception) -> str:
    return getattr(exc, "error_string", "") or str(exc) or type(exc).__name__


class AudioFileReader:
    """An open audio file read as mono int16 blocks at its own rate. Not
    thread-safe; the caller closes it."""

    def __init__(self, path: Path):
        import soundfile

        self.path = path
        self._file = open_regular(path)
        try:
            # By descriptor: libsndfile seeks itself, with no Python callbacks to fail.
            self._sound = soundfile.SoundFile(self._file.fileno(), closefd=False)
        except (soundfile.SoundFileError, RuntimeError, ValueError, TypeError, OSError) as exc:
            self._file.close()
            raise _refuse(
                path, f"not a PCM WAV file, nor FLAC, OGG or MP3 (libsndfile: {_reason(exc)})"
            ) from None
        sound = self._sound
        self.at_end = False
        """Whether `read` has reached the end of the file."""
        self.info = AudioInfo(
            sound.samplerate,
            sound.channels,
            max(0, sound.frames),
            f"{sound.format_info}, {sound.subtype_info}",
        )
        problem = None
        if not MIN_RATE_HZ <= self.info.rate_hz <= MAX_RATE_HZ:
            problem = f"its sample rate of {self.info.rate_hz} Hz is not a real one"
        elif self.info.channels < 1:
            problem = f"it claims {self.info.channels} channels"
        elif self.info.frames == 0:
            problem = f"it holds no audio ({self.info.format}, 0 frames)"
        if problem:
            self.close()
            raise _refuse(path, problem)
        self._warn_if_cut_short()

    def _warn_if_cut_short(self) -> None:
        try:
            found = _CUT_SHORT.search(self._sound.extra_info)
        except Exception:  # only a diagnosis; the file itself opened fine
            return
        if found and int(found.group(2)) < int(found.group(1)) < _UNKNOWN_LENGTH:
            log.warning(
                "audio file %s is cut short: its header promises %s bytes of audio, the "
                "file holds %s; using what is there (%.2f s)",
                self.path,
                found.group(1),
                found.group(2),
                self.info.duration_s,
            )

    def read(self, frames: int) -> np.ndarray:
        """Up to ``frames`` frames as mono int16; fewer only at the end, then empty."""
        import soundfile

        frames = max(1, min(frames, MAX_BLOCK_SAMPLES // self.info.channels))
        try:
            data = self._sound.read(frames, dtype="float32", always_2d=True)
        except (soundfile.SoundFileError, RuntimeError, ValueError, TypeError, OSError) as exc:
            raise _refuse(self.path, f"reading failed (libsndfile: {_reason(exc)})") from None
        self.at_end = len(data) < frames
        return to_mono_int16(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a failed file has nothing left to flush
            self._sound.close()
        self._file.close()


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading if it is a regular, non-empty file;
    a FIFO or device is refused before it is opened, so this never blocks."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise AudioError(f"audio file {path}: no such file") from None
    except OSError as exc:
        raise AudioError(f"audio file {path}: cannot read it ({exc.strerror})") from None
    _require_regular(path, info)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise AudioError(f"audio file {path}: cannot read it ({exc.strerror})") from None
    file = os.fdopen(fd, "rb")
    try:
        _require_regular(path, os.fstat(fd))  # replaced since the stat above
    except AudioError:
        file.close()
        raise
    return file


def _require_regular(path: Path, info: os.stat_result) -> None:
    mode = info.st_mode
    kinds = {
        stat.S_ISDIR: "a directory",
        stat.S_ISFIFO: "a FIFO (named pipe)",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISSOCK: "a socket",
    }
    for test, kind in kinds.items():
        if test(mode):
            raise _refuse(path, f"it is {kind}, not a file")
    if not stat.S_ISREG(mode):
        raise _refuse(path, "it is not a regular file")
    if info.st_size == 0:
        raise _refuse(path, "the file is empty (0 bytes)")


def inspect_audio(path: str | Path) -> AudioInfo:
    """Check that ``path`` is a readable audio file holding audio, and describe
    it, reading only its header. `AudioError` otherwise."""
    reader = AudioFileReader(Path(path))
    reader.close()
    return reader.info
