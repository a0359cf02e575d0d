"""The composition root on fakes: engines are loaded, warmed and closed in
order, the push-to-talk input and LEDs are picked, and the one file turn
that ``assistant listen`` and the bench share runs through the real
controller. No model is loaded: the engine builders are swapped for fakes."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pytest

from assistant import compose
from assistant.appliance.keyboard import KeyboardButton
from assistant.compose import (
    Engines,
    build_buttons,
    build_controller,
    build_engines,
    build_indicator,
    run_file_turn,
    use_gpio,
)
from assistant.core.config import Config, GpioConfig, TurnConfig
from assistant.core.errors import AssistantError, GpioError, ModelError
from assistant.core.events import EventBus, State, StateChanged, TurnFinished
from assistant.stages.audio.pcm import AudioChunk
from assistant.stages.audio.wavfile import write_wav
from tests.support.fakes import (
    FakeAudioSink,
    FakeAudioSource,
    FakeLanguageModel,
    FakeSpeechToText,
    FakeTextToSpeech,
)
from tests.support.recorder import Recorder


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class WarmCounting(FakeTextToSpeech):
    def __init__(self) -> None:
        super().__init__()
        self.warmed = 0

    def warm_up(self) -> None:
        self.warmed += 1


@pytest.fixture
def fake_builders(monkeypatch):
    """The engine builders of `compose` return fakes; returns them by role."""
    built = {
        "asr": FakeSpeechToText(),
        "llm": FakeLanguageModel(["Paris", " is", " the", " capital."]),
        "tts": WarmCounting(),
    }
    monkeypatch.setattr(compose.engines, "build_stt", lambda config: built["asr"])
    monkeypatch.setattr(compose.engines, "build_llm", lambda config: built["llm"])
    monkeypatch.setattr(compose.engines, "build_tts", lambda config: built["tts"])
    return built


def test_engines_load_in_order_warm_and_close_once(fake_builders):
    loaded: list[str] = []
    with build_engines(Config(), on_loaded=loaded.append) as engines:
        assert loaded == ["asr", "llm", "tts"]
        assert set(engines.load_s) == {"asr", "llm", "tts"}
        assert fake_builders["tts"].warmed == 1
    assert fake_builders["llm"].closed == 1
    engines.close()  # safe twice
    assert fake_builders["llm"].closed == 1


def test_engines_not_asked_for_are_not_built_or_warmed(fake_builders):
    with build_engines(Config(), stt=False, tts=False, warm=False) as engines:
        assert engines.stt is None and engines.tts is None
        assert engines.llm is fake_builders["llm"]
    assert fake_builders["tts"].warmed == 0


def test_a_failing_engine_closes_the_ones_already_loaded(fake_builders, monkeypatch):
    def broken(config):
        raise ModelError("piper voice file x.onnx is missing; run `assistant models fetch`")

    monkeypatch.setattr(compose.engines, "build_tts", broken)
    with pytest.raises(ModelError, match="x.onnx"):
        build_engines(Config())
    assert fake_builders["llm"].closed == 1


def test_abandoned_engines_are_never_freed():
    llm = FakeLanguageModel([])
    engines = Engines(FakeSpeechToText(), llm, FakeTextToSpeech())
    engines.abandon()
    engines.close()
    assert llm.closed == 0 and engines.llm is None


# -- push-to-talk input and LEDs ---------------------------------------------------


def test_keyboard_flag_never_asks_for_gpio(monkeypatch):
    monkeypatch.setattr(compose.devices, "gpio_available", lambda gpio: pytest.fail("asked GPIO"))
    assert use_gpio(Config(), keyboard=True, stdin=io.StringIO()) is False


def test_usable_gpio_is_used(monkeypatch):
    monkeypatch.setattr(compose.devices, "gpio_available", lambda gpio: None)
    assert use_gpio(Config(), stdin=io.StringIO()) is True


def test_no_gpio_falls_back_to_a_terminal_or_says_how_to_fix_it(monkeypatch):
    monkeypatch.setattr(compose.devices, "gpio_available", lambda gpio: "no pin factory")
    assert use_gpio(Config(), stdin=Tty()) is False
    with pytest.raises(GpioError, match="no pin factory.*stdin is not a terminal"):
        use_gpio(Config(), stdin=io.StringIO())
    disabled = Config(gpio=GpioConfig(enabled=False))
    with pytest.raises(GpioError, match="GPIO is disabled in the config"):
        use_gpio(disabled, stdin=io.StringIO())


def test_indicator_without_gpio_touches_no_pin():
    # With no pin factory on this machine, touching a pin would raise.
    indicator = build_indicator(Config(), gpio=False)
    indicator.on_event(StateChanged(old=State.IDLE, new=State.LISTENING))
    indicator.close()


def fake_engines() -> Engines:
    return Engines(FakeSpeechToText(), FakeLanguageModel(["Paris."]), FakeTextToSpeech())


def test_keyboard_buttons_drive_the_controller():
    bus = EventBus()
    recorder = Recorder(bus)
    config = Config()
    turn = TurnConfig(min_press_s=0.0)
    controller = build_controller(
        config, fake_engines(), FakeAudioSource(), FakeAudioSink(), bus, turn, earcons=False
    )
    controller.start()
    try:
        button = build_buttons(config, controller, gpio=False, stdin=io.StringIO("\n"))
        assert isinstance(button, KeyboardButton)
        recorder.wait_state(State.LISTENING)
        button.close()
    finally:
        assert controller.stop()
        controller.skills.close()


# -- the file turn ------------------------------------------------------------------


def question_wav(tmp_path: Path) -> Path:
    path = tmp_path / "question.wav"
    write_wav(path, AudioChunk(np.zeros(16000 // 2, np.int16), 16000))
    return path


def test_file_turn_runs_the_whole_turn_and_reports_it(tmp_path):
    engines = fake_engines()
    seen: list[object] = []
    sink = FakeAudioSink()
    event = run_file_turn(
        engines, Config(), question_wav(tmp_path), sink, max_listen_s=60, observers=[seen.append]
    )
    assert isinstance(event, TurnFinished)
    assert event.transcript == "what is the capital of france" and event.reply == "Paris."
    assert event.path == "llm" and sink.chunks and sink.closed == 1
    assert event in seen
    assert engines.llm is not None and engines.llm.closed == 0  # the caller closes them


def test_file_turn_with_no_speech_or_a_failing_stage_raises(tmp_path):
    silent = Engines(FakeSpeechToText(text=""), FakeLanguageModel(["x"]), FakeTextToSpeech())
    with pytest.raises(AssistantError, match="no speech recognized in .*question.wav"):
        run_file_turn(silent, Config(), question_wav(tmp_path), FakeAudioSink(), max_listen_s=60)
    error = ModelError("Vosk model directory /m/vosk-fake is missing; run `assistant models fetch`")
    broken = Engines(FakeSpeechToText(start_error=error), FakeLanguageModel(["x"]), None)
    with pytest.raises(AssistantError, match="vosk-fake is missing"):
        run_file_turn(broken, Config(), question_wav(tmp_path), FakeAudioSink(), max_listen_s=60)


def test_file_turn_stops_every_worker(tmp_path):
    before = set(threading.enumerate())
    run_file_turn(
        fake_engines(), Config(), question_wav(tmp_path), FakeAudioSink(), max_listen_s=60
    )
    workers = [t for t in threading.enumerate() if t not in before and t.name != "keyboard"]
    assert [t for t in workers if t.is_alive()] == []
