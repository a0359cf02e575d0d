"""End to end: a spoken question through the real sounddevice -> PortAudio ->
ALSA stack (no sound card: ALSA ``file`` plugins, see tests/alsa.py), real
faster-whisper, the real LLM and the real piper voice, and the reply audio
captured from the fake speaker and transcribed back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.core.config import AsrConfig, AudioConfig, LlmConfig, TtsConfig, TurnConfig
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
from assistant.stages.asr.whisper import WhisperSpeechToText
from assistant.stages.audio.mic import SoundDeviceSource
from assistant.stages.audio.pcm import rms_dbfs
from assistant.stages.audio.speaker import SoundDeviceSink
from assistant.stages.llm.llama import LlamaLanguageModel
from assistant.stages.tts.piper import PiperTextToSpeech
from tests.support.alsa import MIC, NATIVE_RATE_HZ, SPEAKER, AlsaDevices, portaudio_env, write_raw
from tests.support.models import require
from tests.support.recorder import Recorder
from tests.support.speech import load_16k, piper_wav

pytestmark = pytest.mark.slow
SYSTEM = "You are a helpful assistant. Answer in one short sentence."


@pytest.fixture(scope="module")
def engines(models_dir: Path):
    require(models_dir / "whisper-base")
    stt = WhisperSpeechToText(AsrConfig(engine="whisper"), models_dir / "whisper-base", 0.8)
    stt.warm_up()
    llm = LlamaLanguageModel.from_config(LlmConfig(temperature=0.0, seed=1), models_dir)
    # A steady voice, so the reply is transcribed back the same way every run.
    tts = PiperTextToSpeech.from_config(TtsConfig(noise_scale=0.0, noise_w_scale=0.0), models_dir)
    yield stt, llm, tts
    llm.close()


def capture_file(tmp_path: Path, models_dir: Path, question: str) -> Path:
    """The question as the microphone hears it: at 44.1 kHz, with quiet around it."""
    from assistant.stages.audio.pcm import resample

    speech = load_16k(piper_wav(question, models_dir, tmp_path / "question.wav"))
    audio = resample(speech, 16000, NATIVE_RATE_HZ)
    quiet = np.zeros(int(0.3 * NATIVE_RATE_HZ), dtype=np.int16)
    tail = np.zeros(int(40 * NATIVE_RATE_HZ), dtype=np.int16)
    return write_raw(tmp_path / "mic.raw", np.concatenate([quiet, audio, tail]))


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
    raw = capture_file(tmp_path, models_dir, "What is the capital of France?")
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
        played = devices.played()

    assert "capital" in finished.transcript.lower()
    assert "france" in finished.transcript.lower()
    assert events.states() == [State.LISTENING, State.THINKING, State.SPEAKING, State.IDLE]
    assert not finished.interrupted
    assert finished.timings_ms["ttfa"] > 0
    assert len(played) > 22050 // 2, "less than half a second of reply was played"
    assert rms_dbfs(played) > -40.0
    # What came out of the speaker, transcribed back, holds the answer.
    stt = engines[0]
    from assistant.stages.audio.pcm import resample

    heard = stt.start()
    heard.accept(resample(played, 22050, 16000))
    assert "paris" in heard.finish().lower()
    assert "paris" in finished.reply.lower()


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
    tts = engines[2]
    full_s = sum(c.duration_s for c in tts.synthesize(first.generated))
    voiced = played[np.flatnonzero(played)[0] :]
    assert len(voiced) / 22050 < full_s - 0.5
