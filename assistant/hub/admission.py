"""Who gets one of the hub's connection slots (``serve.max_clients``).

The cap bounds the connections served at once, whoever holds them. On top
of it, no host on the LAN may hold more than half of the slots, so one
satellite that leaks connections (or one that floods) cannot lock the
household out. Loopback peers (Home Assistant on the same machine, the
tests) are not capped per host. A refusal is one line for the client's
``error`` event that says what to do. Pure; used on the event-loop thread.
"""

from __future__ import annotations

from collections import Counter

from assistant.hub.address import is_loopback


class Admission:
    """The slots in use, by host. `admit` takes one or says why not;
    `release` gives it back (once per admitted connection)."""

    def __init__(self, max_clients: int) -> None:
        self.max_clients = max_clients
        self.per_host = max(1, max_clients // 2)
        """Slots one LAN host may hold at once."""
        self.total = 0
        self._by_host: Counter[str] = Counter()

    def admit(self, host: str) -> str | None:
        """Take a slot for ``host`` and return None, or return the refusal."""
        if self.total >= self.max_clients:
            return (
                f"the hub is busy: all {self.max_clients} connections are in use; "
                "try again in a moment, or raise serve.max_clients on the hub"
            )
        if not is_loopback(host) and self._by_host[host] >= self.per_host:
            return (
                f"the hub is busy: {host} already holds {self._by_host[host]} of its "
                f"{self.max_clients} connections (at most half per host); close some and "
                "try again, or raise serve.max_clients on the hub"
            )
        self.total += 1
        self._by_host[host] += 1
        return None

    def release(self, host: str) -> None:
        self.total -= 1
        self._by_host[host] -= 1
        if self._by_host[host] <= 0:
            del self._by_host[host]

    def held(self, host: str) -> int:
        """Slots ``host`` holds now."""
        return self._by_host[host]
