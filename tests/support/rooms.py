"""Simulated rooms for the echo canceller's tests and benchmark.

What the appliance's microphone hears while it speaks: the reply as played
(the reference) leaves a small loudspeaker with mild saturation (tanh),
from a sound card whose clock drifts against the mic's (the reference
resampled by ``drift_ppm``), after ``delay_s`` of buffers, through a room
(synthetic impulse responses of the RT60 asked, see `impulse`), with some
noise; and, when given, the user's wake word from across the room at
``user_db`` relative to the echo. All mono int16 at 16 kHz.
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.stages.audio.pcm import resample

RATE = 16000


@dataclass(frozen=True)
class Room:
    delay_s: float
    """Buffers between the reference's timestamp and the speaker, in seconds."""
    rt60_s: float
    """Reverberation time."""
    drift_ppm: float = 0.0
    """The speaker's clock against the mic's (positive: it plays fast)."""
    drive: float = 1.5
    """Loudspeaker saturation: tanh(drive * x) / drive on full scale 1."""
    echo_dbfs: float = -22.0
    """RMS of the echo at the mic (while the reply speaks)."""
    snr_db: float = 35.0
    """Echo over the room's noise."""
    seed: int = 0


ROOMS = (
    Room(delay_s=0.06, rt60_s=0.2, drift_ppm=0.0, seed=1),
    Room(delay_s=0.15, rt60_s=0.35, drift_ppm=100.0, seed=2),
    Room(delay_s=0.25, rt60_s=0.5, drift_ppm=-100.0, seed=3),
)
"""Three rooms spanning the delays (60-250 ms) and RT60s (0.2-0.5 s) asked for."""


@functools.lru_cache(maxsize=16)
def impulse(rt60_s: float, source: str) -> np.ndarray:
    """The room's impulse response from ``source`` ("speaker", 27 cm from
    the mic, or "user", 2.6 m away) to the mic, direct path 1: the direct
    sound, a few early reflections, and exponentially decaying noise that
    falls 60 dB in ``rt60_s``, at a direct-to-reverberant ratio of +8 dB
    (speaker) or -2 dB (user). Our own rather than pyroomacoustics', whose
    import alone (scipy) takes 2-4 s here, a third of the tests' budget."""
    direct_s, drr_db = _SOURCES[source]
    rng = np.random.default_rng(round(rt60_s * 1000) + len(source))
    n = round(rt60_s * 1.2 * RATE)
    t = np.arange(n) / RATE
    tail = rng.normal(0, 1, n) * np.exp(-6.9 * t / rt60_s)
    tail[: round((direct_s + 0.004) * RATE)] = 0.0
    for delay in rng.uniform(direct_s + 0.002, direct_s + 0.02, 6):
        tail[round(delay * RATE)] += rng.choice([-1, 1]) * rng.uniform(0.5, 1.0) * tail.std() * 8
    tail *= np.sqrt(10 ** (-drr_db / 10) / np.sum(tail**2))
    tail[round(direct_s * RATE)] = 1.0
    return tail


_SOURCES = {"speaker": (0.27 / 343, 8.0), "user": (2.6 / 343, -2.0)}
"""Each source's direct-path delay (s) and direct-to-reverberant ratio (dB)."""


def direct_s(rt60_s: float) -> float:
    """When the speaker's direct sound reaches the mic in `impulse`, in seconds."""
    return int(np.argmax(np.abs(impulse(rt60_s, "speaker")))) / RATE


def _convolve(audio: np.ndarray, response: np.ndarray) -> np.ndarray:
    size = 1 << int(np.ceil(np.log2(len(audio) + len(response))))
    wet = np.fft.irfft(np.fft.rfft(audio, size) * np.fft.rfft(response, size), size)
    return wet[: len(audio)]


