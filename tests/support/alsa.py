"""Test harness: fake ALSA sound devices built from the ALSA ``file`` and
``null`` plugins, so the real sounddevice -> PortAudio -> ALSA stack runs on
a machine without a sound card.

The generated config includes the stock ``/usr/share/alsa/alsa.conf`` and adds:

- ``testmic``: capture from a raw S16_LE file (``infile``), over the ``null`` PCM;
- ``testspeaker``: playback written to a file, over the ``null`` PCM;
- ``default``: an ``asym`` PCM of the two.

`only_channels` makes the microphone refuse all but one channel count, like
a stereo-only device.

PortAudio lists them by those names, all with a native (default) rate of
44100 Hz: the ``null`` PCM accepts any rate, channel count and format, so a
stream opened at rate R reads the raw file as if it were recorded at R.

Pacing. The ``null`` PCM has no clock: unpaced, capture and playback run as
fast as the CPU allows (a 1 s recording returns in ~5 ms), which overflows any
bounded capture queue, and after the end of ``infile`` capture returns stale
buffer contents. `AlsaDevices` paces both directions: the file plugin's output
``file`` is a FIFO that a thread here drains at the real-time byte rate, and
the blocking FIFO write holds PortAudio's stream thread back (measured: 57600
frames captured in 1.10 s at 48 kHz, playback of 2 s took 2.09 s). Playback
data is copied from the FIFO to ``playback_out`` as raw S16_LE.

PortAudio enumerates devices only when it initializes, so the environment
must be in place before that. Either run the code under test in a subprocess
with ``env=`` (the paced FIFOs work across processes), or use `portaudio_env`
in-process: it sets the variables and re-initializes PortAudio with
``sounddevice._terminate(); sounddevice._initialize()``, and undoes both on
exit. alsa-lib re-reads its config when ``ALSA_CONFIG_PATH`` changes, so this
works repeatedly in one process.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

MIC = "testmic"
SPEAKER = "testspeaker"
NATIVE_RATE_HZ = 44100
"""What PortAudio reports as the default rate of every file/null device."""

_F_SETPIPE_SZ = 1031  # Linux fcntl: shrink the FIFO buffer to one page, for tighter pacing


def write_raw(path: Path, samples_int16: np.ndarray) -> Path:
    """Write samples (frames x channels, or 1-D for mono) as raw S16_LE."""
    path = Path(path)
    path.write_bytes(np.asarray(samples_int16).astype("<i2").tobytes())
    return path


def read_raw(path: Path, channels: int = 1) -> np.ndarray:
    """Read raw S16_LE; 1-D for mono, frames x channels otherwise."""
    data = np.frombuffer(Path(path).read_bytes(), dtype="<i2")
    return data if channels == 1 else data.reshape(-1, channels)


def sine(freq_hz: float, seconds: float, rate_hz: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    return (amplitude * 32767 * np.sin(2 * np.pi * freq_hz * t)).astype(np.int16)


def dominant_hz(samples: np.ndarray, rate_hz: int) -> float:
    """Frequency of the strongest FFT bin (Hann window), in Hz."""
    x = samples.astype(np.float64) * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(x))
    return float(np.fft.rfftfreq(len(samples), 1 / rate_hz)[int(np.argmax(spectrum[1:])) + 1])


def alsa_config(
    capture_raw: Path | None,
    capture_file: Path | str,
    playback_file: Path | str,
    channels: int = 1,
    extra: str = "",
) -> str:
    """ALSA config text: `MIC`, `SPEAKER` and ``default`` (see the module doc).

    ``channels`` is the number of interleaved channels in ``capture_raw``;
    the device delivers them as they are, so open the stream with that many
    channels. (Putting a ``route`` or ``plug`` PCM in front to mix them down
    corrupts file-plugin capture after the first period in alsa-lib 1.2.8.)
    ``extra`` is appended verbatim, e.g. a broken PCM for failure tests.
    """
    del channels  # the null PCM takes any channel count; see the docstring
    infile = f'infile "{capture_raw}"' if capture_raw is not None else ""
    return f"""</usr/share/alsa/alsa.conf>
