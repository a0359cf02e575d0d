"""The suite's own network guard (`tests/support/netguard.py`, on for the
whole session from tests/conftest.py): loopback works, nothing else does."""

from __future__ import annotations

import asyncio
import socket
import urllib.request

import pytest

from tests.support.netguard import is_local_host


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1", "localhost", "0.0.0.0", None]
)
def test_loopback_counts_as_local(host):
    assert is_local_host(host)


@pytest.mark.parametrize("host", ["10.0.0.1", "192.168.1.2", "8.8.8.8", "2001:db8::1", "pypi.org"])
def test_other_hosts_do_not(host):
    assert not is_local_host(host)


@pytest.mark.parametrize(
    ("family", "address"),
    [(socket.AF_INET, ("192.0.2.1", 80)), (socket.AF_INET6, ("2001:db8::1", 80, 0, 0))],
)
def test_a_connection_past_loopback_is_refused_at_once(family, address):
    refused = pytest.raises(OSError, match="tests reach only loopback")
    with socket.socket(family, socket.SOCK_STREAM) as sock, refused:
        sock.connect(address)
    refused = pytest.raises(OSError, match="tests reach only loopback")
    with socket.socket(family, socket.SOCK_STREAM) as sock, refused:
        sock.connect_ex(address)


def test_datagrams_and_lookups_past_loopback_are_refused():
    refused = pytest.raises(OSError, match="tests reach only loopback")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, refused:
        sock.sendto(b"x", ("224.0.0.251", 5353))  # mDNS
    with pytest.raises(socket.gaierror, match="lookup of 'pypi.org'"):
        socket.getaddrinfo("pypi.org", 443)
    with pytest.raises(OSError):
        urllib.request.urlopen("http://example.com/", timeout=5)


def test_loopback_still_works_for_sockets_and_asyncio():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("localhost", port), timeout=5) as client:
            peer, _ = server.accept()
            with peer:
                client.sendall(b"ping")
                assert peer.recv(4) == b"ping"

        async def go() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            peer, _ = server.accept()
            with peer:
                peer.sendall(b"pong")
                data = await reader.readexactly(4)
            writer.close()
            return data

        assert asyncio.run(go()) == b"pong"
