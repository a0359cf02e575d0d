"""Which device to use: PortAudio device lookup (a microphone or speaker by
name or index), and the WAV-file stand-ins used without a sound card.

`sounddevice` is imported lazily so the package imports without PortAudio.
PortAudio enumerates devices once, when it initializes; `rescan` re-runs that
so a USB microphone plugged in later can be found. Re-initializing PortAudio
closes every open stream, so it only happens while this package has none open
(streams report themselves with `stream_opened` / `stream_closed`).
"""

from __future__ import annotations

import logging
import threading
import wave
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np

from assistant.core.errors import AudioError
from assistant.stages.audio.pcm import ASR_RATE_HZ, AudioChunk, read_wav, resample

log = logging.getLogger(__name__)

Kind = Literal["input", "output"]

PORTAUDIO_MISSING = "PortAudio library not found; install it with `sudo apt install libportaudio2`"

_lock = threading.Lock()
_open_streams = 0


def portaudio() -> ModuleType:
    """The `sounddevice` module; `AudioError` with the fix when PortAudio is missing."""
    try:
        import sounddevice
    except OSError:
        raise AudioError(PORTAUDIO_MISSING) from None
    except ImportError:
        raise AudioError(
            "Python package sounddevice is not installed; reinstall the assistant "
            "(`pip install sounddevice`)"
        ) from None
    return sounddevice


def stream_opened() -> None:
    global _open_streams
    with _lock:
        _open_streams += 1


def stream_closed() -> None:
    global _open_streams
    with _lock:
        _open_streams = max(0, _open_streams - 1)


def rescan() -> bool:
    """Re-enumerate devices if no stream of ours is open; return whether it did.

    Uses sounddevice's documented way to refresh the device list
    (``_terminate()`` then ``_initialize()``). Blocks for the enumeration,
    typically tens of milliseconds.
    """
    sd = portaudio()
    with _lock:
        if _open_streams:
            return False
        sd._terminate()
        sd._initialize()
    return True


def _channels_key(kind: Kind) -> str:
    return "max_input_channels" if kind == "input" else "max_output_channels"


def _devices(sd: ModuleType, kind: Kind) -> list[dict[str, Any]]:
    key = _channels_key(kind)
    return [dict(d) for d in sd.query_devices() if d[key] > 0]


def _default_index(sd: ModuleType, kind: Kind) -> int:
    index = sd.default.device[0 if kind == "input" else 1]
    return int(index) if index is not None else -1


def _describe(devices: list[dict[str, Any]]) -> str:
    if not devices:
        return "none"
    return ", ".join(f"{d['index']} {d['name']!r}" for d in devices)


def _match(devices: list[dict[str, Any]], spec: str) -> int | None:
    if spec.strip().lstrip("-").isdigit():
        index = int(spec)
        return index if any(d["index"] == index for d in devices) else None
    wanted = spec.strip().lower()
    exact = [d for d in devices if d["name"].lower() == wanted]
    partial = [d for d in devices if wanted in d["name"].lower()]
    found = exact or partial
    if len(partial) > 1 and not exact:
        log.info("device %r matches %d devices; using %r", spec, len(partial), found[0]["name"])
    return found[0]["index"] if found else None


def find_device(spec: str, kind: Kind) -> int | None:
    """Device index for a name substring (case-insensitive) or an index.

    Empty ``spec`` means the system default and returns None. When nothing
    matches, PortAudio is re-scanned once (hot-plugged devices), then
    `AudioError` lists the available devices of that kind.
    """
    if not spec.strip():
        return None
    sd = portaudio()
    found = _match(_devices(sd, kind), spec)
    if found is None and rescan():
        found = _match(_devices(sd, kind), spec)
    if found is None:
        setting = "audio.input_device" if kind == "input" else "audio.output_device"
        raise AudioError(
            f"{kind} device {spec!r} not found; available {kind} devices: "
            f"{_describe(_devices(sd, kind))}; set {setting} to a name or index from "
            "`assistant devices`"
        )
    return found


def device_info(device: int | None, kind: Kind) -> dict[str, Any]:
    """PortAudio's description of a device (None: the default of that kind)."""
    sd = portaudio()
    try:
        return dict(sd.query_devices(device, kind=kind))
    except (sd.PortAudioError, ValueError):
        what = "microphone" if kind == "input" else "speaker"
        raise AudioError(
            f"no {what} found (PortAudio sees {kind} devices: {_describe(_devices(sd, kind))}); "
            f"connect one, check `{'arecord' if kind == 'input' else 'aplay'} -l`, "
            "and that the user is in the audio group"
        ) from None


