"""Hands-free turns with the real wake-word detector (microWakeWord
``hey_mycroft``) and the real Silero endpointer on piper speech, through the
real `WakeListener` and `Controller`.

The microphone is `FakeMicrophone` (it plays the blocks a test says, else
30 ms of silence), the LLM and TTS are fakes (what they say is not the
point), and the recognizer is real Whisper where the transcript matters,
else `FakeSpeechToText`. Audio is said only once the pipeline is ready for
it (a state, a detection, the tap opened by a turn), never after a sleep.
All of them are slow but the last, which checks the pure helpers of
``benchmarks/wake/latency.py`` (the "wake to listening" figure).
"""

from __future__ import annotations

import logging
import sys
import threading

import numpy as np
import pytest

from assistant.bench.wer import wer
from assistant.compose.handsfree import build_endpointer, build_wake_listener
from assistant.core.config import Config, TurnConfig, WakeConfig
from assistant.core.events import (
    ButtonPressed,
    ButtonReleased,
    EndpointReached,
    Event,
    EventBus,
    PartialTranscript,
    State,
    TranscriptReady,
    TurnFinished,
    TurnIgnored,
    WakeDetected,
)
from assistant.frontends.cli import main
from assistant.pipeline.controller import Controller
from assistant.pipeline.memory import Conversation
from assistant.pipeline.mictap import MicTap
from assistant.pipeline.wake import HandsFree, WakeListener
from assistant.stages.wake.micro import MicroWakeWordDetector
from tests.support.engines import MAX_WER_ONE_SENTENCE
from tests.support.fakes import (
    FakeAudioSink,
    FakeLanguageModel,
    FakeMicrophone,
    FakeSpeechToText,
    FakeTextToSpeech,
)
from tests.support.paths import ROOT
from tests.support.recorder import Recorder
from tests.support.voice_turn import assert_heard

TIMEOUT_S = 60.0
BLOCK = 480  # 30 ms, the microphone's block
SILENCE_S = 0.5
BARGE_IN = 0.98
"""Stricter than hey_mycroft's own 0.95; piper's clean wake word scores 0.99."""
TOKENS = ["Paris is the capital of France.", " It is a big city.", " It has a tower."]
TEXTS = {
    "wake": "Hey Mycroft.",
    "capital": "What is the capital of France?",
    "time": "What time is it?",
    "joke": "Tell me a joke.",
}


def blocks(audio: np.ndarray) -> list[np.ndarray]:
    """``audio`` in 30 ms blocks, the last one padded with silence."""
    padded = np.concatenate([audio, np.zeros(-len(audio) % BLOCK, np.int16)])
    return list(padded.reshape(-1, BLOCK))


def hush(seconds: float) -> list[np.ndarray]:
    return blocks(np.zeros(int(seconds * 16000), np.int16))


@pytest.fixture(scope="module")
def said(models_dir, tmp_path_factory) -> dict[str, list[np.ndarray]]:
    """Piper saying the wake word and two questions, in microphone blocks."""
    from tests.support.speech import load_16k, piper_wav

    folder = tmp_path_factory.mktemp("said")
    return {
        key: blocks(load_16k(piper_wav(text, models_dir, folder / f"{key}.wav")))
        for key, text in TEXTS.items()
    }


@pytest.fixture(scope="module")
def endpointer():
    """Silero VAD, as the appliance builds it (one model shared by turns)."""
    from assistant.stages.vad.silero import SileroEndpointer

    factory = build_endpointer(SILENCE_S)
    assert isinstance(factory(), SileroEndpointer), "Silero VAD is not installed: run ./setup.sh"
    return factory


class WatchedTap(MicTap):
    """The real tap, releasing `cleared` when a turn drops what was queued
    before it opened (a button turn or a follow-up): from then on, what the
    microphone hears is the turn's."""

    def __init__(self, sample_rate_hz: int) -> None:
        super().__init__(sample_rate_hz)
        self.cleared = threading.Semaphore(0)

    def discard(self) -> None:
        super().discard()
        self.cleared.release()


