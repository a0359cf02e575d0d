"""Hands-free turns through the real controller, wake listener and energy
endpointer, on fakes (a microphone the test speaks into, a wake detector
that hears a marked block). The real detector and VAD are in tests/stages/wake
and tests/stages/vad; the whole file turn is at the end (slow)."""

from __future__ import annotations

import json
import logging
import threading

import numpy as np
import pytest

from assistant.compose.handsfree import build_wake_listener
from assistant.core.config import Config, TurnConfig, WakeConfig
from assistant.core.errors import ModelError
from assistant.core.events import (
    ButtonPressed,
    ButtonReleased,
    EndpointReached,
    EventBus,
    PartialTranscript,
    State,
    StateChanged,
    TurnFinished,
    TurnIgnored,
    WakeDetected,
)
from assistant.frontends.cli import main
from assistant.pipeline.controller import Controller
from assistant.pipeline.memory import Conversation
from assistant.pipeline.wake import HandsFree, WakeListener
from assistant.stages.asr.endpoint import SilenceEndpointer
from tests.support.fakes import (
    WAKE_MARK,
    FakeAudioSink,
    FakeAudioSource,
    FakeLanguageModel,
    FakeMicrophone,
    FakeSpeechToText,
    FakeTextToSpeech,
    FakeWakeDetector,
)
from tests.support.recorder import Recorder

TIMEOUT_S = 20.0
SILENCE_S = 0.3
"""The energy endpointer's trailing silence in the rig."""
TOKENS = ["Paris is the capital of France.", " It is a big city.", " It has a tower."]
_RNG = np.random.default_rng(7)


def wake_block() -> np.ndarray:
    block = np.zeros(480, np.int16)
    block[100] = WAKE_MARK
    return block


def speech(blocks: int) -> list[np.ndarray]:
    """A breath of silence (the endpointer's noise floor), then loud noise
    in 30 ms blocks: speech to the energy endpointer."""
    hush = [np.zeros(480, np.int16)] * 3
    return hush + [_RNG.normal(0, 3000, 480).astype(np.int16) for _ in range(blocks)]


class Rig:
    """A controller on a `WakeListener` that reads a `FakeMicrophone`."""

    def __init__(
        self,
        *,
        follow_up_s: float = 0.0,
        barge_in: float | None = None,
        score: float = 0.98,
        llm: FakeLanguageModel | None = None,
        mode: str = "hold",
        wake_wait_s: float = 5.0,
    ) -> None:
        self.bus = EventBus()
        self.rec = Recorder(self.bus)
        self.mic = FakeMicrophone()
        self.detector = FakeWakeDetector(score)
        self.stt = FakeSpeechToText()
        self.sink = FakeAudioSink()
        self.llm = llm or FakeLanguageModel(["Paris", " is", " the", " capital."])
        self.wake = WakeListener(
            self.mic, self.detector, self.bus, threshold=0.0, barge_in_threshold=barge_in
        )
        self.controller = Controller(
            stt=self.stt,
            llm=self.llm,
            tts=FakeTextToSpeech(),
            source=self.wake.tap,
            sink=self.sink,
            conversation=Conversation("You are a test.", max_turns=4),
            turn=TurnConfig(mode=mode, min_press_s=0.0),
            bus=self.bus,
            hands_free=HandsFree(
                lambda: SilenceEndpointer(SILENCE_S),
                follow_up_s=follow_up_s,
                wake_wait_s=wake_wait_s,
            ),
        )
        self.controller.start()
        self.wake.start(self.controller.submit)

    def stop(self) -> None:
        assert self.controller.stop()
        assert self.wake.stop()

    def finished(self) -> TurnFinished:
        return self.rec.wait_for(lambda e: isinstance(e, TurnFinished), TIMEOUT_S)


@pytest.fixture
def rigs():
    made: list[Rig] = []

    def make(**kwargs) -> Rig:
        made.append(Rig(**kwargs))
        return made[-1]

    yield make
    for rig in made:
        rig.stop()


