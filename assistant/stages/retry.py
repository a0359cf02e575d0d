"""Retrying a hub at capacity: what a satellite does when the hub says ``busy``.

The hub refuses a connection beyond ``serve.max_clients`` with one Wyoming
``error`` event of code ``busy`` (`WyomingLink` raises `Busy` for it). The
remote backends then try the whole request again after a `Backoff` wait,
until ``turn.reply_timeout_s`` is spent; the user meanwhile sees and hears
the turn's thinking LEDs and earcon, and gets the answer late rather than
not at all. Used on the backend's worker thread; nothing here is shared.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from assistant.core.uris import Address

log = logging.getLogger(__name__)

RETRY_FIRST_S = 0.1
RETRY_MAX_S = 1.0
"""A busy hub is asked again after 0.1 s, then twice as long each time, at most this."""
BUSY_BUDGET_S = 60.0
"""How long a busy hub is retried by default: ``turn.reply_timeout_s``'s default."""

T = TypeVar("T")


class Cancelled(Exception):
    """The caller's cancel event was set while a `Link` (or a `Backoff`) waited."""


class Busy(Exception):
    """The hub refused the connection: it is at capacity. The message is
    the hub's. Raised by `WyomingLink.read` and `WyomingLink.pending`."""


class Backoff:
    """The waits between tries of a busy hub, within ``budget_s`` of its
    creation. ``clock`` is injected for tests."""

    def __init__(self, budget_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget_s = budget_s
        self.clock = clock
        self.deadline = clock() + budget_s
        self._delay = RETRY_FIRST_S
        self.tries = 0
        """Retries so far."""

    def next_delay(self) -> float | None:
        """The wait before the next try, or None when it would end past the budget."""
        delay, self._delay = self._delay, min(self._delay * 2, RETRY_MAX_S)
        if self.clock() + delay > self.deadline:
            return None
        self.tries += 1
        return delay

    def wait(self, cancel: threading.Event | None) -> bool:
        """Wait before the next try (False, at once, when the budget is
        spent); `Cancelled` when ``cancel`` is set meanwhile."""
        delay = self.next_delay()
        if delay is None:
            return False
        if (cancel or threading.Event()).wait(delay):
            raise Cancelled
        return True


def busy_error(address: Address, why: str, backoff: Backoff) -> str:
    """The line a request fails with when the hub stayed busy."""
    return (
        f"the hub at {address} stayed busy for {backoff.budget_s:g} s ({why}); "
        "try again later, or raise serve.max_clients on the hub"
    )


def retry_busy(
    attempt: Callable[[], T],
    backoff: Backoff,
    cancel: threading.Event | None,
    error: Callable[[str], Exception],
    address: Address,
) -> T:
    """``attempt()``, tried again after each `Busy` until ``backoff`` is
    spent; then ``error`` with `busy_error`'s line."""
    while True:
        try:
            return attempt()
        except Busy as exc:
            if not backoff.wait(cancel):
                raise error(busy_error(address, str(exc), backoff)) from None


def retry_busy_stream(
    attempt: Callable[[], Iterator[T]],
    backoff: Backoff,
    cancel: threading.Event | None,
    error: Callable[[str], Exception],
    address: Address,
) -> Iterator[T]:
    """The items of ``attempt()``, which is started again after each `Busy`
    until ``backoff`` is spent (then ``error`` with `busy_error`'s line), or
    ends quietly once ``cancel`` is set while waiting. The hub says busy
    before anything else, so a retry never repeats an item."""
    while True:
        try:
            yield from attempt()
            return
        except Busy as exc:
            try:
                retry = backoff.wait(cancel)
            except Cancelled:
                return
            if not retry:
                raise error(busy_error(address, str(exc), backoff)) from None
            log.info("the hub at %s is busy; try %d", address, backoff.tries + 1)
