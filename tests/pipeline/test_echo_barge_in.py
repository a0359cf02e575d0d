"""Voice barge-in with the echo canceller: ``wake.barge_in = "auto"`` is on
while the microphone cancels the speaker's echo and off without it, and the
wake word said over the assistant's own reply stops it, then the turn goes
on as after a button barge-in.

The slow test runs the real wake detector and the real canceller on a
simulated room (tests/support/rooms.py) through the real `WakeListener` and
`Controller`; the microphone is a `FakeMicrophone` whose blocks carry
capture times, and the speaker's tap is fed what the room replays."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest

from assistant.compose.handsfree import barge_in_on, build_wake_listener
from assistant.core.config import Config, TurnConfig, WakeConfig
from assistant.core.events import (
    ButtonPressed,
    ButtonReleased,
    EventBus,
    PartialTranscript,
    State,
    TurnFinished,
    WakeDetected,
)
from assistant.pipeline.controller import Controller
from assistant.pipeline.memory import Conversation
from assistant.pipeline.wake import HandsFree
from assistant.stages.asr.endpoint import SilenceEndpointer
from assistant.stages.audio.reference import ReferenceTap
from assistant.stages.echo import EchoPath, echo_unavailable
from assistant.stages.echo.live import EchoCancellingSource
from tests.support.fakes import (
    FakeAudioSink,
    FakeAudioSource,
    FakeLanguageModel,
    FakeMicrophone,
    FakeSpeechToText,
    FakeTextToSpeech,
    FakeWakeDetector,
)
from tests.support.recorder import Recorder

needs_speex = pytest.mark.skipif(echo_unavailable() is not None, reason=str(echo_unavailable()))

RATE = 16000
BLOCK = 480
T0 = 500.0
"""The fake microphone's first sample, on the stream clock."""
TIMEOUT_S = 30.0
TOKENS = ["Paris is the capital of France.", " It is a big city.", " It has a tower."]


class FakeTimedMicrophone(FakeMicrophone):
    """A `FakeMicrophone` whose blocks carry their capture time
    (`read_timed`): its clock is the samples read so far, from `T0`."""

    def __init__(self) -> None:
        super().__init__()
        self.frames = 0
        self.lock = threading.Lock()

    def read_timed(self, timeout_s: float) -> tuple[np.ndarray, float]:
        with self.lock:
            block = self.read(timeout_s)
            at_s = T0 + self.frames / RATE
            self.frames += len(block)
        return block, at_s

    def say_at(self, blocks: list[np.ndarray], before: Callable[[float], None]) -> int:
        """Say ``blocks``, first calling ``before`` with the capture time the
        first of them will have; returns its sample position. Nothing else
        may be queued (the next block read is then the first said)."""
        with self.lock:
            before(T0 + self.frames / RATE)
            self.say(*blocks)
            return self.frames


def blocks(audio: np.ndarray) -> list[np.ndarray]:
    padded = np.concatenate([audio, np.zeros(-len(audio) % BLOCK, np.int16)])
    return list(padded.reshape(-1, BLOCK))


@pytest.fixture
def fake_detector(monkeypatch):
    import assistant.compose.handsfree as handsfree

    monkeypatch.setattr(handsfree, "build_detector", lambda config: FakeWakeDetector(0.99))


@needs_speex
def test_auto_barge_in_is_on_with_the_canceller_and_off_without_it(fake_detector):
    config = Config(wake=WakeConfig(enabled=True))
    assert config.wake.barge_in == "auto"
    path = EchoPath(RATE)
    try:
        cancelling = EchoCancellingSource(FakeTimedMicrophone(), ReferenceTap(), path)
        plain = FakeAudioSource()
        on = build_wake_listener(config, cancelling, EventBus())
        off = build_wake_listener(config, plain, EventBus())
        assert on.barge_in_threshold == config.wake.barge_in_threshold
        assert off.barge_in_threshold is None
        # true and false keep their meaning, canceller or not.
        forced = Config(wake=WakeConfig(enabled=True, barge_in=True))
        never = Config(wake=WakeConfig(enabled=True, barge_in=False))
        assert barge_in_on(forced, plain) and not barge_in_on(never, cancelling)
    finally:
        path.close()