def list_devices() -> str:
    """A table of input and output devices for ``assistant devices``; ``*`` marks defaults.

    Never raises: without PortAudio or devices it returns one explanatory line.
    """
    try:
        sd = portaudio()
        rescan()
        everything = sd.query_devices()
    except AudioError as exc:
        return str(exc)
    if len(everything) == 0:
        return (
            "no audio devices found (PortAudio sees none); check `arecord -l` and `aplay -l` "
            "and that the user is in the audio group"
        )
    lines = []
    for kind, title in (("input", "Input devices (microphones):"), ("output", "Output devices:")):
        lines.append(title)
        devices = _devices(sd, kind)
        default = _default_index(sd, kind)
        if not devices:
            lines.append("    (none)")
        for d in devices:
            mark = "*" if d["index"] == default else " "
            lines.append(
                f"  {mark} {d['index']:>3}  {d['name']}  "
                f"({d[_channels_key(kind)]} ch, {int(d['default_samplerate'])} Hz)"
            )
    lines.append("* = default; set audio.input_device / audio.output_device to a name or index")
    return "\n".join(lines)


def have_output_device() -> bool:
    """Whether PortAudio has a default output device (speaker) to play to."""
    return _have_device("output")


def have_input_device() -> bool:
    """Whether PortAudio has a default input device (microphone)."""
    return _have_device("input")


def _have_device(kind: Literal["input", "output"]) -> bool:
    try:
        sd = portaudio()
        return _default_index(sd, kind) >= 0 and bool(_devices(sd, kind))
    except AudioError:
        return False


class WavFileSink:
    """Writes replies to WAV files instead of a speaker (no sound card).

    A file is started by the first `write` after `open`, `drain` or `stop`,
    and finalized by `drain`, `stop` or `close`: so one file per reply whether
    the caller opens once per reply or once per session. With ``numbered``,
    ``path_or_dir`` is a directory and files are ``reply-001.wav``,
    ``reply-002.wav``... (continuing after existing ones); otherwise each
    reply overwrites the one file. `paths` lists the files written. Writes
    never block; `played_frames` counts frames written since `open`.
    """

    def __init__(self, path_or_dir: Path, numbered: bool = False):
        self._target = Path(path_or_dir)
        self._numbered = numbered
        self._rate_hz = 0
        self._wav: wave.Wave_write | None = None
        self._frames = 0
        self._lock = threading.Lock()
        self.paths: list[Path] = []

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
        with self._lock:
            self._finish()
            self._rate_hz = rate_hz
            self._frames = 0

    def write(self, chunk: AudioChunk, cancel: threading.Event | None = None) -> None:
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
        with self._lock:
            self._finish()
        return True

    def stop(self) -> None:
        with self._lock:
            self._finish()

    def close(self) -> None:
        with self._lock:
            self._finish()
            self._rate_hz = 0


class WavFileSource:
    """Plays a WAV file (any rate and channels) as a microphone for
    ``assistant listen --wav``: mono int16 blocks at 16 kHz of ``block_ms``,
    as fast as they are read, then None with `exhausted` set."""

    sample_rate_hz = ASR_RATE_HZ

    def __init__(self, path: Path, block_ms: int = 30):
        self._path = Path(path)
        self._block = ASR_RATE_HZ * block_ms // 1000
        self._samples: np.ndarray | None = None
        self._pos = 0

    @property
    def exhausted(self) -> bool:
        return self._samples is not None and self._pos >= len(self._samples)

    def open(self) -> None:
        """Read and resample the whole file; `AudioError` if it is missing or not PCM WAV."""
        chunk = read_wav(self._path)
        self._samples = resample(chunk.samples, chunk.rate_hz, ASR_RATE_HZ)
        self._pos = 0

    def read(self, timeout_s: float) -> np.ndarray | None:
        if self._samples is None or self.exhausted:
            return None
        block = self._samples[self._pos : self._pos + self._block]
        self._pos += len(block)
        return block

    def discard(self) -> None:
        """Nothing is queued ahead of `read`, so nothing to drop."""

    def close(self) -> None:
        self._samples = None
