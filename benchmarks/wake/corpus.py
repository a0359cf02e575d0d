"""Test audio for the wake-word benchmark, made here with numpy from a few
synthesized sentences: piper's joe voice and espeak-ng variants, at several
speeds, with added noise and room reverb, all mono int16 at 16 kHz.

Synthesis is the expensive part, so each sentence is spoken once per voice
and the hour of negatives is built by reusing those clips with variations
(speed by resampling, gain, noise, reverb, order).
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

from assistant.stages.audio.pcm import resample

RATE = 16000
ESPEAK_VOICES = ["en-us", "en", "en-us+f3", "en+m3", "en-us+f2"]
WAKE_PHRASES = {
    "hey_mycroft": ["hey mycroft", "Hey Mycroft.", "Hey, Mycroft!"],
    "hey_jarvis": ["hey jarvis", "Hey Jarvis.", "Hey, Jarvis!"],
}

_SUBJECTS = [
    "the kitchen light",
    "my timer",
    "the weather",
    "dinner",
    "the oven",
    "the music",
    "the garden",
    "my sister",
    "the news",
    "the train",
    "a recipe",
    "the heater",
]
_VERBS = [
    "is ready",
    "sounds fine",
    "was late again",
    "needs ten more minutes",
    "looks cloudy",
    "will start soon",
    "is too loud",
    "can wait until later",
]
_OPENERS = ["", "Well, ", "I think ", "Honestly, ", "You know, ", "Okay, so ", "By the way, "]
_REPLIES = [
    "It is {n} degrees outside.",
    "Your timer for {n} minutes is set.",
    "The capital of France is Paris.",
    "I set the volume to {n} percent.",
    "It is {n} past three in the afternoon.",
    "I turned on the kitchen light.",
    "Sorry, I do not know that one.",
    "Here is a fun fact: octopuses have three hearts.",
    "Your next alarm rings at {n} o'clock.",
    "The oven is now at {n} degrees.",
    "I can help with timers, the time, and your devices.",
    "Mister Croft called about the heater.",
    "Jarvis Street is {n} minutes away.",
]


def sentences(count: int, seed: int = 0) -> list[str]:
    """Varied everyday sentences with no wake word."""
    rng = np.random.default_rng(seed)
    return [
        f"{rng.choice(_OPENERS)}{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)}." for _ in range(count)
    ]


def replies(count: int, seed: int = 1) -> list[str]:
    """What the assistant says: its templates with varied numbers."""
    rng = np.random.default_rng(seed)
    return [str(rng.choice(_REPLIES)).format(n=int(rng.integers(2, 60))) for _ in range(count)]


def espeak(text: str, voice: str, speed_wpm: int = 175) -> np.ndarray:
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed_wpm), "-w", f.name, text],
            check=True,
            capture_output=True,
        )
        return _read(Path(f.name))


class Piper:
    """The joe voice, loaded once; ``length_scale`` above 1 is slower."""

    def __init__(self, models_dir: Path) -> None:
        from piper import PiperVoice

        self.voice = PiperVoice.load(Path(models_dir) / "en_US-joe-medium.onnx")

    def say(self, text: str, length_scale: float = 1.0) -> np.ndarray:
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=length_scale)
        chunks = list(self.voice.synthesize(text, syn_config=config))
        samples = np.concatenate([c.audio_int16_array for c in chunks])
        return resample(samples, chunks[0].sample_rate, RATE)


def _read(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), np.int16)
        return resample(samples, w.getframerate(), RATE)


def speed(audio: np.ndarray, factor: float) -> np.ndarray:
    """Faster (factor > 1) or slower, pitch moving with it, like tape."""
    return resample(audio, round(RATE * factor), RATE)


def room(audio: np.ndarray, rt60_s: float, rng: np.random.Generator, drr_db: float = 3.0):
    """Reverb: the direct sound plus exponentially decaying noise (a small
    room, ``rt60_s`` long) ``drr_db`` below it, as a mic a metre or two away hears."""
    n = int(rt60_s * RATE)
    tail = rng.normal(0, 1, n) * np.exp(-6.9 * np.arange(n) / n)
    tail[0] = 0.0
    tail *= np.sqrt(10 ** (-drr_db / 10) / np.sum(tail**2))
    impulse = tail
    impulse[0] = 1.0
    size = 1 << int(np.ceil(np.log2(len(audio) + n)))
    wet = np.fft.irfft(np.fft.rfft(audio.astype(np.float64), size) * np.fft.rfft(impulse, size))
    wet = wet[: len(audio)]
    return _clip(wet * (np.abs(audio).max() / max(np.abs(wet).max(), 1)))


def noisy(audio: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add pink-ish noise (low-passed white) at ``snr_db`` against the speech."""
    x = audio.astype(np.float64)
    white = rng.normal(0, 1, len(x))
    pink = np.convolve(white, np.ones(8) / 8, mode="same")
    p_speech = np.mean(x[np.abs(x) > 0.05 * np.abs(x).max()] ** 2) if x.any() else 1.0
    pink *= np.sqrt(p_speech / 10 ** (snr_db / 10) / np.mean(pink**2))
    return _clip(x + pink)


def gain_db(audio: np.ndarray, db: float) -> np.ndarray:
    return _clip(audio.astype(np.float64) * 10 ** (db / 20))


def pad(audio: np.ndarray, before_s: float = 0.5, after_s: float = 0.5) -> np.ndarray:
    return np.concatenate(
        [np.zeros(int(before_s * RATE), np.int16), audio, np.zeros(int(after_s * RATE), np.int16)]
    )


def _clip(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)
