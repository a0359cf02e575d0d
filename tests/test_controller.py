"""The turn state machine, driven with fake engines and devices (see fakes.py)."""

from __future__ import annotations

import threading

import pytest

from assistant.core.config import TurnConfig
from assistant.core.errors import AudioError, LanguageModelError
from assistant.core.events import (
    ButtonPressed,
    ButtonReleased,
    CancelPressed,
    EventBus,
    State,
    TurnFailed,
    TurnFinished,
    TurnIgnored,
)
from assistant.pipeline.controller import Controller
from assistant.pipeline.memory import Conversation
from tests.fakes import (
    FakeAudioSink,
    FakeAudioSource,
    FakeLanguageModel,
    FakeSpeechToText,
    FakeTextToSpeech,
)
from tests.recorder import Recorder

TIMEOUT_S = 10.0


def make(
    llm=None,
    stt=None,
    source=None,
    mode="hold",
    min_press_s=0.0,
    tts=True,
    sink=None,
    earcons=True,
    reply_timeout_s=60.0,
):
    bus = EventBus()
    recorder = Recorder(bus)
    sink = sink or FakeAudioSink()
    controller = Controller(
        stt=stt or FakeSpeechToText(),
        llm=llm or FakeLanguageModel(["Paris", " is", " the", " capital."]),
        tts=FakeTextToSpeech() if tts else None,
        source=source or FakeAudioSource(),
        sink=sink,
        conversation=Conversation("You are a test.", max_turns=4),
        turn=TurnConfig(mode=mode, min_press_s=min_press_s, reply_timeout_s=reply_timeout_s),
        bus=bus,
        earcons=earcons,
    )
    controller.start()
    return controller, recorder, sink


@pytest.fixture
def stop_later():
    controllers = []
    yield controllers.append
    for controller in controllers:
        controller.stop()


def test_hold_to_talk_turn_goes_through_every_state(stop_later):
    controller, rec, sink = make()
    stop_later(controller)
    controller.submit(ButtonPressed())
    rec.wait_state(State.LISTENING)
    controller.submit(ButtonReleased())
    finished = rec.wait_for(lambda e: isinstance(e, TurnFinished))
    rec.wait_state(State.IDLE)
    assert rec.states() == [State.LISTENING, State.THINKING, State.SPEAKING, State.IDLE]
    assert finished.transcript == "what is the capital of france"
    assert finished.reply == "Paris is the capital."
    assert not finished.interrupted
    for key in ("asr_final", "llm_first_token", "tts_first_audio", "ttfa", "total"):
        assert finished.timings_ms[key] >= 0, key
    history = controller.conversation.messages()
    assert [m.role for m in history] == ["system", "user", "assistant"]
    assert history[-1].content == "Paris is the capital."
    # Earcons for listening and stopped listening, then the reply audio.
    assert len(sink.chunks) >= 3


def test_short_press_is_ignored_without_calling_the_llm(stop_later):
    llm = FakeLanguageModel(["never"])
    controller, rec, _ = make(llm=llm, min_press_s=5.0)
    stop_later(controller)
    controller.submit(ButtonPressed())
    controller.submit(ButtonReleased())
    ignored = rec.wait_for(lambda e: isinstance(e, TurnIgnored))
    rec.wait_state(State.IDLE)
    assert ignored.reason == "short-press"
    assert llm.calls == []


def test_empty_speech_is_ignored_without_calling_the_llm(stop_later):
    llm = FakeLanguageModel(["never"])
    controller, rec, _ = make(llm=llm, stt=FakeSpeechToText(text="  "))
    stop_later(controller)
    controller.submit(ButtonPressed())
    controller.submit(ButtonReleased())
    ignored = rec.wait_for(lambda e: isinstance(e, TurnIgnored))
    assert ignored.reason == "no-speech"
    rec.wait_state(State.IDLE)
    assert llm.calls == []
    assert State.THINKING not in rec.states()


def test_toggle_mode_ends_the_turn_on_trailing_silence(stop_later):
    stt = FakeSpeechToText(endpoint_after=3)
    controller, rec, _ = make(stt=stt, mode="toggle")
    stop_later(controller)
    controller.submit(ButtonPressed())
    # No release: the recognizer's endpoint ends listening by itself.
    rec.wait_for(lambda e: isinstance(e, TurnFinished))
    assert rec.states()[:2] == [State.LISTENING, State.THINKING]


def test_barge_in_stops_the_reply_and_keeps_only_what_was_spoken(stop_later):
    gate = threading.Semaphore(0)
    tokens = ["Paris is the capital of France.", " It is a big city.", " It has a tower."]
    llm = FakeLanguageModel(tokens, gate=gate)
    controller, rec, sink = make(llm=llm)
    stop_later(controller)
    controller.submit(ButtonPressed())
    rec.wait_state(State.LISTENING)
    controller.submit(ButtonReleased())
    rec.wait_state(State.THINKING)
    gate.release(2)  # the first sentence is complete once the second starts
    rec.wait_state(State.SPEAKING)
    controller.submit(ButtonPressed())  # barge-in
    rec.wait_state(State.LISTENING)
    first = rec.wait_for(lambda e: isinstance(e, TurnFinished))
    assert first.interrupted
    assert first.reply == "Paris is the capital of France."
    assert llm.yielded == 2
    assert sink.stops >= 1
    history = controller.conversation.messages()
    assert history[-1].content == "Paris is the capital of France."
    # The new turn goes on normally.
    gate.release(10)
    controller.submit(ButtonReleased())
    second = rec.wait_for(lambda e: isinstance(e, TurnFinished))
    assert not second.interrupted
    rec.wait_state(State.IDLE)


