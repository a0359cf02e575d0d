"""``assistant serve``: the hub, driven by the `wyoming` library's own client.

The hub runs in this process on an ephemeral loopback port, on its own
event-loop thread (`running_hub`); every test talks to it over TCP with
`wyoming.client.AsyncTcpClient`. Orchestration tests serve fakes
(tests/fakes.py) with the real skills; the ``slow`` tests serve the real
test models (Whisper base, SmolLM2, the piper voice).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.intent import Recognize
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from assistant.compose.hub import build_services, engines_config
from assistant.core.config import ServeConfig, config_from_dict
from assistant.core.errors import ConfigError, SpeechToTextError
from assistant.frontends.serve import check_serve_config
from assistant.hub.address import AllowList, parse_uri
from assistant.hub.lanes import EngineLane
from assistant.hub.listening import ClientAudio
from tests.support.fakes import FakeLanguageModel, FakeSpeechToText, FakeTextToSpeech
from tests.support.hub import (
    LOOPBACK,
    WAIT_S,
    audio_events,
    fake_services,
    read_until,
    real_config,
    running_hub,
    talk,
    texts,
    tone,
    wav_events,
)
from tests.support.models import require

# -- describe, asr, tts, handle, intent on fakes ---------------------------


def test_describe_lists_every_service_with_the_engines_names():
    with running_hub(fake_services()) as port:
        [event] = talk(port, Describe().event())
    info = Info.from_event(event)
    assert info.asr[0].models[0].name == "moonshine-base-en"
    assert info.asr[0].supports_transcript_streaming
    assert info.tts[0].voices[0].name == "fake-tts"
    assert info.tts[0].supports_synthesize_streaming
    assert info.handle[0].models[0].name == "fake-llm"
    assert info.handle[0].supports_handled_streaming
    assert info.intent[0].models[0].languages == ["en"]


def test_transcribe_accepts_any_format_and_streams_the_transcript():
    stereo = np.stack([tone(1.0, 44100)] * 2, axis=1)
    with running_hub(fake_services()) as port:
        events = talk(port, *audio_events(stereo, 44100, channels=2), until="transcript-stop")
    kinds = [e.type for e in events]
    assert kinds[0] == "transcript-start" and kinds[-2:] == ["transcript", "transcript-stop"]
    # The fake's partial grows one word per block: the chunks are the new words.
    assert "".join(texts(events, "transcript-chunk")).split() == [
        "what",
        "is",
        "the",
        "capital",
        "of",
        "france",
    ]
    assert texts(events, "transcript") == ["what is the capital of france"]


def test_a_chunk_far_bigger_than_a_header_line_is_read_whole():
    # 2 s of 48 kHz stereo in one chunk: 384 kB, above the 64 kB header limit
    # and below the default serve.max_frame_bytes (1 MiB).
    stereo = np.stack([tone(2.0, 48000)] * 2, axis=1)
    one_chunk = AudioChunk(rate=48000, width=2, channels=2, audio=stereo.tobytes()).event()
    start = AudioStart(rate=48000, width=2, channels=2).event()
    requests = [start, one_chunk, AudioStop().event()]
    with running_hub(fake_services()) as port:
        events = talk(port, *requests, until="transcript-stop")
    assert texts(events, "transcript") == ["what is the capital of france"]


@pytest.mark.parametrize(("width", "dtype"), [(1, "u1"), (2, "<i2"), (4, "<i4")])
def test_client_audio_becomes_16k_mono_int16(width, dtype):
    one_second = tone(1.0, 48000).astype(np.float64) / 32768
    if width == 1:
        wire = np.round(one_second * 127 + 128).astype(dtype)
    else:
        wire = np.round(one_second * (2 ** (8 * width - 1) - 1)).astype(dtype)
    audio = ClientAudio(48000, max_audio_s=60)
    data = np.stack([wire, wire], axis=1).tobytes()
    half = len(data) // 2 // (2 * width) * (2 * width)
    out = np.concatenate(
        [audio.convert(data[:half], 48000, width, 2), audio.convert(data[half:], 48000, width, 2)]
        + [audio.finish()]
    )
    assert out.dtype == np.int16 and abs(len(out) - 16000) <= 16
    assert 7000 < np.abs(out[1000:-1000]).max() < 8600  # the tone's level survived


def test_client_audio_stops_at_max_audio_s():
    audio = ClientAudio(16000, max_audio_s=1.0)
    kept = audio.convert(tone(3.0, 16000).tobytes(), 16000, 2, 1)
    assert len(kept) == 16000 and audio.truncated
    assert len(audio.convert(tone(1.0, 16000).tobytes(), 16000, 2, 1)) == 0


def test_synthesize_sends_the_voice_format_and_sound():
    with running_hub(fake_services()) as port:
        events = talk(port, Synthesize(text="Hello there, friend.").event(), until="audio-stop")
    start = events[0]
    assert start.type == "audio-start"
    assert (start.data["rate"], start.data["width"], start.data["channels"]) == (16000, 2, 1)
    audio = b"".join(e.payload or b"" for e in events if e.type == "audio-chunk")
    samples = np.frombuffer(audio, "<i2")
    assert len(samples) > 1000 and np.abs(samples).max() > 1000


def test_synthesize_speaks_a_short_first_piece_then_the_rest_in_one_stream():
    tts = FakeTextToSpeech()
    text = "How many legs does a spider have? Eight."
    with running_hub(fake_services(tts=tts)) as port:
        events = talk(port, Synthesize(text=text).event(), until="audio-stop")
    assert tts.sentences == ["How many legs", "does a spider have?", "Eight."]
    assert [e.type for e in events].count("audio-start") == 1


def test_streaming_synthesize_speaks_each_sentence_and_ignores_the_duplicate():
    tts = FakeTextToSpeech()
    requests = [
        SynthesizeStart().event(),
        SynthesizeChunk(text="The first sentence is here. The sec").event(),
        SynthesizeChunk(text="ond one ends now.").event(),
        # Streaming clients also send the whole text for old servers: ignored.
        Synthesize(text="The first sentence is here. The second one ends now.").event(),
        SynthesizeStop().event(),
    ]
    with running_hub(fake_services(tts=tts)) as port:
        events = talk(port, *requests, until="synthesize-stopped")
    assert [e.type for e in events].count("audio-start") == 2
    assert tts.sentences == ["The first sentence is here.", "The second one ends now."]


def test_handle_answers_the_time_without_the_llm():
    llm = FakeLanguageModel(["never"])
    with running_hub(fake_services(llm=llm)) as port:
        events = talk(port, Event("transcript", {"text": "what time is it"}), until="handled-stop")
    [reply] = texts(events, "handled")
    assert any(ch.isdigit() for ch in reply) and llm.calls == []
    assert [e.type for e in events][0] == "handled-start"


def test_handle_streams_the_llm_reply_with_memory_per_connection():
    llm = FakeLanguageModel(["Paris", " is", " the", " capital."])
    services = fake_services(llm=llm)

    async def two_turns(port: int, first: str, second: str) -> list[list[Event]]:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            answers = []
            for question in (first, second):
                await client.write_event(Event("transcript", {"text": question}))
                answers.append(await read_until(client, "handled-stop"))
            return answers

    with running_hub(services) as port:
        a1, _ = asyncio.run(two_turns(port, "tell me about france", "and its capital?"))
        asyncio.run(two_turns(port, "tell me about spain", "and its king?"))
    assert "".join(texts(a1, "handled-chunk")) == "Paris is the capital."
    assert texts(a1, "handled") == ["Paris is the capital."]
    second_turn = [m.content for m in llm.calls[1]]
    assert "tell me about france" in second_turn and "Paris is the capital." in second_turn
    other_connection = [m.content for m in llm.calls[3]]
    assert "tell me about france" not in other_connection
    assert "tell me about spain" in other_connection


def test_handle_context_carries_the_conversation_across_connections():
    llm = FakeLanguageModel(["Paris", " is", " the", " capital."])
    with running_hub(fake_services(llm=llm)) as port:
        first = talk(
            port, Event("transcript", {"text": "tell me about france"}), until="handled-stop"
        )
        context = first[-2].data["context"]  # the "handled" before "handled-stop"
        assert first[0].data["context"] == context  # handled-start has it too
        talk(
            port,
            Event("transcript", {"text": "its capital?", "context": context}),
            until="handled-stop",
        )
        made_up = {"conversation_id": "0123456789abcdef"}
        talk(
            port,
            Event("transcript", {"text": "who am I?", "context": made_up}),
            until="handled-stop",
        )
    assert "tell me about france" in [m.content for m in llm.calls[1]]
    assert "tell me about france" not in [m.content for m in llm.calls[2]]


def test_conversations_forget_the_least_recently_used():
    from assistant.hub.conversations import Conversations
    from assistant.hub.services import Session
    from assistant.pipeline.memory import Conversation
    from tests.support.fakes import FakeShortcuts

    made: list[FakeShortcuts] = []

    def new_session() -> Session:
        made.append(FakeShortcuts())
        return Session(Conversation("system", 4), made[-1])

    store = Conversations(new_session, limit=2)
    a, session_a = store.open(None)
    b, session_b = store.open(None)
    assert store.open(a) == (a, session_a)  # a is now the most recent
    store.open(None)  # a third: b goes
    assert len(store) == 2 and made[1].closed == 1 and made[0].closed == 0
    again, session = store.open(b)  # forgotten: a new, empty conversation under that id
    assert again == b and session is not session_b and len(made) == 4
    store.close()
    assert len(store) == 0 and all(s.closed == 1 for s in made)


def test_recognize_uses_the_fast_path_matcher():
    with running_hub(fake_services()) as port:
        [hit] = talk(port, Recognize(text="set a timer for five minutes").event())
        [miss] = talk(port, Recognize(text="why is the sky blue").event())
    assert hit.type == "intent" and hit.data["name"] == "timer.set"
    assert {"name": "seconds", "value": 300} in hit.data["entities"]
    assert miss.type == "not-recognized"


# -- failures, limits and the allow-list -------------------------------------


def test_an_engine_failure_is_an_error_event_and_the_connection_stays():
    stt = FakeSpeechToText(start_error=SpeechToTextError("the recognizer broke"))
    # The client streams on after the failed start: the rest of that
    # utterance is dropped quietly, and the connection still answers.
    requests = [*audio_events(tone(0.3, 16000), 16000), Describe().event()]
    with running_hub(fake_services(stt=stt)) as port:
        events = talk(port, *requests, until="info")
    assert [e.type for e in events] == ["transcript-start", "error", "info"]
    assert events[1].data == {"text": "the recognizer broke", "code": "asr"}


def test_audio_without_audio_start_gets_an_error_and_is_dropped():
    chunk = AudioChunk(rate=16000, width=2, channels=1, audio=b"\0\0" * 160).event()
    with running_hub(fake_services()) as port:

        async def go() -> tuple[Event, Event | None]:
            async with AsyncTcpClient("127.0.0.1", port) as client:
                await client.write_event(chunk)
                error = await asyncio.wait_for(client.read_event(), WAIT_S)
                return error, await asyncio.wait_for(client.read_event(), WAIT_S)

        error, after = asyncio.run(go())
        assert talk(port, Describe().event())[0].type == "info"
    assert error.type == "error" and error.data["code"] == "protocol"
    assert "without audio-start" in error.data["text"] and after is None


def test_a_frame_over_the_cap_is_refused_before_it_is_read():
    serve = ServeConfig(uri=LOOPBACK, max_frame_bytes=4096)
    big = AudioChunk(rate=16000, width=2, channels=1, audio=b"\0" * 8192).event()
    with running_hub(fake_services(), serve) as port:
        [error] = talk(port, Transcribe().event(), big)
        assert talk(port, Describe().event())[0].type == "info"
    assert error.data["code"] == "protocol" and "limit is 4096" in error.data["text"]


def test_clients_over_the_cap_are_told_the_hub_is_busy():
    serve = ServeConfig(uri=LOOPBACK, max_clients=2)
    with running_hub(fake_services(), serve) as port:

        async def go() -> tuple[Event, Event]:
            held = [AsyncTcpClient("127.0.0.1", port) for _ in range(2)]
            for client in held:
                await client.connect()
            for client in held:  # both are being served
                await client.write_event(Describe().event())
                assert (await asyncio.wait_for(client.read_event(), WAIT_S)).type == "info"
            async with AsyncTcpClient("127.0.0.1", port) as third:
                busy = await asyncio.wait_for(third.read_event(), WAIT_S)
            await held[0].disconnect()
            await held[1].disconnect()
            return busy, (await asyncio.wait_for(_describe(port), WAIT_S))

        busy, later = asyncio.run(go())
    assert busy.type == "error" and busy.data["code"] == "busy"
    assert later.type == "info"


async def _describe(port: int) -> Event:
    # The two held connections may still be closing: retry until served.
    while True:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Describe().event())
            event = await client.read_event()
        if event is not None and event.type == "info":
            return event


def test_an_idle_client_is_disconnected():
    serve = ServeConfig(uri=LOOPBACK, idle_timeout_s=1.0)
    with running_hub(fake_services(), serve) as port:

        async def go() -> tuple[Event | None, Event | None]:
            async with AsyncTcpClient("127.0.0.1", port) as client:
                told = await asyncio.wait_for(client.read_event(), WAIT_S)
                return told, await asyncio.wait_for(client.read_event(), WAIT_S)

        told, after = asyncio.run(go())  # closed by the hub, well before WAIT_S
        assert told is not None and told.type == "error" and told.data["code"] == "timeout"
        assert "reconnect" in told.data["text"] and after is None


def test_allow_list_lets_in_loopback_and_the_listed_subnets_only():
    allow = AllowList(["192.168.1.0/24", "fd00::/8"])
    assert allow.allows("127.0.0.1") and allow.allows("::1")
    assert allow.allows("192.168.1.77") and allow.allows("::ffff:192.168.1.5")
    assert allow.allows("fd00::12")
    assert not allow.allows("192.168.2.1") and not allow.allows("10.0.0.1")
    assert not allow.allows("not an address")
    with pytest.raises(ConfigError, match="'192.168.1/24' is not a subnet"):
        AllowList(["192.168.1/24"])


def test_a_peer_outside_the_allow_list_is_closed_without_a_word(monkeypatch):
    monkeypatch.setattr(AllowList, "allows", lambda self, peer: False)
    with running_hub(fake_services()) as port:
        heard = asyncio.run(_bytes_until_closed(port, b'{"type": "describe"}\n'))
    assert heard == b""


async def _bytes_until_closed(port: int, send: bytes) -> bytes:
    """What the hub sends back before it closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    heard = b""
    try:
        with contextlib.suppress(ConnectionError):
            writer.write(send)
            await writer.drain()
        while chunk := await asyncio.wait_for(reader.read(65536), WAIT_S):
            heard += chunk
    except ConnectionError:
        pass
    finally:
        writer.close()
    return heard


