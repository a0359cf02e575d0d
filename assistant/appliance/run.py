"""Voice-turn entry points: the appliance loop and the one-shot file turn."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from assistant.compose import (
    build_conversation,
    build_llm,
    build_sink,
    build_skills,
    build_stt,
    build_tts,
)
from assistant.core.config import Config, TurnConfig
from assistant.core.errors import AssistantError, GpioError
from assistant.core.events import (
    ButtonPressed,
    ButtonReleased,
    Event,
    EventBus,
    State,
    TurnFailed,
    TurnFinished,
    TurnIgnored,
)
from assistant.pipeline.controller import Controller
from assistant.stages.asr.base import SpeechToText
from assistant.stages.audio.base import AudioSink, AudioSource
from assistant.stages.audio.pcm import read_wav
from assistant.stages.audio.soundcard import (
    SoundDeviceSink,
    SoundDeviceSource,
    WavFileSource,
    find_device,
)
from assistant.stages.llm.base import LanguageModel
from assistant.stages.tts.base import TextToSpeech

log = logging.getLogger(__name__)
profile_log = logging.getLogger("assistant.profile")

STOP_TIMEOUT_S = 15.0
"""How long SIGTERM waits for the current turn; below the unit's TimeoutStopSec."""


def log_turns(profile: bool):
    """A subscriber that writes one structured line per turn (to the journal)."""

    def on_event(event: Event) -> None:
        if isinstance(event, TurnFinished):
            fields = {
                "transcript_chars": len(event.transcript),
                "reply_chars": len(event.reply),
                "interrupted": event.interrupted,
                "tokens_per_s": event.tokens_per_s,
                **{f"{k}_ms": v for k, v in event.timings_ms.items()},
            }
            line = " ".join(f"{k}={v}" for k, v in fields.items())
            (profile_log if profile else log).info("turn %s", line)
        elif isinstance(event, TurnFailed):
            log.warning("turn failed stage=%s error=%s", event.stage, event.message)
        elif isinstance(event, TurnIgnored):
            log.info("turn ignored reason=%s", event.reason)

    return on_event


def _warm_up(*engines: Any) -> None:
    for engine in engines:
        if engine is not None:
            engine.warm_up()


def build_controller(
    config: Config,
    stt: SpeechToText,
    llm: LanguageModel,
    tts: TextToSpeech,
    source: AudioSource,
    sink: AudioSink,
    bus: EventBus,
    turn: TurnConfig,
    *,
    earcons: bool,
) -> Controller:
    """A controller with its conversation and skills; the caller closes
    ``controller.skills``."""
    conversation = build_conversation(config)
    return Controller(
        stt=stt,
        llm=llm,
        tts=tts,
        source=source,
        sink=sink,
        conversation=conversation,
        turn=turn,
        bus=bus,
        earcons=earcons,
        skills=build_skills(config, llm, tts, conversation),
    )


def listen_once(config: Config, wav: Path, out: Path | None, profile: bool = False) -> dict:
    """Run one full voice turn from a WAV file; return the JSON-ready result."""
    read_wav(wav, header_only=True)  # a bad file fails before the models load
    source = WavFileSource(wav, block_ms=config.audio.block_ms)
    stt = build_stt(config)
    llm = build_llm(config)
    tts = build_tts(config)
    sink = build_sink(config, wav=out)
    # Warm like the appliance, so the timings are those of a real turn.
    _warm_up(stt, llm, tts)
    bus = EventBus()
    done = threading.Event()
    outcome: dict[str, Event] = {}

    def on_event(event: Event) -> None:
        if isinstance(event, TurnFinished | TurnFailed | TurnIgnored):
            outcome["event"] = event
            done.set()

    bus.subscribe(log_turns(profile))
    bus.subscribe(on_event)
    # The file is the whole utterance: no button release, no earcons.
    turn = TurnConfig(
        mode="hold",
        min_press_s=0.0,
        max_listen_s=max(config.turn.max_listen_s, 600.0),
        reply_timeout_s=config.turn.reply_timeout_s,
    )
    controller = build_controller(config, stt, llm, tts, source, sink, bus, turn, earcons=False)
    controller.start()
    try:
        controller.submit(ButtonPressed())
        while not done.wait(0.5):
            if not controller.alive(within_s=30.0):
                raise AssistantError("the voice turn stopped responding; see the log")
    finally:
        stopped = controller.stop()
        controller.skills.close()
        if stopped:
            llm.close()
    event = outcome["event"]
    if isinstance(event, TurnFailed):
        raise AssistantError(f"{event.stage}: {event.message}")
    if isinstance(event, TurnIgnored):
        raise AssistantError(f"no speech recognized in {wav}; check the file and --engine")
    timings = event.timings_ms
    keys = ("asr_final", "llm_first_token", "tts_first_audio", "ttfa", "total")
    result = {
        "transcript": event.transcript,
        "reply": event.reply,
        "timings_ms": {k: timings.get(k) for k in keys},
        "tokens_per_s": event.tokens_per_s,
        "path": event.path,
        "engine": config.asr.engine,
    }
    if out is not None:
        result["wav"] = str(out)
    return result


