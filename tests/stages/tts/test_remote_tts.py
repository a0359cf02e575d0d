"""`[tts] engine = "wyoming"`: the voice on a Wyoming ``tts`` server.

The slow tests run the real wyoming-piper on the test voice on a free
loopback port (it describes streaming synthesis, so the streaming protocol is
the one used). The others need no model: loopback sockets that refuse or
answer with raw Wyoming events.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import read_event, write_event
from wyoming.info import Attribution, Info, TtsProgram

from assistant.compose.remote import build_wyoming_tts
from assistant.core.config import config_from_dict
from assistant.core.errors import TextToSpeechError
from assistant.stages.audio.pcm import rms_dbfs
from assistant.stages.tts.wyoming import OUTPUT_RATE_HZ, WyomingTextToSpeech
from tests.support.models import require
from tests.support.net import open_connections_to
from tests.support.remote_servers import Server, free_port, piper_server, serve_once


def _tts(uri: str) -> WyomingTextToSpeech:
    engine = build_wyoming_tts(config_from_dict({"tts": {"engine": "wyoming", "uri": uri}}))
    assert isinstance(engine, WyomingTextToSpeech)
    return engine


@pytest.fixture(scope="module")
def piper(models_dir: Path) -> Iterator[Server]:
    require(models_dir / "en_US-joe-medium.onnx")
    with piper_server(models_dir) as server:
        yield server


@pytest.mark.slow
def test_speech_arrives_in_chunks_as_it_is_made(piper: Server) -> None:
    tts = _tts(piper.uri)
    tts.warm_up()
    chunks = list(tts.synthesize("Hello there. The lamp is on now, and the door is shut."))
    assert len(chunks) > 2  # streamed, not one block at the end
    assert all(c.rate_hz == OUTPUT_RATE_HZ == tts.sample_rate_hz for c in chunks)
    audio = np.concatenate([c.samples for c in chunks])
    assert len(audio) / OUTPUT_RATE_HZ > 1.5
    assert rms_dbfs(audio) > -40.0
    assert tts._streaming is True  # wyoming-piper describes streaming synthesis


@pytest.mark.slow
def test_cancel_stops_the_stream_and_closes_the_connection(piper: Server) -> None:
    tts = _tts(piper.uri)
    cancel = threading.Event()
    long_text = "This is a long reply that goes on. " * 10
    chunks = tts.synthesize(long_text, cancel)
    assert next(chunks).samples.size
    cancel.set()
    assert list(chunks) == []
    assert open_connections_to(piper.port) == 0


@pytest.mark.slow
def test_volume_scales_the_remote_voice(piper: Server) -> None:
    tts = _tts(piper.uri)
    loud = np.concatenate([c.samples for c in tts.synthesize("Volume test.")])
    tts.set_volume(0.25)
    quiet = np.concatenate([c.samples for c in tts.synthesize("Volume test.")])
    assert rms_dbfs(quiet) < rms_dbfs(loud) - 6.0


# No model below.


def test_nobody_listening_is_one_line() -> None:
    uri = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(TextToSpeechError) as caught:
        list(_tts(uri).synthesize("Hello."))
    assert str(caught.value) == (
        f"the hub at {uri} is not answering (connection refused); "
        "start it, or fix tts.uri (or --hub)"
    )


def test_unspeakable_text_opens_no_connection() -> None:
    assert list(_tts(f"tcp://127.0.0.1:{free_port()}").synthesize("```\ncode\n```")) == []


def test_a_non_streaming_server_gets_one_synthesize_and_other_rates_are_resampled() -> None:
    got: list[str] = []

    def old_server(stream: io.BufferedRWPair) -> None:
        program = TtsProgram(
            name="old",
            description=None,
            attribution=Attribution("", ""),
            installed=True,
            version=None,
            voices=[],
        )
        while (event := read_event(stream)) is not None:
            got.append(event.type)
            if event.type == "describe":
                write_event(Info(tts=[program]).event(), stream)
            elif event.type == "synthesize":
                write_event(AudioStart(16000, 2, 1).event(), stream)
                tone = (8000 * np.sin(np.arange(1600) / 5)).astype("<i2").tobytes()
                write_event(AudioChunk(16000, 2, 1, tone).event(), stream)
                write_event(AudioStop().event(), stream)

    uri, thread = serve_once(old_server)
    chunks = list(_tts(uri).synthesize("Hello."))
    thread.join(5)
    assert got == ["describe", "synthesize"]
    assert chunks and all(c.rate_hz == OUTPUT_RATE_HZ for c in chunks)
    assert abs(sum(len(c.samples) for c in chunks) - 2205) <= 2  # 0.1 s at 22.05 kHz


def test_a_server_that_is_no_tts_is_one_line() -> None:
    def no_tts(stream: io.BufferedRWPair) -> None:
        read_event(stream)
        write_event(Info().event(), stream)

    uri, thread = serve_once(no_tts)
    with pytest.raises(TextToSpeechError, match="offers no speech synthesis; point tts.uri"):
        list(_tts(uri).synthesize("Hello."))
    thread.join(5)
