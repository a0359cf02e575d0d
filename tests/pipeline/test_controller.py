"""The turn state machine, driven with fake engines and devices (see tests/support/fakes.py)."""

from __future__ import annotations

import threading
import time

import pytest

from assistant.core.errors import (
    AudioError,
    GpioError,
    LanguageModelError,
    ModelError,
    SpeechToTextError,
    TextToSpeechError,
)
from assistant.core.events import (
    ButtonPressed,
    ButtonReleased,
    CancelPressed,
    State,
    StateChanged,
    TurnFailed,
    TurnFinished,
    TurnIgnored,
)
from assistant.pipeline.failure import spoken_failure
from assistant.pipeline.shortcuts import Answer
from assistant.stages.link import not_answering
from tests.support.controller import make
from tests.support.fakes import (
    FakeAudioSink,
    FakeAudioSource,
    FakeLanguageModel,
    FakeShortcuts,
    FakeSpeechToText,
    FakeTextToSpeech,
)

TIMEOUT_S = 10.0


@pytest.fixture
def stop_later():
    controllers = []
    yield controllers.append
    for controller in controllers:
        controller.stop()


class TickingClock:
    """`time.monotonic`, but each reading at least 1 ms after the last, so
    every span the controller measures is positive."""

    def __init__(self) -> None:
        self.now = time.monotonic()
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self.now = max(self.now + 0.001, time.monotonic())
            return self.now


def test_hold_to_talk_turn_goes_through_every_state(stop_later):
    clock = TickingClock()
    controller, rec, sink = make(clock=clock)
    stop_later(controller)
    controller.submit(ButtonPressed(at_s=clock()))
    rec.wait_state(State.LISTENING)
    controller.submit(ButtonReleased(at_s=clock()))
    finished = rec.wait_for(lambda e: isinstance(e, TurnFinished))
    rec.wait_state(State.IDLE)
    assert rec.states() == [State.LISTENING, State.THINKING, State.SPEAKING, State.IDLE]
    assert finished.transcript == "what is the capital of france"
    assert finished.reply == "Paris is the capital."
    assert finished.path == "llm"
    assert not finished.interrupted
    t = finished.timings_ms
    assert t["asr_final"] > 0
    assert 0 < t["llm_first_token"] <= t["llm_total"]
    assert 0 < t["tts_first_audio"] <= t["first_audio_played"]
    # From the release: recognition and waiting for the reply come before the audio.
    assert t["first_audio_played"] < t["ttfa"] < t["total"]
    history = controller.conversation.messages()
    assert [m.role for m in history] == ["system", "user", "assistant"]
    assert history[-1].content == "Paris is the capital."
    assert controller.conversation.last_reply == "Paris is the capital."
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


def test_every_utterance_closes_its_transcriber_even_when_the_turn_is_cancelled(stop_later):
    stt = FakeSpeechToText()
    controller, rec, _ = make(stt=stt)
    stop_later(controller)
    controller.submit(ButtonPressed())
    rec.wait_state(State.LISTENING)
    controller.submit(CancelPressed())
    rec.wait_state(State.IDLE)
    # The next turn's listener waits for the cancelled one, so both are done here.
    controller.submit(ButtonPressed())
    controller.submit(ButtonReleased())
    rec.wait_for(lambda e: isinstance(e, TurnFinished))
    assert [t.finished for t in stt.transcribers] == [0, 1]
    assert [t.closed for t in stt.transcribers] == [1, 1]


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


LONG_REPLY = "Paris is the capital of France and it is a big old city with many parks and museums."
"""A reply whose second piece (after the early first one) is over 10 words,
so its chunk is one that `FailingOnceSink` fails on."""


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
    tokens = [LONG_REPLY]
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


class UnpluggedSink(FailingOnceSink):
    """A fake speaker that fails mid-reply, then refuses to open until plugged back."""

    def __init__(self) -> None:
        super().__init__()
        self.plugged = False

    def open(self, rate_hz: int) -> None:
        if self.failed and not self.plugged:
            raise AudioError("output device 'fake speaker' not found; plug it in")
        super().open(rate_hz)


