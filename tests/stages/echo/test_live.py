"""The echo canceller on the sound card: `EchoCancellingSource` and
`measure_room` with the real canceller (speexdsp), on a fake sound card
whose microphone hears the fake speaker through a simple room (a delay,
a short decaying filter and noise). No real time passes: the microphone's
clock is its sample count."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from assistant.stages.audio.pcm import AudioChunk, rms_dbfs
from assistant.stages.audio.reference import ReferenceTap
from assistant.stages.echo import EchoPath, echo_unavailable
from assistant.stages.echo.live import EchoCancellingSource, measure_room, probe_signal

pytestmark = pytest.mark.skipif(echo_unavailable() is not None, reason=str(echo_unavailable()))

RATE = 16000
BLOCK = 480
T0 = 1000.0
"""The microphone's first sample, on the stream clock."""


def room(audio: np.ndarray, delay_s: float, gain: float = 0.5) -> np.ndarray:
    """``audio`` as a microphone hears it from the speaker: late by
    ``delay_s``, through a short decaying filter (a small room)."""
    rng = np.random.default_rng(5)
    taps = rng.standard_normal(400) * np.exp(-np.arange(400) / 60.0)
    taps *= gain / np.sqrt(np.sum(taps**2))
    wet = np.convolve(audio.astype(np.float64), taps)[: len(audio)]
    return np.concatenate([np.zeros(int(delay_s * RATE)), wet])


class FakeSoundCard:
    """A fake microphone (`read_timed`) that hears what the fake speaker
    (`AudioSink`) plays through `room`, plus faint noise. The speaker plays
    what it is given 50 ms after the microphone's position when it is
    written, and taps it like `TappedSoundDeviceSink`; `drain` waits until
    the microphone has read past it."""

    sample_rate_hz = RATE
    exhausted = False

    def __init__(self, tap: ReferenceTap, delay_s: float, gain: float = 0.5, seconds=8.0):
        self.tap = tap
        self.delay_s = delay_s
        self.gain = gain
        noise = np.random.default_rng(9).normal(0, 30, int(seconds * RATE))
        self.heard = noise
        self.read_frames = 0
        self.cond = threading.Condition()
        self.played_until = 0

    # the microphone
    def open(self) -> None:
        pass

    def read_timed(self, timeout_s: float):
        with self.cond:
            at = self.read_frames
            if at + BLOCK > len(self.heard):
                return None
            self.read_frames += BLOCK
            self.cond.notify_all()
        block = np.clip(np.rint(self.heard[at : at + BLOCK]), -32768, 32767)
        return block.astype(np.int16), T0 + at / RATE

    def discard(self) -> None:
        pass

    def close(self) -> None:
        pass

    # the speaker
    def write(self, chunk: AudioChunk, cancel=None) -> None:
        assert chunk.rate_hz == RATE
        with self.cond:
            start = self.read_frames + int(0.05 * RATE)
            for i in range(0, len(chunk.samples), BLOCK):
                self.tap.put(chunk.samples[i : i + BLOCK], T0 + (start + i) / RATE, RATE)
            echo = room(chunk.samples, self.delay_s, self.gain)
            end = min(len(self.heard), start + len(echo))
            self.heard[start:end] += echo[: end - start]
            self.played_until = start + len(chunk.samples)

    def drain(self, timeout_s: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.read_frames >= self.played_until, timeout_s)


