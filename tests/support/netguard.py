"""Keep the suite on this machine: IPv4 and IPv6 traffic to loopback only.

`loopback_only` wraps the ways out of a Python process (connect, datagrams,
name lookups) so that anything past loopback fails at once with one line,
instead of hanging on a closed network or, worse, reaching it. Unix sockets
and other families pass untouched. `tests/e2e/test_offline.py` has a stricter
guard of its own that refuses loopback too.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
from collections.abc import Iterator

INET = (socket.AF_INET, socket.AF_INET6)
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def is_local_host(host: object) -> bool:
    """True for a loopback or unspecified address, or a name of loopback."""
    if host is None or host == "" or host == b"":
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host.lower().rstrip(".") in LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


REFUSAL = "tests reach only loopback (tests/support/netguard.py)"


def _refuse(what: str) -> OSError:
    return OSError(errno.ENETUNREACH, f"{REFUSAL}: {what}")


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """Within the block, this process cannot reach past loopback."""
    cls = socket.socket
    real = {name: getattr(cls, name) for name in ("connect", "connect_ex", "sendto", "sendmsg")}
    real_getaddrinfo = socket.getaddrinfo
    real_gethostbyname = socket.gethostbyname
    real_gethostbyname_ex = socket.gethostbyname_ex

    def check(sock: socket.socket, address: object, what: str) -> None:
        if sock.family in INET and isinstance(address, tuple) and not is_local_host(address[0]):
            raise _refuse(f"{what} {address[0]}:{address[1]}")

    def connect(self, address):
        check(self, address, "connect to")
        return real["connect"](self, address)

    def connect_ex(self, address):
        check(self, address, "connect to")
        return real["connect_ex"](self, address)

    def sendto(self, data, *args):
        check(self, args[-1], "datagram to")
        return real["sendto"](self, data, *args)

    def sendmsg(self, buffers, ancdata=(), flags=0, address=None):
        if address is not None:
            check(self, address, "datagram to")
            return real["sendmsg"](self, buffers, ancdata, flags, address)
        return real["sendmsg"](self, buffers, ancdata, flags)

    def lookup(real_call):
        def guarded(host, *args, **kwargs):
            if not is_local_host(host) and not _is_numeric(host):
                raise socket.gaierror(socket.EAI_NONAME, f"{REFUSAL}: lookup of {host!r}")
            return real_call(host, *args, **kwargs)

        return guarded

    patched = {"connect": connect, "connect_ex": connect_ex, "sendto": sendto, "sendmsg": sendmsg}
    for name, function in patched.items():
        setattr(cls, name, function)
    socket.getaddrinfo = lookup(real_getaddrinfo)
    socket.gethostbyname = lookup(real_gethostbyname)
    socket.gethostbyname_ex = lookup(real_gethostbyname_ex)
    try:
        yield
    finally:
        for name, function in real.items():
            setattr(cls, name, function)
        socket.getaddrinfo = real_getaddrinfo
        socket.gethostbyname = real_gethostbyname
        socket.gethostbyname_ex = real_gethostbyname_ex


def _is_numeric(host: object) -> bool:
    """A literal address: looking it up sends nothing (the connect is checked)."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    try:
        ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return False
    return True
