"""Home Assistant's own paths into the hub, replayed event for event.

The events are rebuilt from HA's source (``homeassistant/components/wyoming``):

- ``stt.py`` (the STT entity, and HA's REST ``POST /api/stt/<entity>``):
  ``transcribe`` (with the language), ``audio-start`` (16 kHz, 16-bit, mono),
  one ``audio-chunk`` per piece of the HTTP body as it arrives (so a chunk
  may end inside a sample), ``audio-stop``; then it reads until ``transcript``.
- ``conversation.py`` (HA 2024.9 and later): one connection per turn, one
  ``transcript`` whose ``context`` holds HA's ``conversation_id`` (a ULID it
  keeps for the conversation) and, from a satellite, ``device_id`` and
  ``satellite_id``, and ``language``; then it reads until ``handled`` (or
  ``not-handled``, ``error``), ignoring the rest.

Orchestration tests on fakes (the real skills); one ``slow`` test on Whisper.
"""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event

from assistant.bench.wer import wer
from assistant.hub.services import HubServices
from tests.support.fakes import FakeLanguageModel
from tests.support.hub import (
    WAIT_S,
    FakeRecordingSpeechToText,
    Peers,
    fake_services,
    lan_serve,
    running_hub,
    talk,
    texts,
    tone,
)

HA_ID = "01J8Y3W2Q5N7K9V0C1B2D3E4F5"
"""A conversation id as HA makes them (``ulid_now()``: 26 Crockford base-32 characters)."""
REPLY = "Paris is the capital."


def ha_rest_stt(audio: bytes, chunk_bytes: int, language: str = "en") -> list[Event]:
    """HA's speech-to-text request with the body cut into ``chunk_bytes`` pieces."""
    chunks = [
        AudioChunk(rate=16000, width=2, channels=1, audio=audio[i : i + chunk_bytes]).event()
        for i in range(0, len(audio), chunk_bytes)
    ]
    start = AudioStart(rate=16000, width=2, channels=1).event()
    return [Transcribe(language=language).event(), start, *chunks, AudioStop().event()]


def test_rest_stt_chunks_that_split_samples_reach_the_recognizer_whole():
    audio = tone(1.0, 16000).tobytes()  # 32000 bytes
    split, whole = FakeRecordingSpeechToText(), FakeRecordingSpeechToText()
    with running_hub(fake_services(stt=split)) as port:
        heard_split = talk(port, *ha_rest_stt(audio, 825), until="transcript")
    with running_hub(fake_services(stt=whole)) as port:
        heard_whole = talk(port, *ha_rest_stt(audio, 3200), until="transcript")
    assert split.heard == [audio] and whole.heard == [audio]
    assert texts(heard_split, "transcript") == texts(heard_whole, "transcript") == [split.text]
    assert "error" not in [e.type for e in heard_split]


def test_a_trailing_partial_sample_is_dropped_with_a_debug_line(caplog):
    audio = tone(0.5, 16000).tobytes()
    recognizer = FakeRecordingSpeechToText()
    debug = caplog.at_level(logging.DEBUG, logger="assistant.hub.listening")
    with debug, running_hub(fake_services(stt=recognizer)) as port:
        events = talk(port, *ha_rest_stt(audio + b"\x01", 825), until="transcript")
    assert recognizer.heard == [audio]
    assert texts(events, "transcript") == [recognizer.text]
    assert any("not a whole frame" in r.getMessage() for r in caplog.records)


def test_a_stereo_chunk_split_inside_a_frame_is_carried_over():
    stereo = np.stack([tone(0.3, 16000), -tone(0.3, 16000)], axis=1).astype("<i2")
    data = stereo.tobytes()
    start = AudioStart(rate=16000, width=2, channels=2).event()
    cuts = [0, 3, 1001, 1002, 4097, len(data)]  # inside a sample and inside a frame
    chunks = [
        AudioChunk(rate=16000, width=2, channels=2, audio=data[a:b]).event()
        for a, b in zip(cuts, cuts[1:], strict=False)
    ]
    recognizer = FakeRecordingSpeechToText()
    with running_hub(fake_services(stt=recognizer)) as port:
        talk(port, start, *chunks, AudioStop().event(), until="transcript")
    heard = np.frombuffer(recognizer.heard[0], np.int16)
    # Whole frames all along: the two channels, opposite, cancel out in the mix.
    assert len(heard) == len(stereo) and np.abs(heard).max() <= 1


# -- HA's conversation ids ----------------------------------------------------


def ha_turn(port: int, text: str, conversation_id: str) -> list[Event]:
    """One HA conversation turn: its own connection, HA's context, read to ``handled``."""
    context = {"conversation_id": conversation_id, "device_id": "d41d8cd98f00b204e9800998ecf8427e"}
    request = Transcript(text, context=context, language="en").event()
    return talk(port, request, until="handled")


