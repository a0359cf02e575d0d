"""The echo canceller's inputs from the sound card: the speaker's tap gets
exactly what went to the device, with DAC times; the microphone's blocks
carry ADC times. Through the real sounddevice -> PortAudio -> ALSA stack on
fake devices (tests/support/alsa.py), plus the pure clock and tap."""

from __future__ import annotations

import time

import numpy as np

from assistant.core.config import AudioConfig
from assistant.stages.audio.pcm import AudioChunk, resample
from assistant.stages.audio.reference import (
    ReferenceTap,
    StreamClock,
    TappedSoundDeviceSink,
    TimedSoundDeviceSource,
)
from tests.support.alsa import MIC, SPEAKER, AlsaDevices, portaudio_env, sine, write_raw


def trimmed(samples: np.ndarray) -> np.ndarray:
    """``samples`` without the silence before and after."""
    loud = np.flatnonzero(samples)
    return samples[loud[0] : loud[-1] + 1] if len(loud) else samples[:0]


def assert_sample_spaced(times: list[float], lengths: list[int], rate: int = 16000) -> None:
    """Block times a block's duration apart. The fake devices fill their
    pipe at once when they start, so the first blocks come in a burst and
    the clock learns the stream's start from the later ones: it may move
    back a little when the loaded machine runs a callback early, and
    creeps forward by its leak (300 ppm)."""
    steps = np.diff(times[8:])
    durations = np.array(lengths[8:-1]) / rate
    assert abs(np.median(steps - durations)) < 1e-4
    assert np.all(steps > durations - 0.02)


def test_the_tap_gets_exactly_the_samples_written_to_the_device(tmp_path):
    tap = ReferenceTap()
    # The voice's rate differs from the stream's: the tap sees the resampled audio.
    reply = sine(440, 0.5, 22050, amplitude=0.3)
    devices = AlsaDevices(tmp_path, None, tmp_path / "speaker.raw", playback_rate_hz=16000)
    with devices, portaudio_env(devices.env):
        sink = TappedSoundDeviceSink(AudioConfig(output_device=SPEAKER), tap)
        sink.open(16000)
        try:
            before = time.monotonic()
            sink.write(AudioChunk(reply, 22050))
            assert sink.drain(5.0)
            after = time.monotonic()
        finally:
            sink.close()
    played = devices.played()  # with what was still in the pipe
    pieces = tap.take(16000)
    tapped = np.concatenate([samples for samples, _ in pieces])
    assert len(trimmed(played)) > 0.45 * 16000
    np.testing.assert_array_equal(trimmed(tapped), trimmed(played))
    assert not np.array_equal(trimmed(tapped), trimmed(resample(reply, 22050, 8000)))
    # DAC times: on the stream clock (time.monotonic), a sample apart per sample.
    times = [t for _, t in pieces]
    assert before - 0.5 < times[0] < after + 0.5
    assert_sample_spaced(times, [len(s) for s, _ in pieces])
    assert tap.take(16000) == []  # taken once


def test_microphone_blocks_carry_their_capture_times(tmp_path):
    raw = write_raw(tmp_path / "mic.raw", sine(300, 1.0, 16000))
    devices = AlsaDevices(tmp_path, raw, tmp_path / "speaker.raw")
    with devices, portaudio_env(devices.env):
        mic = TimedSoundDeviceSource(AudioConfig(input_device=MIC, input_rate_hz=16000))
        mic.open()
        try:
            got = []
            while sum(len(b) for b, _ in got) < 0.6 * 16000:
                block = mic.read_timed(5.0)
                assert block is not None
                got.append(block)
            now = time.monotonic()
        finally:
            mic.close()
    times = [t for _, t in got]
    assert now - 2.0 < times[0] < now
    assert_sample_spaced(times, [len(b) for b, _ in got])
    assert np.concatenate([b for b, _ in got]).any()


def test_the_clock_ignores_late_reports_and_follows_gaps():
    clock = StreamClock(16000)
    # Blocks of 480 reported in bursts of three, late by up to 60 ms.
    start = 100.0
    stamped = []
    for i in range(30):
        true_s = start + i * 0.03
        late_s = 0.06 - (i % 3) * 0.03
        stamped.append(clock.stamp(480, true_s + late_s))
    later = np.array(stamped[3:])
    np.testing.assert_allclose(later, start + np.arange(3, 30) * 0.03, atol=1e-4)
    # Audio was dropped: a block 0.5 s later than the count says restarts the clock.
    assert abs(clock.stamp(480, start + 30 * 0.03 + 0.5) - (start + 30 * 0.03 + 0.5)) < 1e-9


def test_the_clock_follows_a_slower_device_clock():
    clock = StreamClock(16000)
    ratio = 1 + 150e-6  # each nominal second takes 150 us longer
    errors = []
    for i in range(2000):  # 60 s
        true_s = i * 0.03 * ratio
        errors.append(clock.stamp(480, true_s) - true_s)
    assert max(abs(e) for e in errors) < 1e-3


def test_silence_is_tapped_only_for_the_echo_tail_and_sound_restarts_the_times():
    tap = ReferenceTap()
    tone = sine(500, 0.03, 16000)
    silence = np.zeros(480, np.int16)
    tap.put(tone, 10.0, 16000)
    for i in range(100):
        tap.put(silence, 10.03 + i * 0.03, 16000)
    first = tap.take(16000)
    assert 1 < len(first) < 40  # the sound, then a short tail of silence
    tap.put(tone, 50.0, 16000)
    (again,) = tap.take(16000)
    assert again[1] == 50.0
    np.testing.assert_array_equal(again[0], tone)


def test_the_tap_resamples_to_the_microphone_rate():
    tap = ReferenceTap()
    audio = sine(700, 0.6, 48000, amplitude=0.3)
    for i in range(0, len(audio), 1440):
        tap.put(audio[i : i + 1440], 5.0 + i / 48000, 48000)
    pieces = tap.take(16000)
    out = np.concatenate([s for s, _ in pieces])
    assert pieces[0][1] == 5.0
    whole = resample(audio, 48000, 16000)
    # The streaming resampler holds back its filter's length at the end only.
    n = len(out) - 200
    assert len(whole) - 400 < len(out) <= len(whole)
    ref = whole[200:n]
    assert np.max(np.abs(out[200:n].astype(int) - ref)) < 0.02 * 32767


def test_a_whole_reply_tapped_before_the_microphone_is_read_is_all_kept():
    tap = ReferenceTap()
    reply = sine(300, 10.0, 16000, amplitude=0.2)
    for i in range(0, len(reply), 480):
        tap.put(reply[i : i + 480], 7.0 + i / 16000, 16000)
    pieces = tap.take(16000)
    np.testing.assert_array_equal(np.concatenate([s for s, _ in pieces]), reply)
    assert pieces[-1][1] == 7.0 + (len(reply) - len(pieces[-1][0])) / 16000
