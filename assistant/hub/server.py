"""The hub's TCP server: who may connect, how many, and for how long.

`HubServer` accepts connections on one address (``serve.uri``). At accept,
a peer outside the allow-list is closed without a word, and a peer beyond
``serve.max_clients`` gets one ``error`` event (code ``busy``) and is
closed. Each accepted client gets its own `HubHandler`; it reads events with
the caps of `frames.read_event`, and a client that sends nothing for
``idle_timeout_s`` (or takes longer than that to finish one event) is
disconnected. A client that breaks the protocol gets an ``error`` event and
is dropped; nothing it does reaches another connection, whose requests only
wait their turn on the shared engines' lanes.

Everything here runs on one asyncio event loop (the wyoming library's
model); the engines run on their lanes' threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from wyoming.error import Error
from wyoming.event import Event, async_write_event

from assistant.core.config import ServeConfig
from assistant.hub.address import AllowList, Endpoint, check_bind, parse_uri
from assistant.hub.conversations import Conversations
from assistant.hub.frames import HEADER_LIMIT, FrameError, read_event
from assistant.hub.handler import HubHandler
from assistant.hub.info import describe
from assistant.hub.services import HubServices

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 5.0
"""How long `HubServer.close` waits for connections to finish their event."""


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
        peername = writer.get_extra_info("peername") or ("?", 0)
        peer = f"{peername[0]}:{peername[1]}"
        if not self.allow.allows(str(peername[0])):
            self.refused += 1
            log.warning("refused %s: not in serve.allow", peer)
            writer.close()
            return
        if len(self._clients) >= self.config.max_clients:
            self.refused += 1
            log.warning("refused %s: %d clients already connected", peer, len(self._clients))
            busy = f"the hub is busy: {self.config.max_clients} clients connected; try again"
            with contextlib.suppress(ConnectionError, OSError):
                await _send(writer, Error(text=busy, code="busy").event())
            writer.close()
            return
        handler = HubHandler(
            reader,
            writer,
            self.services,
            self.info,
            self.conversations,
            peer=peer,
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
                    return
                if event is None or not await handler.handle_event(event):
                    return
        except FrameError as exc:
            log.warning("dropping client %s: %s", handler.peer, exc)
            with contextlib.suppress(ConnectionError, OSError):
                await handler.write_event(Error(text=str(exc), code="protocol").event())
        except TimeoutError:
            log.info("client %s stopped reading; disconnecting", handler.peer)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.info("client %s went away: %s", handler.peer, type(exc).__name__)
        except Exception:
            # A bug must cost this client its connection, never the hub.
            log.exception("dropping client %s after an unexpected error", handler.peer)


async def _send(writer: asyncio.StreamWriter, event: Event) -> None:
    await asyncio.wait_for(async_write_event(event, writer), CLOSE_TIMEOUT_S)