@needs_speex
def test_the_appliance_gets_the_canceller_when_enabled_allows_and_it_can_run(monkeypatch):
    import assistant.compose.devices as devices
    from assistant.core.config import EchoConfig
    from assistant.core.errors import ConfigError
    from assistant.stages.audio.reference import TappedSoundDeviceSink

    monkeypatch.setattr(devices, "echo_unavailable", lambda: None)
    audio = devices.build_live_audio(Config())
    try:
        assert isinstance(audio.source, EchoCancellingSource)
        assert isinstance(audio.speaker, TappedSoundDeviceSink)
        assert audio.speaker.tap is audio.source.tap and audio.echo_off is None
    finally:
        audio.close()
    off = devices.build_live_audio(Config(echo=EchoConfig(enabled=False)))
    assert not isinstance(off.source, EchoCancellingSource) and "false" in off.echo_off
    missing = "libspeexdsp is missing: apt install libspeexdsp1"
    monkeypatch.setattr(devices, "echo_unavailable", lambda: missing)
    auto = devices.build_live_audio(Config())
    assert not isinstance(auto.source, EchoCancellingSource) and auto.echo_off == missing
    with pytest.raises(ConfigError, match="enabled = true, but libspeexdsp is missing") as err:
        devices.build_live_audio(Config(echo=EchoConfig(enabled=True)))
    assert "\n" not in str(err.value)


def test_barge_in_accepts_auto_true_and_false_from_a_config_file(tmp_path):
    from assistant.core.config import load_config
    from assistant.core.errors import ConfigError

    path = tmp_path / "config.toml"
    for text, expected in (('"auto"', "auto"), ("true", True), ("false", False)):
        path.write_text(f"[wake]\nbarge_in = {text}\n")
        assert load_config(str(path)).wake.barge_in == expected
    path.write_text('[wake]\nbarge_in = "sometimes"\n')
    with pytest.raises(ConfigError, match="wake.barge_in = 'sometimes'.*'auto' or true or false"):
        load_config(str(path))


@needs_speex
@pytest.mark.slow
def test_the_wake_word_over_its_own_reply_stops_it_and_the_turn_goes_on(models_dir):
    from tests.support.rooms import ROOMS, mix, voice_clips

    reply, wake = voice_clips(models_dir)
    # A few seconds into the reply, the user at the echo's level (0 dB).
    heard = mix(ROOMS[0], reply, wake, user_at_s=3.0, user_db=0.0)
    wake_end = heard.user[1]
    # The speaker stops soon after the wake word: so does its echo.
    stop = wake_end + RATE // 2
    command = np.random.default_rng(4).normal(0, 3000, RATE).astype(np.int16)
    said = blocks(np.concatenate([heard.mic[:stop], np.zeros(RATE // 4, np.int16), command]))

    config = Config(wake=WakeConfig(enabled=True))
    bus = EventBus()
    rec = Recorder(bus)
    mic, tap, path = FakeTimedMicrophone(), ReferenceTap(), EchoPath(RATE)
    source = EchoCancellingSource(mic, tap, path)
    listener = build_wake_listener(config, source, bus)  # "auto": on with the canceller
    gate = threading.Semaphore(0)
    controller = Controller(
        stt=FakeSpeechToText(),
        llm=FakeLanguageModel(TOKENS, gate=gate),
        tts=FakeTextToSpeech(),
        source=listener.tap,
        sink=FakeAudioSink(),
        conversation=Conversation("You are a test.", max_turns=4),
        turn=TurnConfig(min_press_s=0.0),
        bus=bus,
        hands_free=HandsFree(lambda: SilenceEndpointer(0.3)),
    )
    controller.start()
    listener.start(controller.submit)

    def played(at_s: float) -> None:
        # What the speaker played until it stopped, as its callback taps it.
        for i in range(0, stop, BLOCK):
            tap.put(reply[i : min(i + BLOCK, stop)], at_s + i / RATE, RATE)

    try:
        controller.submit(ButtonPressed())
        rec.wait_for(lambda e: isinstance(e, PartialTranscript), TIMEOUT_S)
        controller.submit(ButtonReleased())
        rec.wait_state(State.THINKING)
        gate.release(2)
        rec.wait_state(State.SPEAKING)
        start = mic.say_at(said, played)
        woken = rec.wait_for(lambda e: isinstance(e, WakeDetected), TIMEOUT_S)
        first = rec.wait_for(lambda e: isinstance(e, TurnFinished), TIMEOUT_S)
        gate.release(10)
        second = rec.wait_for(lambda e: isinstance(e, TurnFinished), TIMEOUT_S)
    finally:
        assert controller.stop()
        assert listener.stop()
        source.shutdown()
    assert woken.score > config.wake.barge_in_threshold
    # Within one detection: heard as the wake word ends, not later.
    end_s = (start + wake_end) / RATE
    assert end_s - 0.5 < woken.t_s < end_s + 0.5
    assert first.interrupted and first.reply == TOKENS[0]
    # The turn went on, with the words after the wake word.
    assert not second.interrupted
    assert second.transcript == "what is the capital of france"
    assert second.reply == "".join(TOKENS)