class FakeSpeaker:
    """The speaker half of a `FakeSoundCard`, as an `AudioSink`."""

    def __init__(self, card: FakeSoundCard) -> None:
        self.card = card
        self.paths: list = []

    def open(self, rate_hz: int) -> None:
        assert rate_hz == RATE

    def write(self, chunk: AudioChunk, cancel=None) -> None:
        self.card.write(chunk)

    def drain(self, timeout_s: float) -> bool:
        return self.card.drain(timeout_s)

    def played_frames(self) -> int:
        return 0

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_the_echo_of_a_reply_is_removed_and_silence_passes_untouched(caplog):
    tap = ReferenceTap()
    card = FakeSoundCard(tap, delay_s=0.06, seconds=5.0)
    path = EchoPath(RATE)
    source = EchoCancellingSource(card, tap, path)
    source.open()
    quiet = [source.read(1.0) for _ in range(10)]  # nothing played yet
    np.testing.assert_array_equal(np.concatenate(quiet), np.rint(card.heard[: 10 * BLOCK]))
    assert not source.active
    reply = probe_signal(RATE, 3.0)
    card.write(AudioChunk(reply, RATE))
    start = card.read_frames
    clean = []
    with caplog.at_level("DEBUG", logger="assistant.stages.echo.live"):
        while (block := source.read(1.0)) is not None:
            clean.append(block)
    clean = np.concatenate(clean)
    # Once the reply's echo is over, one debug line says how it went.
    assert len([r for r in caplog.records if "echo cancelled" in r.getMessage()]) == 1
    heard = card.heard[start : start + len(clean)]
    # Its last second: the canceller has converged.
    last = slice(int(2.2 * RATE), int(3.2 * RATE))
    erle = rms_dbfs(np.rint(heard[last]).astype(np.int16)) - rms_dbfs(clean[last])
    assert erle > 10
    stats = source.stats()
    assert stats.frames > 0
    # The echo's 60 ms, give or take the room's filter and the canceller's lead.
    assert stats.delay_ms == pytest.approx(60, abs=10)
    source.close()
    source.shutdown()


def test_close_keeps_the_canceller_and_shutdown_ends_it():
    tap = ReferenceTap()
    closed = []

    class CountingPath(EchoPath):
        def close(self) -> None:
            closed.append(True)
            super().close()

    source = EchoCancellingSource(FakeSoundCard(tap, 0.05, seconds=0.1), tap, CountingPath(RATE))
    source.close()
    assert closed == []
    source.shutdown()
    assert closed == [True]


def test_measure_room_finds_the_delay_and_the_erle():
    tap = ReferenceTap()
    card = FakeSoundCard(tap, delay_s=0.08)
    result = measure_room(card, FakeSpeaker(card), tap)
    assert result.delay_ms == pytest.approx(80, abs=2)
    assert result.echo_at_ms == pytest.approx(result.played_at_ms + result.delay_ms, abs=0.2)
    assert result.erle_db > 10
    assert result.ok and "can work" in result.verdict
    assert result.noise_dbfs < result.echo_dbfs


def test_measure_room_says_when_the_delay_is_beyond_the_search():
    tap = ReferenceTap()
    card = FakeSoundCard(tap, delay_s=0.45)
    result = measure_room(card, FakeSpeaker(card), tap, max_delay_s=0.3)
    assert result.delay_ms == pytest.approx(450, abs=2)
    assert not result.ok
    assert "max_delay_s" in result.verdict and "\n" not in result.verdict


def test_measure_room_says_when_the_microphone_does_not_hear_the_speaker():
    tap = ReferenceTap()
    card = FakeSoundCard(tap, delay_s=0.05, gain=0.0)
    result = measure_room(card, FakeSpeaker(card), tap)
    assert result.ok and "does not hear" in result.verdict


def test_the_probe_signal_is_the_same_every_run():
    a, b = probe_signal(RATE), probe_signal(RATE)
    np.testing.assert_array_equal(a, b)
    assert -22 < rms_dbfs(a) < -16


def test_a_failing_canceller_leaves_the_microphone_working(caplog):
    tap = ReferenceTap()
    card = FakeSoundCard(tap, delay_s=0.05, seconds=1.0)

    class FailingPath(EchoPath):
        def capture(self, samples, adc_time):
            raise RuntimeError("a bug")

    path = FailingPath(RATE)
    source = EchoCancellingSource(card, tap, path)
    with caplog.at_level("ERROR"):
        first, second = source.read(1.0), source.read(1.0)
    heard = np.rint(card.heard[: 2 * BLOCK]).astype(np.int16)
    np.testing.assert_array_equal(np.concatenate([first, second]), heard)
    assert len([r for r in caplog.records if "echo canceller failed" in r.getMessage()]) == 1
    source.shutdown()
