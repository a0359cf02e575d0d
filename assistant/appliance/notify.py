"""systemd readiness and watchdog notifications (the sd_notify protocol).

The protocol is one datagram of ``KEY=VALUE`` lines sent to the AF_UNIX
socket named by ``$NOTIFY_SOCKET``; a name starting with ``@`` lives in the
abstract namespace. Outside systemd the variable is unset and every call is a
no-op, so the CLI can always use a notifier.

The service runs with ``Type=notify`` and ``WatchdogSec=``: send `ready` once
the models are loaded, then `watchdog` every `watchdog_interval_s` seconds
from the controller's own loop, so a hung controller stops the pings and
systemd restarts the service.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class SystemdNotifier:
    """sd_notify over ``$NOTIFY_SOCKET``; a no-op when the variable is unset.

    Sends never block (``MSG_DONTWAIT``) and never raise: a failed send is
    logged once at WARNING, since a missing notification must not stop the
    assistant. Any thread may call it. The owner calls `close`.
    """

    def __init__(self, socket_path: str | None = None) -> None:
        path = os.environ.get("NOTIFY_SOCKET", "") if socket_path is None else socket_path
        self._address: str | None = None
        self._sock: socket.socket | None = None
        self._warned = False
        if not path:
            return
        if path.startswith("@"):
            self._address = "\0" + path[1:]
        elif path.startswith("/"):
            self._address = path
        else:
            log.warning("NOTIFY_SOCKET=%r is not a socket path; not notifying systemd", path)
            return
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        log.debug("notifying systemd at %s", path)

    @property
    def enabled(self) -> bool:
        """True while there is a socket to notify."""
        return self._sock is not None

    def ready(self) -> None:
        """Start-up finished (``READY=1``); systemd then reports the unit active."""
        self._send("READY=1")

    def status(self, text: str) -> None:
        """One line shown by ``systemctl status``; newlines become spaces."""
        self._send("STATUS=" + " ".join(text.splitlines()))

    def watchdog(self) -> None:
        """Keep-alive ping (``WATCHDOG=1``)."""
        self._send("WATCHDOG=1")

    def stopping(self) -> None:
        """Shutdown has begun (``STOPPING=1``)."""
        self._send("STOPPING=1")

    def _send(self, message: str) -> None:
        sock = self._sock
        if sock is None or self._address is None:
            return
        try:
            sock.sendto(message.encode("utf-8"), socket.MSG_DONTWAIT, self._address)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("cannot notify systemd at %r: %s", self._address, exc)

    def close(self) -> None:
        """Close the socket; later calls are no-ops. Safe to call twice."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def __enter__(self) -> SystemdNotifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def watchdog_interval_s() -> float | None:
    """Seconds between `SystemdNotifier.watchdog` pings: half of ``WatchdogSec=``.

    Read from ``$WATCHDOG_USEC`` (microseconds). None when unset, invalid, or
    when ``$WATCHDOG_PID`` names another process (the variables were inherited).
    """
    usec = os.environ.get("WATCHDOG_USEC", "")
    if not usec:
        return None
    pid = os.environ.get("WATCHDOG_PID", "")
    try:
        if pid and int(pid) != os.getpid():
            return None
        value = int(usec)
    except ValueError:
        log.warning("ignoring WATCHDOG_USEC=%r / WATCHDOG_PID=%r: not integers", usec, pid)
        return None
    if value <= 0:
        return None
    return value / 1_000_000 / 2
