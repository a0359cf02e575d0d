"""Reading Wyoming events from an untrusted client, with size caps.

A Wyoming event is one JSON header line, then ``data_length`` bytes of extra
JSON data, then ``payload_length`` bytes of payload (raw audio). The
`wyoming` library's reader trusts both lengths, so a client could make the
server buffer gigabytes; `read_event` checks them against the cap before
reading a byte of either. The field checks below turn a well-formed frame
with the wrong shape (a rate that is a string, text that is a list) into one
`FrameError` naming the problem. Pure asyncio, no engine: called on the
event-loop thread.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from wyoming.event import Event

HEADER_LIMIT = 64 * 1024
"""Longest header line, in bytes; the server's stream buffer limit. A real
header is about 150 bytes (data and payload follow it separately)."""
MAX_TEXT_CHARS = 4000
"""Longest text a client may send in one event (a question, a sentence to
speak); a page of prose, far more than a voice turn."""
MAX_RATE_HZ = 192_000
MAX_CHANNELS = 8


class FrameError(ValueError):
    """A client sent something that is not a valid Wyoming event; the
    message says what, and the connection is dropped."""


async def read_event(reader: asyncio.StreamReader, max_frame_bytes: int) -> Event | None:
    """The next event from ``reader``, or None at a clean end of stream.

    Raises `FrameError` for a header that is too long or not a JSON object,
    lengths that are not integers or exceed ``max_frame_bytes`` together, a
    missing or non-string ``type``, or extra data that is not a JSON object.
    A stream that ends inside a frame raises `asyncio.IncompleteReadError`.
    """
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise FrameError("the stream ended inside a header line") from None
    except asyncio.LimitOverrunError:
        raise FrameError(f"header line longer than {HEADER_LIMIT} bytes") from None
    header = _json_object(line, "header")
    kind = header.get("type")
    if not isinstance(kind, str) or not kind:
        raise FrameError("header has no 'type' string")
    data_length = _length(header, "data_length")
    payload_length = _length(header, "payload_length")
    if len(line) + data_length + payload_length > max_frame_bytes:
        raise FrameError(
            f"event {kind!r} is {len(line) + data_length + payload_length} bytes; "
            f"the limit is {max_frame_bytes} (serve.max_frame_bytes)"
        )
    data = header.get("data") or {}
    if not isinstance(data, dict):
        raise FrameError(f"event {kind!r}: 'data' is not a JSON object")
    if data_length:
        data = {**data, **_json_object(await reader.readexactly(data_length), "data")}
    payload = await reader.readexactly(payload_length) if payload_length else None
    return Event(type=kind, data=data, payload=payload)


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise FrameError(f"the {what} is not JSON") from None
    if not isinstance(value, dict):
        raise FrameError(f"the {what} is not a JSON object")
    return value


def _length(header: dict[str, Any], key: str) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FrameError(f"{key} = {value!r} is not a byte count")
    return value


def text_field(event: Event, key: str = "text", *, required: bool = True) -> str:
    """``event.data[key]`` as text of at most `MAX_TEXT_CHARS`; `FrameError` otherwise."""
    value = event.data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise FrameError(f"event {event.type!r}: {key!r} must be a string")
    if len(value) > MAX_TEXT_CHARS:
        raise FrameError(f"event {event.type!r}: {key!r} is over {MAX_TEXT_CHARS} characters")
    return value


def audio_format(event: Event) -> tuple[int, int, int]:
    """``(rate_hz, width_bytes, channels)`` of an audio event; `FrameError`
    when any is missing or out of range (width 1 to 4 bytes)."""
    limits = {"rate": (1000, MAX_RATE_HZ), "width": (1, 4), "channels": (1, MAX_CHANNELS)}
    values = []
    for key, (lo, hi) in limits.items():
        value = event.data.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise FrameError(
                f"event {event.type!r}: {key} = {value!r} is not allowed; expected {lo} to {hi}"
            )
        values.append(value)
    rate, width, channels = values
    return rate, width, channels
