"""Microphone and speaker through the real sounddevice -> PortAudio -> ALSA
stack, on fake ALSA devices (``tests/alsa.py``), and the WAV-file stand-ins.
No model is loaded here."""

from __future__ import annotations

import builtins
import contextlib
import threading
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.core.config import AudioConfig
from assistant.core.errors import AudioError
from assistant.stages.audio.base import AudioSink, AudioSource
from assistant.stages.audio.devices import find_device, have_output_device, list_devices
from assistant.stages.audio.mic import SoundDeviceSource
from assistant.stages.audio.pcm import AudioChunk, resample
from assistant.stages.audio.speaker import SoundDeviceSink
from assistant.stages.audio.wavfile import WavFileSink, WavFileSource, read_wav
from tests.support.alsa import (
    MIC,
    NATIVE_RATE_HZ,
    SPEAKER,
    AlsaDevices,
    alsa_env,
    dominant_hz,
    only_channels,
    portaudio_env,
    sine,
    write_raw,
)

MIC_CONFIG = AudioConfig(input_device=MIC)
SPEAKER_CONFIG = AudioConfig(output_device=SPEAKER)


@contextlib.contextmanager
def fake_devices(
    tmp_path: Path, mic_samples: np.ndarray | None = None, rate_hz: int = 16000, **kwargs
) -> Iterator[AlsaDevices]:
    raw = write_raw(tmp_path / "mic.raw", mic_samples) if mic_samples is not None else None
    devices = AlsaDevices(tmp_path, raw, tmp_path / "speaker.raw", rate_hz=rate_hz, **kwargs)
    with devices, portaudio_env(devices.env):
        yield devices


def read_seconds(source: SoundDeviceSource, seconds: float) -> np.ndarray:
    blocks: list[np.ndarray] = []
    while sum(len(b) for b in blocks) < seconds * source.sample_rate_hz:
        block = source.read(timeout_s=5.0)
        assert block is not None, "capture delivered nothing for 5 s"
        assert block.dtype == np.int16 and block.ndim == 1
        blocks.append(block)
    return np.concatenate(blocks)


def best_correlation(captured: np.ndarray, reference: np.ndarray) -> float:
    """Normalized cross-correlation of a middle slice of `reference` within `captured`."""
    probe = reference[2000:6000].astype(np.float64)
    hay = captured.astype(np.float64)
    scores = np.correlate(hay, probe, "valid")
    lag = int(np.argmax(scores))
    window = hay[lag : lag + len(probe)]
    return float(scores[lag] / (np.linalg.norm(window) * np.linalg.norm(probe)))


def first_sound(samples: np.ndarray) -> int:
    return int(np.argmax(samples != 0))


def protocol_members(protocol: type) -> set[str]:
    """Public names a Protocol declares: methods, properties and attributes."""
    declared = set(vars(protocol)) | set(getattr(protocol, "__annotations__", {}))
    return {name for name in declared if not name.startswith("_")}


def test_every_source_and_sink_provides_the_whole_protocol(tmp_path):
    sources = [SoundDeviceSource(MIC_CONFIG), WavFileSource(tmp_path / "in.wav")]
    sinks = [SoundDeviceSink(SPEAKER_CONFIG), WavFileSink(tmp_path / "out.wav")]
    assert {"exhausted", "read", "sample_rate_hz"} <= protocol_members(AudioSource)
    assert {"paths", "write", "played_frames"} <= protocol_members(AudioSink)
    for device, protocol in [
        *((s, AudioSource) for s in sources),
        *((s, AudioSink) for s in sinks),
    ]:
        missing = {name for name in protocol_members(protocol) if not hasattr(device, name)}
        assert not missing, f"{type(device).__name__} lacks {sorted(missing)}"


# -- microphone -----------------------------------------------------------------


