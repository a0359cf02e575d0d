"""The echo canceller on simulated rooms (tests/support/rooms.py): real
speexdsp, the project's voice, the real wake detector. Quality is asserted
as bounds and relations, never as one exact figure."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.stages import echo
from assistant.stages.echo import EchoPath, cancel_offline, echo_unavailable
from assistant.stages.echo.speex import SpeexUnavailable
from tests.support import rooms

RATE = 16000
MIN_ERLE_DB = 15.0
"""Steady-state ERLE bound on echo alone (benchmarks/echo_rooms.py measures ~26 dB)."""


def _capture_all(path: EchoPath, mic: np.ndarray, start_s: float = 0.0) -> np.ndarray:
    blocks = [path.capture(mic[i : i + 320], start_s + i / RATE) for i in range(0, len(mic), 320)]
    return np.concatenate(blocks)


def test_the_library_is_found_here_and_a_missing_one_is_one_line(monkeypatch):
    assert echo_unavailable() is None

    def missing():
        raise SpeexUnavailable("libspeexdsp is missing: apt install libspeexdsp1")

    monkeypatch.setattr(echo, "library", missing)
    line = echo_unavailable()
    assert line is not None and "apt install libspeexdsp1" in line and "\n" not in line


def test_the_mic_passes_untouched_until_something_is_played_and_after():
    rng = np.random.default_rng(0)
    mic = rng.normal(0, 2000, RATE).astype(np.int16)
    path = EchoPath(RATE)
    try:
        assert np.array_equal(_capture_all(path, mic, 100.0), mic)
        assert not path.active
        path.play(rng.normal(0, 2000, RATE).astype(np.int16), 101.0)
        _capture_all(path, mic, 101.0)  # echo-less mic while it plays: fine
        later = _capture_all(path, mic, 110.0)  # long after the reply ended
        assert np.array_equal(later, mic) and not path.active
    finally:
        path.close()
        path.close()


@pytest.mark.slow
def test_alignment_finds_a_known_delay_and_drift(reply):
    room = rooms.ROOMS[2]  # 250 ms, the speaker's clock 100 ppm slow
    mix = rooms.mix(room, np.concatenate([reply, reply]))
    _, stats = cancel_offline(mix.mic, mix.reference, RATE)
    expected_ms = (room.delay_s + rooms.direct_s(room.rt60_s)) * 1000
    assert abs(stats.delay_ms - expected_ms) < 2.0, stats
    assert -130 < stats.drift_ppm < -70, stats


@pytest.mark.slow
def test_a_delay_that_moves_is_found_again(reply):
    # The same reply twice; between the two the path grows 40 ms longer
    # (a new output latency the timestamps did not tell).
    first = rooms.mix(rooms.Room(delay_s=0.08, rt60_s=0.2, seed=5), reply)
    second = rooms.mix(rooms.Room(delay_s=0.12, rt60_s=0.2, seed=6), reply)
    path = EchoPath(RATE)
    try:
        path.play(np.concatenate([reply, reply]), 50.0)
        _capture_all(path, np.concatenate([first.mic, second.mic]), 50.0)
        assert path.delay_moves >= 1
        expected_ms = (0.12 + rooms.direct_s(0.2)) * 1000
        assert abs(path.stats().delay_ms - expected_ms) < 2.0, path.stats()
    finally:
        path.close()


@pytest.mark.slow
def test_echo_is_cancelled_after_convergence(reply):
    # 150 ms, RT60 0.35 s, the speaker 100 ppm fast; the reply said twice.
    mix = rooms.mix(rooms.ROOMS[1], np.concatenate([reply, reply]))
    cleaned, stats = cancel_offline(mix.mic, mix.reference, RATE)
    assert len(cleaned) == len(mix.mic)
    steady_s = len(reply) / RATE
    assert rooms.erle_db(mix.mic, cleaned, from_s=steady_s) > MIN_ERLE_DB
    assert stats.erle_db > MIN_ERLE_DB - 5 and stats.frames > 300


def _heard(detector, audio: np.ndarray, span: tuple[int, int]) -> bool:
    detector.reset()
    found = []
    for start in range(0, len(audio), 320):
        found += detector.process(audio[start : start + 320])
    return any(span[0] / RATE <= d.t_s <= span[1] / RATE + 1.0 for d in found)


@pytest.mark.slow
def test_the_wake_word_over_the_reply_is_heard_only_with_the_canceller(
    reply, wake_clip, hey_mycroft
):
    # An earlier reply, a second of silence, then the wake word 3 s into
    # this one: the canceller keeps what it learnt from one reply to the next.
    played = np.concatenate([reply, np.zeros(RATE, np.int16), reply])
    at_s = (len(reply) + RATE) / RATE + 3.0
    cut = len(reply)  # the detector hears from the silence on
    raw = cancelled = 0
    for room in rooms.ROOMS:
        mix = rooms.mix(room, played, wake_clip, user_at_s=at_s, user_db=0.0)
        span = (mix.user[0] - cut, mix.user[1] - cut)
        raw += _heard(hey_mycroft, mix.mic[cut:], span)
        cleaned, _ = cancel_offline(mix.mic, mix.reference, RATE)
        cancelled += _heard(hey_mycroft, cleaned[cut:], span)
    assert cancelled >= 2 and cancelled > raw, (raw, cancelled)