class Rig:
    """The real detector and Silero on a `FakeMicrophone`, through the real
    `WakeListener` and `Controller`; fake LLM and TTS."""

    def __init__(
        self,
        endpointer,
        *,
        stt=None,
        llm: FakeLanguageModel | None = None,
        follow_up_s: float = 0.0,
        barge_in: float | None = None,
    ) -> None:
        self.bus = EventBus()
        self.rec = Recorder(self.bus)
        self.mic = FakeMicrophone()
        self.detector = MicroWakeWordDetector(["hey_mycroft"])
        self.stt = stt or FakeSpeechToText()
        self.llm = llm or FakeLanguageModel(["Paris", " is", " the", " capital."])
        self.wake = WakeListener(self.mic, self.detector, self.bus, barge_in_threshold=barge_in)
        self.tap = self.wake.tap = WatchedTap(self.mic.sample_rate_hz)
        self.controller = Controller(
            stt=self.stt,
            llm=self.llm,
            tts=FakeTextToSpeech(),
            source=self.tap,
            sink=FakeAudioSink(),
            conversation=Conversation("You are a test.", max_turns=4),
            turn=TurnConfig(silence_s=SILENCE_S, min_press_s=0.0),
            bus=self.bus,
            hands_free=HandsFree(endpointer, follow_up_s=follow_up_s),
        )
        self.controller.start()

    def start(self, submit=None) -> None:
        self.wake.start(submit or self.controller.submit)

    def stop(self) -> None:
        assert self.controller.stop()
        assert self.wake.stop()

    def wait(self, kind: type[Event]) -> Event:
        return self.rec.wait_for(lambda e: isinstance(e, kind), TIMEOUT_S)

    def count(self, kind: type[Event]) -> int:
        return sum(isinstance(e, kind) for e in self.rec.events)


@pytest.fixture
def rigs(endpointer):
    made: list[Rig] = []

    def make(*, started: bool = True, **kwargs) -> Rig:
        made.append(Rig(endpointer, **kwargs))
        if started:
            made[-1].start()
        return made[-1]

    yield make
    for rig in made:
        rig.stop()


@pytest.mark.slow
def test_a_follow_up_without_the_wake_word_is_a_second_turn(rigs, said, whisper):
    rig = rigs(stt=whisper, follow_up_s=2.0)
    # Words before the wake word are not heard.
    rig.mic.say(*said["joke"], *hush(0.6), *said["wake"], *hush(0.3), *said["capital"])
    woken = rig.wait(WakeDetected)
    assert woken.word == "hey_mycroft"
    assert woken.score > rig.detector.cutoff("hey_mycroft")
    first = rig.wait(TurnFinished)
    # The turn heard the question after the wake word, and nothing said before it.
    assert_heard(TEXTS["capital"], first.transcript)
    assert "joke" not in first.transcript.lower()
    endpoint = next(e for e in rig.rec.events if isinstance(e, EndpointReached))
    assert endpoint.endpoint_ms > 0  # Silero ended it, not a cap
    # The follow-up opened the tap and dropped what it queued: speak now.
    assert rig.tap.cleared.acquire(timeout=TIMEOUT_S)
    assert rig.controller.state is State.LISTENING
    rig.mic.say(*said["time"])
    second = rig.wait(TurnFinished)
    # The follow-up heard its own question, and nothing left of the first turn.
    assert_heard(TEXTS["time"], second.transcript)
    assert "capital" not in second.transcript.lower()
    assert rig.count(WakeDetected) == 1
    assert len(rig.llm.calls) == 2
    # Silence in the next follow-up window: back to idle with no third turn.
    assert rig.wait(TurnIgnored).reason == "no-speech"
    rig.rec.wait_state(State.IDLE)
    assert rig.count(TurnFinished) == 2
    assert len(rig.llm.calls) == 2