def test_capture_at_48k_is_resampled_to_16k_keeping_the_pitch(tmp_path):
    signal = np.concatenate([sine(440, 1.5, 48000), np.zeros(48000, np.int16)])
    with fake_devices(tmp_path, signal, rate_hz=48000):
        source = SoundDeviceSource(AudioConfig(input_device=MIC, input_rate_hz=48000))
        source.open()
        try:
            captured = read_seconds(source, 1.2)
        finally:
            source.close()
    assert source.sample_rate_hz == 16000
    assert abs(dominant_hz(captured[1600:17600], 16000) - 440) <= 2


def test_capture_at_native_rate_matches_the_input_sample_for_sample(tmp_path):
    rng = np.random.default_rng(1)
    noise = (rng.standard_normal(NATIVE_RATE_HZ * 2) * 5000).astype(np.int16)
    with fake_devices(tmp_path, noise, rate_hz=NATIVE_RATE_HZ):
        source = SoundDeviceSource(MIC_CONFIG)  # input_rate_hz 0: the device's own rate
        source.open()
        try:
            captured = read_seconds(source, 1.0)
        finally:
            source.close()
    expected = resample(noise, NATIVE_RATE_HZ, 16000)
    assert best_correlation(captured, expected) > 0.99


@pytest.mark.parametrize("rate", [48000, NATIVE_RATE_HZ])
def test_a_stereo_only_microphone_is_heard_at_its_true_level(tmp_path, rate):
    # It was deaf: int16 channels averaged, then clipped as float, gave +-32767.
    rng = np.random.default_rng(4)
    left = (rng.standard_normal(rate * 3) * 2000).astype(np.int16)
    right = left // 2  # one mic nearer the talker
    mono = np.rint((left.astype(np.float64) + right) / 2).astype(np.int16)
    config = AudioConfig(input_device=MIC, input_rate_hz=0 if rate == NATIVE_RATE_HZ else rate)
    stereo = np.stack([left, right], axis=1)
    with fake_devices(tmp_path, stereo, rate_hz=rate, channels=2), only_channels(2) as asked:
        source = SoundDeviceSource(config)
        source.open()
        try:
            captured = read_seconds(source, 1.5)
        finally:
            source.close()
    assert asked == [1, 2]
    expected = resample(mono, rate, 16000)
    assert best_correlation(captured, expected) > 0.99
    level_db = 20 * np.log10(np.std(captured[1600:].astype(float)) / np.std(expected.astype(float)))
    assert abs(level_db) < 0.5
    assert np.abs(captured).max() < 16000


def test_reader_that_falls_behind_loses_the_oldest_blocks_not_the_stream(tmp_path):
    # Unpaced devices deliver audio as fast as the CPU allows: a reader can never keep up.
    env = alsa_env(tmp_path, write_raw(tmp_path / "mic.raw", sine(440, 1, 16000)), tmp_path / "o")
    with portaudio_env(env):
        source = SoundDeviceSource(MIC_CONFIG, max_queue_s=0.1)
        source.open()
        try:
            for _ in range(1000):
                assert source.read(timeout_s=5.0) is not None
                if source.dropped_blocks:
                    break
            assert source.dropped_blocks > 0
            assert source.read(timeout_s=5.0) is not None
        finally:
            source.close()


def test_failed_stream_raises_on_read_and_reopens_cleanly(tmp_path):
    with fake_devices(tmp_path, sine(440, 10, 16000)):
        source = SoundDeviceSource(MIC_CONFIG)
        source.open()
        try:
            assert source.read(timeout_s=5.0) is not None
            source._capture.stream.abort()  # what PortAudio does when the device goes away
            with pytest.raises(AudioError, match=MIC):
                read_seconds(source, 1.0)
            source.close()
            source.open()
            assert source.read(timeout_s=5.0) is not None
        finally:
            source.close()