def test_cancel_button_returns_to_idle_from_thinking(stop_later):
    gate = threading.Semaphore(0)
    llm = FakeLanguageModel(["a", "b"], gate=gate)
    controller, rec, _ = make(llm=llm)
    stop_later(controller)
    controller.submit(ButtonPressed())
    controller.submit(ButtonReleased())
    rec.wait_state(State.THINKING)
    controller.submit(CancelPressed())
    rec.wait_state(State.IDLE)
    assert controller.state is State.IDLE


def test_a_failing_device_gives_an_error_then_idle_and_the_next_turn_reopens(stop_later):
    source = FakeAudioSource(fail_on_open=1)
    controller, rec, _ = make(source=source)
    stop_later(controller)
    controller.submit(ButtonPressed())
    failed = rec.wait_for(lambda e: isinstance(e, TurnFailed))
    assert failed.stage == "audio"
    assert "vanished" in failed.message
    rec.wait_state(State.IDLE)
    assert rec.states() == [State.LISTENING, State.ERROR, State.IDLE]
    controller.submit(ButtonPressed())
    rec.wait_state(State.LISTENING)
    controller.submit(ButtonReleased())
    rec.wait_for(lambda e: isinstance(e, TurnFinished))
    assert source.opened == 2


class FailingLanguageModel(FakeLanguageModel):
    """A fake LLM that fails mid-reply."""

    def generate(self, messages, cancel=None):
        yield "Half"
        raise LanguageModelError("the fake model broke")


def test_an_llm_failure_is_reported_and_the_appliance_returns_to_idle(stop_later):
    controller, rec, _ = make(llm=FailingLanguageModel([]))
    stop_later(controller)
    controller.submit(ButtonPressed())
    controller.submit(ButtonReleased())
    failed = rec.wait_for(lambda e: isinstance(e, TurnFailed))
    assert failed.stage == "llm"
    rec.wait_state(State.IDLE)
    assert State.ERROR in rec.states()


def test_stop_during_a_turn_joins_cleanly():
    gate = threading.Semaphore(0)
    controller, rec, sink = make(llm=FakeLanguageModel(["x"] * 5, gate=gate))
    controller.submit(ButtonPressed())
    controller.submit(ButtonReleased())
    rec.wait_state(State.THINKING)
    controller.stop()
    controller.stop()  # twice is fine
    assert sink.closed == 1
    assert controller.state is State.IDLE


class FailingOnceSink(FakeAudioSink):
    """A fake speaker that fails on its first reply write, like an unplugged one."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def write(self, chunk, cancel=None) -> None:
        if not self.failed and len(chunk.samples) > 8000:
            self.failed = True
            raise AudioError("output device 'fake speaker' stopped; plug it back in")
        super().write(chunk, cancel)


def test_a_failed_speaker_is_reopened_for_the_next_turn(stop_later):
    tokens = ["Paris is the capital of France and it is a big old city."]
    controller, rec, sink = make(
        llm=FakeLanguageModel(tokens), sink=FailingOnceSink(), earcons=False
    )
    stop_later(controller)
    controller.submit(ButtonPressed())
    controller.submit(ButtonReleased())
    failed = rec.wait_for(lambda e: isinstance(e, TurnFailed))
    assert failed.stage == "audio"
    rec.wait_state(State.IDLE)
    assert sink.opened == 1
    controller.submit(ButtonPressed())
    controller.submit(ButtonReleased())
    rec.wait_for(lambda e: isinstance(e, TurnFinished))
    assert sink.opened == 2, "the speaker was reopened after the failure"
    assert sink.closed >= 1


class RecordingController:
    """Stands in for the controller: records what the keyboard submits."""

    def __init__(self, mode: str) -> None:
        self.config = TurnConfig(mode=mode)
        self.state = State.IDLE
        self.events: list[type] = []

    def submit(self, event) -> None:
        self.events.append(type(event))
        if isinstance(event, ButtonPressed):
            self.state = State.LISTENING


def test_keyboard_enter_is_a_full_press_in_toggle_mode_and_alternates_in_hold_mode():
    import io

    from assistant.appliance.run import KeyboardButton

    toggle = RecordingController("toggle")
    KeyboardButton(toggle, io.StringIO("\n\n"))._loop()
    assert toggle.events == [ButtonPressed, ButtonReleased] * 2
    hold = RecordingController("hold")
    KeyboardButton(hold, io.StringIO("\n\n"))._loop()
    assert hold.events == [ButtonPressed, ButtonReleased]


def test_a_reply_that_makes_no_progress_times_out_back_to_idle(stop_later):
    gate = threading.Semaphore(0)  # never released: the model hangs
    controller, rec, _ = make(
        llm=FakeLanguageModel(["never"], gate=gate), earcons=False, reply_timeout_s=1.0
    )
    stop_later(controller)
    controller.submit(ButtonPressed())
    controller.submit(ButtonReleased())
    failed = rec.wait_for(lambda e: isinstance(e, TurnFailed))
    assert failed.stage == "llm"
    assert "no progress" in failed.message
    rec.wait_state(State.IDLE)
