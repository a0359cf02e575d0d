"""Audio files in place of a sound card: `WavFileSource` plays a file as a
microphone (``assistant listen --wav``, the bench), `WavFileSink` writes
replies to WAV files (no speaker, ``--save-wav``), and `read_wav` /
`write_wav`.

Files are read with `audiofile.AudioFileReader` (see `audiofile.ACCEPTED`
for the formats), block by block. Writing is always mono 16-bit PCM WAV.
Errors are one-line `AudioError`s naming the file and the fix. The owner
closes what it opens.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import tempfile
import threading
import wave
from collections import deque
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from assistant.core.errors import AudioError
from assistant.stages.audio.audiofile import MAX_BLOCK_SAMPLES, AudioFileReader
from assistant.stages.audio.pcm import ASR_RATE_HZ, AudioChunk, resample

log = logging.getLogger(__name__)

_REPLY_NAME = re.compile(r"reply-(\d+)\.wav")

_MAX_NAME_TRIES = 10000


def read_wav(path: str | Path) -> AudioChunk:
    """The whole of an audio file (see `audiofile.ACCEPTED`) as mono int16 at its own rate.

    Memory is that of the mono result (2 bytes a frame), not of the file.
    """
    reader = AudioFileReader(Path(path))
    try:
        blocks = []
        while len(block := reader.read(MAX_BLOCK_SAMPLES)):
            blocks.append(block)
    finally:
        reader.close()
    return AudioChunk(
        np.concatenate(blocks) if blocks else np.zeros(0, np.int16), reader.info.rate_hz
    )


def write_wav(path: str | Path, chunk: AudioChunk) -> None:
    """Write ``chunk`` to ``path`` as a mono 16-bit WAV file, replacing it."""
    path = Path(path)
    writer = _WavWriter(path, _create(path, exclusive=False), chunk.rate_hz)
    writer.write(chunk.samples)
    writer.close()


def _create(path: Path, *, exclusive: bool) -> BinaryIO:
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_EXCL if exclusive else os.O_TRUNC)
    try:
        return os.fdopen(os.open(path, flags, 0o644), "wb")
    except FileExistsError:
        raise
    except OSError as exc:
        raise AudioError(f"WAV file {path}: cannot write it ({exc.strerror})") from None


class _WavWriter:
    """A mono 16-bit WAV file being written; closed exactly once, also on
    failure (so no half-built ``Wave_write`` is left for the garbage collector)."""

    def __init__(self, path: Path, file: BinaryIO, rate_hz: int):
        self.path = path
        self._file = file
        # A failed file is removed, but never a device node (``--wav /dev/full``).
        self._regular = stat.S_ISREG(os.fstat(file.fileno()).st_mode)
        try:
            self._wav = wave.open(file, "wb")  # noqa: SIM115 - closed by close()
            self._wav.setnchannels(1)
            self._wav.setsampwidth(2)
            self._wav.setframerate(rate_hz)
        except (wave.Error, OSError) as exc:
            file.close()
            raise AudioError(f"WAV file {path}: cannot write it ({exc})") from None

    def write(self, samples: np.ndarray) -> None:
        try:
            self._wav.writeframes(samples.astype("<i2", copy=False).tobytes())
        except OSError as exc:
            self._abandon()
            raise AudioError(f"WAV file {self.path}: cannot write it ({exc.strerror})") from None

    def close(self) -> None:
        """Finish the header and close; `AudioError` (file removed) if that fails."""
        try:
            self._wav.close()
            self._file.close()
        except OSError as exc:
            self._abandon()
            raise AudioError(f"WAV file {self.path}: cannot write it ({exc.strerror})") from None

    def _abandon(self) -> None:
        with contextlib.suppress(OSError, wave.Error):
            self._wav.close()
        with contextlib.suppress(OSError):
            self._file.close()
        if self._regular:
            with contextlib.suppress(OSError):
                self.path.unlink(missing_ok=True)


class WavFileSink:
    """Writes replies to WAV files instead of a speaker (no sound card).

    A file is started by the first `write` after `open`, `drain` or `stop`,
    and finalized by `drain`, `stop` or `close`: so one file per reply whether
    the caller opens once per reply or once per session. `open` checks that
    the target can be written, so a read-only folder fails there, before
    any reply is generated.

    With ``numbered``, ``path_or_dir`` is a folder of ``reply-001.wav``,
    ``reply-002.wav``...: the folder is scanned once, then a counter names
    the next file, created exclusively (``O_EXCL``), so processes sharing the
    folder never write the same file. Only the ``keep`` newest reply files
    are kept (0: all); older ``reply-N.wav`` files are deleted as new ones
    are started, and no other file is touched. Otherwise each reply
    overwrites the one file. Writes never block on a device;
    `played_frames` counts frames written since `open`. One writer thread
    calls `write` and `drain`; `stop` and `close` may come from any thread.
    """

    def __init__(self, path_or_dir: Path, numbered: bool = False, keep: int = 100):
        if keep < 0:
            raise ValueError(f"WavFileSink: keep must be >= 0, got {keep}")
        self._target = Path(path_or_dir)
        self._numbered = numbered
        self._keep = keep
        self._rate_hz = 0
        self._writer: _WavWriter | None = None
        self._frames = 0
        self._lock = threading.Lock()
        self._next_number: int | None = None
        self._replies: deque[Path] = deque()
        self.paths: list[Path] = []
        """Files written so far and still kept, oldest first; a single-file
        sink lists its file once per reply."""

    @property
    def _folder(self) -> Path:
        return self._target if self._numbered else self._target.parent

    def check_writable(self) -> None:
        """`AudioError` (one line) unless the target folder or file can be
        written; `open` calls it, a caller may call it earlier to fail before
        loading models. Creates the folder if missing."""
        folder = self._folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AudioError(f"WAV folder {folder}: cannot create it ({exc.strerror})") from None
        what = f"WAV folder {folder}" if self._numbered else f"WAV file {self._target}"
        if not self._numbered and self._target.is_dir():
            raise AudioError(f"{what}: it is a folder; give a file name ending in .wav")
        try:
            if not self._numbered and self._target.exists():
                os.close(os.open(self._target, os.O_WRONLY | os.O_CLOEXEC | os.O_NONBLOCK))
            else:
                tempfile.TemporaryFile(dir=folder).close()
        except OSError as exc:
            raise AudioError(
                f"{what}: cannot write there ({exc.strerror}); make it writable or choose "
                "another place for the replies"
            ) from None

    def _scan(self) -> None:
        found = []
        with contextlib.suppress(OSError), os.scandir(self._target) as entries:
            for entry in entries:
                match = _REPLY_NAME.fullmatch(entry.name)
                if match:
                    found.append((int(match.group(1)), entry.name))
        found.sort()
        self._replies = deque(self._target / name for _, name in found)
        self._next_number = found[-1][0] + 1 if found else 1

    def _start_file(self) -> _WavWriter:
        if not self._numbered:
            path = self._target
            file = _create(path, exclusive=False)
        else:
            if self._next_number is None:
                self._scan()
            for _ in range(_MAX_NAME_TRIES):
                path = self._target / f"reply-{self._next_number:03d}.wav"
                self._next_number += 1
                try:
                    file = _create(path, exclusive=True)
                    break
                except FileExistsError:  # another process took it: it counts towards keep
                    self._replies.append(path)
            else:
                raise AudioError(f"WAV folder {self._target}: no free reply-N.wav name")
            self._replies.append(path)
            self._prune()
        writer = _WavWriter(path, file, self._rate_hz)
        self.paths.append(path)
        return writer

    def _prune(self) -> None:
        while self._keep and len(self._replies) > self._keep:
            old = self._replies.popleft()
            try:
                old.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("cannot delete old reply %s: %s", old, exc.strerror)
            if old in self.paths:
                self.paths.remove(old)

    def open(self, rate_hz: int) -> None:
        """Take audio at ``rate_hz`` from now on; finishes a file still open.
        `AudioError` if the target folder or file cannot be written."""
        with self._lock:
            self._finish()
            self.check_writable()
            self._rate_hz = rate_hz
            self._frames = 0

    def write(self, chunk: AudioChunk, cancel: threading.Event | None = None) -> None:
        """Append ``chunk`` (resampled to the open rate) to the current file,
        starting one if needed; nothing once ``cancel`` is set. `AudioError`
        if not open or the file cannot be written (the partial file is removed)."""
        if cancel is not None and cancel.is_set():
            return
        with self._lock:
            if not self._rate_hz:
                raise AudioError("WAV sink is not open; call open() first")
            samples = chunk.samples
            if chunk.rate_hz != self._rate_hz:
                samples = resample(samples, chunk.rate_hz, self._rate_hz)
            if self._writer is None:
                self._writer = self._start_file()
            writer = self._writer
            try:
                writer.write(samples)
            except AudioError:
                self._writer = None
                raise
            self._frames += len(samples)

    def played_frames(self) -> int:
        return self._frames

    def _finish(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            log.info("reply written to %s", writer.path)

    def drain(self, timeout_s: float) -> bool:
        """Finish the current file; always True (nothing plays)."""
        with self._lock:
            self._finish()
        return True

    def stop(self) -> None:
        """Finish the current file."""
        with self._lock:
            self._finish()

    def close(self) -> None:
        """Finish the current file; `open` again to write more. Idempotent."""
        with self._lock:
            self._rate_hz = 0
            self._finish()


class WavFileSource:
    """Plays an audio file (see `audiofile.ACCEPTED`) as a microphone for
    ``assistant listen --wav``: mono int16 blocks at 16 kHz of ``block_ms``
    (the last may be shorter), as fast as they are read (never waiting),
    then None with `exhausted` set.

    The file is streamed: `read` decodes and resamples one block at a time
    (soxr's streaming resampler), so memory does not grow with its length.
    One reader thread calls `read`; `close` may come from any thread. The
    owner closes it.
    """

    sample_rate_hz = ASR_RATE_HZ

    def __init__(self, path: Path, block_ms: int = 30):
        self._path = Path(path)
        self._block_ms = block_ms
        self._block = ASR_RATE_HZ * block_ms // 1000
        self._lock = threading.Lock()
        self._reader: AudioFileReader | None = None
        self._resampler: Any = None
        self._pending = np.zeros(0, np.int16)
        self._file_done = False
        self._exhausted = False

    @property
    def exhausted(self) -> bool:
        """True once the last block was read (False before `open` and after `close`)."""
        return self._exhausted

    def open(self) -> None:
        """Open the file and check it; `AudioError` if it is missing or not a
        readable audio file. Opening an open source does nothing."""
        with self._lock:
            if self._reader is not None:
                return
            reader = AudioFileReader(self._path)
            rate = reader.info.rate_hz
            self._resampler = None
            if rate != ASR_RATE_HZ:
                import soxr

                self._resampler = soxr.ResampleStream(
                    rate, ASR_RATE_HZ, 1, dtype="int16", quality="HQ"
                )
            self._reader = reader
            self._pending = np.zeros(0, np.int16)
            self._file_done = False
            self._exhausted = False

    def read(self, timeout_s: float) -> np.ndarray | None:
        """The next block at once; None when not open or exhausted. `AudioError`
        if the file cannot be decoded further."""
        with self._lock:
            reader = self._reader
            if reader is None or self._exhausted:
                return None
            file_block = max(1, reader.info.rate_hz * self._block_ms // 1000)
            # One block more than needed, so the end is known when the last one goes out.
            while len(self._pending) <= self._block and not self._file_done:
                samples = reader.read(file_block)
                self._file_done = reader.at_end
                if self._resampler is not None:
                    samples = self._resampler.resample_chunk(samples, last=self._file_done)
                self._pending = np.concatenate([self._pending, samples])
            block, self._pending = self._pending[: self._block], self._pending[self._block :]
            self._exhausted = self._file_done and len(self._pending) == 0
            if len(block) == 0:
                return None
            return block

    def discard(self) -> None:
        """Nothing is queued ahead of `read`, so nothing to drop."""

    def close(self) -> None:
        """Close the file; `exhausted` reads False again until reopened. Idempotent."""
        with self._lock:
            reader, self._reader = self._reader, None
            self._resampler = None
            self._pending = np.zeros(0, np.int16)
            self._exhausted = False
            if reader is not None:
                reader.close()