def test_a_speaker_that_stays_unplugged_fails_each_reply_saying_why(stop_later):
    tokens = [LONG_REPLY]
    sink = UnpluggedSink()
    controller, rec, _ = make(llm=FakeLanguageModel(tokens), sink=sink, earcons=False)
    stop_later(controller)
    controller.submit(ButtonPressed())
    controller.submit(ButtonReleased())
    rec.wait_for(lambda e: isinstance(e, TurnFailed))
    rec.wait_state(State.IDLE)
    controller.submit(ButtonPressed())
    controller.submit(ButtonReleased())
    failed = rec.wait_for(lambda e: isinstance(e, TurnFailed))
    assert failed.stage == "audio"
    assert failed.message.startswith("speaker still unavailable: ")
    assert "plug it in" in failed.message
    rec.wait_state(State.IDLE)
    sink.plugged = True
    controller.submit(ButtonPressed())
    controller.submit(ButtonReleased())
    finished = rec.wait_for(lambda e: isinstance(e, TurnFinished))
    assert "Paris" in finished.reply


def test_keyboard_enter_is_a_full_press_in_toggle_mode_and_alternates_in_hold_mode():
    import io

    from assistant.appliance.keyboard import KeyboardButton

    for mode, expected in (
        ("toggle", [ButtonPressed, ButtonReleased] * 2),
        ("hold", [ButtonPressed, ButtonReleased]),
    ):
        events, state = [], [State.IDLE]

        def submit(event, events=events, state=state) -> None:
            events.append(type(event))
            if isinstance(event, ButtonPressed):
                state[0] = State.LISTENING

        button = KeyboardButton(
            submit, lambda state=state: state[0], mode=mode, stream=io.StringIO("\n\n")
        )
        button.read_all()
        assert events == expected, mode


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


def workers_alive(before: set[threading.Thread]) -> list[str]:
    """Names of the controller's worker threads started since `before` and still alive."""
    return [
        t.name
        for t in threading.enumerate()
        if t not in before and t.name.startswith(("listen-", "reply-", "prefill-"))
    ]


def fail_the_speaker_then_queue_a_press(stt: FakeSpeechToText):
    """A turn whose speaker fails (so the controller wants to reopen it), then
    a press that is still queued when `stop()` posts its request: the
    controller thread is held until then. The new turn's listener blocks in
    ``stt.start()`` until ``stt.hold`` is set."""
    tokens = [LONG_REPLY]
    controller, rec, sink = make(
        llm=FakeLanguageModel(tokens), stt=stt, sink=FailingOnceSink(), earcons=False
    )
    controller.submit(ButtonPressed())
    controller.submit(ButtonReleased())
    assert rec.wait_for(lambda e: isinstance(e, TurnFailed)).stage == "audio"
    rec.wait_state(State.IDLE)
    stt.hold = threading.Event()
    held, release = threading.Event(), threading.Event()

    def hold_the_controller(event) -> None:
        if isinstance(event, StateChanged) and event.new is State.LISTENING:
            held.set()
            release.wait(TIMEOUT_S)

    controller.bus.subscribe(hold_the_controller)
    submit = controller.submit

    def submit_then_release(event) -> None:
        submit(event)
        if not isinstance(event, ButtonPressed):
            release.set()  # stop() has posted its request behind the press

    controller.submit = submit_then_release
    controller.submit(ButtonPressed())
    assert held.wait(TIMEOUT_S)
    return controller, rec, sink


def test_stop_never_reports_success_while_a_listener_is_alive():
    """Regression: reopening the failed speaker for a queued press used to
    clear the stop deadline, so `stop()` returned True at once with the new
    turn's listener still running (and the caller closed the LLM under it)."""
    before = set(threading.enumerate())
    stt = FakeSpeechToText()
    controller, _, _ = fail_the_speaker_then_queue_a_press(stt)
    try:
        stopped = controller.stop(timeout_s=0.5)
        alive = workers_alive(before)
        assert stt.entered.is_set(), "the queued press started a listener"
        assert not (stopped and alive), f"stop() returned True with {alive} running"
        assert not stopped, "the listener is held, so stop() must report it"
    finally:
        stt.hold.set()
    for thread in threading.enumerate():
        if thread not in before and thread.name.startswith("listen-"):
            thread.join(TIMEOUT_S)
    assert workers_alive(before) == []


def test_stop_joins_every_worker_after_a_speaker_failure_and_a_queued_press():
    before = set(threading.enumerate())
    stt = FakeSpeechToText()
    controller, rec, _ = fail_the_speaker_then_queue_a_press(stt)

    # The held listener is let go only once the stop request cancelled its turn.
    def release_on_cancel(event) -> None:
        if isinstance(event, StateChanged) and event.old is State.LISTENING:
            stt.hold.set()

    controller.bus.subscribe(release_on_cancel)
    try:
        assert controller.stop(timeout_s=TIMEOUT_S)
        assert workers_alive(before) == []
        assert stt.started == 2
    finally:
        stt.hold.set()


# -- each failure is one TurnFailed, with the stage that failed -----------------