def test_device_gone_before_open_is_a_one_line_error_then_recovers(tmp_path):
    raw = tmp_path / "mic.raw"
    with fake_devices(tmp_path, sine(440, 10, 16000)) as devices:
        assert find_device(MIC, "input") is not None  # enumerated while it worked
        devices.rewrite_config(devices.config_text.replace(str(raw), str(tmp_path / "gone.raw")))
        source = SoundDeviceSource(MIC_CONFIG)
        with pytest.raises(AudioError, match=MIC) as error:
            source.open()
        assert "\n" not in str(error.value)
        devices.rewrite_config(devices.config_text)
        source.open()
        try:
            assert source.read(timeout_s=5.0) is not None
        finally:
            source.close()


def test_a_microphone_is_never_exhausted(tmp_path):
    with fake_devices(tmp_path, sine(440, 10, 16000)):
        source = SoundDeviceSource(MIC_CONFIG)
        assert source.exhausted is False
        source.open()
        try:
            read_seconds(source, 0.5)
            assert source.exhausted is False
        finally:
            source.close()
        assert source.exhausted is False


def test_close_wakes_a_blocked_reader_and_is_idempotent(tmp_path):
    with fake_devices(tmp_path, sine(440, 10, 16000)):
        source = SoundDeviceSource(MIC_CONFIG)
        source.open()
        ended = threading.Event()
        results: list[object] = []

        def reader() -> None:
            while (block := source.read(timeout_s=30.0)) is not None:
                results.append(len(block))
            ended.set()

        thread = threading.Thread(target=reader)
        thread.start()
        source.close()
        assert ended.wait(timeout=5.0)
        thread.join(timeout=5.0)
        source.close()
        assert source.read(timeout_s=0.1) is None


# -- device lookup --------------------------------------------------------------


def test_find_device_by_name_substring_index_and_default(tmp_path):
    with fake_devices(tmp_path):
        mic = find_device("TESTM", "input")
        assert mic is not None
        assert find_device(str(mic), "input") == mic
        speaker = find_device("speaker", "output")
        assert speaker not in (None, mic)
        assert find_device("", "output") is None


def test_unknown_device_error_lists_the_available_ones(tmp_path):
    with fake_devices(tmp_path), pytest.raises(AudioError) as error:
        find_device("usb headset", "input")
    message = str(error.value)
    assert "'usb headset'" in message and MIC in message and "audio.input_device" in message
    assert "\n" not in message


def test_list_devices_marks_the_fake_devices_and_defaults(tmp_path):
    with fake_devices(tmp_path):
        table = list_devices()
        assert have_output_device()
    assert MIC in table and SPEAKER in table
    default_line = next(line for line in table.splitlines() if "default" in line)
    assert default_line.strip().startswith("*")


@pytest.mark.skipif(Path("/dev/snd").exists(), reason="this machine has a sound card")
def test_no_devices_at_all_is_explained_in_one_line(tmp_path):
    # Only the stock config: no PCMs of ours and, without /dev/snd, no cards.
    # (A config without the stock alsa.conf makes PortAudio's init abort the process.)
    stock = tmp_path / "stock.conf"
    stock.write_text("</usr/share/alsa/alsa.conf>\n")
    with portaudio_env({"ALSA_CONFIG_PATH": str(stock)}):
        table = list_devices()
        assert not have_output_device()
        with pytest.raises(AudioError, match="no microphone found") as error:
            SoundDeviceSource(AudioConfig()).open()
    assert "no audio devices found" in table and "\n" not in table
    assert "\n" not in str(error.value)


def test_missing_portaudio_names_the_package_to_install(monkeypatch):
    real_import = builtins.__import__

    def no_portaudio(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_portaudio)
    with pytest.raises(AudioError, match="sudo apt install libportaudio2"):
        find_device("mic", "input")
    assert "libportaudio2" in list_devices()
    assert not have_output_device()


# -- speaker --------------------------------------------------------------------


