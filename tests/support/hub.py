"""The hub harness the hub tests share: a hub on a loopback port in this
process (`running_hub`), fake or real services, and a client that talks to it."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event

from assistant.compose import Engines
from assistant.compose.hub import build_services
from assistant.core.config import Config, ServeConfig, config_from_dict
from assistant.frontends.serve import run_hub
from assistant.hub.services import HubServices
from tests.support.fakes import FakeLanguageModel, FakeSpeechToText, FakeTextToSpeech

WAIT_S = 30.0
"""Every read from the hub waits at most this long."""
LOOPBACK = "tcp://127.0.0.1:0"


@contextlib.contextmanager
def running_hub(services: HubServices, serve: ServeConfig | None = None) -> Iterator[int]:
    """Serve ``services`` on an ephemeral loopback port on a background
    event-loop thread; yields the port, stops the hub and joins the thread."""
    serve = serve or ServeConfig(uri=LOOPBACK)
    handoff: queue.Queue = queue.Queue()

    def main() -> None:
        async def go() -> None:
            stop = asyncio.Event()
            handoff.put((asyncio.get_running_loop(), stop))
            await run_hub(services, serve, stop=stop, on_ready=handoff.put)

        try:
            asyncio.run(go())
        except BaseException as exc:  # handed to the test thread
            handoff.put(exc)

    thread = threading.Thread(target=main, name="hub-loop", daemon=True)
    thread.start()
    loop, stop = handoff.get(timeout=WAIT_S)
    port = handoff.get(timeout=WAIT_S)
    if isinstance(port, BaseException):
        raise port
    try:
        yield port
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=WAIT_S)
        assert not thread.is_alive(), "the hub did not stop"
        services.close()


def fake_services(config: Config | None = None, **engines) -> HubServices:
    """The real hub services (real skills, per-connection memory) on fakes."""
    config = config or Config()
    defaults = {
        "stt": FakeSpeechToText("what is the capital of france"),
        "llm": FakeLanguageModel(["Paris", " is", " the", " capital."]),
        "tts": FakeTextToSpeech(),
    }
    defaults.update(engines)
    return build_services(config, Engines(**defaults))


def talk(port: int, *requests: Event, until: str | None = None) -> list[Event]:
    """Send ``requests`` on one connection and read the answers until an
    event of type ``until`` (or, without it, one event)."""

    async def go() -> list[Event]:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            for request in requests:
                await client.write_event(request)
            return await read_until(client, until)

    return asyncio.run(go())


async def read_until(
    client: AsyncTcpClient, until: str | None, timeout_s: float = WAIT_S
) -> list[Event]:
    events = []
    while True:
        event = await asyncio.wait_for(client.read_event(), timeout_s)
        assert event is not None, f"the hub closed the connection after {events}"
        events.append(event)
        if until is None or event.type == until:
            return events


def audio_events(samples: np.ndarray, rate: int, width: int = 2, channels: int = 1) -> list[Event]:
    """A transcribe request: ``samples`` (frames x channels, already in the
    wire's sample type) in 100 ms chunks."""
    data = samples.tobytes()
    step = rate // 10 * width * channels
    chunks = [
        AudioChunk(rate=rate, width=width, channels=channels, audio=data[i : i + step]).event()
        for i in range(0, len(data), step)
    ]
    start = AudioStart(rate=rate, width=width, channels=channels).event()
    return [Transcribe().event(), start, *chunks, AudioStop().event()]


def tone(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2")


def texts(events: list[Event], kind: str) -> list[str]:
    return [e.data.get("text", "") for e in events if e.type == kind]


def real_config(models_dir: Path, **llm) -> Config:
    return config_from_dict(
        {
            "paths": {"models_dir": str(models_dir)},
            "asr": {"engine": "whisper"},  # the only Vosk model here is Korean
            "llm": {"max_tokens": 40, "seed": 1, **llm},
        }
    )


def wav_events(path: Path) -> list[Event]:
    with wave.open(str(path), "rb") as wav:
        rate, width, channels = wav.getframerate(), wav.getsampwidth(), wav.getnchannels()
        frames = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, channels)
    return audio_events(frames, rate, width, channels)


class FakeRecordingSpeechToText:
    """A fake recognizer that keeps every sample it was given (16 kHz mono
    int16, as the hub hands them over) and answers ``text``."""

    name = "fake-recording"
    sample_rate_hz = 16000

    def __init__(self, text: str = "what is the capital of france") -> None:
        self.text = text
        self.heard: list[bytes] = []
        """The audio of each finished utterance, as bytes."""

    def start(self) -> _RecordingTranscriber:
        return _RecordingTranscriber(self)

    def warm_up(self) -> None:
        pass


class _RecordingTranscriber:
    def __init__(self, owner: FakeRecordingSpeechToText) -> None:
        self.owner = owner
        self.parts: list[bytes] = []

    def accept(self, samples: np.ndarray) -> None:
        assert samples.dtype == np.int16
        self.parts.append(samples.tobytes())

    def partial(self) -> str:
        return ""

    def endpoint(self) -> bool:
        return False

    def finish(self) -> str:
        self.owner.heard.append(b"".join(self.parts))
        return self.owner.text

    def close(self) -> None:
        pass


class Peers:
    """Stands in for the socket's peer address (`hub.server.peer_address`),
    so one test plays several hosts over loopback: every connection made
    while ``host`` is set appears to come from it."""

    def __init__(self, monkeypatch, host: str = "127.0.0.1") -> None:
        import assistant.hub.server as server

        self.host = host
        self._port = 40000

        def fake(writer: asyncio.StreamWriter) -> tuple[str, int]:
            self._port += 1
            return self.host, self._port

        monkeypatch.setattr(server, "peer_address", fake)


def lan_serve(**options) -> ServeConfig:
    """A loopback hub that also admits 192.168.1.0/24 (what `Peers` plays)."""
    return ServeConfig(uri=LOOPBACK, allow=["192.168.1.0/24"], **options)


def hub_address(port: int):
    """The hub on ``port`` as the satellites' clients take it."""
    from assistant.core.uris import parse_address

    return parse_address(f"tcp://127.0.0.1:{port}", ("tcp",))


class FakeHubOnlySkills:
    """The satellite's skills with no fast path (every question goes to the
    hub), ringing the real skills' timers: what the controller sees."""

    def __init__(self, skills) -> None:
        self.skills = skills

    def answer(self, transcript: str, last_reply: str, cancel=None) -> None:
        return None

    def due_alerts(self) -> list[str]:
        return self.skills.due_alerts()

    def close(self) -> None:
        self.skills.close()