@pytest.mark.parametrize(
    ("uri", "allow", "message"),
    [
        ("http://127.0.0.1:10700", [], "not supported; use tcp://HOST:PORT"),
        ("tcp://127.0.0.1", [], "not supported"),
        ("tcp://hub.local:10700", [], "is not an IP address"),
        ("tcp://0.0.0.0:10700", [], "but serve.allow is empty"),
        ("tcp://192.168.1.2:10700", ["nonsense"], "'nonsense' is not a subnet"),
    ],
)
def test_bad_serve_settings_are_one_clear_error(uri, allow, message):
    with pytest.raises(ConfigError, match=message):
        check_serve_config(ServeConfig(uri=uri, allow=allow))


def test_zeroconf_is_off_by_default_and_refused_on_loopback():
    assert ServeConfig().zeroconf is False
    with pytest.raises(ConfigError, match="serve.zeroconf advertises the hub on the LAN"):
        check_serve_config(ServeConfig(zeroconf=True))
    lan = ServeConfig(uri="tcp://192.168.1.2:10700", allow=["192.168.1.0/24"], zeroconf=True)
    check_serve_config(lan)


def test_the_hub_gives_piper_every_core_unless_told(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert config_from_dict({}).tts.n_threads == 0  # the appliance leaves the LLM its cores
    assert engines_config(config_from_dict({})).tts.n_threads == 4
    pinned = config_from_dict({"tts": {"n_threads": 1}})
    assert engines_config(pinned).tts.n_threads == 1
    assert engines_config(pinned).llm == pinned.llm


def test_a_lan_bind_with_an_allow_list_is_accepted():
    check_serve_config(ServeConfig(uri="tcp://0.0.0.0:10700", allow=["192.168.1.0/24"]))
    assert parse_uri("tcp://[::1]:10700").loopback


def test_serve_config_section_is_typed():
    config = config_from_dict({"serve": {"max_clients": 4, "allow": ["10.0.0.0/8"]}})
    assert config.serve.max_clients == 4 and config.serve.allow == ["10.0.0.0/8"]
    with pytest.raises(ConfigError, match="serve.max_clients = 0 is not allowed"):
        config_from_dict({"serve": {"max_clients": 0}})


def test_cli_serve_refuses_a_lan_bind_without_an_allow_list_in_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "serve", "--uri", "tcp://0.0.0.0:10700"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "serve.allow is empty" in lines[0], result.stderr


def test_a_lane_runs_one_job_at_a_time_in_order():
    lane = EngineLane("test")
    active, peak, order = [0], [0], []
    guard = threading.Lock()

    def job(i: int) -> int:
        with guard:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        order.append(i)
        with guard:
            active[0] -= 1
        return i

    async def go() -> list[int]:
        return list(await asyncio.gather(*(lane.call(job, i) for i in range(20))))

    try:
        assert asyncio.run(go()) == list(range(20))
    finally:
        lane.close()
    assert peak == [1] and order == list(range(20))


# -- the real engines ----------------------------------------------------------


@pytest.fixture(scope="module")
def real_hub(models_dir: Path) -> Iterator[int]:
    """The hub on Whisper base, SmolLM2 and the piper voice, for the module."""
    from assistant.compose import build_engines

    require(models_dir / "whisper-base" / "model.bin")
    require(models_dir / "SmolLM2-135M-Instruct.Q4_1.gguf")
    config = real_config(models_dir)
    with build_engines(config) as engines, running_hub(build_services(config, engines)) as port:
        yield port


@pytest.mark.slow
def test_real_describe_names_the_installed_models(real_hub):
    info = Info.from_event(talk(real_hub, Describe().event())[0])
    assert info.asr[0].models[0].name == "whisper-base"
    assert info.tts[0].voices[0].name == "en_US-joe-medium"
    assert info.tts[0].voices[0].languages == ["en_US"]
    assert info.handle[0].models[0].name == "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.mark.slow
def test_real_transcribe_of_a_spoken_question(real_hub, models_dir, tmp_path):
    from assistant.bench.wer import wer
    from tests.support.engines import MAX_WER_ONE_SENTENCE
    from tests.support.speech import piper_wav

    said = "What is the capital of France?"
    question = piper_wav(said, models_dir, tmp_path / "q.wav")
    events = talk(real_hub, *wav_events(question), until="transcript-stop")
    [text] = texts(events, "transcript")
    # Whisper's words change with the CPU: a word error bound, never one word.
    assert wer(said, text) <= MAX_WER_ONE_SENTENCE, text
    assert "".join(texts(events, "transcript-chunk")).strip() == text


@pytest.mark.slow
def test_real_synthesize_is_the_voice_format_and_not_silent(real_hub):
    events = talk(real_hub, Synthesize(text="The kettle is on.").event(), until="audio-stop")
    start = events[0].data
    assert (start["rate"], start["width"], start["channels"]) == (22050, 2, 1)
    samples = np.frombuffer(b"".join(e.payload or b"" for e in events[1:-1]), "<i2")
    assert len(samples) > 22050 * 0.5  # half a second of speech at least
    rms = np.sqrt(np.mean(samples.astype(np.float64) ** 2))
    assert rms > 300, rms


@pytest.mark.slow
def test_real_handle_fast_path_and_llm(real_hub):
    events = talk(real_hub, Event("transcript", {"text": "what time is it"}), until="handled-stop")
    [clock] = texts(events, "handled")
    assert any(ch.isdigit() for ch in clock)
    events = talk(
        real_hub, Event("transcript", {"text": "Name a colour of the sky."}), until="handled-stop"
    )
    [reply] = texts(events, "handled")
    assert reply.strip() and "".join(texts(events, "handled-chunk")) == reply


def test_a_lane_stream_cancels_the_engine_when_the_client_is_gone():
    lane = EngineLane("test")
    seen: list[str] = []

    def work(emit, cancel: threading.Event) -> str:
        emit("first token")
        seen.append("cancelled" if cancel.wait(WAIT_S) else "never cancelled")
        return "done"

    async def consume(item: str) -> None:
        raise ConnectionResetError("the client went away")

    try:
        with pytest.raises(ConnectionResetError):
            asyncio.run(lane.stream(work, consume))
    finally:
        lane.close()
    assert seen == ["cancelled"]  # the engine was told, and the lane waited for it


def test_a_lane_stream_delivers_items_in_order_then_the_result():
    lane = EngineLane("test")
    got: list[int] = []

    async def consume(item: int) -> None:
        got.append(item)

    def work(emit, cancel) -> str:
        for i in range(50):
            emit(i)
        return "finished"

    try:
        assert asyncio.run(lane.stream(work, consume)) == "finished"
    finally:
        lane.close()
    assert got == list(range(50))


@pytest.mark.slow
def test_cli_serve_answers_and_stops_cleanly_on_sigterm(models_dir, tmp_path):
    import re
    import signal

    from tests.support.paths import child_env

    config = tmp_path / "config.toml"
    config.write_text(f'[paths]\nmodels_dir = "{models_dir}"\n[asr]\nengine = "whisper"\n')
    hub = subprocess.Popen(
        [sys.executable, "-m", "assistant", "--config", str(config), "serve", "--uri", LOOPBACK],
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(ASSISTANT_MODELS_DIR=str(models_dir)),
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in hub.stderr], daemon=True).start()
    try:
        while not (
            found := re.search(
                r"serving Wyoming on tcp://127\.0\.0\.1:(\d+)", lines.get(timeout=120)
            )
        ):
            pass
        [info] = talk(int(found.group(1)), Describe().event())
        assert Info.from_event(info).handle[0].models[0].name.startswith("SmolLM2")
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(timeout=60) == 0
    finally:
        if hub.poll() is None:
            hub.kill()
            hub.wait(timeout=30)


def test_the_hub_empties_piper_s_arena_after_every_run_unless_told():
    # The appliance keeps it (as fast as bare piper); under many clients the
    # hub's memory stays flatter emptying it (stages/tts/arena.py).
    assert config_from_dict({}).tts.arena == "auto"
    assert engines_config(config_from_dict({})).tts.arena == "per-run"
    kept = config_from_dict({"tts": {"arena": "kept"}})
    assert engines_config(kept).tts.arena == "kept"
    with pytest.raises(ConfigError, match="tts.arena = 'always' is not allowed"):
        config_from_dict({"tts": {"arena": "always"}})