def test_the_wake_word_starts_a_turn_and_the_words_after_it_are_kept(rigs):
    rig = rigs()
    # Said in one breath: the command is queued before the controller reacts.
    rig.mic.say(wake_block(), *speech(12))
    woken = rig.rec.wait_for(lambda e: isinstance(e, WakeDetected), TIMEOUT_S)
    assert woken.word == "hey_fake"
    finished = rig.finished()
    assert finished.transcript == "what is the capital of france"
    assert finished.reply == "Paris is the capital."
    assert rig.stt.transcribers[0].blocks >= 12  # nothing after the wake word was lost
    # The endpointer ended the turn, once, before its reply. (Its endpoint_ms
    # is wall time from the last voiced block, which a loaded machine can
    # stretch or squeeze: the listener may read queued blocks in a burst.)
    ends = [i for i, e in enumerate(rig.rec.events) if isinstance(e, EndpointReached)]
    assert len(ends) == 1
    assert ends[0] < rig.rec.events.index(finished)
    rig.rec.wait_state(State.IDLE)
    assert rig.detector.closed is False
    # Back in idle the detector listens again, from a clean state.
    rig.mic.say(wake_block())
    rig.rec.wait_for(lambda e: isinstance(e, WakeDetected), TIMEOUT_S)
    assert rig.detector.resets >= 1


def test_a_wake_word_with_nothing_after_it_returns_to_idle(rigs):
    rig = rigs(wake_wait_s=0.5)
    rig.mic.say(wake_block())
    ignored = rig.rec.wait_for(lambda e: isinstance(e, TurnIgnored), TIMEOUT_S)
    assert ignored.reason == "no-speech"
    rig.rec.wait_state(State.IDLE)
    assert not rig.llm.calls


def test_follow_up_listens_without_the_wake_word(rigs):
    rig = rigs(follow_up_s=3.0)
    rig.mic.say(wake_block(), *speech(10))
    rig.finished()
    rig.rec.wait_state(State.LISTENING)  # the follow-up, shown as listening
    # Its first partial shows it reads the microphone: speak now.
    rig.rec.wait_for(lambda e: isinstance(e, PartialTranscript), TIMEOUT_S)
    rig.mic.say(*speech(10))
    second = rig.finished()
    assert second.transcript == "what is the capital of france"
    assert len(rig.llm.calls) == 2
    assert sum(isinstance(e, WakeDetected) for e in rig.rec.events) == 1


def test_silence_in_the_follow_up_window_returns_to_idle(rigs):
    rig = rigs(follow_up_s=0.3)
    rig.mic.say(wake_block(), *speech(10))
    rig.finished()
    ignored = rig.rec.wait_for(lambda e: isinstance(e, TurnIgnored), TIMEOUT_S)
    assert ignored.reason == "no-speech"
    rig.rec.wait_state(State.IDLE)
    assert len(rig.llm.calls) == 1


def _speaking(rig: Rig, gate: threading.Semaphore) -> None:
    rig.mic.say(wake_block(), *speech(10))
    rig.rec.wait_state(State.THINKING)
    gate.release(2)
    rig.rec.wait_state(State.SPEAKING)


def test_barge_in_by_voice_stops_the_reply_like_the_button(rigs):
    gate = threading.Semaphore(0)
    rig = rigs(barge_in=0.99, score=0.995, llm=FakeLanguageModel(TOKENS, gate=gate))
    _speaking(rig, gate)
    rig.mic.say(wake_block(), *speech(10))
    first = rig.finished()
    assert first.interrupted
    assert first.reply == "Paris is the capital of France."
    assert rig.controller.conversation.messages()[-1].content == first.reply
    assert 0.99 in rig.detector.thresholds  # its own, stricter threshold
    gate.release(10)
    second = rig.finished()
    assert not second.interrupted


def test_barge_in_below_its_threshold_does_not_stop_the_reply(rigs):
    gate = threading.Semaphore(0)
    rig = rigs(barge_in=0.99, score=0.98, llm=FakeLanguageModel(TOKENS, gate=gate))
    _speaking(rig, gate)
    rig.mic.say(wake_block())
    assert rig.detector.marked.acquire(timeout=TIMEOUT_S)  # the first wake word
    assert rig.detector.marked.acquire(timeout=TIMEOUT_S)  # heard while it speaks
    gate.release(10)
    finished = rig.finished()
    assert not finished.interrupted
    assert sum(isinstance(e, WakeDetected) for e in rig.rec.events) == 1


def test_without_barge_in_the_detector_rests_while_it_speaks(rigs):
    gate = threading.Semaphore(0)
    rig = rigs(barge_in=None, llm=FakeLanguageModel(TOKENS, gate=gate))
    _speaking(rig, gate)
    assert rig.detector.marked.acquire(timeout=TIMEOUT_S)  # the first wake word
    rig.mic.say(wake_block(), *speech(3))
    for _ in range(20):  # the first turn's 14 blocks, the mark and those after it
        assert rig.mic.said.acquire(timeout=TIMEOUT_S)
    gate.release(10)
    assert not rig.finished().interrupted
    rig.rec.wait_state(State.IDLE)
    assert not rig.detector.marked.acquire(blocking=False)  # never fed while speaking
    assert sum(isinstance(e, WakeDetected) for e in rig.rec.events) == 1


