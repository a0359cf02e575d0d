"""The appliance's serving loop, on parts already built (by `assistant.compose`
through the ``assistant run`` front end): start the controller, tell systemd
it is ready, ping its watchdog while the controller is alive, and on SIGTERM
(systemd's stop) or SIGINT (Ctrl-C) stop the controller within the unit's
stop timeout, whatever state the turn is in.

`log_turns` is the subscriber that writes one journal line per turn.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from assistant.appliance.notify import SystemdNotifier, watchdog_interval_s
from assistant.core.events import Event, TurnFailed, TurnFinished, TurnIgnored
from assistant.pipeline.controller import Controller

log = logging.getLogger(__name__)
profile_log = logging.getLogger("assistant.profile")

STOP_TIMEOUT_S = 15.0
"""How long SIGTERM waits for the current turn; below the unit's TimeoutStopSec."""
WATCHDOG_DEFAULT_S = 5.0
"""How often the loop checks the controller when systemd set no watchdog."""
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
"""The signals that stop the appliance cleanly."""
INTERRUPTED = 130
"""The exit status after SIGINT, as a shell reports Ctrl-C (128 + 2)."""


def log_turns(profile: bool) -> Callable[[Event], None]:
    """A subscriber that writes one structured line per turn (to the journal);
    with ``profile`` the line goes to the ``assistant.profile`` logger."""

    def on_event(event: Event) -> None:
        if isinstance(event, TurnFinished):
            fields = {
                "transcript_chars": len(event.transcript),
                "reply_chars": len(event.reply),
                "interrupted": event.interrupted,
                "tokens_per_s": event.tokens_per_s,
                **{f"{k}_ms": v for k, v in event.timings_ms.items()},
            }
            line = " ".join(f"{k}={v}" for k, v in fields.items())
            (profile_log if profile else log).info("turn %s", line)
        elif isinstance(event, TurnFailed):
            log.warning("turn failed stage=%s error=%s", event.stage, event.message)
        elif isinstance(event, TurnIgnored):
            log.info("turn ignored reason=%s", event.reason)

    return on_event


def run_appliance(
    controller: Controller,
    notifier: SystemdNotifier,
    *,
    close_engines: Callable[[], None],
    stop_timeout_s: float = STOP_TIMEOUT_S,
    stopping: threading.Event | None = None,
) -> int:
    """Serve push-to-talk turns until SIGTERM or SIGINT (or until ``stopping``
    is set); returns the exit status: `INTERRUPTED` after SIGINT, else 0.

    Call it on the main thread (it installs handlers for `STOP_SIGNALS` and
    restores the previous ones once the controller has stopped, so a second
    Ctrl-C cannot cut the stop short) with the engines warm and the buttons
    built. Starts ``controller`` and stops it on the way out, whatever
    happened; then calls ``close_engines`` only if every worker stopped within
    ``stop_timeout_s``, since freeing a model under a live worker crashes the
    process (if one is stuck, the engines stay loaded until the process
    exits). Closes nothing else: the caller closes the buttons, indicator,
    skills and notifier.
    """
    stopping = stopping or threading.Event()
    received: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        received.append(signum)
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    try:
        controller.start()
        notifier.ready()
        notifier.status("ready: waiting for the button")
        log.info("ready")
        interval = watchdog_interval_s() or WATCHDOG_DEFAULT_S
        while not stopping.wait(interval):
            if controller.alive(within_s=interval * 2):
                notifier.watchdog()
            else:
                log.error("controller loop is stuck; not pinging the watchdog")
        why = signal.Signals(received[0]).name if received else "asked to stop"
        log.info("%s: finishing (state %s)", why, controller.state.value)
        notifier.status("stopping")
        notifier.stopping()
    finally:
        try:
            if controller.stop(timeout_s=stop_timeout_s):
                close_engines()
            else:
                log.error(
                    "a worker did not stop within %g s; leaving the engines loaded",
                    stop_timeout_s,
                )
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return INTERRUPTED if received and received[0] == signal.SIGINT else 0
