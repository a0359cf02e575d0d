"""Earcons: short tones that tell the user what the assistant is doing.

- ``listening``: a rising two-note chime (press, start talking);
- ``stopped``: the same chime falling (listening ended);
- ``error``: two low, slightly buzzy notes going down;
- ``ignored``: one soft short blip (press too short, nothing heard);
- ``wake``: a quick high two-note chime (the wake word was heard).

Generated with numpy on first use and cached per (name, rate). Each note has
a short attack and a raised-cosine fade-out so it starts and ends at zero
(no clicks). The returned samples are read-only because they are shared.
"""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np

from assistant.core.errors import AudioError
from assistant.stages.audio.pcm import AudioChunk

EarconName = Literal["listening", "stopped", "error", "ignored", "wake"]

_PEAK = 0.35
"""Peak level as a fraction of full scale: audible, never startling."""

# name -> notes as (frequency Hz, duration s, level 0..1, second-harmonic level)
_NOTES: dict[str, list[tuple[float, float, float, float]]] = {
    "listening": [(659.3, 0.09, 0.8, 0.15), (987.8, 0.14, 1.0, 0.15)],  # E5 -> B5
    "stopped": [(987.8, 0.09, 0.8, 0.15), (659.3, 0.14, 1.0, 0.15)],  # B5 -> E5
    "error": [(311.1, 0.12, 1.0, 0.5), (233.1, 0.16, 1.0, 0.5)],  # Eb4 -> Bb3
    "ignored": [(523.3, 0.07, 0.6, 0.0)],  # C5
    "wake": [(987.8, 0.06, 0.7, 0.1), (1318.5, 0.1, 0.9, 0.1)],  # B5 -> E6
}


def _note(
    freq_hz: float, seconds: float, level: float, harmonic: float, rate_hz: int
) -> np.ndarray:
    n = int(seconds * rate_hz)
    t = np.arange(n) / rate_hz
    tone = np.sin(2 * np.pi * freq_hz * t) + harmonic * np.sin(4 * np.pi * freq_hz * t)
    tone /= 1 + harmonic
    attack = min(n, int(0.008 * rate_hz))
    envelope = np.exp(-3.0 * t / seconds)
    envelope[:attack] *= 0.5 * (1 - np.cos(np.linspace(0.0, np.pi, attack, endpoint=False)))
    fade = min(n, int(0.02 * rate_hz))
    envelope[n - fade :] *= 0.5 * (1 + np.cos(np.linspace(0.0, np.pi, fade)))
    return level * tone * envelope


@functools.lru_cache(maxsize=32)
def earcon(name: EarconName, rate_hz: int = 22050) -> AudioChunk:
    """The earcon ``name`` as mono int16 at ``rate_hz``; at most 0.3 s long.

    Cheap after the first call (cached); safe to call from any thread.
    """
    if name not in _NOTES:
        raise AudioError(f"unknown earcon {name!r}; expected one of {', '.join(_NOTES)}")
    notes = [_note(f, s, level, h, rate_hz) for f, s, level, h in _NOTES[name]]
    samples = (np.concatenate(notes) * _PEAK * 32767).astype(np.int16)
    samples.flags.writeable = False
    return AudioChunk(samples, rate_hz)
