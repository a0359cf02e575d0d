"""Test speech: real synthesized WAVs for the ASR and pipeline tests.

``espeak_wav`` needs the ``espeak-ng`` program; ``piper_wav`` needs
``<models_dir>/en_US-joe-medium.onnx``. Both write a WAV and return its path.
A test that uses either (espeak speech is only ever fed to a real recognizer,
and ``piper_wav`` loads the voice) is marked slow.
"""

from __future__ import annotations

import functools
import subprocess
import wave
from pathlib import Path
from typing import Any

import numpy as np

from assistant.stages.audio.pcm import ASR_RATE_HZ, resample
from assistant.stages.audio.wavfile import read_wav

PIPER_VOICE = "en_US-joe-medium.onnx"


def espeak_wav(text: str, voice: str, path: Path, wpm: int = 175) -> Path:
    """Speak ``text`` with espeak-ng voice ``voice`` (e.g. ``ko``, ``en-us``)
    at ``wpm`` words a minute (espeak-ng's default 175) into ``path``."""
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    return Path(path)


@functools.lru_cache(maxsize=2)
def _piper_voice(model_path: Path) -> Any:
    from piper import PiperVoice

    return PiperVoice.load(model_path)


def piper_wav(text: str, models_dir: Path, path: Path) -> Path:
    """Speak ``text`` with the piper voice in ``models_dir`` into ``path`` (22.05 kHz).

    Piper's noise is turned off, so the same text gives the same samples every
    run: with it on, Whisper base now and then heard "France" as "friends".
    """
    from piper import SynthesisConfig

    voice = _piper_voice(Path(models_dir) / PIPER_VOICE)
    steady = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    with wave.open(str(path), "wb") as wav:
        voice.synthesize_wav(text, wav, syn_config=steady)
    return Path(path)


def load_16k(path: Path) -> np.ndarray:
    """A WAV file as mono int16 samples at 16 kHz."""
    chunk = read_wav(path)
    return resample(chunk.samples, chunk.rate_hz, ASR_RATE_HZ)
