"""The connection to a remote engine on the LAN, shared by the remote backends.

A `Link` is one TCP connection (TLS for ``https``) with a short connect
timeout, a read timeout between bytes, and the caller's cancel event checked
every `POLL_S` while it waits: no call ever hangs on a silent or dead server.
`WyomingLink` frames Wyoming events on it (a JSON header line, then
``data_length`` bytes of JSON data, then ``payload_length`` bytes of payload,
as the ``wyoming`` package writes them).

Every failure to reach or hear the server raises the stage's own error,
built by the ``error`` callable the backend passes, with one line from
`not_answering`. A hub at capacity answers a new connection with one
``error`` event of code ``busy``: reading it raises `Busy`, and the backends
retry the whole request after a `retry.Backoff` wait (0.1 s doubling to 1 s),
for at most ``turn.reply_timeout_s``, so the turn is answered late, not lost.
Used by one worker thread at a time; the one who opened a link closes it
(``close`` is safe twice, and a ``with`` block closes it).
"""

from __future__ import annotations

import contextlib
import io
import json
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from assistant.core.uris import Address
from assistant.stages.retry import Busy, Cancelled

__all__ = ["Busy", "Cancelled", "Link", "WyomingLink", "describe", "not_answering"]

if TYPE_CHECKING:
    from wyoming.event import Event

CONNECT_TIMEOUT_S = 3.0
"""A server on the LAN accepts within milliseconds; longer means it is down."""
READ_TIMEOUT_S = 30.0
"""Longest silence from a connected server before the call fails."""
POLL_S = 0.05
"""How soon a set cancel event is noticed while waiting for the server."""
MAX_LINE_BYTES = 64 * 1024
MAX_FRAME_BYTES = 16 * 1024 * 1024
"""Larger headers or events are a broken server, not something to buffer."""


def not_answering(address: Address | str, why: str, fix: str) -> str:
    """The one line a remote failure is reported with; ``fix`` (if any) ends it."""
    return f"the hub at {address} is not answering ({why})" + (f"; {fix}" if fix else "")


def _reason(exc: OSError) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {getattr(exc, 'verify_message', None) or exc.reason or 'handshake'}"
    reason = exc.strerror or type(exc).__name__
    return reason[:1].lower() + reason[1:]