def _hub() -> HubServices:
    return fake_services(llm=FakeLanguageModel(["Paris", " is", " the", " capital."]))


def test_say_that_again_under_has_id_repeats_the_last_reply():
    with running_hub(_hub()) as port:
        first = ha_turn(port, "what is the capital of france", HA_ID)
        again = ha_turn(port, "say that again", HA_ID)
    assert texts(first, "handled") == [REPLY]
    assert texts(again, "handled") == [REPLY]
    # The hub answers under HA's own id, so HA's next turn finds the memory.
    assert again[-1].data["context"]["conversation_id"] == HA_ID


def test_say_that_again_under_another_id_knows_nothing():
    with running_hub(_hub()) as port:
        ha_turn(port, "what is the capital of france", HA_ID)
        other = ha_turn(port, "say that again", "01J8Y3W2Q5N7K9V0C1B2D3E4F6")
    [reply] = texts(other, "handled")
    assert reply and reply != REPLY


def test_the_same_id_from_another_host_is_another_conversation(monkeypatch):
    peers = Peers(monkeypatch, "192.168.1.20")
    with running_hub(_hub(), lan_serve()) as port:
        ha_turn(port, "what is the capital of france", HA_ID)
        peers.host = "192.168.1.21"
        elsewhere = ha_turn(port, "say that again", HA_ID)
        peers.host = "::ffff:192.168.1.20"  # the first host, as IPv6 reports it
        home = ha_turn(port, "say that again", HA_ID)
    [reply] = texts(elsewhere, "handled")
    assert reply and reply != REPLY
    assert texts(home, "handled") == [REPLY]


@pytest.mark.parametrize("bad", ["has spaces", "x" * 65, "semi;colon", "", 42])
def test_a_malformed_id_is_a_debug_line_and_a_fresh_conversation(bad, caplog):
    with running_hub(_hub()) as port:
        ha_turn(port, "what is the capital of france", HA_ID)
        with caplog.at_level(logging.DEBUG, logger="assistant.hub.conversations"):
            events = talk(
                port,
                Event(
                    "transcript", {"text": "say that again", "context": {"conversation_id": bad}}
                ),
                until="handled",
            )
    [reply] = texts(events, "handled")
    assert reply and reply != REPLY
    made = events[-1].data["context"]["conversation_id"]
    assert made != bad and len(made) == 16  # one of the hub's own
    if bad != "":
        assert any("ignoring the conversation id" in r.getMessage() for r in caplog.records)


def test_the_hubs_own_ids_still_carry_the_conversation():
    with running_hub(_hub()) as port:
        first = talk(
            port, Event("transcript", {"text": "what is the capital of france"}), until="handled"
        )
        context = first[-1].data["context"]
        again = talk(
            port,
            Event("transcript", {"text": "say that again", "context": context}),
            until="handled",
        )
    assert texts(again, "handled") == [REPLY]


def test_ha_reads_past_the_streamed_events_to_handled():
    # HA's loop skips handled-start and handled-chunk and stops at handled.
    async def go(port: int) -> str:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            context = {"conversation_id": HA_ID}
            await client.write_event(
                Transcript("what is the capital of france", context=context).event()
            )
            while True:
                event = await asyncio.wait_for(client.read_event(), WAIT_S)
                assert event is not None and event.type not in ("error", "not-handled")
                if event.type == "handled":
                    return event.data["text"]

    with running_hub(_hub()) as port:
        assert asyncio.run(go(port)) == REPLY


# -- the real recognizer -----------------------------------------------------


@pytest.mark.slow
def test_real_whisper_hears_has_825_byte_chunks(models_dir, tmp_path):
    # The recognizer gets the same bytes either way (the fake tests above),
    # so one real pass shows the words survive the split.
    from assistant.compose.engines import build_stt
    from tests.support.hub import real_config
    from tests.support.models import require
    from tests.support.speech import espeak_wav, load_16k

    require(models_dir / "whisper-base" / "model.bin")
    audio = load_16k(espeak_wav("What is the capital of France?", "en-us", tmp_path / "q.wav"))
    data = audio.astype("<i2").tobytes() + b"\x00"  # and a partial sample at the end
    services = HubServices(stt=build_stt(real_config(models_dir)))
    with running_hub(services) as port:
        events = talk(port, *ha_rest_stt(data, 825), until="transcript")
        whole = talk(port, *ha_rest_stt(data[:-1], 3200), until="transcript")
    [text] = texts(events, "transcript")
    # The same words as the same audio in whole frames, and the words said.
    assert [text] == texts(whole, "transcript")
    assert wer("What is the capital of France?", text) <= 0.34, text