class BrokenTranscriberStt(FakeSpeechToText):
    """A recognizer whose decoder crashes on the first block (a bug, not an
    `AssistantError`)."""

    def start(self):
        transcriber = super().start()

        def accept(samples) -> None:
            raise RuntimeError("decoder crashed")

        transcriber.accept = accept
        return transcriber


class CrashingSource(FakeAudioSource):
    def read(self, timeout_s: float):
        raise RuntimeError("driver bug")


class FailingTts(FakeTextToSpeech):
    def __init__(self, exc: Exception) -> None:
        super().__init__()
        self.exc = exc

    def synthesize(self, text: str, cancel=None):
        raise self.exc
        yield  # a generator, like a real engine


class CrashingLanguageModel(FakeLanguageModel):
    def generate(self, messages, cancel=None):
        yield "Half"
        raise KeyError("kv cache")


class FailingShortcuts(FakeShortcuts):
    def __init__(self, exc: Exception) -> None:
        super().__init__()
        self.exc = exc

    def answer(self, transcript, last_reply, cancel=None):
        raise self.exc


MISSING = ModelError("Vosk model directory models/vosk-fake is missing; run assistant models fetch")
CORRUPT = SpeechToTextError("Vosk recognizer for models/vosk-fake failed: bad model")

FAILURES = {
    # What fails: (the fakes that fail it, the stage reported)
    "asr model is missing": (lambda: dict(stt=FakeSpeechToText(start_error=MISSING)), "asr"),
    "asr model does not load": (lambda: dict(stt=FakeSpeechToText(start_error=CORRUPT)), "asr"),
    "asr decoder crashes": (lambda: dict(stt=BrokenTranscriberStt()), "asr"),
    "microphone vanishes": (lambda: dict(source=FakeAudioSource(fail_on_open=1)), "audio"),
    "microphone driver crashes": (lambda: dict(source=CrashingSource()), "audio"),
    "llm fails": (lambda: dict(llm=FailingLanguageModel([])), "llm"),
    "llm crashes": (lambda: dict(llm=CrashingLanguageModel([])), "llm"),
    "tts fails": (lambda: dict(tts=FailingTts(TextToSpeechError("voice 'x' is corrupt"))), "tts"),
    "tts crashes": (lambda: dict(tts=FailingTts(ValueError("bad phoneme"))), "tts"),
    "speaker fails": (lambda: dict(sink=FailingOnceSink()), "audio"),
    "a tool's pin fails": (
        lambda: dict(skills=FailingShortcuts(GpioError("pin 17 is busy"))),
        "gpio",
    ),
    "a skill crashes": (lambda: dict(skills=FailingShortcuts(ZeroDivisionError("oops"))), "skills"),
}


def failures_until_the_next_press(controller, rec, before) -> list[TurnFailed]:
    """Every `TurnFailed` published before a new press is handled, once the
    failed turn's workers have all ended (so whatever they posted is queued)."""
    for thread in threading.enumerate():
        if thread not in before and thread.name.startswith(("listen-", "reply-", "prefill-")):
            thread.join(TIMEOUT_S)
    assert workers_alive(before) == []
    controller.submit(ButtonPressed())
    marker = rec.wait_for(lambda e: isinstance(e, StateChanged) and e.new is State.LISTENING)
    events = rec.events[: next(i for i, e in enumerate(rec.events) if e is marker)]
    return [e for e in events if isinstance(e, TurnFailed)]


@pytest.mark.parametrize("make_fakes, stage", FAILURES.values(), ids=FAILURES.keys())
def test_each_failure_is_reported_once_with_its_stage(make_fakes, stage):
    before = set(threading.enumerate())
    fakes = make_fakes()
    if "llm" not in fakes:
        fakes["llm"] = FakeLanguageModel([LONG_REPLY])
    controller, rec, sink = make(earcons=False, **fakes)
    try:
        controller.submit(ButtonPressed())
        rec.wait_state(State.LISTENING)
        controller.submit(ButtonReleased())
        failed = rec.wait_for(lambda e: isinstance(e, TurnFailed))
        rec.wait_state(State.IDLE)
        assert failed.stage == stage, failed.message
        assert failures_until_the_next_press(controller, rec, before) == [failed]
    finally:
        assert controller.stop(timeout_s=TIMEOUT_S)
    # Only an audio failure reopens the speaker, at the next press.
    assert sink.opened == (2 if stage == "audio" else 1)


