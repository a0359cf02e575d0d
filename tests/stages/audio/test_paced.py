"""A file spoken at its own pace, as a microphone delivers it: the paced
source on an injected clock (no sleeping), the listener's release, the
``ready_fraction`` measure, ``listen --realtime`` on fakes, and once on the
real engines (slow). No time is asserted: only that each figure was measured
and agrees with the file it came from."""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile

from assistant import compose
from assistant.bench.wer import wer
from assistant.core.config import Config, TurnConfig
from assistant.frontends.cli import main
from assistant.pipeline.listener import Heard, Listening, ready_fraction
from assistant.stages.audio.paced import PacedWavSource, read_samples, voiced_span
from assistant.stages.audio.pcm import ASR_RATE_HZ, AudioChunk
from assistant.stages.audio.wavfile import read_wav, write_wav
from tests.support.engines import MAX_WER_ONE_SENTENCE
from tests.support.fakes import FakeClock, FakeLanguageModel, FakeSpeechToText, FakeTextToSpeech
from tests.support.models import require

RATE = ASR_RATE_HZ


def tone(seconds: float, rate: int = RATE, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)


def quiet(seconds: float, rate: int = RATE) -> np.ndarray:
    return np.zeros(round(seconds * rate), np.int16)


def question(path: Path, *parts: np.ndarray, rate: int = RATE) -> Path:
    write_wav(path, AudioChunk(np.concatenate(parts), rate))
    return path


class JumpClock:
    """Reads ``first`` once (at `open`), then ``later`` for ever: every block
    is already due, so a reader never waits."""

    def __init__(self, first: float, later: float) -> None:
        self.values = [first]
        self.later = later

    def __call__(self) -> float:
        return self.values.pop() if self.values else self.later


# -- the paced source ----------------------------------------------------------


def test_a_block_is_readable_only_once_it_was_spoken(tmp_path):
    wav = question(tmp_path / "q.wav", tone(0.05), quiet(0.0125))  # 1000 samples
    clock = FakeClock(100.0)
    source = PacedWavSource(block_ms=30, clock=clock)
    assert source.load(wav) == pytest.approx(0.0625)
    assert source.released_s is None  # not opened yet
    source.open()
    assert source.released_s == pytest.approx(100.0625)  # when the last sample is delivered
    assert source.read(timeout_s=0.0) is None and not source.exhausted
    clock.advance(0.029)
    assert source.read(0.0) is None  # 1 ms early
    clock.advance(0.001)
    assert len(source.read(0.0)) == 480
    clock.advance(0.1)  # the reader is late: the captured blocks wait for it
    assert len(source.read(0.0)) == 480 and len(source.read(0.0)) == 40
    assert source.exhausted and source.read(0.0) is None
    source.close()
    assert not source.exhausted and source.read(0.0) is None
    assert source.released_s == pytest.approx(100.0625)  # kept for the caller after close


def test_delivery_times_of_the_last_sample_and_the_last_voiced_one(tmp_path):
    # 0.1 s quiet, 0.3 s tone, 0.31 s quiet: the speech ends mid-block.
    wav = question(tmp_path / "q.wav", quiet(0.1), tone(0.3), quiet(0.31))
    source = PacedWavSource(block_ms=30, clock=FakeClock(50.0))
    assert source.load(wav) == pytest.approx(0.71)
    start, end = source.voiced_s
    assert start == pytest.approx(0.1, abs=0.02) and end == pytest.approx(0.4, abs=0.02)
    # The block holding the last voiced sample ends on a 30 ms boundary.
    delivered = source.delivered_offset_s(round(end * RATE) - 1)
    assert delivered * 1000 == pytest.approx(round(delivered * 1000 / 30) * 30)
    assert end <= delivered < end + 0.03
    assert source.delivered_offset_s(len(source.samples) - 1) == pytest.approx(0.71)
    assert source.quiet_tail_s == pytest.approx(0.71 - delivered)
    assert source.speech_end_s is None  # not opened yet
    source.open()
    assert source.speech_end_s == pytest.approx(50.0 + delivered)
    assert source.released_s - source.speech_end_s == pytest.approx(source.quiet_tail_s)


def test_close_wakes_a_waiting_reader(tmp_path):
    wav = question(tmp_path / "q.wav", quiet(1.0))
    source = PacedWavSource(block_ms=1000)  # the first block is due in 1 s
    source.load(wav)
    source.open()
    got: queue.Queue = queue.Queue()
    waiting = threading.Event()

    def read() -> None:
        waiting.set()
        got.put(source.read(timeout_s=30.0))

    reader = threading.Thread(target=read)
    reader.start()
    assert waiting.wait(5.0)
    source.close()
    reader.join(timeout=5.0)
    assert not reader.is_alive() and got.get_nowait() is None