class KeyboardButton:
    """Enter on stdin acts as the push-to-talk button. Hold mode: one Enter
    presses, the next releases. Toggle mode: every Enter is a full press."""

    def __init__(self, controller: Controller, stream=None) -> None:
        self.controller = controller
        self.stream = stream or sys.stdin
        self._thread = threading.Thread(target=self._loop, name="keyboard", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        toggle = self.controller.config.mode == "toggle"
        for _line in self.stream:
            listening = self.controller.state is State.LISTENING
            if toggle or not listening:
                self.controller.submit(ButtonPressed())
            if toggle or listening:
                self.controller.submit(ButtonReleased())

    def close(self) -> None:
        pass


def run_appliance(config: Config, keyboard: bool = False, profile: bool = False) -> int:
    """Load and warm every model, then serve push-to-talk turns until SIGTERM."""
    from assistant.appliance.gpio import GpioButtons, LedIndicator, gpio_available
    from assistant.appliance.notify import SystemdNotifier, watchdog_interval_s

    notifier = SystemdNotifier()
    notifier.status("loading models")
    # Fail fast on devices before minutes of model loading.
    find_device(config.audio.input_device, "input")
    find_device(config.audio.output_device, "output")
    stt = build_stt(config)
    llm = build_llm(config)
    tts = build_tts(config)
    _warm_up(stt, llm, tts)

    bus = EventBus()
    bus.subscribe(log_turns(profile))
    controller = build_controller(
        config,
        stt,
        llm,
        tts,
        SoundDeviceSource(config.audio),
        SoundDeviceSink(config.audio),
        bus,
        config.turn,
        earcons=config.audio.earcons,
    )
    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in (signal.SIGTERM,)}
    closers = []
    try:
        reason = None if keyboard or not config.gpio.enabled else gpio_available(config.gpio)
        if keyboard or not config.gpio.enabled or reason:
            if not sys.stdin.isatty() and not keyboard:
                raise GpioError(
                    f"no push-to-talk input: {reason or 'GPIO is disabled in the config'}, "
                    "and stdin is not a terminal; enable [gpio] or run `assistant run` in one"
                )
            if reason:
                log.warning("%s", reason)
            buttons = KeyboardButton(controller)
            buttons.start()
            log.info("press Enter to start talking, Enter again to stop")
        else:
            buttons = GpioButtons(config.gpio, controller.submit)
            leds = LedIndicator(config.gpio)
            bus.subscribe(leds.on_event)
            closers.append(leds)
        closers.append(buttons)
        controller.start()
        notifier.ready()
        notifier.status("ready: waiting for the button")
        log.info("ready")
        interval = watchdog_interval_s() or 5.0
        while not stopping.wait(interval):
            if controller.alive(within_s=interval * 2):
                notifier.watchdog()
            else:
                log.error("controller loop is stuck; not pinging the watchdog")
        log.info("SIGTERM: finishing")
        notifier.stopping()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stopped = controller.stop(timeout_s=STOP_TIMEOUT_S)
        for closer in closers:
            closer.close()
        controller.skills.close()
        if stopped:  # never free the model under a thread still inside it
            llm.close()
        notifier.close()
    return 0