@pytest.mark.slow
def test_silence_past_the_follow_up_window_returns_to_idle(rigs, said):
    rig = rigs(follow_up_s=1.0)
    rig.mic.say(*said["wake"], *hush(0.3), *said["capital"])
    rig.wait(TurnFinished)
    assert rig.wait(TurnIgnored).reason == "no-speech"
    rig.rec.wait_state(State.IDLE)
    assert rig.count(TurnFinished) == 1
    assert len(rig.llm.calls) == 1
    # A question after the window needs the wake word: alone it starts nothing,
    rig.mic.say(*said["time"], *hush(1.0))
    for _ in range(len(said["time"]) + len(hush(1.0))):
        assert rig.mic.said.acquire(timeout=TIMEOUT_S)
    assert rig.controller.state is State.IDLE
    assert rig.count(WakeDetected) == 1
    # and the detector, re-armed in idle, hears the wake word again.
    rig.mic.say(*said["wake"], *hush(0.3), *said["capital"])
    rig.wait(TurnFinished)
    assert rig.count(WakeDetected) == 2
    assert len(rig.llm.calls) == 2


@pytest.mark.slow
def test_the_wake_word_while_it_speaks_stops_the_reply(rigs, said):
    gate = threading.Semaphore(0)
    rig = rigs(barge_in=BARGE_IN, llm=FakeLanguageModel(TOKENS, gate=gate))
    rig.mic.say(*said["wake"], *hush(0.3), *said["capital"])
    rig.rec.wait_state(State.THINKING)
    gate.release(2)  # the first sentence is spoken; the rest waits
    rig.rec.wait_state(State.SPEAKING)
    rig.mic.say(*hush(0.3), *said["wake"], *hush(0.3), *said["time"])
    first = rig.wait(TurnFinished)
    assert first.interrupted
    assert first.reply == "Paris is the capital of France."
    barge = [e for e in rig.rec.events if isinstance(e, WakeDetected)]
    assert len(barge) == 2 and barge[1].score > BARGE_IN  # its own, stricter threshold
    gate.release(10)
    second = rig.wait(TurnFinished)
    assert not second.interrupted
    rig.rec.wait_state(State.IDLE)
    # Memory keeps only what was said of the interrupted reply.
    replies = [m.content for m in rig.controller.conversation.messages() if m.role == "assistant"]
    assert replies == ["Paris is the capital of France.", "".join(TOKENS)]


@pytest.mark.slow
def test_without_barge_in_the_wake_word_does_not_stop_the_reply(rigs, said):
    gate = threading.Semaphore(0)
    rig = rigs(barge_in=None, llm=FakeLanguageModel(TOKENS, gate=gate))
    rig.mic.say(*said["wake"], *hush(0.3), *said["capital"])
    rig.rec.wait_state(State.THINKING)
    gate.release(2)
    rig.rec.wait_state(State.SPEAKING)
    rig.mic.say(*said["wake"], *hush(0.3))
    for _ in range(len(said["wake"]) + len(hush(0.3))):
        assert rig.mic.said.acquire(timeout=TIMEOUT_S)
    gate.release(10)
    assert not rig.wait(TurnFinished).interrupted
    rig.rec.wait_state(State.IDLE)
    assert rig.count(WakeDetected) == 1


@pytest.mark.slow
@pytest.mark.parametrize("first", ["button", "wake word"])
def test_the_button_and_the_wake_word_at_once_make_one_turn(rigs, said, whisper, first):
    rig = rigs(stt=whisper, started=False)

    def at_once(event: Event) -> None:
        # The wake thread's detection and a press land in the same instant.
        if isinstance(event, WakeDetected) and first == "button":
            rig.controller.submit(ButtonPressed())
            rig.controller.submit(event)
        elif isinstance(event, WakeDetected):
            rig.controller.submit(event)
            rig.controller.submit(ButtonPressed())
        else:
            rig.controller.submit(event)

    rig.start(at_once)
    rig.mic.say(*said["wake"])
    rig.rec.wait_state(State.LISTENING)
    if first == "button":
        # A button turn drops what was queued before it: the question follows.
        assert rig.tap.cleared.acquire(timeout=TIMEOUT_S)
    rig.mic.say(*hush(0.3), *said["capital"])
    # The whole question heard (a partial, or the endpoint already ended a
    # wake turn), by the same bound as the final transcript below:
    rig.rec.wait_for(
        lambda e: (
            isinstance(e, PartialTranscript | TranscriptReady)
            and wer(TEXTS["capital"], e.text) <= MAX_WER_ONE_SENTENCE
        ),
        TIMEOUT_S,
    )
    rig.controller.submit(ButtonReleased())  # ends a press; a wake turn ignores it
    finished = rig.wait(TurnFinished)
    rig.rec.wait_state(State.IDLE)
    assert_heard(TEXTS["capital"], finished.transcript)
    assert rig.rec.states().count(State.LISTENING) == 1
    assert rig.count(TurnFinished) == 1
    assert len(rig.llm.calls) == 1
    # Published only when it started the turn; a press already had.
    assert rig.count(WakeDetected) == (1 if first == "wake word" else 0)