pcm.!default {{
    type asym
    capture.pcm "{MIC}"
    playback.pcm "{SPEAKER}"
}}
pcm.{MIC} {{
    type file
    slave.pcm "null"
    file "{capture_file}"
    {infile}
    format "raw"
}}
pcm.{SPEAKER} {{
    type file
    slave.pcm "null"
    file "{playback_file}"
    format "raw"
}}
{extra}"""


def alsa_env(
    tmp_path: Path,
    capture_raw: Path | None,
    playback_out: Path,
    rate_hz: int = 16000,
    channels: int = 1,
) -> dict[str, str]:
    """Environment for *unpaced* fake devices over plain files (see module doc).

    Good for one-shot use (``sounddevice.rec``/``play`` of a known length,
    ``assistant devices``); streaming through a bounded queue needs
    `AlsaDevices`. ``rate_hz`` only documents the raw file: open the stream
    at that rate (``audio.input_rate_hz``) to read it at its true speed.
    """
    del rate_hz  # the null PCM takes any rate; see the docstring
    conf = Path(tmp_path) / "asound-unpaced.conf"
    conf.write_text(alsa_config(capture_raw, "/dev/null", playback_out, channels))
    return {"ALSA_CONFIG_PATH": str(conf)}


class AlsaDevices:
    """Paced fake devices: `MIC` plays ``capture_raw`` (S16_LE at ``rate_hz``,
    ``channels`` interleaved) in real time; what is played to `SPEAKER` at
    ``playback_rate_hz`` ends up in ``playback_out`` as raw mono S16_LE.

    A context manager: entering starts the pacing threads, leaving stops
    them. Close every stream on these devices before leaving: a stream still
    writing to an undrained FIFO would block. ``extra_config`` is appended to
    the ALSA config.
    """

    def __init__(
        self,
        tmp_path: Path,
        capture_raw: Path | None,
        playback_out: Path,
        rate_hz: int = 16000,
        channels: int = 1,
        playback_rate_hz: int | None = None,
        extra_config: str = "",
    ):
        self.dir = Path(tmp_path)
        self.playback_out = Path(playback_out)
        self.config_path = self.dir / "asound.conf"
        self._capture_fifo = self.dir / "capture.fifo"
        self._playback_fifo = self.dir / "playback.fifo"
        self._capture_bps = rate_hz * channels * 2
        self._playback_bps = (playback_rate_hz or rate_hz) * 2
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._fds: list[int] = []
        self.config_text = alsa_config(
            capture_raw, self._capture_fifo, self._playback_fifo, channels, extra_config
        )

    @property
    def env(self) -> dict[str, str]:
        return {"ALSA_CONFIG_PATH": str(self.config_path)}

    def rewrite_config(self, text: str) -> None:
        """Replace the ALSA config atomically (a new inode, so alsa-lib reloads it)."""
        tmp = self.config_path.with_suffix(".new")
        tmp.write_text(text)
        os.replace(tmp, self.config_path)

    def __enter__(self) -> AlsaDevices:
        for fifo in (self._capture_fifo, self._playback_fifo):
            if not fifo.exists():
                os.mkfifo(fifo)
        self.rewrite_config(self.config_text)
        self.playback_out.write_bytes(b"")
        # Open read-write: ALSA's open of the FIFO then never blocks, and a
        # device closed during enumeration does not end the pipe.
        capture_fd = os.open(self._capture_fifo, os.O_RDWR | os.O_NONBLOCK)
        playback_fd = os.open(self._playback_fifo, os.O_RDWR | os.O_NONBLOCK)
        self._fds = [capture_fd, playback_fd]
        for fd in self._fds:
            with contextlib.suppress(OSError):
                fcntl.fcntl(fd, _F_SETPIPE_SZ, 4096)
        self._threads = [
            threading.Thread(target=self._pace, args=(capture_fd, self._capture_bps, None)),
            threading.Thread(
                target=self._pace, args=(playback_fd, self._playback_bps, self.playback_out)
            ),
        ]
        for thread in self._threads:
            thread.daemon = True
            thread.start()
        return self

    def _pace(self, fd: int, bytes_per_s: int, out: Path | None) -> None:
        """Drain ``fd`` at ``bytes_per_s``: the pacing clock of a device."""
        start = time.monotonic()
        consumed = 0
        sink = open(out, "ab") if out is not None else None  # noqa: SIM115 - closed below
        try:
            while not self._stop.is_set():
                budget = int((time.monotonic() - start) * bytes_per_s) - consumed
                budget -= budget % 2
                if budget > 0:
                    try:
                        data = os.read(fd, budget)
                    except BlockingIOError:
                        data = b""
                    consumed += len(data)
                    if sink is not None and data:
                        sink.write(data)
                        sink.flush()
                    if not data:
                        # Idle device: do not bank time for a later burst.
                        start, consumed = time.monotonic(), 0
                self._stop.wait(0.005)
            # Keep what is still in the pipe: the tail of the last playback.
            while sink is not None:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if not data:
                    break
                sink.write(data)
        finally:
            if sink is not None:
                sink.close()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        for fd in self._fds:
            os.close(fd)
        self._fds = []

    def played(self) -> np.ndarray:
        """Everything written to `SPEAKER` so far, mono int16."""
        return read_raw(self.playback_out)


@contextlib.contextmanager
def only_channels(channels: int) -> Iterator[list[int]]:
    """Make PortAudio refuse to open an input stream with any other channel
    count, with paInvalidChannelCount, as a microphone that only opens in
    stereo does (the null PCM takes any count). Yields the channel counts
    asked for, in order. The stream that opens is the real one."""
    import sounddevice

    real = sounddevice.InputStream
    asked: list[int] = []

    def refusing(*args: object, channels: int | None = None, **kwargs: object) -> object:
        asked.append(channels)
        if channels != only:
            raise sounddevice.PortAudioError(
                "Error opening InputStream: Invalid number of channels", -9998
            )
        return real(*args, channels=channels, **kwargs)

    only = channels
    sounddevice.InputStream = refusing
    try:
        yield asked
    finally:
        sounddevice.InputStream = real


def reinit_portaudio() -> None:
    import sounddevice

    sounddevice._terminate()
    sounddevice._initialize()


@contextlib.contextmanager
def portaudio_env(env: dict[str, str]) -> Iterator[None]:
    """Set ``env`` in this process and re-initialize PortAudio so it sees the
    devices; restore both on exit. Close streams before leaving."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    reinit_portaudio()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reinit_portaudio()
