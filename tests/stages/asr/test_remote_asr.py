"""`[asr] engine = "wyoming"`: the recognizer on a Wyoming ``asr`` server.

The slow tests run the real wyoming-faster-whisper on the test Whisper model
on a free loopback port, and stream real speech to it block by block as a
held button would. The others need no model: loopback sockets that refuse,
hang up, or answer with raw Wyoming events.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from wyoming.asr import Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.event import Event, read_event, write_event

from assistant.bench.wer import wer
from assistant.compose.remote import build_wyoming_stt
from assistant.core.config import config_from_dict
from assistant.core.errors import ConfigError, SpeechToTextError
from assistant.stages.asr.wyoming import WyomingSpeechToText
from assistant.stages.audio.pcm import ASR_RATE_HZ
from tests.support.engines import MAX_WER_ONE_SENTENCE
from tests.support.models import require
from tests.support.remote_servers import Server, free_port, serve_once, whisper_server
from tests.support.speech import load_16k, piper_wav

BLOCK = ASR_RATE_HZ * 30 // 1000


def _stt(uri: str) -> WyomingSpeechToText:
    engine = build_wyoming_stt(config_from_dict({"asr": {"engine": "wyoming", "uri": uri}}))
    assert isinstance(engine, WyomingSpeechToText)
    return engine


def _speak(stt: WyomingSpeechToText, samples: np.ndarray, block: int = BLOCK) -> str:
    transcriber = stt.start()
    for start in range(0, len(samples), block):
        transcriber.accept(samples[start : start + block])
    return transcriber.finish()


@pytest.fixture(scope="module")
def whisper(models_dir: Path) -> Iterator[Server]:
    require(models_dir / "whisper-base" / "model.bin")
    with whisper_server(models_dir) as server:
        yield server


@pytest.mark.slow
def test_streamed_speech_is_transcribed(whisper: Server, models_dir: Path, tmp_path: Path) -> None:
    said = "What is two plus two?"
    question = load_16k(piper_wav(said, models_dir, tmp_path / "q.wav"))
    stt = _stt(whisper.uri)
    stt.warm_up()
    text = _speak(stt, question)
    # The server hears every block once, in order: the same words as the
    # whole clip sent as one chunk, and those are the question's.
    assert text == _speak(stt, question, block=len(question))
    assert wer(said, text) <= MAX_WER_ONE_SENTENCE, text


@pytest.mark.slow
def test_an_abandoned_utterance_does_not_block_the_next(
    whisper: Server, models_dir: Path, tmp_path: Path
) -> None:
    stt = _stt(whisper.uri)
    abandoned = stt.start()  # a cancelled turn never calls finish()
    abandoned.accept(np.zeros(BLOCK, np.int16))
    said = "Turn on the lamp."
    question = load_16k(piper_wav(said, models_dir, tmp_path / "q.wav"))
    assert wer(said, _speak(stt, question)) <= MAX_WER_ONE_SENTENCE


# No model below.


def test_nobody_listening_is_one_line() -> None:
    uri = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(SpeechToTextError) as caught:
        _stt(uri).start()
    assert str(caught.value) == (
        f"the hub at {uri} is not answering (connection refused); "
        "start it, or fix asr.uri (or --hub)"
    )


def test_a_server_that_hangs_up_mid_utterance_is_one_line() -> None:
    def hang_up(stream: io.BufferedRWPair) -> None:
        read_event(stream)  # transcribe, then gone

    uri, thread = serve_once(hang_up)
    transcriber = _stt(uri).start()
    thread.join(5)
    with pytest.raises(SpeechToTextError, match=r"is not answering \(.*\); start it"):
        for _ in range(200):  # the send buffer fills or the reset arrives
            transcriber.accept(np.zeros(BLOCK, np.int16))
        transcriber.finish()


def test_streamed_transcript_chunks_are_partials() -> None:
    got: list[str] = []

    def stream_words(stream: io.BufferedRWPair) -> None:
        while (event := read_event(stream)) is not None and event.type != "audio-chunk":
            got.append(event.type)
        for event in (TranscriptStart(), TranscriptChunk("hello "), TranscriptChunk("there")):
            write_event(event.event(), stream)
        while (event := read_event(stream)) is not None and event.type != "audio-stop":
            pass
        write_event(TranscriptStop().event(), stream)
        write_event(Transcript("hello there").event(), stream)

    uri, thread = serve_once(stream_words)
    transcriber = _stt(uri).start()
    partial = ""
    for _ in range(500):  # until the chunks arrive: each accept picks up what came
        transcriber.accept(np.zeros(BLOCK, np.int16))
        if (partial := transcriber.partial()) == "hello there":
            break
    assert partial == "hello there"
    assert transcriber.finish() == "hello there"
    thread.join(5)
    assert got == ["transcribe", "audio-start"]


def test_a_server_error_event_is_one_line() -> None:
    def refuse(stream: io.BufferedRWPair) -> None:
        while (event := read_event(stream)) is not None and event.type != "audio-stop":
            pass
        write_event(Event("error", {"text": "model not loaded"}), stream)

    uri, thread = serve_once(refuse)
    transcriber = _stt(uri).start()
    transcriber.accept(np.zeros(BLOCK, np.int16))
    with pytest.raises(SpeechToTextError, match=f"the asr server at {uri} failed: model not"):
        transcriber.finish()
    thread.join(5)


@pytest.mark.parametrize(
    ("asr", "message"),
    [
        ({"engine": "wyoming"}, "asr.engine = 'wyoming' needs asr.uri = \"tcp://HOST:PORT\""),
    ],
)
def test_bad_settings_are_one_line(asr: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_wyoming_stt(config_from_dict({"asr": asr}))


def test_a_bad_uri_is_refused_when_the_config_loads() -> None:
    with pytest.raises(ConfigError, match=r"asr.uri = 'tcp://hub' is not allowed.*no port"):
        config_from_dict({"asr": {"engine": "wyoming", "uri": "tcp://hub"}})