@pytest.mark.slow
def test_a_missing_wake_model_is_one_line_and_the_button_keeps_working(
    tmp_path, monkeypatch, caplog, capsys
):
    import pymicro_wakeword
    import soundfile

    # The package is installed but its model files are gone (a broken
    # install): the library looks in an empty folder.
    empty = tmp_path / "no-models"
    empty.mkdir()
    loader = pymicro_wakeword.MicroWakeWord.from_builtin
    monkeypatch.setattr(loader, "__defaults__", (empty, None))
    config = Config(wake=WakeConfig(enabled=True))
    mic, bus = FakeMicrophone(), EventBus()
    with caplog.at_level(logging.ERROR):
        assert build_wake_listener(config, mic, bus) is None
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "\n" not in errors[0]
    assert "hey_mycroft.json" in errors[0] and "pip install .[wake]" in errors[0]
    # `assistant wake` says the same in one line and exits non-zero.
    wav = tmp_path / "quiet.wav"
    soundfile.write(wav, np.zeros(16000, np.int16), 16000)
    assert main(["wake", "--wav", str(wav)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "hey_mycroft.json" in err[0]
    # The appliance then reads the microphone itself, and the button works.
    rec = Recorder(bus)
    controller = Controller(
        stt=FakeSpeechToText(),
        llm=FakeLanguageModel(["Yes."]),
        tts=FakeTextToSpeech(),
        source=mic,
        sink=FakeAudioSink(),
        conversation=Conversation("You are a test.", max_turns=4),
        turn=TurnConfig(min_press_s=0.0),
        bus=bus,
    )
    controller.start()
    try:
        controller.submit(ButtonPressed())
        rec.wait_for(lambda e: isinstance(e, PartialTranscript), TIMEOUT_S)
        controller.submit(ButtonReleased())
        assert rec.wait_for(lambda e: isinstance(e, TurnFinished), TIMEOUT_S).reply == "Yes."
        rec.wait_state(State.IDLE)
    finally:
        assert controller.stop()


def test_the_latency_helpers_pair_each_wake_with_its_led_and_earcon(tmp_path, monkeypatch):
    import importlib.util
    import json

    path = ROOT / "benchmarks" / "wake" / "latency.py"
    spec = importlib.util.spec_from_file_location("wake_latency", path)
    latency = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, latency)  # for its dataclass
    monkeypatch.setattr(sys, "path", list(sys.path))  # it adds its folders
    spec.loader.exec_module(latency)
    # Two wakes; the second lit no LED, and an earcon from before the first is not its.
    stamps = latency.Stamps(
        fed=[10.0, 20.0], detected=[10.001, 20.002], led=[10.003], earcon=[9.0, 10.005, 20.010]
    )
    rows = latency.per_wake(stamps)
    assert [sorted(r) for r in rows] == [
        ["detect_ms", "detected_to_earcon_ms", "detected_to_led_ms"]
        + ["fed_to_earcon_ms", "fed_to_led_ms"],
        ["detect_ms", "detected_to_earcon_ms", "fed_to_earcon_ms"],
    ]
    assert rows[0]["fed_to_led_ms"] == pytest.approx(3.0)
    assert rows[1]["detected_to_earcon_ms"] == pytest.approx(8.0)
    summary = latency.summarise(rows)
    assert summary["fed_to_led_ms"]["n"] == 1
    assert summary["fed_to_earcon_ms"]["median_ms"] == pytest.approx(7.5)
    # The model's lag: a detection far from any said word is not paired.
    assert latency.word_lag_ms([1.25, 9.0], [1.1, 4.0]) == pytest.approx([150.0])
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"misses": {"hey_mycroft": 1}}))
    latency.store(results, latency.KEY, {"steps": summary})
    assert set(json.loads(results.read_text())) == {"misses", latency.KEY}
