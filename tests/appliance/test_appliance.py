"""The appliance wired together: GPIO buttons and LEDs (gpiozero MockFactory)
driving the controller, and `assistant run` as a service process that talks
sd_notify on a real Unix socket and exits cleanly on SIGTERM mid-turn.

The button tests use the fake engines from tests/support/fakes.py; the service test runs
the real models on fake ALSA devices (tests/support/alsa.py)."""

from __future__ import annotations

import io
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant.appliance.gpio import GpioButtons, LedIndicator
from assistant.appliance.keyboard import KeyboardButton
from assistant.appliance.run import log_turns, run_appliance
from assistant.core.config import GpioConfig, TurnConfig
from assistant.core.events import (
    ButtonPressed,
    ButtonReleased,
    EventBus,
    State,
    TurnFailed,
    TurnFinished,
)
from assistant.pipeline.controller import Controller
from assistant.pipeline.memory import Conversation
from tests.support.alsa import MIC, SPEAKER, AlsaDevices
from tests.support.fakes import (
    FakeAudioSink,
    FakeAudioSource,
    FakeLanguageModel,
    FakeNotifier,
    FakeSpeechToText,
    FakeTextToSpeech,
)
from tests.support.models import require
from tests.support.paths import child_env
from tests.support.recorder import Recorder

BUTTON, CANCEL = 17, 27
LISTENING_LED, THINKING_LED, SPEAKING_LED = 22, 23, 24


def fake_controller(
    *,
    stt: FakeSpeechToText | None = None,
    llm: FakeLanguageModel | None = None,
    bus: EventBus | None = None,
    earcons: bool = True,
) -> Controller:
    """A controller on fakes, as `compose.build_controller` wires one."""
    return Controller(
        stt=stt or FakeSpeechToText(),
        llm=llm or FakeLanguageModel(["Paris."]),
        tts=FakeTextToSpeech(),
        source=FakeAudioSource(),
        sink=FakeAudioSink(),
        conversation=Conversation("test", 4),
        turn=TurnConfig(min_press_s=0.0),
        bus=bus,
        earcons=earcons,
    )


@pytest.fixture
def appliance(factory):
    """Controller + buttons + LEDs, the way `assistant run` wires them."""
    gate = threading.Semaphore(0)
    bus = EventBus()
    recorder = Recorder(bus)
    gpio_config = GpioConfig(cancel_pin=CANCEL)
    tokens = ["Paris is the capital.", " It is old.", " Bye."]
    controller = fake_controller(llm=FakeLanguageModel(tokens, gate=gate), bus=bus)
    leds = LedIndicator(gpio_config, pin_factory=factory)
    bus.subscribe(leds.on_event)
    buttons = GpioButtons(gpio_config, controller.submit, pin_factory=factory)
    controller.start()
    try:
        yield controller, recorder, gate
    finally:
        controller.stop()
        buttons.close()
        leds.close()


def press(factory, pin: int) -> None:
    factory.pin(pin).drive_low()  # wired to ground with the pull-up


def release(factory, pin: int) -> None:
    factory.pin(pin).drive_high()


