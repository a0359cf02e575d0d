"""The hub's TCP server: who may connect, how many, and for how long.

`HubServer` accepts connections on one address (``serve.uri``). At accept,
a peer outside the allow-list is closed without a word. An allowed peer
beyond ``serve.max_clients``, or a LAN host already holding half of them
(`admission`), gets one ``error`` event (code ``busy``) whose text says what
to do; the hub then stops writing but reads (and drops) what the peer had
already sent for up to `LINGER_S`, so the peer's kernel does not reset the
connection before the peer has read that event. Each accepted client gets
its own `HubHandler`; it reads events with the caps of `frames.read_event`,
and a client that sends nothing for ``idle_timeout_s`` (or takes longer
than that to finish one event) is disconnected. A client that breaks the
protocol gets an ``error`` event and is dropped; nothing it does reaches
another connection, whose requests only wait their turn on the shared
engines' lanes.

Everything here runs on one asyncio event loop (the wyoming library's
model); the engines run on their lanes' threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from wyoming.error import Error
from wyoming.event import async_write_event

from assistant.core.config import ServeConfig
from assistant.hub.address import AllowList, Endpoint, check_bind, host_of, parse_uri
from assistant.hub.admission import Admission
from assistant.hub.conversations import Conversations
from assistant.hub.frames import HEADER_LIMIT, FrameError, read_event
from assistant.hub.handler import HubHandler
from assistant.hub.info import describe
from assistant.hub.services import HubServices

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 5.0
"""How long `HubServer.close` waits for connections to finish their event."""
LINGER_S = 2.0
"""How long a refused peer's bytes are read and dropped after the busy event."""
LINGER_BYTES = 1 << 20
MAX_LINGERING = 64
"""Refused peers lingered over at once; beyond, a refused peer is closed
right after its event (a flood must not use up the hub's file descriptors)."""


def peer_address(writer: asyncio.StreamWriter) -> tuple[str, int]:
    """The peer's (host, port) as the socket reports it; tests replace this
    to act as another host."""
    peername = writer.get_extra_info("peername") or ("?", 0)
    return str(peername[0]), int(peername[1])


class HubServer:
    """Serves ``services`` on ``config.uri``. `start` binds (raising
    `ConfigError` for a bad address or allow-list, `OSError` when the
    address is taken), `close` stops accepting and drops the clients. The
    caller closes ``services``."""

    def __init__(self, services: HubServices, config: ServeConfig) -> None:
        self.services = services
        self.config = config
        self.endpoint: Endpoint = parse_uri(config.uri)
        self.allow = AllowList(config.allow)
        check_bind(self.endpoint, self.allow, zeroconf=config.zeroconf)
        self.info = describe(services)
        self.conversations = (
            Conversations(services.new_session) if services.new_session is not None else None
        )
        self.admission = Admission(config.max_clients)
        self._lingering = 0
        self._server: asyncio.Server | None = None
        self._clients: dict[asyncio.Task, HubHandler] = {}
        self.served = 0
        """Connections accepted so far (tests and logs)."""
        self.refused = 0
        """Connections refused: not allowed, or over the client cap."""

    @property
    def port(self) -> int:
        """The bound port (the system's pick when the URI asked for 0)."""
        assert self._server is not None, "start() first"
        return self._server.sockets[0].getsockname()[1]

    @property
    def clients(self) -> int:
        return len(self._clients)

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, host=self.endpoint.host, port=self.endpoint.port, limit=HEADER_LIMIT
        )
        log.info(
            "serving Wyoming on tcp://%s:%d (allowed: loopback%s)",
            self.endpoint.host,
            self.port,
            "".join(f", {n}" for n in self.allow.networks),
        )

    async def serve_forever(self) -> None:
        assert self._server is not None, "start() first"
        await self._server.serve_forever()

    async def close(self) -> None:
        """Stop accepting, end every connection, and wait for their handlers."""
        if self._server is not None:
            self._server.close()
        for handler in list(self._clients.values()):
            handler.writer.close()
        tasks = list(self._clients)
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT_S)
        if self.conversations is not None:
            self.conversations.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address, port = peer_address(writer)
        host = host_of(address)
        peer = f"{address}:{port}"
        if not self.allow.allows(address):
            self.refused += 1
            log.warning("refused %s: not in serve.allow", peer)
            writer.close()
            return
        refusal = self.admission.admit(host)
        if refusal is not None:
            self.refused += 1
            log.warning("refused %s: %s", peer, refusal)
            self._lingering += 1
            try:
                await _refuse(reader, writer, refusal, linger=self._lingering <= MAX_LINGERING)
            finally:
                self._lingering -= 1
            return
        try:
            await self._run(reader, writer, host, peer)
        finally:
            self.admission.release(host)

    async def _run(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, peer: str
    ) -> None:
        handler = HubHandler(
            reader,
            writer,
            self.services,
            self.info,
            self.conversations,
            peer=peer,
            host=host,
            max_audio_s=self.config.max_audio_s,
            write_timeout_s=self.config.idle_timeout_s,
        )
        task = asyncio.current_task()
        assert task is not None
        self._clients[task] = handler
        self.served += 1
        log.info("client %s connected (%d now)", peer, len(self._clients))
        try:
            await self._serve(handler)
        finally:
            del self._clients[task]
            await handler.disconnect()
            writer.close()
            log.info("client %s left (%d now)", peer, len(self._clients))

    async def _serve(self, handler: HubHandler) -> None:
        limit, idle = self.config.max_frame_bytes, self.config.idle_timeout_s
        try:
            while True:
                try:
                    event = await asyncio.wait_for(read_event(handler.reader, limit), idle)
                except TimeoutError:
                    log.info("client %s idle for %.0f s; disconnecting", handler.peer, idle)
                    why = f"no event for {idle:g} s, so the hub closed this connection"
                    await _tell(handler, f"{why}; reconnect when you have a request", "timeout")
                    return
                if event is None or not await handler.handle_event(event):
                    return
        except FrameError as exc:
            log.warning("dropping client %s: %s", handler.peer, exc)
            await _tell(handler, f"{exc}; this connection is closed: reconnect", "protocol")
        except TimeoutError:
            log.info("client %s stopped reading; disconnecting", handler.peer)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.info("client %s went away: %s", handler.peer, type(exc).__name__)
        except Exception:
            # A bug must cost this client its connection, never the hub.
            log.exception("dropping client %s after an unexpected error", handler.peer)
            text = "the hub failed on this request (its log says why); reconnect and try again"
            await _tell(handler, text, "internal")


async def _tell(handler: HubHandler, text: str, code: str) -> None:
    """One ``error`` event before the connection closes, if the client still reads."""
    with contextlib.suppress(ConnectionError, OSError, TimeoutError):
        await handler.write_event(Error(text=text, code=code).event())


async def _refuse(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, text: str, *, linger: bool
) -> None:
    """Send the busy ``error``, then (with ``linger``) drop the peer's bytes
    until it closes (at most `LINGER_S` and `LINGER_BYTES`), then close."""
    try:
        await asyncio.wait_for(
            async_write_event(Error(text=text, code="busy").event(), writer), CLOSE_TIMEOUT_S
        )
        if not linger:
            return
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(LINGER_S):
            dropped = 0
            while dropped < LINGER_BYTES and (data := await reader.read(65536)):
                dropped += len(data)
    except (ConnectionError, OSError, TimeoutError):
        pass  # the peer went first, or took too long: the close below ends it
    finally:
        writer.close()