class Link:
    """One connection to ``address``, opened in the constructor.

    ``error(message)`` builds the exception raised when the server cannot be
    reached, stops answering or breaks the protocol; ``fix`` ends that
    message (which key to check). Reads raise `Cancelled` once ``cancel``
    is set.
    """

    def __init__(
        self,
        address: Address,
        *,
        error: Callable[[str], Exception],
        fix: str,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        read_timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self.address = address
        self.read_timeout_s = read_timeout_s
        self._error = error
        self._fix = fix
        self._buffer = bytearray()
        self._closed = False
        try:
            sock = socket.create_connection((address.host, address.port), connect_timeout_s)
        except OSError as exc:
            raise self.down(_reason(exc)) from None
        if address.scheme == "https":
            try:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=address.host)
            except OSError as exc:  # ssl.SSLError is one
                sock.close()
                raise self.down(_reason(exc)) from None
        sock.settimeout(POLL_S)
        self._sock = sock

    def down(self, why: str) -> Exception:
        """The stage's error for this server, saying ``why``."""
        return self._error(not_answering(self.address, why, self._fix))

    def send(self, data: bytes) -> None:
        """Send all of ``data``; fails after `read_timeout_s` of a full send buffer."""
        try:
            self._sock.settimeout(self.read_timeout_s)
            self._sock.sendall(data)
            self._sock.settimeout(POLL_S)
        except OSError as exc:
            raise self.down(_reason(exc)) from None

    def _fill(self, cancel: threading.Event | None) -> None:
        """Wait for more bytes (at most `read_timeout_s` of silence) and buffer them."""
        deadline = time.monotonic() + self.read_timeout_s
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise self.down(f"silent for {self.read_timeout_s:g} s") from None
                continue
            except OSError as exc:
                raise self.down(_reason(exc)) from None
            if not data:
                raise self.down("it closed the connection")
            self._buffer += data
            return

    def poll(self) -> None:
        """Buffer whatever has arrived, without waiting."""
        try:
            while select.select([self._sock], [], [], 0)[0]:
                data = self._sock.recv(65536)
                if not data:
                    raise self.down("it closed the connection")
                self._buffer += data
        except (OSError, ValueError) as exc:
            raise self.down(_reason(exc) if isinstance(exc, OSError) else "closed") from None

    def read_line(self, cancel: threading.Event | None = None) -> bytes:
        """The next line, without its line ending."""
        while (end := self._buffer.find(b"\n")) < 0:
            if len(self._buffer) > MAX_LINE_BYTES:
                raise self.down(f"it sent a line of over {MAX_LINE_BYTES} bytes")
            self._fill(cancel)
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line.rstrip(b"\r")

    def read_exact(self, size: int, cancel: threading.Event | None = None) -> bytes:
        """Exactly ``size`` bytes."""
        while len(self._buffer) < size:
            self._fill(cancel)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def close(self) -> None:
        """Close the connection, so the server sees the stream end; safe twice."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):  # the server went first
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class WyomingLink(Link):
    """A `Link` carrying Wyoming events (``wyoming`` package: the ``hub`` extra)."""

    def write(self, event: Event) -> None:
        from wyoming.event import write_event

        buffer = io.BytesIO()
        write_event(event, buffer)
        self.send(buffer.getvalue())

    def read(self, cancel: threading.Event | None = None) -> Event:
        """The next event; waits as `Link` does. `Busy` for a busy hub's refusal."""
        while (event := self._buffered_event()) is None:
            self._fill(cancel)
        return _unless_busy(event)

    def pending(self) -> Event | None:
        """The next event if it has fully arrived, else None; never waits."""
        try:
            self.poll()
        except Exception:
            # The hub may close right after its busy event: that event comes first.
            if (event := self._buffered_event()) is not None:
                return _unless_busy(event)
            raise
        event = self._buffered_event()
        return None if event is None else _unless_busy(event)

    def _buffered_event(self) -> Event | None:
        from wyoming.event import Event

        end = self._buffer.find(b"\n")
        if end < 0:
            if len(self._buffer) > MAX_LINE_BYTES:
                raise self.down(f"it sent a header of over {MAX_LINE_BYTES} bytes")
            return None
        try:
            header: dict[str, Any] = json.loads(self._buffer[:end])
            data_length = int(header.get("data_length") or 0)
            payload_length = int(header.get("payload_length") or 0)
            kind = str(header["type"])
        except (ValueError, KeyError, TypeError):
            raise self.down("it sent something that is not a Wyoming event") from None
        if not 0 <= data_length + payload_length <= MAX_FRAME_BYTES:
            raise self.down(f"it sent an event of over {MAX_FRAME_BYTES} bytes")
        start = end + 1
        if len(self._buffer) < start + data_length + payload_length:
            return None
        data = header.get("data") or {}
        try:
            if data_length:
                data.update(json.loads(self._buffer[start : start + data_length]))
        except (ValueError, AttributeError):
            raise self.down("it sent an event whose data is not JSON") from None
        payload = bytes(self._buffer[start + data_length : start + data_length + payload_length])
        del self._buffer[: start + data_length + payload_length]
        return Event(type=kind, data=data, payload=payload or None)


def _unless_busy(event: Event) -> Event:
    if event.type == "error" and event.data.get("code") == "busy":
        raise Busy(str(event.data.get("text") or "busy"))
    return event


def describe(link: WyomingLink, cancel: threading.Event | None = None) -> Any:
    """Ask the server what it offers: its ``wyoming.info.Info``."""
    from wyoming.info import Describe, Info

    link.write(Describe().event())
    while not Info.is_type((event := link.read(cancel)).type):
        pass  # a stray event from before: not the answer
    return Info.from_event(event)
