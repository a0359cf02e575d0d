"""WAV files in place of a sound card: `WavFileSource` plays a file as a
microphone (``assistant listen --wav``, the bench), `WavFileSink` writes
replies to files (no speaker, ``--save-wav``), and `read_wav` / `write_wav`.

Files are PCM WAV. Anything is read (any rate, 8/16/32-bit, any channel
count, mixed down to mono int16); only mono 16-bit is written. Errors are
`AudioError` naming the file and the fix. Neither class blocks on I/O beyond
the file itself; the owner closes them.
"""

from __future__ import annotations

import logging
import threading
import wave
from pathlib import Path

import numpy as np

from assistant.core.errors import AudioError
from assistant.stages.audio.pcm import ASR_RATE_HZ, AudioChunk, resample, to_mono_int16

log = logging.getLogger(__name__)


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
    """Write ``chunk`` to ``path`` as a mono 16-bit WAV file, replacing it."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(chunk.rate_hz)
        wav.writeframes(chunk.to_bytes())


class WavFileSink:
    """Writes replies to WAV files instead of a speaker (no sound card).

    A file is started by the first `write` after `open`, `drain` or `stop`,
    and finalized by `drain`, `stop` or `close`: so one file per reply whether
    the caller opens once per reply or once per session. With ``numbered``,
    ``path_or_dir`` is a directory and files are ``reply-001.wav``,
    ``reply-002.wav``... (continuing after existing ones); otherwise each
    reply overwrites the one file. Writes never block on a device;
    `played_frames` counts frames written since `open`. One writer thread
    calls `write` and `drain`; `stop` and `close` may come from any thread.
    """

    def __init__(self, path_or_dir: Path, numbered: bool = False):
        self._target = Path(path_or_dir)
        self._numbered = numbered
        self._rate_hz = 0
        self._wav: wave.Wave_write | None = None
        self._frames = 0
        self._lock = threading.Lock()
        self.paths: list[Path] = []
        """Files written so far, oldest first; a single-file sink lists its
        file once per reply."""

    def _next_path(self) -> Path:
        folder = self._target if self._numbered else self._target.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AudioError(f"WAV folder {folder}: cannot create it ({exc.strerror})") from None
        if not self._numbered:
            return self._target
        used = [int(p.stem.split("-")[1]) for p in self._target.glob("reply-[0-9]*.wav")]
        return self._target / f"reply-{max(used, default=0) + 1:03d}.wav"

    def open(self, rate_hz: int) -> None:
        """Take audio at ``rate_hz`` from now on; finishes a file still open."""
        with self._lock:
            self._finish()
            self._rate_hz = rate_hz
            self._frames = 0

    def write(self, chunk: AudioChunk, cancel: threading.Event | None = None) -> None:
        """Append ``chunk`` (resampled to the open rate) to the current file,
        starting one if needed; nothing once ``cancel`` is set. `AudioError`
        if not open or the file cannot be written."""
        if cancel is not None and cancel.is_set():
            return
        with self._lock:
            if not self._rate_hz:
                raise AudioError("WAV sink is not open; call open() first")
            samples = chunk.samples
            if chunk.rate_hz != self._rate_hz:
                samples = resample(samples, chunk.rate_hz, self._rate_hz)
            if self._wav is None:
                path = self._next_path()
                try:
                    self._wav = wave.open(str(path), "wb")  # noqa: SIM115 - closed by _finish
                except OSError as exc:
                    raise AudioError(f"WAV file {path}: cannot write ({exc.strerror})") from None
                self._wav.setnchannels(1)
                self._wav.setsampwidth(2)
                self._wav.setframerate(self._rate_hz)
                self.paths.append(path)
            self._wav.writeframes(samples.astype("<i2", copy=False).tobytes())
            self._frames += len(samples)

    def played_frames(self) -> int:
        return self._frames

    def _finish(self) -> None:
        if self._wav is not None:
            self._wav.close()
            self._wav = None
            log.info("reply written to %s", self.paths[-1])

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
            self._finish()
            self._rate_hz = 0


class WavFileSource:
    """Plays a WAV file (any rate and channels) as a microphone for
    ``assistant listen --wav``: mono int16 blocks at 16 kHz of ``block_ms``,
    as fast as they are read (never waiting), then None with `exhausted` set.
    One reader thread; the owner closes it."""

    sample_rate_hz = ASR_RATE_HZ

    def __init__(self, path: Path, block_ms: int = 30):
        self._path = Path(path)
        self._block = ASR_RATE_HZ * block_ms // 1000
        self._samples: np.ndarray | None = None
        self._pos = 0

    @property
    def exhausted(self) -> bool:
        """True once the last block was read (False before `open`)."""
        return self._samples is not None and self._pos >= len(self._samples)

    def open(self) -> None:
        """Read and resample the whole file; `AudioError` if it is missing or not PCM WAV."""
        chunk = read_wav(self._path)
        self._samples = resample(chunk.samples, chunk.rate_hz, ASR_RATE_HZ)
        self._pos = 0

    def read(self, timeout_s: float) -> np.ndarray | None:
        """The next block at once; None when closed or exhausted."""
        if self._samples is None or self.exhausted:
            return None
        block = self._samples[self._pos : self._pos + self._block]
        self._pos += len(block)
        return block

    def discard(self) -> None:
        """Nothing is queued ahead of `read`, so nothing to drop."""

    def close(self) -> None:
        """Drop the samples; `exhausted` reads False again until reopened."""
        self._samples = None