def test_playback_writes_exactly_the_played_samples(tmp_path):
    rng = np.random.default_rng(2)
    audio = (rng.standard_normal(22050) * 4000).astype(np.int16)
    with fake_devices(tmp_path, playback_rate_hz=22050) as devices:
        sink = SoundDeviceSink(SPEAKER_CONFIG)
        sink.open(22050)
        try:
            sink.write(AudioChunk(audio, 22050))
            assert sink.drain(timeout_s=10.0)
            assert sink.played_frames() >= len(audio)
        finally:
            sink.close()
    played = devices.played()
    start = first_sound(played)
    np.testing.assert_array_equal(played[start : start + len(audio)], audio[first_sound(audio) :])


def test_playback_resamples_a_chunk_at_another_rate(tmp_path):
    with fake_devices(tmp_path, playback_rate_hz=48000) as devices:
        sink = SoundDeviceSink(SPEAKER_CONFIG)
        sink.open(48000)
        try:
            sink.write(AudioChunk(sine(440, 0.5, 16000), 16000))
            assert sink.drain(timeout_s=10.0)
            assert sink.played_frames() >= 3 * 8000
        finally:
            sink.close()
    played = devices.played()
    sound = played[first_sound(played) :][:24000]
    assert abs(dominant_hz(sound, 48000) - 440) <= 3
    assert np.abs(sound).max() > 10000  # no gain applied, no attenuation either


class FakeCancel(threading.Event):
    """A fake cancel event: calls `on_check` on the nth `is_set` poll, which
    `write` makes once per queued block, so a test can act mid-write."""

    def __init__(self, nth: int, on_check):
        super().__init__()
        self.polls = 0
        self.nth = nth
        self.on_check = on_check

    def is_set(self) -> bool:
        self.polls += 1
        if self.polls == self.nth:
            self.on_check()
        return super().is_set()


def test_stop_cuts_playback_and_drops_queued_audio(tmp_path):
    long_audio = sine(440, 10, 16000)
    with fake_devices(tmp_path) as devices:
        sink = SoundDeviceSink(SPEAKER_CONFIG)
        sink.open(16000)
        at_stop: list[int] = []

        def stop() -> None:
            at_stop.append(sink.played_frames())
            sink.stop()

        try:
            sink.write(AudioChunk(long_audio, 16000), cancel=FakeCancel(20, stop))
            assert sink.drain(timeout_s=10.0)
            after_stop = sink.played_frames()
            assert 0 < after_stop < len(long_audio)
            # Only the block the device was already playing may still go out.
            assert after_stop - at_stop[0] <= 16000 * SPEAKER_CONFIG.block_ms // 1000
            sink.write(AudioChunk(sine(880, 0.1, 16000), 16000))  # usable after stop
            assert sink.drain(timeout_s=10.0)
            assert sink.played_frames() >= after_stop + 1600
        finally:
            sink.close()
    assert len(devices.played()) < len(long_audio)


def test_a_speaker_writes_no_files(tmp_path):
    with fake_devices(tmp_path):
        sink = SoundDeviceSink(SPEAKER_CONFIG)
        assert sink.paths == []
        sink.open(16000)
        try:
            sink.write(AudioChunk(sine(440, 0.2, 16000), 16000))
            assert sink.drain(timeout_s=10.0)
            assert sink.played_frames() >= 3200
            assert sink.paths == []
        finally:
            sink.close()
    assert not list(tmp_path.glob("*.wav"))


def test_write_returns_at_once_when_cancelled(tmp_path):
    cancel = threading.Event()
    cancel.set()
    with fake_devices(tmp_path):
        sink = SoundDeviceSink(SPEAKER_CONFIG)
        sink.open(16000)
        try:
            sink.write(AudioChunk(sine(440, 10, 16000), 16000), cancel=cancel)
            assert sink.drain(timeout_s=5.0)
            assert sink.played_frames() == 0
        finally:
            sink.close()


