"""The hub under malformed traffic: hypothesis writes broken frames (wrong
and huge lengths, bad JSON, audio without ``audio-start``, unknown types,
random bytes) on fresh connections, while one well-behaved client keeps its
own connection and must get every answer, and the hub must stay up.

The hub serves fakes (tests/fakes.py) on loopback; every socket has a
timeout, and each bad connection ends when the hub drops it or when the
client half-closes, so each example is bounded.
"""

from __future__ import annotations

import json
import socket
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wyoming.event import Event, read_event, write_event
from wyoming.info import Describe
from wyoming.tts import Synthesize

from assistant.core.config import ServeConfig
from tests.support.hub import LOOPBACK, fake_services, running_hub

SOCKET_TIMEOUT_S = 20.0
MAX_FRAME = 64 * 1024
TYPES = [
    "describe",
    "transcribe",
    "audio-start",
    "audio-chunk",
    "audio-stop",
    "synthesize",
    "synthesize-start",
    "synthesize-chunk",
    "synthesize-stop",
    "transcript",
    "recognize",
    "ping",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
lengths = st.one_of(
    st.none(),
    st.integers(min_value=-5, max_value=300),
    st.sampled_from([2**31, 2**40, 10**30, MAX_FRAME, MAX_FRAME + 1]),
    st.text(max_size=4),
    st.booleans(),
)


@st.composite
def frames(draw) -> bytes:
    """One frame that breaks the protocol in some way, or plain garbage."""
    shape = draw(st.sampled_from(["header", "bytes", "bad-json", "audio-first", "long-line"]))
    if shape == "bytes":
        return draw(st.binary(max_size=512))
    if shape == "bad-json":
        return draw(st.sampled_from([b"{", b"[1, 2]\n", b"42\n", b'{"type": 1}\n', b"\xff\xfe\n"]))
    if shape == "long-line":
        return b'{"type": "describe", "x": "' + b"a" * 70_000 + b'"}\n'
    kind = draw(st.sampled_from(TYPES) | st.text(max_size=12))
    header: dict = {"type": kind}
    if draw(st.booleans()):
        header["data"] = draw(json_values)
    data = json.dumps(draw(json_values)).encode()
    payload = draw(st.binary(max_size=256))
    for key in ("data_length", "payload_length"):
        value = draw(lengths)
        if value is not None:
            header[key] = value
    body = json.dumps(header).encode() + b"\n" + data + payload
    if shape == "audio-first":
        chunk = {"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1}}
        chunk["payload_length"] = 4
        return json.dumps(chunk).encode() + b"\n\0\0\0\0" + body
    return body


def send_garbage(port: int, frame: bytes) -> None:
    """Write ``frame``, half-close, and read until the hub closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S) as sock:
        try:
            sock.sendall(frame)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        except ConnectionError:
            pass  # the hub dropped us mid-write: that is an allowed answer


class GoodClient:
    """A well-behaved client on one long-lived connection."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S)
        self.file = self.sock.makefile("rwb")

    def ask(self, request: Event, until: str) -> list[Event]:
        write_event(request, self.file)
        events = []
        while True:
            event = read_event(self.file)
            assert event is not None, "the good client was disconnected"
            events.append(event)
            if event.type == until:
                return events

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture(scope="module")
def hub_port():
    serve = ServeConfig(uri=LOOPBACK, max_frame_bytes=MAX_FRAME, max_clients=4)
    with running_hub(fake_services(), serve) as port:
        yield port


class Chatter:
    """A second good client that asks on its own thread, without pause, for
    as long as the fuzzing runs: its requests overlap the garbage."""

    def __init__(self, port: int) -> None:
        self.client = GoodClient(port)
        self.rounds = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chatter", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                audio = self.client.ask(Synthesize(text="In parallel.").event(), "audio-stop")
                assert any(e.payload for e in audio), audio
                self.rounds += 1
        except BaseException as exc:  # reported by the test thread
            self.error = exc

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=SOCKET_TIMEOUT_S)
        self.client.close()


@pytest.fixture(scope="module")
def good_client(hub_port):
    client = GoodClient(hub_port)
    yield client
    client.close()


@pytest.fixture(scope="module")
def chatter(hub_port):
    chatter = Chatter(hub_port)
    yield chatter
    chatter.stop()


@settings(max_examples=min(settings.default.max_examples, 150), deadline=None)
@given(frame=frames())
def test_garbage_never_disturbs_a_good_client(hub_port, good_client, chatter, frame):
    send_garbage(hub_port, frame)
    assert good_client.ask(Describe().event(), "info")[0].type == "info"
    audio = good_client.ask(Synthesize(text="Still here.").event(), "audio-stop")
    assert audio[0].type == "audio-start" and any(e.payload for e in audio)
    assert chatter.error is None, chatter.error


def test_the_hub_is_still_up_after_the_fuzzing(hub_port, chatter):
    fresh = GoodClient(hub_port)
    try:
        assert fresh.ask(Describe().event(), "info")[-1].type == "info"
    finally:
        fresh.close()
    chatter.stop()
    assert chatter.error is None, chatter.error
    assert chatter.rounds > 0