def echo(room: Room, reference: np.ndarray) -> np.ndarray:
    """The reply ``reference`` (int16) as the mic hears it in ``room``, as
    float samples on the int16 scale, as long as ``reference``."""
    played = reference
    if room.drift_ppm:
        # A card playing fast consumes the reference faster than the mic's clock.
        played = resample(reference, 1_000_000 + round(room.drift_ppm), 1_000_000)
    x = played.astype(np.float64) / 32768.0
    speaker = np.tanh(room.drive * x) / room.drive
    delayed = np.concatenate([np.zeros(round(room.delay_s * RATE)), speaker])
    wet = _convolve(delayed, impulse(room.rt60_s, "speaker"))
    wet = np.concatenate([wet, np.zeros(max(0, len(reference) - len(wet)))])[: len(reference)]
    return wet * (10 ** (room.echo_dbfs / 20) * 32768 / _rms(wet))


def _rms(x: np.ndarray) -> float:
    loud = x[np.abs(x) > 0.01 * np.abs(x).max()] if x.any() else x
    return float(np.sqrt(np.mean(loud**2))) + 1e-9


@dataclass(frozen=True)
class Mix:
    mic: np.ndarray
    """What the microphone recorded, int16."""
    reference: np.ndarray
    """What was played from the moment the mic started, int16."""
    echo: np.ndarray
    """The echo alone (with noise), int16: the mic without the user."""
    user: tuple[int, int] | None
    """Where the user's words are in ``mic`` (start, end sample)."""
    quiet: np.ndarray
    """The mic had the speaker been silent: the user (if any) and the noise, int16."""


def mix(
    room: Room,
    reference: np.ndarray,
    user: np.ndarray | None = None,
    *,
    user_at_s: float = 3.0,
    user_db: float = 0.0,
) -> Mix:
    """The mic in ``room`` while ``reference`` plays, with ``user`` (int16
    speech) starting at ``user_at_s``, ``user_db`` above the echo over the
    stretch it speaks."""
    rng = np.random.default_rng(room.seed)
    heard = echo(room, reference)
    noise = np.convolve(rng.normal(0, 1, len(heard)), np.ones(6) / 6, mode="same")
    noise *= _rms(heard) / 10 ** (room.snr_db / 20) / np.sqrt(np.mean(noise**2))
    heard += noise
    total = heard.copy()
    span = None
    if user is not None:
        start = round(user_at_s * RATE)
        voice = _convolve(user.astype(np.float64), impulse(room.rt60_s, "user"))
        voice = voice[: len(total) - start]
        level = _rms(heard[start : start + len(voice)]) * 10 ** (user_db / 20)
        voice *= level / _rms(voice)
        total[start : start + len(voice)] += voice
        noise[start : start + len(voice)] += voice
        span = (start, start + len(voice))
    return Mix(_int16(total), reference, _int16(heard), span, _int16(noise))


def _int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def erle_db(mic: np.ndarray, cleaned: np.ndarray, from_s: float = 0.0) -> float:
    """Echo return loss enhancement of ``cleaned`` against ``mic`` (echo
    only, no user) from ``from_s`` on, in dB."""
    start = round(from_s * RATE)
    before = np.mean(mic[start:].astype(np.float64) ** 2)
    after = np.mean(cleaned[start:].astype(np.float64) ** 2)
    return float(10 * np.log10(before / max(after, 1e-9)))


REPLY = "The weather today is mostly sunny, with a light breeze and some rain later tonight."
"""What the assistant says in the tests: about five seconds of speech."""


@functools.lru_cache(maxsize=1)
def voice_clips(models_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(`REPLY`, "Hey Mycroft.") said by the project's piper voice, mono
    int16 at 16 kHz; synthesized once per process (loads the voice: slow)."""
    from tests.support.speech import load_16k, piper_wav

    with tempfile.TemporaryDirectory() as folder:
        reply = load_16k(piper_wav(REPLY, models_dir, Path(folder) / "reply.wav"))
        wake = load_16k(piper_wav("Hey Mycroft.", models_dir, Path(folder) / "wake.wav"))
    return reply, wake
