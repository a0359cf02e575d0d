"""Optional mDNS advertising (``serve.zeroconf``), so Home Assistant finds
the hub as a ``_wyoming._tcp`` service. Off by default: the appliance sends
nothing it was not asked to send. Needs the ``zeroconf`` package (the
``hub`` extra)."""

from __future__ import annotations

import ipaddress
import logging
import socket

from assistant.core.errors import ConfigError
from assistant.hub.address import Endpoint

log = logging.getLogger(__name__)

SERVICE_TYPE = "_wyoming._tcp.local."
_MDNS_GROUP = "224.0.0.251"


class Advertiser:
    """Registers ``<name>._wyoming._tcp.local.`` for the bound address (a
    LAN one: `address.check_bind` refuses zeroconf on loopback) and port;
    `close` unregisters it. Both run on the event loop."""

    def __init__(self, endpoint: Endpoint, port: int, name: str) -> None:
        try:
            from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf
        except ImportError:
            raise ConfigError(
                "serve.zeroconf needs the zeroconf package; install it with "
                "`pip install .[hub]` or set serve.zeroconf = false"
            ) from None
        address = endpoint.host
        if ipaddress.ip_address(address).is_unspecified:
            address = _lan_address()
        self._info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"{name}.{SERVICE_TYPE}",
            addresses=[ipaddress.ip_address(address).packed],
            port=port,
        )
        self._zeroconf = AsyncZeroconf()
        self.address = address

    async def start(self) -> None:
        await self._zeroconf.async_register_service(self._info)
        log.info("advertising %s at %s:%d", self._info.name, self.address, self._info.port)

    async def close(self) -> None:
        await self._zeroconf.async_unregister_service(self._info)
        await self._zeroconf.async_close()


def _lan_address() -> str:
    """This machine's address on the LAN: the one its route to the mDNS
    group leaves from (a UDP connect sends no packet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((_MDNS_GROUP, 1))
        return probe.getsockname()[0]
