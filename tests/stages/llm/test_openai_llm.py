"""`[llm] backend = "openai"`: the OpenAI-compatible chat client.

The slow tests run the real ``python -m llama_cpp.server`` on the test model
on a free loopback port: a streamed answer, a cancel mid-stream (the
connection is closed), and the server killed mid-reply (one clear error, no
hang). The others need no model: a loopback socket that never answers, a
port nobody listens on, and raw HTTP answers for the error paths.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.compose.remote import build_remote_llm
from assistant.core.config import config_from_dict
from assistant.core.errors import ConfigError, LanguageModelError
from assistant.core.messages import Message
from assistant.core.uris import parse_address
from assistant.stages.llm.llama import LlamaLanguageModel
from assistant.stages.llm.openai import OpenAILanguageModel
from tests.support.answers import assert_plain_answer
from tests.support.models import require
from tests.support.net import open_connections_to
from tests.support.remote_servers import Server, free_port, llama_server

QUESTION = [Message("system", "You are a helpful assistant."), Message("user", "Count to twenty.")]


def _llm(url: str, **llm: object) -> OpenAILanguageModel:
    config = config_from_dict({"llm": {"backend": "openai", "url": url, **llm}})
    engine = build_remote_llm(config, local=lambda: pytest.fail("no local model here"))
    assert isinstance(engine, OpenAILanguageModel)
    return engine


@pytest.fixture(scope="module")
def chat_server(models_dir: Path) -> Iterator[Server]:
    require(models_dir / "SmolLM2-135M-Instruct.Q4_1.gguf")
    with llama_server(models_dir) as server:
        yield server


@pytest.mark.slow
def test_streams_the_answer_piece_by_piece(chat_server: Server, small: LlamaLanguageModel) -> None:
    """The server's streamed answer, read piece by piece from its events, is
    the answer the same model gives in this process: the same file, chat
    template and sampling (llama-cpp-python's server defaults are the llama
    backend's), greedy, and the same reply budget."""
    budget = small.config.max_tokens
    llm = _llm(chat_server.url, temperature=0.0, seed=1, max_tokens=budget)
    llm.warm_up()
    question = [Message("user", "What is the capital of France?")]
    pieces = list(llm.generate(question))
    reply = "".join(pieces)
    assert len(pieces) > 2, pieces
    assert_plain_answer(reply)
    assert llm.last_stats.stop in ("end", "max_tokens")
    assert llm.last_stats.generated_tokens == len(pieces)
    assert open_connections_to(chat_server.port) == 0
    assert reply == "".join(small.generate(question))
    assert llm.last_stats.stop == small.last_stats.stop


@pytest.mark.slow
def test_cancel_mid_stream_closes_the_connection(chat_server: Server) -> None:
    llm = _llm(chat_server.url, max_tokens=200)
    cancel = threading.Event()
    pieces = llm.generate(QUESTION, cancel)
    first = next(pieces)
    assert first
    assert open_connections_to(chat_server.port) == 1  # streaming
    cancel.set()
    rest = list(pieces)
    assert len(rest) <= 1  # at most a piece already read when the cancel came
    assert llm.last_stats.stop == "cancelled"
    assert open_connections_to(chat_server.port) == 0


@pytest.mark.slow
def test_closing_the_iterator_closes_the_connection(chat_server: Server) -> None:
    llm = _llm(chat_server.url, max_tokens=200)
    pieces = llm.generate(QUESTION)
    next(pieces)
    pieces.close()
    assert llm.last_stats.stop == "closed"
    assert open_connections_to(chat_server.port) == 0


@pytest.mark.slow
def test_a_server_killed_mid_reply_is_one_clear_error(models_dir: Path) -> None:
    require(models_dir / "SmolLM2-135M-Instruct.Q4_1.gguf")
    with llama_server(models_dir) as server:
        llm = _llm(server.url, max_tokens=200)
        pieces = llm.generate(QUESTION)
        assert next(pieces)
        server.kill()
        with pytest.raises(LanguageModelError) as caught:
            for _ in pieces:
                pass
    message = str(caught.value)
    assert f"the hub at {server.url}" in message and "is not answering" in message
    assert "\n" not in message
    assert llm.last_stats.stop == "error"


# No model below: loopback sockets that say nothing, or raw HTTP.


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        yield server


def test_a_silent_server_times_out_with_one_line(listener: socket.socket) -> None:
    address = parse_address(f"http://127.0.0.1:{listener.getsockname()[1]}", ("http",))
    config = config_from_dict({"llm": {"backend": "openai"}}).llm
    llm = OpenAILanguageModel(config, address, "m", read_timeout_s=0.3)
    with pytest.raises(LanguageModelError, match=r"is not answering \(silent for 0.3 s\)"):
        list(llm.generate(QUESTION))


def test_a_cancel_while_the_server_is_silent_returns_at_once(listener: socket.socket) -> None:
    address = parse_address(f"http://127.0.0.1:{listener.getsockname()[1]}", ("http",))
    config = config_from_dict({"llm": {"backend": "openai"}}).llm
    llm = OpenAILanguageModel(config, address, "m", read_timeout_s=60.0)
    cancel = threading.Event()
    cancel.set()
    assert list(llm.generate(QUESTION, cancel)) == []
    assert llm.last_stats.stop == "cancelled"


def test_nobody_listening_is_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(LanguageModelError) as caught:
        list(_llm(url).generate(QUESTION))
    assert str(caught.value) == (
        f"the hub at {url} is not answering (connection refused); start it, or fix llm.url"
    )


def _answer_once(listener: socket.socket, response: bytes, seen: list[bytes]) -> threading.Thread:
    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(65536)
            seen.append(request)
            conn.sendall(response)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_a_refused_key_names_the_key_file(
    listener: socket.socket, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("sk-secret-123\n")
    body = b'{"error": {"message": "Invalid API key"}}'
    response = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    seen: list[bytes] = []
    thread = _answer_once(listener, response, seen)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    caplog.set_level(logging.DEBUG)
    llm = _llm(url, api_key_file=str(key_file), remote_model="qwen")
    with pytest.raises(LanguageModelError) as caught:
        list(llm.generate(QUESTION))
    thread.join(5)
    assert "answered HTTP 401 (Invalid API key); check llm.api_key_file" in str(caught.value)
    assert b"Authorization: Bearer sk-secret-123\r\n" in seen[0]
    assert b'"model": "qwen"' in seen[0]
    assert "sk-secret" not in caplog.text + repr(llm) + str(caught.value)


def test_sse_over_chunked_http_is_read_piece_by_piece(listener: socket.socket) -> None:
    events = [
        b'data: {"choices": [{"delta": {"content": "Hel"}}]}\n\n',
        b": keep-alive\n\n",
        b'data: {"choices": [{"delta": {"content": "lo"}, "finish_reason": "stop"}]}\n\n',
        b"data: [DONE]\n\n",
    ]
    # One event split across two chunks, as a proxy may send it.
    stream = b"".join(events)
    chunks = [stream[:20], stream[20:]]
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
    seen: list[bytes] = []
    thread = _answer_once(listener, head + b"\r\n" + body, seen)
    llm = _llm(f"http://127.0.0.1:{listener.getsockname()[1]}/v1")
    assert list(llm.generate(QUESTION)) == ["Hel", "lo"]
    thread.join(5)
    assert seen[0].startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert llm.last_stats.stop == "end"


@pytest.mark.parametrize(
    ("llm", "message"),
    [
        ({"backend": "openai"}, "llm.backend = 'openai' needs llm.url = \"http://HOST:PORT\""),
        ({"backend": "openai", "url": "tcp://h:1"}, "only http://, https:// addresses work"),
        ({"backend": "wyoming", "url": "http://h:1"}, "only tcp:// addresses work"),
        ({"backend": "openai", "url": "http://h:1", "api_key_file": "/nonexistent/key"}, "no such"),
    ],
)
def test_bad_remote_settings_are_one_line(llm: dict, message: str) -> None:
    config = config_from_dict({"llm": llm})
    with pytest.raises(ConfigError) as caught:
        build_remote_llm(config, local=lambda: pytest.fail("not needed"))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_bad_url_is_refused_when_the_config_loads() -> None:
    with pytest.raises(ConfigError, match=r"llm.url = 'http://h:99999' is not allowed"):
        config_from_dict({"llm": {"backend": "openai", "url": "http://h:99999"}})