def test_failed_speaker_raises_on_write_and_reopens_cleanly(tmp_path):
    with fake_devices(tmp_path):
        sink = SoundDeviceSink(SPEAKER_CONFIG)
        with pytest.raises(AudioError, match="not open"):
            sink.write(AudioChunk(sine(440, 0.1, 16000), 16000))
        sink.open(16000)
        try:
            sink._playback.stream.abort()  # what PortAudio does when the device goes away
            with pytest.raises(AudioError, match=SPEAKER):
                sink.write(AudioChunk(sine(440, 1, 16000), 16000))
            sink.close()
            sink.open(16000)
            sink.write(AudioChunk(sine(440, 0.2, 16000), 16000))
            assert sink.drain(timeout_s=10.0)
            assert sink.played_frames() >= 3200
        finally:
            sink.close()
        sink.close()


# -- WAV files ------------------------------------------------------------------


def write_stereo_wav(path: Path, left: np.ndarray, right: np.ndarray, rate_hz: int) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(rate_hz)
        wav.writeframes(np.stack([left, right], axis=1).astype("<i2").tobytes())


def test_wav_source_and_numbered_wav_sink_round_trip_44k_stereo(tmp_path):
    tone = sine(440, 1.0, 44100)
    write_stereo_wav(tmp_path / "in.wav", tone, tone, 44100)
    source = WavFileSource(tmp_path / "in.wav", block_ms=30)
    assert not source.exhausted
    source.open()
    blocks = []
    while not source.exhausted:
        assert (block := source.read(timeout_s=0.1)) is not None
        blocks.append(block)
    assert source.read(timeout_s=0.1) is None
    assert source.exhausted
    source.close()
    assert not source.exhausted
    assert {len(b) for b in blocks[:-1]} == {480}
    heard = np.concatenate(blocks)
    assert abs(len(heard) - 16000) <= 2
    assert abs(dominant_hz(heard, 16000) - 440) <= 2

    replies = tmp_path / "replies"
    sink = WavFileSink(replies, numbered=True)
    assert sink.paths == []
    sink.open(16000)
    for block in blocks:
        sink.write(AudioChunk(block, 16000))
    assert sink.played_frames() == len(heard)
    assert sink.drain(timeout_s=1.0)
    sink.open(22050)
    sink.write(AudioChunk(heard, 16000))  # resampled to the open rate
    sink.close()
    sink.close()

    assert sorted(p.name for p in replies.iterdir()) == ["reply-001.wav", "reply-002.wav"]
    assert sink.paths == [replies / "reply-001.wav", replies / "reply-002.wav"]
    first = read_wav(replies / "reply-001.wav")
    assert first.rate_hz == 16000
    np.testing.assert_array_equal(first.samples, heard)
    second = read_wav(replies / "reply-002.wav")
    assert second.rate_hz == 22050 and abs(len(second.samples) - 22050) <= 3


def test_wav_sink_single_file_holds_the_last_reply(tmp_path):
    sink = WavFileSink(tmp_path / "reply.wav")
    with pytest.raises(AudioError, match="not open"):
        sink.write(AudioChunk(sine(440, 0.1, 16000), 16000))
    for seconds in (0.5, 0.25):
        sink.open(16000)
        sink.write(AudioChunk(sine(440, seconds, 16000), 16000))
        sink.stop()
        sink.write(AudioChunk(sine(440, 0.1, 16000), 16000), cancel=threading.Event())
        sink.close()
    assert sink.paths == [tmp_path / "reply.wav"] * 4
    assert len(read_wav(tmp_path / "reply.wav").samples) == 1600


def test_wav_source_missing_file_is_an_audio_error(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        WavFileSource(tmp_path / "nope.wav").open()


def test_devices_are_visible_to_a_subprocess_given_the_env(tmp_path):
    import subprocess
    import sys

    from tests.support.paths import child_env

    env = child_env(**alsa_env(tmp_path, None, tmp_path / "out.raw"))
    code = "from assistant.stages.audio.devices import list_devices; print(list_devices())"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert MIC in out.stdout and SPEAKER in out.stdout, out.stderr
