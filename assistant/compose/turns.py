"""The pipeline: conversation, skills and the controller on built engines and
devices, and the one-file voice turn that ``listen`` and the bench run."""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from assistant.appliance.gpio import gpio_available
from assistant.compose.devices import build_paced_source, build_source
from assistant.compose.engines import Engines
from assistant.compose.remote import follow_hub_timers
from assistant.core.config import Config, TurnConfig
from assistant.core.errors import AssistantError
from assistant.core.events import (
    ButtonPressed,
    Event,
    EventBus,
    PartialTranscript,
    TurnFailed,
    TurnFinished,
    TurnIgnored,
)
from assistant.pipeline.controller import Controller
from assistant.pipeline.listener import ready_fraction
from assistant.pipeline.memory import Conversation
from assistant.pipeline.wake import HandsFree
from assistant.skills.handler import Skills
from assistant.skills.timers import Timers
from assistant.skills.tools import toolbox_from_config
from assistant.stages.audio.base import AudioSink, AudioSource
from assistant.stages.audio.paced import PacedWavSource
from assistant.stages.llm.base import LanguageModel
from assistant.stages.tts.base import TextToSpeech

log = logging.getLogger(__name__)

FILE_TURN_ALIVE_S = 30.0
"""A file turn fails when the controller loop has not run for this long."""


def build_conversation(config: Config) -> Conversation:
    return Conversation(config.llm.system_prompt, config.llm.max_turns)


def build_skills(
    config: Config,
    llm: LanguageModel | None,
    tts: TextToSpeech | None,
    conversation: Conversation,
    *,
    pin_factory: object = None,
) -> Skills:
    """Intents, timers and the declared GPIO tools (when GPIO is usable).
    The caller closes it after the controller (or console) has stopped."""
    tools = None
    if config.tools.outputs or config.tools.inputs:
        reason = None if pin_factory is not None else gpio_available(config.gpio)
        if reason:
            log.warning("declared tools are disabled: %s", reason)
        else:
            tools = toolbox_from_config(config, pin_factory=pin_factory)
    timers = Timers()
    follow_hub_timers(llm, timers)  # the hub's timers ring here too
    return Skills(
        language=config.language,
        llm=llm,
        tools=tools,
        timers=timers,
        model_name=llm.name if llm is not None else config.llm.model,
        voice_name=config.tts.voice,
        volume=config.tts.volume,
        on_volume=tts.set_volume if tts is not None else None,
        on_reset=conversation.reset,
    )


def build_controller(
    config: Config,
    engines: Engines,
    source: AudioSource,
    sink: AudioSink,
    bus: EventBus,
    turn: TurnConfig,
    *,
    earcons: bool,
    hands_free: HandsFree | None = None,
) -> Controller:
    """A controller on ``engines`` with a fresh conversation and skills. The
    controller opens and closes ``sink``; the caller closes ``source`` never
    (the controller opens and closes it per turn) and ``controller.skills``
    after `Controller.stop`."""
    if engines.stt is None or engines.llm is None:
        raise AssistantError("a voice turn needs a recognizer and a language model")
    conversation = build_conversation(config)
    return Controller(
        stt=engines.stt,
        llm=engines.llm,
        tts=engines.tts,
        source=source,
        sink=sink,
        conversation=conversation,
        turn=turn,
        bus=bus,
        earcons=earcons,
        skills=build_skills(config, engines.llm, engines.tts, conversation),
        hands_free=hands_free,
        prefill=config.llm.prefill,
    )


def run_file_turn(
    engines: Engines,
    config: Config,
    wav: Path,
    sink: AudioSink,
    *,
    max_listen_s: float,
    observers: Iterable[Callable[[Event], None]] = (),
    realtime: bool = False,
) -> TurnFinished:
    """One whole voice turn from a WAV file through the real `Controller`,
    as the appliance runs it (skills included, no earcons): the file is the
    utterance and its end is the button release.

    The file is read as fast as it decodes, or with ``realtime`` at the pace
    it was spoken (`PacedWavSource`), so recognition runs during the speech
    as with a microphone; then ``ttfa`` counts from the delivery of its last
    sample, and the event also has ``voiced_to_audio`` in its timings (from
    the delivery of the last voiced sample to the first audio, what a person
    waits) and `TurnFinished.ready_fraction` (see `listener.ready_fraction`:
    the last partial transcript published before the release, against the
    final one).

    ``max_listen_s`` caps how much of the file is heard. Each observer gets
    every event, on the controller thread. Blocks until the turn ends. Raises
    `AssistantError` when the turn failed, heard nothing, or the controller
    stopped responding; if a worker then does not stop, the engines are
    abandoned (see `Engines.abandon`) so the caller cannot free them under it.
    """
    bus = EventBus()
    for observer in observers:
        bus.subscribe(observer)
    ended: queue.Queue[Event] = queue.Queue()
    bus.subscribe(
        lambda e: ended.put(e) if isinstance(e, TurnFinished | TurnFailed | TurnIgnored) else None
    )
    turn = TurnConfig(
        mode="hold",
        min_press_s=0.0,
        max_listen_s=max_listen_s,
        reply_timeout_s=config.turn.reply_timeout_s,
    )
    partials: list[PartialTranscript] = []
    paced: PacedWavSource | None = None
    if realtime:
        source = paced = build_paced_source(config, wav, max_s=max_listen_s)
        bus.subscribe(lambda e: partials.append(e) if isinstance(e, PartialTranscript) else None)
    else:
        source = build_source(config, wav=wav)
    controller = build_controller(config, engines, source, sink, bus, turn, earcons=False)
    controller.start()
    try:
        controller.submit(ButtonPressed())
        while True:
            try:
                event = ended.get(timeout=0.5)
                break
            except queue.Empty:
                if not controller.alive(within_s=FILE_TURN_ALIVE_S):
                    raise AssistantError("the voice turn stopped responding; see the log") from None
    finally:
        if not controller.stop():
            engines.abandon()
        controller.skills.close()
    if isinstance(event, TurnFailed):
        raise AssistantError(f"{event.stage}: {event.message}")
    if isinstance(event, TurnIgnored):
        raise AssistantError(f"no speech recognized in {wav}; check the file and --engine")
    return event if paced is None else _as_heard_live(event, paced, partials)


def _as_heard_live(
    event: TurnFinished, source: PacedWavSource, partials: list[PartialTranscript]
) -> TurnFinished:
    """``event`` with what a paced turn adds: ``voiced_to_audio`` and `ready_fraction`."""
    released_s = source.released_s
    ready = ""
    if released_s is not None:
        ready = next((p.text for p in reversed(partials) if p.at_s <= released_s), "")
    timings = dict(event.timings_ms)
    ttfa, tail_s = timings.get("ttfa"), source.quiet_tail_s
    if ttfa is not None and tail_s is not None:
        timings["voiced_to_audio"] = round(ttfa + tail_s * 1000, 1)
    return replace(
        event, timings_ms=timings, ready_fraction=ready_fraction(ready, event.transcript)
    )