def test_a_stereo_48k_24_bit_file_plays_paced_like_the_fast_path(tmp_path):
    mono = np.concatenate([tone(0.3, 48000), quiet(0.2, 48000)]).astype(np.float64) / 32768
    path = tmp_path / "stereo.wav"
    soundfile.write(path, np.stack([mono, mono], axis=1), 48000, subtype="PCM_24")
    source = PacedWavSource(block_ms=30, clock=JumpClock(0.0, 1e9))
    assert source.load(path) == pytest.approx(0.5, abs=0.001)
    source.open()
    blocks = []
    while (block := source.read(0.0)) is not None:
        blocks.append(block)
    assert sum(len(b) for b in blocks) == len(source.samples) == 8000
    assert source.exhausted and source.voiced_s[1] == pytest.approx(0.3, abs=0.02)
    # The same samples as the unpaced path, within soxr's streaming edge.
    fast = compose.build_source(Config(), wav=path)
    fast.open()
    unpaced = []
    while (block := fast.read(0.0)) is not None:
        unpaced.append(block)
    fast.close()
    assert abs(sum(len(b) for b in unpaced) - 8000) <= 1


def test_loading_reads_at_most_max_s(tmp_path):
    wav = question(tmp_path / "long.wav", tone(2.0, 22050), rate=22050)
    assert len(read_samples(wav, max_s=0.5)) == pytest.approx(8000, abs=2)
    assert len(read_samples(wav)) == pytest.approx(32000, abs=2)
    assert PacedWavSource().load(wav, max_s=1.0) == pytest.approx(1.0, abs=0.001)


def test_voiced_span_of_silence_hiss_and_speech():
    assert voiced_span(np.zeros(0, np.int16), RATE) is None
    assert voiced_span(quiet(1.0), RATE) is None
    hiss = np.random.default_rng(1).normal(0, 10, RATE).astype(np.int16)  # about -70 dBFS
    assert voiced_span(hiss, RATE) is None
    start, end = voiced_span(np.concatenate([hiss, tone(0.5), hiss]), RATE)
    assert start == pytest.approx(RATE, abs=320) and end == pytest.approx(1.5 * RATE, abs=320)


# -- what was ready at the release ----------------------------------------------


@pytest.mark.parametrize(
    ("partial", "final", "expected"),
    [
        ("what is the capital", "What is the capital of France?", 4 / 6),
        ("What is the capital of France", "what is the capital of france?", 1.0),
        ("", "what is it", 0.0),
        ("what was the capital", "what is the capital", 0.25),  # leading words only
        ("what is the capital of france and", "what is the capital", 1.0),
        ("anything", "", None),
        ("anything", " ?! ", None),
    ],
)
def test_ready_fraction_is_a_leading_word_match(partial, final, expected):
    got = ready_fraction(partial, final)
    assert got == (pytest.approx(expected, abs=0.001) if expected is not None else None)


def test_the_listener_releases_at_the_last_samples_delivery_not_when_it_read_it(tmp_path):
    wav = question(tmp_path / "q.wav", tone(0.3), quiet(0.2))
    source = PacedWavSource(block_ms=30, clock=JumpClock(100.0, 1e9))
    source.load(wav)
    posted: queue.Queue = queue.Queue()
    listening = Listening(
        1,
        stt=FakeSpeechToText(),
        source=source,
        turn_config=TurnConfig(min_press_s=0.0, max_listen_s=60.0),
        post=posted.put,
        on_partial=lambda text: None,
        cancel=threading.Event(),
        clock=FakeClock(5000.0),  # the listener's own "now" is far later
    )
    listening.thread.start()
    listening.thread.join(timeout=10.0)
    heard = posted.get(timeout=1.0)
    assert isinstance(heard, Heard) and heard.text == "what is the capital of france"
    assert heard.end_of_speech_s == pytest.approx(100.5)  # the release, not 5000
    assert heard.asr_final_ms == pytest.approx((5000.0 - 100.5) * 1000, abs=1)


# -- listen --realtime, on fakes -------------------------------------------------


@pytest.fixture
def fake_engines(monkeypatch):
    monkeypatch.setattr(compose.engines, "build_stt", lambda config: FakeSpeechToText())
    monkeypatch.setattr(
        compose.engines,
        "build_llm",
        lambda config: FakeLanguageModel(["Paris", " is", " the", " capital."]),
    )
    monkeypatch.setattr(compose.engines, "build_tts", lambda config: FakeTextToSpeech())


