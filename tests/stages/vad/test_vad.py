"""The Silero VAD endpointer on real speech (slow), and the choice of
endpointer the composition makes."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.compose import handsfree
from assistant.core.config import Config, TurnConfig, WakeConfig
from assistant.stages.asr.endpoint import SilenceEndpointer

HUSH = np.zeros(16000, np.int16)


def test_without_silero_hands_free_turns_fall_back_to_the_energy_endpointer(monkeypatch):
    monkeypatch.setattr(handsfree, "silero_available", lambda: False)
    make = handsfree.build_endpointer(0.7)
    endpointer = make()
    assert isinstance(endpointer, SilenceEndpointer)
    assert endpointer.silence_s == 0.7
    assert make() is not endpointer  # one per turn


def test_a_silero_model_that_fails_to_load_falls_back_with_a_warning(monkeypatch, caplog):
    from assistant.core.errors import ModelError

    def broken():
        raise ModelError("Silero VAD model x failed to load: bad file")

    monkeypatch.setattr(handsfree, "silero_available", lambda: True)
    monkeypatch.setattr(handsfree, "load_silero", broken)
    assert isinstance(handsfree.build_endpointer(1.0)(), SilenceEndpointer)
    assert "bad file" in caplog.text


def test_hands_free_settings_only_when_wanted(monkeypatch):
    monkeypatch.setattr(handsfree, "silero_available", lambda: False)
    assert handsfree.build_hands_free(Config()) is None
    assert handsfree.build_hands_free(Config(turn=TurnConfig(mode="toggle"))) is None
    on = handsfree.build_hands_free(Config(wake=WakeConfig(enabled=True, follow_up_s=4.0)))
    assert on is not None and on.follow_up_s == 4.0
    assert on.follow_up().wait_s == 4.0 and not on.follow_up().keep_queued
    assert on.after_wake().keep_queued
    off = handsfree.build_hands_free(Config(wake=WakeConfig(enabled=True, follow_up_s=0.0)))
    assert off.follow_up() is None


def _feed(endpointer, audio: np.ndarray, block: int = 480) -> float | None:
    """Seconds of audio fed when the endpoint latched, or None."""
    for start in range(0, len(audio), block):
        endpointer.update(audio[start : start + block])
        if endpointer.endpoint:
            return (start + block) / 16000
    return None


@pytest.mark.slow
def test_silero_ends_after_the_silence_not_at_a_pause(silero, models_dir, tmp_path):
    from assistant.stages.vad.silero import SileroEndpointer
    from tests.support.speech import load_16k, piper_wav

    one = load_16k(piper_wav("Set a timer", models_dir, tmp_path / "a.wav"))
    two = load_16k(piper_wav("for five minutes.", models_dir, tmp_path / "b.wav"))
    pause = np.zeros(int(0.5 * 16000), np.int16)  # a natural pause mid-sentence
    audio = np.concatenate([HUSH[:4000], one, pause, two, HUSH, HUSH])
    endpointer = SileroEndpointer(silero, silence_s=1.0)
    ended_s = _feed(endpointer, audio)
    spoken_end_s = (4000 + len(one) + len(pause) + len(two)) / 16000
    assert ended_s is not None
    assert ended_s > spoken_end_s + 0.8  # not cut at the pause, nor early
    assert ended_s < spoken_end_s + 1.6
    assert endpointer.heard_speech


@pytest.mark.slow
def test_silero_does_not_take_noise_or_a_hum_for_speech(silero):
    from assistant.stages.vad.silero import SileroEndpointer

    rng = np.random.default_rng(1)
    t = np.arange(3 * 16000) / 16000
    hum = (3000 * np.sin(2 * np.pi * 100 * t)).astype(np.int16)
    fan = rng.normal(0, 2000, 3 * 16000).astype(np.int16)
    for audio in (hum, fan):
        endpointer = SileroEndpointer(silero, silence_s=0.5)
        assert _feed(endpointer, audio) is None
        assert not endpointer.heard_speech
    # The energy endpointer, by contrast, is fooled by a fan that starts.
    energy = SilenceEndpointer(0.5)
    energy.update(HUSH)
    energy.update(fan)
    assert energy.heard_speech


@pytest.mark.slow
def test_silero_result_does_not_depend_on_block_size(silero, models_dir, tmp_path):
    from assistant.stages.vad.silero import SileroEndpointer
    from tests.support.speech import load_16k, piper_wav

    audio = np.concatenate(
        [HUSH[:8000], load_16k(piper_wav("What time is it?", models_dir, tmp_path / "q.wav")), HUSH]
    )
    ends = {_feed(SileroEndpointer(silero, silence_s=0.6), audio, block) for block in (160, 512)}
    assert None not in ends
    assert max(ends) - min(ends) < 0.05
