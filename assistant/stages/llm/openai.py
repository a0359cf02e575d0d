"""`OpenAILanguageModel`: an OpenAI-compatible chat server on the LAN as the
language model (llama.cpp's llama-server, ``python -m llama_cpp.server``,
Ollama).

One ``POST /v1/chat/completions`` with ``"stream": true`` per reply, read as
server-sent events (``data: {json}`` lines, ending with ``data: [DONE]``)
over HTTP/1.1 on a `link.Link`, so a cancel is noticed within `link.POLL_S`
even while the server is still reading the prompt, and a silent or dead
server fails the turn with one line instead of hanging. Standard library
only. The server keeps no state between calls: every request carries the
whole conversation.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from typing import Any

from assistant.core.config import LlmConfig
from assistant.core.errors import LanguageModelError
from assistant.core.messages import Message
from assistant.core.uris import Address
from assistant.stages.link import Cancelled, Link
from assistant.stages.llm.base import GenerationStats

log = logging.getLogger(__name__)

_FIX = "start it, or fix llm.url"
_CHARS_PER_TOKEN = 3
"""A cautious guess for `fits`: the server's tokenizer is not at hand."""
MAX_ERROR_BYTES = 4096


class OpenAILanguageModel:
    """The chat model ``model`` at ``address``; see `base.LanguageModel`.

    ``api_key`` (may be empty) is sent as a bearer token and never logged.
    Every call opens its own connection and closes it when the reply ends,
    is cancelled, or the caller closes the iterator (which stops the
    server's generation). Nothing is held between calls, so `close` has
    nothing to free.
    """

    def __init__(
        self,
        config: LlmConfig,
        address: Address,
        model: str,
        api_key: str = "",
        **link_options: float,
    ) -> None:
        self.config = config
        self.address = address
        self.model = model
        self.name = f"{model} at {address}"
        self.last_stats = GenerationStats()
        self._api_key = api_key
        self._link_options = link_options
        base = address.path if address.path.endswith("/v1") else f"{address.path}/v1"
        self._path = f"{base}/chat/completions"

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAILanguageModel({self.name!r})"

    def generate(
        self, messages: Sequence[Message], cancel: threading.Event | None = None
    ) -> Generator[str, None, None]:
        """See `LanguageModel.generate`."""
        body = self._body(messages, self.config.max_tokens, self.config.temperature)
        return self._stream(body, cancel)

    def generate_with_grammar(
        self,
        messages: Sequence[Message],
        gbnf: str,
        cancel: threading.Event | None = None,
        *,
        max_tokens: int = 64,
    ) -> Generator[str, None, None]:
        """See `LanguageModel.generate_with_grammar`: the grammar goes in the
        request's ``grammar`` field, which llama.cpp's servers honour (a
        server that ignores it answers unconstrained)."""
        body = self._body(messages, max_tokens, 0.0)
        body["grammar"] = gbnf
        return self._stream(body, cancel)

    def prefill(self, messages: Sequence[Message], cancel: threading.Event | None = None) -> int:
        """See `LanguageModel.prefill`: the server's cache is its own; 0."""
        return 0

    def fits(self, messages: Sequence[Message]) -> bool:
        """An estimate: about `_CHARS_PER_TOKEN` characters a token, plus a full reply."""
        chars = sum(len(m.content) + 8 for m in messages)
        return chars // _CHARS_PER_TOKEN + self.config.max_tokens <= self.config.n_ctx

    def warm_up(self) -> None:
        """Check that the server answers: a one-token reply."""
        for _ in self._stream(self._body([Message("user", "Hi")], 1, 0.0), None):
            pass
        log.info("llm at %s answers", self.address)

    def close(self) -> None:
        """Nothing to free; safe to call twice."""

    def _body(self, messages: Sequence[Message], max_tokens: int, temperature: float) -> dict:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if self.config.seed >= 0:
            body["seed"] = self.config.seed
        return body

    def _request(self, body: dict) -> bytes:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        host = f"[{self.address.host}]" if ":" in self.address.host else self.address.host
        lines = [
            f"POST {self._path} HTTP/1.1",
            f"Host: {host}:{self.address.port}",
            "Content-Type: application/json",
            "Accept: text/event-stream",
            f"Content-Length: {len(data)}",
            "Connection: close",
        ]
        if self._api_key:
            lines.append(f"Authorization: Bearer {self._api_key}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data

    def _stream(self, body: dict, cancel: threading.Event | None) -> Generator[str, None, None]:
        started = time.monotonic()
        first_token_s, generated, stop, reason = 0.0, 0, "error", "end"
        try:
            with Link(
                self.address, error=LanguageModelError, fix=_FIX, **self._link_options
            ) as link:
                link.send(self._request(body))
                try:
                    for event in _events(link, self._response_body(link, cancel)):
                        if event.get("error"):
                            raise LanguageModelError(
                                f"the chat server at {self.address} failed: {_message(event)}"
                            )
                        choice = (event.get("choices") or [{}])[0]
                        piece = (choice.get("delta") or {}).get("content") or ""
                        if piece:
                            if not generated:
                                first_token_s = time.monotonic() - started
                            generated += 1
                            yield piece
                        if choice.get("finish_reason") == "length":
                            reason = "max_tokens"
                    stop = reason
                except Cancelled:
                    stop = "cancelled"
                except GeneratorExit:
                    stop = "closed"
                    raise
        finally:
            self.last_stats = GenerationStats(
                generated_tokens=generated,
                first_token_s=first_token_s,
                total_s=time.monotonic() - started,
                stop=stop,
            )
            log.debug("generation: %s", self.last_stats)

    def _response_body(self, link: Link, cancel: threading.Event | None) -> Iterator[bytes]:
        """The status and headers checked, then the body's bytes as they come."""
        status_line = link.read_line(cancel).decode("latin-1")
        headers: dict[str, str] = {}
        while line := link.read_line(cancel):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise link.down("it does not speak HTTP")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        body = _chunked(link, cancel) if chunked else _sized(link, headers, cancel)
        status = int(parts[1])
        if status != 200:
            try:
                text = b"".join(body)[:MAX_ERROR_BYTES].decode("utf-8", "replace")
            except LanguageModelError:
                text = ""  # the status says enough
            raise LanguageModelError(_status_line(self.address, status, text))
        return body


def _chunked(link: Link, cancel: threading.Event | None) -> Iterator[bytes]:
    """HTTP/1.1 chunked transfer coding."""
    while True:
        size_line = link.read_line(cancel).split(b";")[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise link.down("it sent a broken chunked body") from None
        if size == 0:
            return
        yield link.read_exact(size, cancel)
        link.read_line(cancel)


def _sized(link: Link, headers: dict[str, str], cancel: threading.Event | None) -> Iterator[bytes]:
    length = headers.get("content-length", "")
    if not length.isdigit():
        raise link.down("it sent a body of unknown length")
    if int(length):
        yield link.read_exact(min(int(length), MAX_ERROR_BYTES * 256), cancel)


def _events(link: Link, body: Iterator[bytes]) -> Iterator[dict]:
    """Server-sent events' ``data:`` payloads as JSON, until ``[DONE]`` or the body ends."""
    pending = b""
    for piece in body:
        pending += piece
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r")
            if not line.startswith(b"data:"):
                continue  # comments, event names, keep-alives, blank separators
            data = line[5:].strip()
            if data == b"[DONE]":
                return
            try:
                event = json.loads(data)
            except ValueError:
                raise link.down("it sent an event that is not JSON") from None
            if isinstance(event, dict):
                yield event


def _message(event: dict) -> str:
    error = event.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


def _status_line(address: Address, status: int, text: str) -> str:
    try:
        detail = _message(json.loads(text)) if text.strip().startswith("{") else text
    except ValueError:
        detail = text
    detail = " ".join(detail.split())[:200] or "no details"
    fix = {
        401: "check llm.api_key_file",
        403: "check llm.api_key_file",
        404: "check llm.url and llm.remote_model",
    }.get(status, "see the server's log")
    return f"the chat server at {address} answered HTTP {status} ({detail}); {fix}"