def test_an_asr_model_failure_does_not_reopen_the_speaker(stop_later):
    stt = FakeSpeechToText(start_error=MISSING)
    controller, rec, sink = make(stt=stt, earcons=False)
    stop_later(controller)
    controller.submit(ButtonPressed())
    failed = rec.wait_for(lambda e: isinstance(e, TurnFailed))
    assert (failed.stage, failed.message) == ("asr", str(MISSING))
    assert not controller.speaker.needs_reopening
    rec.wait_state(State.IDLE)
    stt.start_error = None
    controller.submit(ButtonPressed())
    controller.submit(ButtonReleased())
    rec.wait_for(lambda e: isinstance(e, TurnFinished))
    assert sink.opened == 1 and sink.closed == 0


# -- timer alerts and "repeat that" ---------------------------------------------


def test_a_due_timer_is_an_alert_turn_that_speaks_without_listening(stop_later):
    skills = FakeShortcuts()
    skills.alerts = ["The 5 minute timer is done."]
    llm = FakeLanguageModel(["never"])
    stt = FakeSpeechToText()
    controller, rec, sink = make(llm=llm, stt=stt, skills=skills, earcons=False)
    stop_later(controller)
    finished = rec.wait_for(lambda e: isinstance(e, TurnFinished))
    rec.wait_state(State.IDLE)
    assert rec.states() == [State.THINKING, State.SPEAKING, State.IDLE]
    assert (finished.transcript, finished.reply) == ("", "The 5 minute timer is done.")
    assert finished.path == "intent"
    assert "asr_final" not in finished.timings_ms
    assert finished.timings_ms["first_audio_played"] <= finished.timings_ms["ttfa"]
    assert llm.calls == [] and stt.started == 0
    assert sink.chunks, "the alert was spoken"
    # Said, so it can be repeated; but it is not a conversation exchange.
    assert controller.conversation.last_reply == "The 5 minute timer is done."
    assert len(controller.conversation) == 0


def test_repeat_that_says_the_conversations_last_reply_from_any_path(stop_later):
    skills = FakeShortcuts({"what time is it": Answer("It is noon.", "intent", "time")})
    stt = FakeSpeechToText()
    controller, rec, _ = make(stt=stt, skills=skills, earcons=False)
    stop_later(controller)

    def turn(text: str) -> TurnFinished:
        stt.text = text
        controller.submit(ButtonPressed())
        rec.wait_state(State.LISTENING)
        controller.submit(ButtonReleased())
        finished = rec.wait_for(lambda e: isinstance(e, TurnFinished))
        rec.wait_state(State.IDLE)
        return finished

    assert turn("what is the capital of france").reply == "Paris is the capital."
    repeated = turn("repeat that")
    assert (repeated.reply, repeated.path) == ("Paris is the capital.", "intent")
    assert turn("what time is it").reply == "It is noon."
    assert turn("repeat that").reply == "It is noon."
    assert [last for _, last in skills.calls] == [
        "",
        "Paris is the capital.",
        "Paris is the capital.",
        "It is noon.",
    ]
    assert controller.conversation.last_reply == "It is noon."
    # Only the LLM's answer is conversation memory.
    assert len(controller.conversation) == 1


# -- a hub that stopped answering is said aloud -------------------------------------


class HubDownLanguageModel(FakeLanguageModel):
    """A fake remote LLM whose hub is down, failing as `stages.link` reports it."""

    def generate(self, messages, cancel=None):
        raise LanguageModelError(not_answering("tcp://10.0.0.2:10700", "refused", "start it"))
        yield  # a generator, like a real engine


def test_a_hub_that_is_not_answering_is_said_once_the_appliance_is_idle(stop_later):
    controller, rec, sink = make(llm=HubDownLanguageModel([]), earcons=False)
    stop_later(controller)
    controller.submit(ButtonPressed())
    controller.submit(ButtonReleased())
    failed = rec.wait_for(lambda e: isinstance(e, TurnFailed))
    assert failed.stage == "llm" and "not answering" in failed.message
    said = rec.wait_for(lambda e: isinstance(e, TurnFinished))
    assert said.reply == "Sorry, the hub at tcp://10.0.0.2:10700 is not answering."
    assert sink.chunks, "the line was spoken"
    rec.wait_state(State.IDLE)
    assert len(controller.conversation) == 0


def test_only_a_remote_recognizer_or_model_failure_is_spoken():
    down = not_answering("tcp://hub:10700", "timed out", "")
    assert spoken_failure("asr", down) == "Sorry, the hub at tcp://hub:10700 is not answering."
    assert spoken_failure("tts", down) is None, "a voice that is down cannot say so"
    assert spoken_failure("llm", "the fake model broke") is None
