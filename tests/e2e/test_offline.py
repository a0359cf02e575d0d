"""Offline at run time: `run`, `console`, `ask` and `listen` open no network socket.

Each test blocks IPv4/IPv6 socket creation, connection and name lookup in this
process (Unix sockets, e.g. systemd's notify socket, stay allowed), records
every attempt, and drives the real CLI entry point in-process with the real
models (so those tests are ``slow``). Only `assistant models fetch` may use
the network.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import signal
import socket
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.frontends.cli import main
from tests.support.alsa import MIC, SPEAKER, AlsaDevices, portaudio_env
from tests.support.answers import assert_plain_answer
from tests.support.models import require
from tests.support.speech import piper_wav
from tests.support.voice_turn import assert_heard

INET = (socket.AF_INET, socket.AF_INET6)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Make every network attempt in this process fail, and list them."""
    attempts: list[str] = []
    real_socket = socket.socket

    class GuardedSocket(real_socket):  # type: ignore[misc, valid-type]
        def __init__(self, family=-1, type=-1, proto=-1, fileno=None):  # noqa: A002
            inet = family in INET or (family == -1 and fileno is None)
            if inet:
                attempts.append(f"socket(family={family})")
                raise OSError(errno.ENETUNREACH, "network blocked by test_offline")
            super().__init__(family, type, proto, fileno)

    def create_connection(address, *args, **kwargs):
        attempts.append(f"create_connection({address!r})")
        raise OSError(errno.ENETUNREACH, "network blocked by test_offline")

    def getaddrinfo(host, *args, **kwargs):
        attempts.append(f"getaddrinfo({host!r})")
        raise socket.gaierror(socket.EAI_NONAME, "name lookup blocked by test_offline")

    monkeypatch.setattr(socket, "socket", GuardedSocket)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    yield attempts


def test_the_guard_blocks_inet_and_allows_unix(no_network: list[str]) -> None:
    with pytest.raises(OSError):
        urllib.request.urlopen("http://127.0.0.1:9/", timeout=1)
    assert no_network
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM):
        pass