def test_the_button_and_the_wake_word_at_once_make_one_turn(rigs):
    rig = rigs()
    rig.controller.submit(ButtonPressed())
    rig.mic.say(wake_block(), *speech(10))
    rig.rec.wait_state(State.LISTENING)
    rig.rec.wait_for(lambda e: isinstance(e, PartialTranscript), TIMEOUT_S)
    rig.controller.submit(ButtonReleased())
    rig.finished()
    rig.rec.wait_state(State.IDLE)
    assert rig.rec.states().count(State.LISTENING) == 1
    assert len(rig.llm.calls) == 1


def test_a_release_does_not_cut_a_turn_the_wake_word_started(rigs):
    rig = rigs()
    rig.mic.say(wake_block())
    rig.rec.wait_for(lambda e: isinstance(e, WakeDetected), TIMEOUT_S)
    rig.controller.submit(ButtonPressed())
    rig.controller.submit(ButtonReleased())  # ignored: it was not pressed to start
    rig.mic.say(*speech(10))
    finished = rig.finished()
    assert finished.transcript == "what is the capital of france"
    assert rig.stt.transcribers[0].blocks >= 10
    assert rig.rec.states().count(State.LISTENING) == 1


def test_the_button_still_works_with_the_wake_listener(rigs):
    rig = rigs()
    rig.controller.submit(ButtonPressed())
    rig.rec.wait_for(lambda e: isinstance(e, PartialTranscript), TIMEOUT_S)
    rig.controller.submit(ButtonReleased())
    assert rig.finished().reply == "Paris is the capital."
    assert not any(isinstance(e, WakeDetected) for e in rig.rec.events)


def test_a_missing_wake_model_is_one_line_and_the_button_keeps_working(monkeypatch, caplog):
    import assistant.compose.handsfree as handsfree

    def missing(config):
        raise ModelError("wake word: the pymicro-wakeword package is not installed; run ...")

    monkeypatch.setattr(handsfree, "build_detector", missing)
    config = Config(wake=WakeConfig(enabled=True))
    mic, bus = FakeAudioSource(), EventBus()
    with caplog.at_level(logging.ERROR):
        assert build_wake_listener(config, mic, bus) is None
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "pymicro-wakeword" in errors[0].getMessage()
    rec = Recorder(bus)
    controller = Controller(
        stt=FakeSpeechToText(),
        llm=FakeLanguageModel(["Yes."]),
        tts=FakeTextToSpeech(),
        source=mic,
        sink=FakeAudioSink(),
        conversation=Conversation("You are a test.", max_turns=4),
        turn=TurnConfig(min_press_s=0.0),
        bus=bus,
    )
    controller.start()
    try:
        controller.submit(ButtonPressed())
        rec.wait_state(State.LISTENING)
        controller.submit(ButtonReleased())
        assert rec.wait_for(lambda e: isinstance(e, TurnFinished), TIMEOUT_S).reply == "Yes."
    finally:
        assert controller.stop()


