"""End to end: a spoken question through the real sounddevice -> PortAudio ->
ALSA stack (no sound card: ALSA ``file`` plugins, see tests/support/alsa.py),
real faster-whisper, the real LLM and the real piper voice, and the reply
audio captured from the fake speaker.

The words change with the CPU, so the checks are relations the code
guarantees (the reply is the model's own answer to the transcript; the
speaker played the voice's samples for it), anchored by the transcript's
word error rate against the question and a plain English answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.core.config import AudioConfig, TurnConfig
from assistant.core.events import (
    ButtonPressed,
    CancelPressed,
    EventBus,
    SentenceSpoken,
    State,
    StateChanged,
    TurnFinished,
)
from assistant.pipeline.controller import Controller
from assistant.pipeline.memory import Conversation
from assistant.stages.audio.mic import SoundDeviceSource
from assistant.stages.audio.pcm import resample, rms_dbfs
from assistant.stages.audio.speaker import SoundDeviceSink
from tests.support.alsa import MIC, NATIVE_RATE_HZ, SPEAKER, AlsaDevices, portaudio_env, write_raw
from tests.support.answers import assert_plain_answer
from tests.support.recorder import Recorder
from tests.support.speech import load_16k, piper_wav
from tests.support.voice_turn import answer_alone, assert_heard

pytestmark = pytest.mark.slow
SYSTEM = "You are a helpful assistant. Answer in one short sentence."
QUESTION = "What is the capital of France?"


@pytest.fixture
def engines(whisper, llm, voice):
    """The session's engines, the language model with an empty KV cache."""
    llm.reset()
    return whisper, llm, voice


def capture_file(tmp_path: Path, models_dir: Path, question: str) -> Path:
    """The question as the microphone hears it: at 44.1 kHz, with quiet around it."""
    speech = load_16k(piper_wav(question, models_dir, tmp_path / "question.wav"))
    audio = resample(speech, 16000, NATIVE_RATE_HZ)
    quiet = np.zeros(int(0.3 * NATIVE_RATE_HZ), dtype=np.int16)
    tail = np.zeros(int(40 * NATIVE_RATE_HZ), dtype=np.int16)
    return write_raw(tmp_path / "mic.raw", np.concatenate([quiet, audio, tail]))


def assert_plays_in_order(played: np.ndarray, pieces: list[np.ndarray]) -> None:
    """Each of ``pieces`` is a run of samples in ``played``, one after another."""
    assert pieces, "nothing to look for"
    heard, start = played.astype("<i2").tobytes(), 0
    for i, piece in enumerate(pieces):
        wanted = piece.astype("<i2").tobytes()
        at = heard.find(wanted, start)
        while at >= 0 and at % 2:  # whole samples only
            at = heard.find(wanted, at + 1)
        assert at >= 0, f"piece {i} of {len(pieces)} ({len(piece)} samples) was not played"
        start = at + len(wanted)


def run_controller(engines, devices: AlsaDevices, conversation: Conversation) -> tuple:
    stt, llm, tts = engines
    bus = EventBus()
    events = Recorder(bus)
    controller = Controller(
        stt=stt,
        llm=llm,
        tts=tts,
        source=SoundDeviceSource(AudioConfig(input_device=MIC)),
        sink=SoundDeviceSink(AudioConfig(output_device=SPEAKER)),
        conversation=conversation,
        turn=TurnConfig(mode="toggle", silence_s=0.8),
        bus=bus,
        earcons=False,
    )
    controller.start()
    return controller, events


def test_spoken_question_gets_a_spoken_answer(tmp_path, models_dir, engines):
    """The whole stack hears the question, answers it with the model and
    plays the answer: what the turn heard is the question, its reply is the
    model's own answer to that transcript, and the speaker played that reply."""
    raw = capture_file(tmp_path, models_dir, QUESTION)
    devices = AlsaDevices(
        tmp_path, raw, tmp_path / "speaker.raw", rate_hz=NATIVE_RATE_HZ, playback_rate_hz=22050
    )
    conversation = Conversation(SYSTEM, max_turns=4)
    with devices, portaudio_env(devices.env):
        controller, events = run_controller(engines, devices, conversation)
        try:
            controller.submit(ButtonPressed())
            finished = events.wait_for(lambda e: isinstance(e, TurnFinished))
            events.wait_for(lambda e: isinstance(e, StateChanged) and e.new is State.IDLE)
        finally:
            controller.stop()
    played = devices.played()  # with the tail still in the pipe, drained on leaving

    assert_heard(QUESTION, finished.transcript)
    assert events.states() == [State.LISTENING, State.THINKING, State.SPEAKING, State.IDLE]
    assert not finished.interrupted
    assert finished.timings_ms["ttfa"] > 0
    assert len(played) > 22050 // 2, "less than half a second of reply was played"
    assert rms_dbfs(played) > -40.0
    # The reply is the model's answer to what was heard, all of it said.
    _, llm, voice = engines
    assert_plain_answer(finished.reply)
    assert finished.reply == finished.generated
    assert finished.generated == answer_alone(llm, SYSTEM, finished.transcript)
    # The sentences handed to the speaker are that reply's, and what came out
    # of the speaker is the voice saying them, whole, in order and at its own
    # rate: each sentence's samples as the same voice makes them outside the
    # pipeline (it has no noise, so the same text gives the same samples).
    sentences = [e.text for e in events.events if isinstance(e, SentenceSpoken)]
    assert " ".join(sentences).split() == finished.reply.split()
    pieces = [chunk.samples for text in sentences for chunk in voice.synthesize(text)]
    assert_plays_in_order(played, pieces)


def test_barge_in_cuts_the_reply_and_memory_keeps_only_what_was_spoken(
    tmp_path, models_dir, engines
):
    raw = capture_file(tmp_path, models_dir, "Tell me a long story about a dragon.")
    devices = AlsaDevices(
        tmp_path, raw, tmp_path / "speaker.raw", rate_hz=NATIVE_RATE_HZ, playback_rate_hz=22050
    )
    conversation = Conversation(SYSTEM.replace("one short sentence", "many sentences"), 4)
    with devices, portaudio_env(devices.env):
        controller, events = run_controller(engines, devices, conversation)
        try:
            controller.submit(ButtonPressed())
            events.wait_for(lambda e: isinstance(e, SentenceSpoken))
            controller.submit(ButtonPressed())  # barge-in while speaking
            first = events.wait_for(lambda e: isinstance(e, TurnFinished))
            controller.submit(CancelPressed())
            events.wait_for(lambda e: isinstance(e, StateChanged) and e.new is State.IDLE)
        finally:
            controller.stop()
        played = devices.played()

    assert first.interrupted
    states = events.states()
    assert states[:4] == [State.LISTENING, State.THINKING, State.SPEAKING, State.LISTENING]
    assert first.reply, "at least one sentence was spoken before the barge-in"
    assert len(first.reply) < len(first.generated)
    assert first.generated.startswith(first.reply.rstrip("…").split("…")[0][:20])
    remembered = conversation.messages()[-1]
    assert remembered.role == "assistant"
    assert remembered.content == first.reply
    # The speaker got less than the whole reply would have taken; the
    # silence it played while listening comes before the first voiced sample.
    # (The whole reply is synthesized only as far as needed to show it.)
    voiced = played[np.flatnonzero(played)[0] :]
    needed_s = len(voiced) / 22050 + 0.5
    full_s = 0.0
    for chunk in engines[2].synthesize(first.generated):
        full_s += chunk.duration_s
        if full_s > needed_s:
            break
    assert full_s > needed_s, "the whole reply was played"