def wait_until(predicate, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    tick = threading.Event()
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for the LED"
        tick.wait(0.005)


def lit(factory, pin: int) -> bool:
    return factory.pin(pin).state > 0


def test_press_listens_release_thinks_and_leds_follow(factory, appliance):
    controller, rec, gate = appliance
    press(factory, BUTTON)
    rec.wait_state(State.LISTENING)
    wait_until(lambda: lit(factory, LISTENING_LED))
    assert not lit(factory, SPEAKING_LED)
    release(factory, BUTTON)
    rec.wait_state(State.THINKING)
    wait_until(lambda: not lit(factory, LISTENING_LED))
    # Thinking blinks, speaking pulses: each pin's history shows it lighting.
    wait_until(lambda: any(s.state > 0 for s in factory.pin(THINKING_LED).states))
    gate.release(2)
    rec.wait_state(State.SPEAKING)
    wait_until(lambda: any(s.state > 0 for s in factory.pin(SPEAKING_LED).states))
    gate.release(10)
    rec.wait_for(lambda e: isinstance(e, TurnFinished))
    rec.wait_state(State.IDLE)
    assert rec.states() == [State.LISTENING, State.THINKING, State.SPEAKING, State.IDLE]
    # Idle is dark (the LEDs get the event after the recorder does).
    wait_until(
        lambda: not any(lit(factory, p) for p in (LISTENING_LED, THINKING_LED, SPEAKING_LED))
    )


def test_button_barge_in_while_speaking_starts_listening(factory, appliance):
    controller, rec, gate = appliance
    press(factory, BUTTON)
    release(factory, BUTTON)
    gate.release(2)
    rec.wait_state(State.SPEAKING)
    press(factory, BUTTON)
    rec.wait_state(State.LISTENING)
    first = rec.wait_for(lambda e: isinstance(e, TurnFinished))
    assert first.interrupted
    wait_until(lambda: lit(factory, LISTENING_LED))
    release(factory, BUTTON)
    gate.release(10)
    rec.wait_for(lambda e: isinstance(e, TurnFinished) and not e.interrupted)


def test_cancel_button_returns_to_idle(factory, appliance):
    controller, rec, gate = appliance
    press(factory, BUTTON)
    release(factory, BUTTON)
    rec.wait_state(State.THINKING)
    press(factory, CANCEL)
    rec.wait_state(State.IDLE)
    release(factory, CANCEL)
    assert controller.state is State.IDLE


# -- the keyboard button -----------------------------------------------------


class RecordingController:
    """Stands in for the controller: records what the keyboard submits."""

    def __init__(self) -> None:
        self.state = State.IDLE
        self.events: list[type] = []

    def submit(self, event) -> None:
        self.events.append(type(event))
        if isinstance(event, ButtonPressed):
            self.state = State.LISTENING


def test_keyboard_enter_is_a_full_press_in_toggle_mode_and_alternates_in_hold_mode():
    toggle = RecordingController()
    button = KeyboardButton(
        toggle.submit, lambda: toggle.state, mode="toggle", stream=io.StringIO("\n\n")
    )
    button.read_all()
    assert toggle.events == [ButtonPressed, ButtonReleased] * 2
    hold = RecordingController()
    button = KeyboardButton(
        hold.submit, lambda: hold.state, mode="hold", stream=io.StringIO("\n\n")
    )
    button.read_all()
    assert hold.events == [ButtonPressed, ButtonReleased]


# -- the serving loop, on fakes -------------------------------------------------


def test_serving_reports_ready_then_stopping_and_closes_the_engines_after_stop():
    controller = fake_controller(earcons=False)
    stopping = threading.Event()
    closed: list[State] = []
    previous = signal.getsignal(signal.SIGTERM)
    notifier = FakeNotifier(on_ready=stopping.set)
    run_appliance(
        controller,
        notifier,
        close_engines=lambda: closed.append(controller.state),
        stopping=stopping,
    )
    assert notifier.messages[0] == "READY=1" and notifier.messages[-1] == "STOPPING=1"
    assert closed == [State.IDLE]
    assert not controller.alive(within_s=60)  # stopped before the engines closed
    assert signal.getsignal(signal.SIGTERM) is previous


def test_a_worker_that_does_not_stop_keeps_the_engines_loaded():
    stt = FakeSpeechToText()
    stt.hold = threading.Event()  # the listener blocks in start() until set
    controller = fake_controller(stt=stt, earcons=False)
    stopping = threading.Event()
    closed: list[bool] = []

    def press_then_stop() -> None:
        controller.submit(ButtonPressed())
        assert stt.entered.wait(10), "the press never started a listener"
        stopping.set()

    try:
        run_appliance(
            controller,
            FakeNotifier(on_ready=press_then_stop),
            close_engines=lambda: closed.append(True),
            stop_timeout_s=0.2,
            stopping=stopping,
        )
        assert closed == []
    finally:
        stt.hold.set()


def test_turn_log_has_one_line_per_turn(caplog):
    on_event = log_turns(profile=False)
    with caplog.at_level("INFO", logger="assistant.appliance.run"):
        on_event(
            TurnFinished(
                transcript="hi", reply="hello", timings_ms={"ttfa": 12.5}, interrupted=False
            )
        )
        on_event(TurnFailed(stage="llm", message="model failed"))
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("turn transcript_chars=2 reply_chars=5 interrupted=False")
    assert "ttfa_ms=12.5" in lines[0]
    assert lines[1] == "turn failed stage=llm error=model failed"


# -- the service process -----------------------------------------------------


def _lines(stream, out: queue.Queue) -> None:
    for line in stream:
        out.put(line)


def _wait_line(lines: queue.Queue, needle: str, seen: list[str], timeout_s: float = 300) -> None:
    while True:
        try:
            line = lines.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"no line with {needle!r}; got:\n{''.join(seen)}") from None
        seen.append(line)
        if needle in line:
            return


@pytest.mark.slow
def test_service_notifies_ready_pings_watchdog_and_stops_on_sigterm_mid_turn(
    tmp_path: Path, models_dir: Path
):
    require(models_dir / "whisper-base" / "model.bin")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[audio]\ninput_device = "{MIC}"\noutput_device = "{SPEAKER}"\nearcons = false\n'
        '[asr]\nengine = "whisper"\n[gpio]\nenabled = false\n',
        "utf-8",
    )
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify_path = tmp_path / "notify.sock"
    notify.bind(str(notify_path))
    notify.settimeout(60)
    mic = tmp_path / "mic.raw"
    mic.write_bytes(b"\0\0" * 16000 * 60)
    devices = AlsaDevices(tmp_path, mic, tmp_path / "speaker.raw")
    with devices:
        env = child_env(**devices.env, NOTIFY_SOCKET=str(notify_path), WATCHDOG_USEC="1000000")
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "--config", str(config), "run", "--keyboard"],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_lines, args=(proc.stderr, lines), daemon=True).start()
        seen: list[str] = []
        try:
            messages = []
            while "READY=1" not in messages:
                messages.append(notify.recv(4096).decode())
            while "WATCHDOG=1" not in messages:
                messages.append(notify.recv(4096).decode())
            proc.stdin.write("\n")  # Enter: the keyboard push-to-talk button goes down
            proc.stdin.flush()
            _wait_line(lines, "state idle -> listening", seen)
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                # Say where it hung: dump the threads (faulthandler) and show the log.
                proc.send_signal(signal.SIGABRT)
                proc.wait(timeout=10)
                seen.extend(lines.get(timeout=5) for _ in iter(lines.qsize, 0))
                raise AssertionError("no exit 60 s after SIGTERM:\n" + "".join(seen)) from None
            while "STOPPING=1" not in messages:
                messages.append(notify.recv(4096).decode())
        finally:
            if proc.poll() is None:
                proc.kill()
            notify.close()
        seen.extend(lines.get_nowait() for _ in range(lines.qsize()))
    log = "".join(seen)
    assert code == 0, log
    assert "Traceback" not in log
    assert "SIGTERM" in log
    assert messages.index("READY=1") < messages.index("STOPPING=1")
    assert any(m.startswith("STATUS=") for m in messages)
