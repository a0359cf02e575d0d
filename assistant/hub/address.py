"""Where the hub listens and who may connect: the ``serve.uri`` and
``serve.allow`` settings, checked once at start-up. Pure and thread-safe."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from assistant.core.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Endpoint:
    host: str
    """An IP address (never a name: the appliance does no lookups)."""
    port: int
    """TCP port; 0 lets the system pick one (tests)."""

    @property
    def loopback(self) -> bool:
        return ipaddress.ip_address(self.host).is_loopback


def parse_uri(uri: str) -> Endpoint:
    """``tcp://HOST:PORT`` with HOST an IPv4 or IPv6 address; `ConfigError`
    naming the problem otherwise."""
    hint = "use tcp://HOST:PORT with an IP address, e.g. tcp://127.0.0.1:10700"
    try:
        parts = urlsplit(uri)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ConfigError(f"serve.uri = {uri!r} is not a valid address; {hint}") from None
    if parts.scheme != "tcp" or host is None or port is None or parts.path not in ("", "/"):
        raise ConfigError(f"serve.uri = {uri!r} is not supported; {hint}")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(
            f"serve.uri = {uri!r}: {host!r} is not an IP address; host names are not "
            "looked up, so give the address itself"
        ) from None
    return Endpoint(host, port)


class AllowList:
    """The peers that may connect: loopback always, plus ``serve.allow``."""

    def __init__(self, subnets: list[str]) -> None:
        self.networks: list[Network] = []
        for subnet in subnets:
            try:
                self.networks.append(ipaddress.ip_network(subnet, strict=False))
            except ValueError:
                raise ConfigError(
                    f"serve.allow: {subnet!r} is not a subnet; write it like '192.168.1.0/24'"
                ) from None

    def allows(self, peer: str) -> bool:
        """Whether the peer address ``peer`` (as the socket reports it) may connect."""
        address = _ip(peer)
        if address is None:
            return False
        return address.is_loopback or any(address in network for network in self.networks)


def _ip(peer: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def host_of(peer: str) -> str:
    """The host of a peer address as one key: an IPv4 address seen as
    ``::ffff:a.b.c.d`` is ``a.b.c.d``, and a zone suffix is dropped."""
    address = _ip(peer)
    return str(address) if address is not None else peer


def is_loopback(peer: str) -> bool:
    address = _ip(peer)
    return address is not None and address.is_loopback


def check_bind(endpoint: Endpoint, allow: AllowList, *, zeroconf: bool = False) -> None:
    """A LAN bind must come with the subnets allowed to use it: binding a LAN
    address while allowing only loopback would accept connections only to
    drop them, which is never what was meant. Advertising a loopback bind on
    the LAN would be as pointless."""
    if zeroconf and endpoint.loopback:
        raise ConfigError(
            "serve.zeroconf advertises the hub on the LAN, but serve.uri binds loopback; "
            "bind a LAN address (and set serve.allow) or set serve.zeroconf = false"
        )
    if not endpoint.loopback and not allow.networks:
        raise ConfigError(
            f"serve.uri binds {endpoint.host}, which the LAN can reach, but serve.allow is "
            'empty; list the subnets that may connect, e.g. allow = ["192.168.1.0/24"]'
        )
