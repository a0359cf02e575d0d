"""Addresses of remote engines: ``tcp://HOST:PORT`` for Wyoming services,
``http(s)://HOST[:PORT][/PATH]`` for an OpenAI-compatible chat server.

Parsed once here, so the config loader and the engines agree on what is valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Address:
    """A parsed remote address."""

    scheme: str
    """``tcp``, ``http`` or ``https``."""
    host: str
    port: int
    path: str = ""
    """The URL's path without a trailing slash (http and https only)."""

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"


def parse_address(text: str, schemes: tuple[str, ...]) -> Address:
    """``text`` as an `Address` whose scheme is one of ``schemes``; `ValueError`
    with a reason (what is wrong and the accepted form) otherwise."""
    forms = " or ".join(f"{s}://HOST:PORT" for s in schemes)
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        raise ValueError(f"not an address; expected {forms}") from None
    if parts.scheme not in schemes:
        raise ValueError(f"only {', '.join(s + '://' for s in schemes)} addresses work")
    if not parts.hostname:
        raise ValueError(f"no host; expected {forms}")
    if port is None:
        if parts.scheme not in DEFAULT_PORTS:
            raise ValueError(f"no port; expected {forms}")
        port = DEFAULT_PORTS[parts.scheme]
    if port == 0:
        raise ValueError(f"port 0 is not a port; expected {forms}")
    if parts.scheme == "tcp" and parts.path not in ("", "/"):
        raise ValueError(f"a tcp:// address has no path; expected {forms}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("put no query, fragment or credentials in the address")
    return Address(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))
