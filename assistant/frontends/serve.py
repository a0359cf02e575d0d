"""``assistant serve``: the appliance's engines as a Wyoming hub on the LAN.

The address, allow-list and zeroconf settings are checked before any model
loads, so a typo costs a second, not a minute. Then the recognizer, language
model and voice load once, through the composition root, and `HubServer`
serves them until SIGTERM or SIGINT (exit status 0). Under systemd it
notifies ``READY=1`` once it listens, and pings the watchdog from the event
loop, so a hung loop gets the hub restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import socket
from collections.abc import Callable

from assistant.appliance.notify import SystemdNotifier, watchdog_interval_s
from assistant.compose import build_engines
from assistant.compose.hub import build_services, engines_config
from assistant.core.config import Config, ServeConfig
from assistant.core.errors import AssistantError
from assistant.hub.address import AllowList, check_bind, parse_uri
from assistant.hub.services import HubServices

log = logging.getLogger(__name__)


def serve(config: Config, *, uri: str | None = None) -> int:
    """Load the engines and serve them; returns the exit status."""
    if uri is not None:
        config = dataclasses.replace(config, serve=dataclasses.replace(config.serve, uri=uri))
    check_serve_config(config.serve)
    _require_wyoming()
    with build_engines(engines_config(config)) as engines:
        services = build_services(config, engines)
        try:
            asyncio.run(run_hub(services, config.serve))
        finally:
            services.close()
    return 0


def _require_wyoming() -> None:
    try:
        import wyoming  # noqa: F401
    except ImportError:
        raise AssistantError(
            "assistant serve needs the wyoming package; install it with `pip install .[hub]`"
        ) from None


def check_serve_config(serve: ServeConfig) -> None:
    """`ConfigError` for a bad address, subnet, LAN bind without an
    allow-list, or zeroconf on loopback (see `hub.address`)."""
    check_bind(parse_uri(serve.uri), AllowList(serve.allow), zeroconf=serve.zeroconf)


async def run_hub(
    services: HubServices,
    serve: ServeConfig,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Serve until ``stop`` is set, or SIGTERM/SIGINT in the main thread.
    ``on_ready(port)`` runs once the server listens (tests learn the port)."""
    from assistant.hub.advertise import Advertiser
    from assistant.hub.server import HubServer

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(ValueError, NotImplementedError, RuntimeError):
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
    server = HubServer(services, serve)
    await server.start()
    advertiser = None
    if serve.zeroconf:
        advertiser = Advertiser(server.endpoint, server.port, f"assistant-{socket.gethostname()}")
        await advertiser.start()
    with SystemdNotifier() as notifier:
        notifier.ready()
        notifier.status(f"serving Wyoming on port {server.port}")
        if on_ready is not None:
            on_ready(server.port)
        watchdog = asyncio.create_task(_watchdog(notifier))
        try:
            await stop.wait()
        finally:
            notifier.stopping()
            watchdog.cancel()
            if advertiser is not None:
                await advertiser.close()
            await server.close()
            log.info("hub stopped after %d connections", server.served)


async def _watchdog(notifier: SystemdNotifier) -> None:
    interval = watchdog_interval_s()
    if interval is None:
        return
    while True:
        notifier.watchdog()
        await asyncio.sleep(interval)
