"""The appliance wired together: GPIO buttons and LEDs (gpiozero MockFactory)
driving the controller, and `assistant run` as a service process that talks
sd_notify on a real Unix socket and exits cleanly on SIGTERM mid-turn.

The button tests use the fake engines from fakes.py; the service test runs
the real models on fake ALSA devices (tests/alsa.py)."""

from __future__ import annotations

import os
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
from assistant.core.config import GpioConfig, TurnConfig
from assistant.core.events import EventBus, State, TurnFinished
from assistant.pipeline.controller import Controller
from assistant.pipeline.memory import Conversation
from tests.alsa import MIC, SPEAKER, AlsaDevices
from tests.conftest import require
from tests.fakes import (
    FakeAudioSink,
    FakeAudioSource,
    FakeLanguageModel,
    FakeSpeechToText,
    FakeTextToSpeech,
)
from tests.recorder import Recorder

BUTTON, CANCEL = 17, 27
LISTENING_LED, THINKING_LED, SPEAKING_LED = 22, 23, 24


@pytest.fixture
def appliance(factory):
    """Controller + buttons + LEDs, the way `assistant run` wires them."""
    gate = threading.Semaphore(0)
    bus = EventBus()
    recorder = Recorder(bus)
    gpio_config = GpioConfig(cancel_pin=CANCEL)
    controller = Controller(
        stt=FakeSpeechToText(),
        llm=FakeLanguageModel(["Paris is the capital.", " It is old.", " Bye."], gate=gate),
        tts=FakeTextToSpeech(),
        source=FakeAudioSource(),
        sink=FakeAudioSink(),
        conversation=Conversation("test", 4),
        turn=TurnConfig(min_press_s=0.0),
        bus=bus,
    )
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
        env = dict(os.environ, **devices.env)
        env.update(NOTIFY_SOCKET=str(notify_path), WATCHDOG_USEC="1000000")
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
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
            code = proc.wait(timeout=60)
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