@pytest.mark.slow
def test_ask_opens_no_socket_and_prints_the_documented_json(
    no_network: list[str], models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`assistant ask --json --wav` answers offline, and its output has the
    fields the README documents (one run, checked both ways)."""
    require(models_dir / "SmolLM2-135M-Instruct.Q4_1.gguf")
    wav = tmp_path / "reply.wav"
    question = "What is the capital of France?"  # answered in words: the anchor applies
    assert main(["ask", question, "--json", "--wav", str(wav)]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert no_network == []
    assert payload["question"] == question
    assert_plain_answer(payload["reply"])
    timings = payload["timings_ms"]
    assert set(timings) == {"llm_first_token", "llm_total", "tts_first_audio", "total"}
    assert 0 < timings["llm_first_token"] <= timings["llm_total"] <= timings["total"]
    assert timings["llm_first_token"] <= timings["tts_first_audio"] <= timings["total"]
    assert payload["tokens_per_s"] > 0
    assert payload["path"] == "llm"
    assert wav.stat().st_size > 44 + 22050  # more than half a second of audio


@pytest.mark.slow
def test_console_opens_no_socket(
    no_network: list[str],
    models_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    require(models_dir / "en_US-joe-medium.onnx")
    monkeypatch.setattr(sys, "stdin", io.StringIO("What is 2+2?\n/stats\n"))
    assert main(["console", "--speak", "--wav-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "assistant> " in out and "[1 turns" in out
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".wav"]
    assert no_network == []


@pytest.mark.slow
def test_listen_opens_no_socket(
    no_network: list[str], models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require(models_dir / "whisper-base" / "model.bin")
    said = "What is the capital of France?"
    question = piper_wav(said, models_dir, tmp_path / "question.wav")
    out = tmp_path / "reply.wav"
    argv = ["listen", "--wav", str(question), "--out", str(out), "--engine", "whisper", "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    # The recognizer and the model really ran, offline.
    assert_heard(said, result["transcript"])
    assert_plain_answer(result["reply"])
    assert out.stat().st_size > 44
    assert no_network == []


class _Ready(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "ready":
            self.event.set()


@pytest.mark.slow
def test_run_opens_no_socket(
    no_network: list[str], models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The appliance on fake ALSA devices: load and warm every engine, open the
    microphone and speaker, report ready, then stop on SIGTERM."""
    require(models_dir / "whisper-base" / "model.bin")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[audio]\ninput_device = "{MIC}"\noutput_device = "{SPEAKER}"\n'
        '[asr]\nengine = "whisper"\n[gpio]\nenabled = false\n',
        "utf-8",
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # the keyboard button: no presses
    ready = _Ready()
    appliance_log = logging.getLogger("assistant.appliance.run")  # logs "ready"
    appliance_log.addHandler(ready)

    def stop_when_ready() -> None:
        # SIGTERM only once run_appliance has installed its handler ("ready"
        # is logged after that), so the default action never kills pytest.
        if ready.event.wait(timeout=300):
            signal.raise_signal(signal.SIGTERM)

    stopper = threading.Thread(target=stop_when_ready, daemon=True)
    devices = AlsaDevices(tmp_path, None, tmp_path / "speaker.raw")
    try:
        with devices, portaudio_env(devices.env):
            stopper.start()
            code = main(["--config", str(config), "run", "--keyboard"])
    finally:
        appliance_log.removeHandler(ready)
    assert ready.event.is_set(), "the appliance never reported ready"
    assert code == 0
    assert no_network == []


# -- `assistant serve`: the one command that listens, only where it is told ---


@pytest.fixture
def socket_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, object]]]:
    """Record every bind, connect and name lookup of IPv4/IPv6 sockets."""
    calls: list[tuple[str, object]] = []
    real_socket, real_getaddrinfo = socket.socket, socket.getaddrinfo

    class RecordingSocket(real_socket):  # type: ignore[misc, valid-type]
        def bind(self, address):
            if self.family in INET:
                calls.append(("bind", address[:2]))
            return super().bind(address)

        def connect(self, address):
            if self.family in INET:
                calls.append(("connect", address[:2]))
            return super().connect(address)

        def connect_ex(self, address):
            if self.family in INET:
                calls.append(("connect", address[:2]))
            return super().connect_ex(address)

    def getaddrinfo(host, *args, **kwargs):
        calls.append(("getaddrinfo", host))
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "socket", RecordingSocket)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield calls


def test_serve_listens_only_where_it_is_told(socket_log: list[tuple[str, object]]) -> None:
    from wyoming.info import Describe

    from assistant.core.config import ServeConfig
    from tests.support.hub import fake_services, running_hub, talk

    with running_hub(fake_services(), ServeConfig(uri="tcp://127.0.0.1:0")) as port:
        [info] = talk(port, Describe().event())
    assert info.type == "info"
    binds = [address for call, address in socket_log if call == "bind"]
    assert binds == [("127.0.0.1", 0)], socket_log
    # Only the test's own client connected, to the hub; no lookup left the machine.
    assert {a for c, a in socket_log if c == "connect"} <= {("127.0.0.1", port)}
    assert {a for c, a in socket_log if c == "getaddrinfo"} <= {"127.0.0.1"}


def test_serve_refuses_a_lan_bind_before_opening_any_socket(
    no_network: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--uri", "tcp://0.0.0.0:10700"]) == 2
    assert "serve.allow is empty" in capsys.readouterr().err
    assert no_network == []


@pytest.mark.parametrize("command", ["listen", "ask"])
def test_a_satellite_talks_only_to_its_hub(
    no_network: list[str], command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With remote engines, the one address tried is the configured one (here
    a blocked loopback port): no name lookup, nothing else."""
    import numpy as np
    import soundfile

    wav = tmp_path / "q.wav"
    soundfile.write(wav, (3000 * np.sin(np.arange(8000) / 8)).astype(np.int16), 16000)
    question = ["listen", "--wav", str(wav)] if command == "listen" else ["ask", "Why?"]
    assert main([*question, "--hub", "tcp://127.0.0.1:10700"]) == 2
    assert "the hub at tcp://127.0.0.1:10700 is not answering" in capsys.readouterr().err
    assert no_network == ["create_connection(('127.0.0.1', 10700))"]