def listen(capsys, wav: Path, out: Path, *flags: str) -> dict:
    assert main(["listen", "--wav", str(wav), "--out", str(out), "--json", *flags]) == 0
    return json.loads(capsys.readouterr().out)


def test_listen_realtime_reports_what_a_person_feels(fake_engines, tmp_path, capsys):
    # Stereo 44.1 kHz float: any file the fast path takes plays paced too.
    mono = np.concatenate([tone(0.3, 44100), quiet(0.3, 44100)]).astype(np.float32) / 32768
    wav = tmp_path / "q.wav"
    soundfile.write(wav, np.stack([mono, mono], axis=1), 44100, subtype="FLOAT")
    result = listen(capsys, wav, tmp_path / "reply.wav", "--realtime")
    assert result["realtime"] is True
    assert result["transcript"] == "what is the capital of france"
    assert result["reply"] == "Paris is the capital."
    timings = result["timings_ms"]
    assert set(timings) == {
        "asr_final",
        "llm_first_token",
        "tts_first_audio",
        "ttfa",
        "voiced_to_audio",
        "total",
    }
    assert 0 <= timings["asr_final"] <= timings["ttfa"] <= timings["total"]
    # From the last voiced sample: the 0.3 s of trailing quiet (to the block) on top.
    assert timings["voiced_to_audio"] - timings["ttfa"] == pytest.approx(300, abs=31)
    assert 0.0 <= result["ready_fraction"] <= 1.0
    assert (tmp_path / "reply.wav").stat().st_size > 44


def test_listen_without_realtime_keeps_the_fast_path(fake_engines, tmp_path, capsys):
    wav = question(tmp_path / "q.wav", tone(0.3), quiet(0.3))
    result = listen(capsys, wav, tmp_path / "reply.wav")
    assert result["realtime"] is False and result["ready_fraction"] is None
    assert result["timings_ms"]["voiced_to_audio"] is None
    assert result["timings_ms"]["ttfa"] is not None


def test_listen_reports_a_doubtful_transcript(fake_engines, monkeypatch, tmp_path, capsys):
    wav = question(tmp_path / "q.wav", tone(0.3), quiet(0.3))
    assert listen(capsys, wav, tmp_path / "sure.wav")["doubt"] == ""
    # A fake recognizer that doubts its text, as Moonshine does when a guard
    # failed and no Whisper decoded the audio again: the turn is answered,
    # and the doubt is in the result.
    doubting = FakeSpeechToText(doubt="'what' repeated")
    monkeypatch.setattr(compose.engines, "build_stt", lambda config: doubting)
    result = listen(capsys, wav, tmp_path / "doubted.wav", "--realtime")
    assert result["doubt"] == "'what' repeated"
    assert result["reply"] == "Paris is the capital."


def test_listen_realtime_with_a_bad_file_is_one_line(tmp_path, capsys):
    text = tmp_path / "text.wav"
    text.write_text("not audio")
    assert main(["listen", "--wav", str(text), "--realtime"]) != 0
    err = capsys.readouterr().err
    assert "text.wav" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


# -- listen --realtime on the real engines ----------------------------------------


@pytest.mark.slow
def test_listen_realtime_on_the_real_engines(models_dir, tmp_path, capsys, monkeypatch):
    from tests.support.speech import piper_wav

    for name in ("SmolLM2-135M-Instruct.Q4_1.gguf", "en_US-joe-medium.onnx", "whisper-base"):
        require(models_dir / name)
    monkeypatch.chdir(tmp_path)
    spoken = read_wav(piper_wav("What is the capital of France?", models_dir, tmp_path / "p.wav"))
    tail = np.zeros(spoken.rate_hz * 4 // 10, np.int16)  # 0.4 s of quiet after the question
    wav = question(tmp_path / "q.wav", spoken.samples, tail, rate=spoken.rate_hz)
    args = ["--realtime", "--engine", "whisper"]
    result = listen(capsys, wav, tmp_path / "reply.wav", *args)
    # Whisper's words change with the CPU: a word error bound, never one word.
    assert wer("What is the capital of France?", result["transcript"]) <= MAX_WER_ONE_SENTENCE
    assert result["reply"].strip()
    timings = result["timings_ms"]
    assert all(timings[k] is not None for k in timings), timings
    assert 0 <= timings["asr_final"] <= timings["ttfa"] <= timings["total"]
    assert timings["voiced_to_audio"] >= timings["ttfa"] + 300  # at least the quiet tail
    assert 0.0 <= result["ready_fraction"] <= 1.0
