"""A satellite: the same appliance with remote engines, through the real CLI.

The slow tests run real servers on free loopback ports (wyoming-faster-whisper,
wyoming-piper, ``python -m llama_cpp.server``) and one whole voice turn with
``assistant listen``. The others need no model: a hub that is down, the
``--hub`` flag, the local fallback's switch, and the Wyoming ``handle``
protocol against a loopback socket answering raw events.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
from wyoming.event import read_event, write_event
from wyoming.handle import Handled, HandledChunk, HandledStart, HandledStop

from assistant.bench.wer import wer
from assistant.compose.remote import FallbackLanguageModel, build_remote_llm, hub_overrides
from assistant.core.config import config_from_dict, load_config
from assistant.core.errors import LanguageModelError
from assistant.core.messages import Message
from assistant.core.uris import parse_address
from assistant.frontends.cli import main
from assistant.stages.audio.pcm import rms_dbfs
from assistant.stages.llm.base import GenerationStats
from assistant.stages.llm.wyoming import WyomingLanguageModel
from tests.support.engines import MAX_WER_ONE_SENTENCE
from tests.support.models import require
from tests.support.remote_servers import (
    Server,
    free_port,
    llama_server,
    piper_server,
    running,
    serve_once,
    whisper_server,
)
from tests.support.speech import piper_wav

QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module")
def servers(models_dir: Path) -> Iterator[dict[str, Server]]:
    require(models_dir / "whisper-base" / "model.bin")
    require(models_dir / "SmolLM2-135M-Instruct.Q4_1.gguf")
    with (
        whisper_server(models_dir) as asr,
        piper_server(models_dir) as tts,
        llama_server(models_dir) as llm,
    ):
        yield {"asr": asr, "tts": tts, "llm": llm}


def _write_config(path: Path, text: str) -> str:
    path.write_text(text + "\n[gpio]\nenabled = false\n[audio]\nearcons = false\n", "utf-8")
    return str(path)


@pytest.mark.slow
def test_listen_with_every_engine_remote(
    servers: dict[str, Server],
    models_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    question = piper_wav(QUESTION, models_dir, tmp_path / "q.wav")
    config = _write_config(
        tmp_path / "satellite.toml",
        f'[asr]\nengine = "wyoming"\nuri = "{servers["asr"].uri}"\n'
        f'[tts]\nengine = "wyoming"\nuri = "{servers["tts"].uri}"\n'
        f'[llm]\nbackend = "openai"\nurl = "{servers["llm"].url}"\n'
        "max_tokens = 40\ntemperature = 0.0\n",
    )
    out = tmp_path / "reply.wav"
    argv = ["--config", config, "listen", "--wav", str(question), "--out", str(out), "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    # Whisper's words change with the CPU: the transcript is held to a word
    # error bound of the question, never to one word.
    assert wer(QUESTION, result["transcript"]) <= MAX_WER_ONE_SENTENCE, result
    assert result["reply"].strip()
    reply, rate = soundfile.read(out, dtype="int16")
    assert rate == 22050 and len(reply) / rate > 0.5
    assert rms_dbfs(reply) > -40.0


@pytest.mark.slow
def test_fallback_answers_with_the_local_model_when_the_server_is_down(
    models_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    require(models_dir / "SmolLM2-135M-Instruct.Q4_1.gguf")
    from assistant.compose import build_llm

    url = f"http://127.0.0.1:{free_port()}"
    config = config_from_dict(
        {
            "paths": {"models_dir": str(models_dir)},
            "llm": {"backend": "openai", "url": url, "fallback": "local", "max_tokens": 20},
        }
    )
    llm = build_llm(config)
    try:
        with caplog.at_level(logging.WARNING):
            reply = "".join(llm.generate([Message("user", "Say hello.")]))
        assert reply.strip()
        assert f"the hub at {url} is not answering" in caplog.text
        assert "answering with the local model" in caplog.text
        assert llm.last_stats.generated_tokens > 0
    finally:
        llm.close()


@pytest.mark.slow
def test_listen_on_our_own_hub(models_dir: Path, tmp_path: Path, capsys) -> None:
    """``assistant listen --hub`` against a real ``assistant serve``."""
    require(models_dir / "whisper-base" / "model.bin")
    port = free_port()
    config = _write_config(tmp_path / "hub.toml", '[asr]\nengine = "whisper"\n')
    argv = [sys.executable, "-m", "assistant", "--config", config, "serve"]
    argv += ["--uri", f"tcp://127.0.0.1:{port}"]
    question = piper_wav(QUESTION, models_dir, tmp_path / "q.wav")
    out = tmp_path / "reply.wav"
    with running(argv, "serving Wyoming on", port) as hub:
        listen = ["listen", "--wav", str(question), "--out", str(out), "--json"]
        assert main([*listen, "--hub", hub.uri]) == 0
    result = json.loads(capsys.readouterr().out)
    # Whisper's words change with the CPU: the transcript is held to a word
    # error bound of the question, never to one word.
    assert wer(QUESTION, result["transcript"]) <= MAX_WER_ONE_SENTENCE, result
    assert result["engine"] == "wyoming" and result["reply"].strip()
    # The hub streams its answer and repeats it whole; it is spoken once.
    assert result["reply"].count(result["reply"][:12]) == 1
    reply, rate = soundfile.read(out, dtype="int16")
    assert rms_dbfs(reply) > -40.0


# No model below.


def _question_wav(path: Path) -> Path:
    tone = (3000 * np.sin(np.arange(16000) / 8)).astype(np.int16)
    soundfile.write(path, tone, 16000)
    return path


@pytest.mark.parametrize("command", ["listen", "ask", "console", "run"])
def test_a_hub_that_is_down_is_one_line_and_a_failure(
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = f"tcp://127.0.0.1:{free_port()}"
    monkeypatch.setattr(sys, "stdin", io.StringIO("What is 2+2?\n"))
    argv = {
        "listen": ["listen", "--wav", str(_question_wav(tmp_path / "q.wav"))],
        "ask": ["ask", "What time is it in Paris?", "--json"],
        "console": ["console", "--no-speak"],
        "run": ["run", "--keyboard"],
    }[command] + ["--hub", hub]
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"assistant: the hub at {hub} is not answering (connection refused)")
    assert "Traceback" not in captured.err and captured.out == ""


def test_a_bad_hub_address_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "hi", "--hub", "localhost:10700"]) == 2
    assert capsys.readouterr().err == (
        "assistant: --hub 'localhost:10700' is not usable: only tcp:// addresses work\n"
    )


def test_hub_points_every_remote_engine_at_one_server() -> None:
    config = load_config(None, hub_overrides("tcp://10.0.0.2:10700"))
    assert (config.asr.engine, config.tts.engine, config.llm.backend) == (
        "wyoming",
        "wyoming",
        "wyoming",
    )
    assert config.asr.uri == config.tts.uri == config.llm.url == "tcp://10.0.0.2:10700"


class _Broken:
    """A remote model that fails before its first piece, as a down server does."""

    name = "broken"
    last_stats = GenerationStats(stop="error")

    def generate(self, messages, cancel=None):
        raise LanguageModelError("the hub at tcp://h:1 is not answering (connection refused)")
        yield ""  # pragma: no cover - makes this a generator


class _Local:
    name = "local"
    last_stats = GenerationStats()

    def __init__(self) -> None:
        self.closed = False

    def generate(self, messages, cancel=None):
        self.last_stats = GenerationStats(generated_tokens=2, stop="end")
        yield from ["Hi", "!"]

    def close(self) -> None:
        self.closed = True


def test_fallback_builds_the_local_model_once_and_closes_it() -> None:
    built: list[_Local] = []

    def local() -> _Local:
        built.append(_Local())
        return built[-1]

    llm = FallbackLanguageModel(_Broken(), local)  # type: ignore[arg-type]
    assert list(llm.generate([Message("user", "hi")])) == ["Hi", "!"]
    assert list(llm.generate([Message("user", "hi")])) == ["Hi", "!"]
    assert len(built) == 1 and llm.last_stats.generated_tokens == 2
    llm.close()
    llm.close()
    assert built[0].closed


def test_the_hub_handle_streams_the_answer_and_carries_context() -> None:
    asked: list[dict] = []

    def hub(stream: io.BufferedRWPair) -> None:
        event = read_event(stream)
        asked.append(event.data)
        write_event(HandledStart(context={"conversation": "c1"}).event(), stream)
        for piece in ("Paris ", "is the capital."):
            write_event(HandledChunk(piece).event(), stream)
        # Repeated whole for clients that do not stream, as `assistant serve` does.
        write_event(Handled("Paris is the capital.").event(), stream)
        write_event(HandledStop().event(), stream)

    uri, thread = serve_once(hub)
    config = config_from_dict({"llm": {"backend": "wyoming", "url": uri}})
    llm = build_remote_llm(config, local=lambda: pytest.fail("not needed"))
    assert isinstance(llm, WyomingLanguageModel)
    history = [Message("system", "persona"), Message("user", "Capital of France?")]
    assert list(llm.generate(history)) == ["Paris ", "is the capital."]
    thread.join(5)
    assert asked == [{"text": "Capital of France?", "language": "en"}]
    assert llm.last_stats.stop == "end" and llm._context == {"conversation": "c1"}


def test_a_cancel_while_the_hub_thinks_returns_and_hangs_up() -> None:
    hung_up = threading.Event()

    def slow_hub(stream: io.BufferedRWPair) -> None:
        read_event(stream)
        if read_event(stream) is None:  # nothing more comes: the client closed
            hung_up.set()

    uri, thread = serve_once(slow_hub)
    llm = WyomingLanguageModel(parse_address(uri, ("tcp",)))
    cancel = threading.Event()
    pieces = llm.generate([Message("user", "Tell me a long story.")], cancel)
    cancel.set()
    assert list(pieces) == []
    assert hung_up.wait(5)
    thread.join(5)
    assert llm.last_stats.stop == "cancelled"


def test_tools_are_refused_through_a_hub() -> None:
    config = config_from_dict({"llm": {"backend": "wyoming", "url": "tcp://127.0.0.1:9"}})
    llm = build_remote_llm(config, local=lambda: pytest.fail("not needed"))
    with pytest.raises(LanguageModelError, match="cannot call the declared \\[tools\\]"):
        llm.generate_with_grammar([Message("user", "lamp on")], 'root ::= "on"')


def test_doctor_asks_each_remote_server_and_skips_their_local_models() -> None:
    from assistant.catalog.catalogue import load_catalog
    from assistant.frontends.checks import check_remote, configured_models

    with socket.socket() as up:
        up.bind(("127.0.0.1", 0))
        up.listen(1)
        asr = f"tcp://127.0.0.1:{up.getsockname()[1]}"
        down = f"http://127.0.0.1:{free_port()}"
        config = config_from_dict(
            {
                "asr": {"engine": "wyoming", "uri": asr},
                "llm": {"backend": "openai", "url": down},
                "tts": {"engine": "wyoming"},
            }
        )
        checks = {c.name: c for c in check_remote(config)}
    assert checks["speech recognizer"].status == "ok"
    assert checks["language model"].status == "fail"
    assert checks["language model"].detail == (
        f"the hub at {down} is not answering (connection refused)"
    )
    assert checks["voice"].status == "fail" and "tts.uri is not set" in checks["voice"].detail
    assert configured_models(config, load_catalog()) == []