def test_an_unknown_wake_word_is_one_line_and_exit_2(tmp_path, capsys):
    import soundfile

    wav = tmp_path / "quiet.wav"
    soundfile.write(wav, np.zeros(16000, np.int16), 16000)
    config = tmp_path / "config.toml"
    config.write_text('[wake]\nwords = ["hey_bob"]\n')
    assert main(["--config", str(config), "wake", "--wav", str(wav)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "hey_bob" in err[0] and "hey_mycroft" in err[0]


def test_the_indicator_blinks_fast_after_a_wake_word(factory):
    from assistant.appliance.gpio import LedIndicator

    indicator = LedIndicator(Config().gpio, pin_factory=factory)
    try:
        indicator.on_event(WakeDetected("hey_fake", 0.99))
        indicator.on_event(StateChanged(State.IDLE, State.LISTENING))
        # Still blinking (gpiozero's background thread), not held solid.
        assert indicator._listening._blink_thread is not None
        indicator.on_event(StateChanged(State.LISTENING, State.THINKING))
        assert indicator._listening._blink_thread is None
    finally:
        indicator.close()


@pytest.mark.slow
def test_listen_wake_runs_a_whole_hands_free_turn_from_a_file(tmp_path, models_dir, capsys):
    import soundfile

    from tests.support.speech import load_16k, piper_wav
    from tests.support.voice_turn import assert_heard

    wake = load_16k(piper_wav("Hey Mycroft.", models_dir, tmp_path / "wake.wav"))
    ask = load_16k(piper_wav("What time is it?", models_dir, tmp_path / "ask.wav"))
    hush = np.zeros(16000, np.int16)
    # Words before the wake word are not heard.
    before = load_16k(piper_wav("Tell me a joke.", models_dir, tmp_path / "before.wav"))
    audio = np.concatenate([before, hush, wake, hush[:4000], ask, hush, hush])
    soundfile.write(tmp_path / "turn.wav", audio, 16000)
    argv = ["listen", "--wav", str(tmp_path / "turn.wav"), "--wake", "--realtime", "--json"]
    assert main([*argv, "--engine", "whisper", "--out", str(tmp_path / "reply.wav")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["wake_word"] == "hey_mycroft"
    assert 2.0 < result["wake_t_s"] < 4.5
    # The turn heard the question after the wake word, and nothing said before it.
    assert_heard("What time is it?", result["transcript"])
    assert "joke" not in result["transcript"].lower()
    assert result["reply"].strip()
    assert result["endpoint_ms"] is not None and result["endpoint_ms"] > 0


@pytest.mark.slow
def test_the_appliance_wakes_on_its_real_microphone(tmp_path, models_dir, whisper, llm, voice):
    """The real sounddevice -> PortAudio -> ALSA microphone (tests/support/alsa.py),
    the real detector, Silero VAD, Whisper, the LLM and piper."""
    from assistant.compose.handsfree import build_endpointer
    from assistant.core.config import AudioConfig
    from assistant.stages.audio.mic import SoundDeviceSource
    from assistant.stages.audio.pcm import resample
    from assistant.stages.audio.speaker import SoundDeviceSink
    from assistant.stages.wake.micro import MicroWakeWordDetector
    from tests.support.alsa import (
        MIC,
        NATIVE_RATE_HZ,
        SPEAKER,
        AlsaDevices,
        portaudio_env,
        write_raw,
    )
    from tests.support.answers import assert_plain_answer
    from tests.support.speech import load_16k, piper_wav
    from tests.support.voice_turn import assert_heard

    question = "What is the capital of France?"

    said = [
        load_16k(piper_wav(text, models_dir, tmp_path / f"{i}.wav"))
        for i, text in enumerate(["Tell me a joke.", "Hey Mycroft.", question])
    ]
    hush = np.zeros(8000, np.int16)
    audio = np.concatenate([hush, said[0], hush, hush, said[1], hush[:4800], said[2]])
    tail = np.zeros(40 * NATIVE_RATE_HZ, np.int16)
    raw = write_raw(
        tmp_path / "mic.raw", np.concatenate([resample(audio, 16000, NATIVE_RATE_HZ), tail])
    )
    devices = AlsaDevices(
        tmp_path, raw, tmp_path / "speaker.raw", rate_hz=NATIVE_RATE_HZ, playback_rate_hz=22050
    )
    llm.reset()
    bus = EventBus()
    rec = Recorder(bus)
    with devices, portaudio_env(devices.env):
        wake = WakeListener(
            SoundDeviceSource(AudioConfig(input_device=MIC)),
            MicroWakeWordDetector(["hey_mycroft"]),
            bus,
        )
        controller = Controller(
            stt=whisper,
            llm=llm,
            tts=voice,
            source=wake.tap,
            sink=SoundDeviceSink(AudioConfig(output_device=SPEAKER)),
            conversation=Conversation("Answer in one short sentence.", max_turns=4),
            turn=TurnConfig(silence_s=0.8),
            bus=bus,
            earcons=False,
            hands_free=HandsFree(build_endpointer(0.8)),
        )
        controller.start()
        wake.start(controller.submit)
        try:
            woken = rec.wait_for(lambda e: isinstance(e, WakeDetected), 60.0)
            finished = rec.wait_for(lambda e: isinstance(e, TurnFinished), 120.0)
            rec.wait_state(State.IDLE)
        finally:
            assert controller.stop()
            assert wake.stop()
    assert woken.word == "hey_mycroft"
    start_s = (8000 * 3 + len(said[0]) + len(said[1])) / 16000
    assert start_s - 0.5 < woken.t_s < start_s + 0.8
    # The turn heard the question after the wake word, and nothing said before it.
    assert_heard(question, finished.transcript)
    assert "joke" not in finished.transcript.lower()
    assert_plain_answer(finished.reply)
    assert rec.states() == [State.LISTENING, State.THINKING, State.SPEAKING, State.IDLE]
    assert any(isinstance(e, EndpointReached) for e in rec.events)
