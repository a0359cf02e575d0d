"""A started controller on fakes, for the pipeline tests."""

from __future__ import annotations

import time

from assistant.core.config import TurnConfig
from assistant.core.events import EventBus
from assistant.pipeline.controller import Controller
from assistant.pipeline.memory import Conversation
from tests.support.fakes import (
    FakeAudioSink,
    FakeAudioSource,
    FakeLanguageModel,
    FakeSpeechToText,
    FakeTextToSpeech,
)
from tests.support.recorder import Recorder


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
    skills=None,
    clock=time.monotonic,
):
    """A started controller on fakes; ``tts`` is True for a `FakeTextToSpeech`,
    False for none, or the engine to use."""
    bus = EventBus()
    recorder = Recorder(bus)
    sink = sink or FakeAudioSink()
    controller = Controller(
        stt=stt or FakeSpeechToText(),
        llm=llm or FakeLanguageModel(["Paris", " is", " the", " capital."]),
        tts=FakeTextToSpeech() if tts is True else tts or None,
        source=source or FakeAudioSource(),
        sink=sink,
        conversation=Conversation("You are a test.", max_turns=4),
        turn=TurnConfig(mode=mode, min_press_s=min_press_s, reply_timeout_s=reply_timeout_s),
        bus=bus,
        earcons=earcons,
        skills=skills,
        clock=clock,
    )
    controller.start()
    return controller, recorder, sink
