"""Earcons: short, audible, click-free and distinct from each other."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from assistant.core.errors import AudioError
from assistant.stages.audio.earcons import earcon
from assistant.stages.audio.pcm import rms_dbfs

NAMES = ["listening", "stopped", "error", "ignored"]


@pytest.mark.parametrize("name", NAMES)
def test_earcon_is_short_audible_and_click_free(name):
    chunk = earcon(name)
    assert chunk.rate_hz == 22050
    assert chunk.samples.dtype == np.int16
    assert 0.05 <= chunk.duration_s <= 0.3
    assert rms_dbfs(chunk.samples) > -30
    assert np.abs(chunk.samples).max() < 32000  # headroom, no clipping
    edge = int(0.002 * chunk.rate_hz)
    assert np.abs(chunk.samples[:edge]).max() < 3000  # fades in
    assert np.abs(chunk.samples[-edge:]).max() < 300  # fades out to silence


def spectrum(samples: np.ndarray, rate_hz: int) -> np.ndarray:
    padded = np.zeros(rate_hz, np.float64)  # 1 Hz bins, same length for every earcon
    padded[: len(samples)] = samples
    magnitude = np.abs(np.fft.rfft(padded))
    return magnitude / np.linalg.norm(magnitude)


def test_earcons_are_distinct():
    chunks = {name: earcon(name) for name in NAMES}
    for a, b in itertools.combinations(NAMES, 2):
        sa, sb = chunks[a].samples, chunks[b].samples
        same_length = len(sa) == len(sb)
        if same_length:
            assert not np.array_equal(sa, sb), (a, b)
        # Time-domain shapes differ even where the notes are shared (listening vs stopped).
        n = min(len(sa), len(sb))
        correlation = np.dot(sa[:n].astype(float), sb[:n]) / (
            np.linalg.norm(sa[:n].astype(float)) * np.linalg.norm(sb[:n].astype(float))
        )
        assert correlation < 0.5, (a, b, correlation)
    # Error sounds low, listening sounds high.
    peak = {n: int(np.argmax(spectrum(c.samples, c.rate_hz))) for n, c in chunks.items()}
    assert peak["error"] < 400 < peak["listening"]


def test_earcons_are_cached_and_read_only():
    assert earcon("listening") is earcon("listening")
    with pytest.raises(ValueError):
        earcon("listening").samples[0] = 1


def test_rate_is_honoured():
    fast, slow = earcon("stopped", 48000), earcon("stopped", 16000)
    assert fast.rate_hz == 48000 and slow.rate_hz == 16000
    assert abs(fast.duration_s - slow.duration_s) < 0.001


def test_unknown_earcon_names_the_choices():
    with pytest.raises(AudioError, match="listening"):
        earcon("beep")  # type: ignore[arg-type]
