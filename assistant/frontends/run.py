"""``assistant run``: compose the appliance (engines, sound card, buttons,
LEDs, controller) and serve it with `assistant.appliance.run.run_appliance`
until SIGTERM or SIGINT. This is what the systemd unit starts.

A SIGTERM while the models load (systemd stopping a unit that is still
starting) ends the start-up cleanly too: whatever was loaded is closed and
the exit status is 0, as after a stop once ready."""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import threading

from assistant.appliance.notify import SystemdNotifier
from assistant.appliance.run import log_turns, run_appliance
from assistant.compose import (
    build_buttons,
    build_controller,
    build_engines,
    build_indicator,
    use_gpio,
)
from assistant.compose.devices import build_live_audio
from assistant.compose.handsfree import build_hands_free, build_wake_listener
from assistant.core.config import Config
from assistant.core.events import EventBus
from assistant.stages.audio.devices import find_device

log = logging.getLogger(__name__)


class _Terminated(BaseException):
    """SIGTERM during start-up; a BaseException so no engine's ``except
    Exception`` swallows it (like KeyboardInterrupt for SIGINT)."""


def run(config: Config, *, keyboard: bool = False, profile: bool = False) -> int:
    """Load and warm every engine, then serve push-to-talk turns until
    SIGTERM or SIGINT; returns the exit status (0, or 130 after SIGINT once
    serving; a SIGINT while loading raises KeyboardInterrupt, which the CLI
    turns into 130). Devices and the push-to-talk input are checked first, so
    a missing one fails in a second, not after minutes of model loading.
    Must run on the main thread (signal handling)."""
    starting = [True]
    stopping = threading.Event()

    def terminate_start_up(signum: int, frame: object) -> None:
        if starting[0]:
            raise _Terminated
        # Between start-up and the serving loop's own handler, or while
        # closing after it: stop (again); never lose the signal.
        stopping.set()

    previous = signal.signal(signal.SIGTERM, terminate_start_up)
    try:
        with contextlib.ExitStack() as stack:
            notifier = stack.enter_context(SystemdNotifier())
            try:
                return _serve(config, keyboard, profile, stack, notifier, starting, stopping)
            except _Terminated:
                log.info("SIGTERM while starting: stopped")
                notifier.stopping()
                return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        # Free the controller's reference cycles (turns, callbacks, the mic's
        # resampler) now, while every extension module is alive: left to
        # interpreter shutdown, nanobind (soxr) prints "leaked" lines on stderr.
        gc.collect()


def _serve(
    config: Config,
    keyboard: bool,
    profile: bool,
    stack: contextlib.ExitStack,
    notifier: SystemdNotifier,
    starting: list[bool],
    stopping: threading.Event,
) -> int:
    """Build everything (closed by ``stack``) and serve until stopped."""
    notifier.status("loading models")
    find_device(config.audio.input_device, "input")
    find_device(config.audio.output_device, "output")
    gpio = use_gpio(config, keyboard=keyboard)
    # Before the models: `[echo] enabled = true` without the canceller fails now.
    audio = build_live_audio(config)
    stack.callback(audio.close)  # the echo canceller, after everything that reads the mic
    engines = build_engines(config)
    try:
        bus = EventBus()
        bus.subscribe(log_turns(profile))
        mic = audio.source
        wake = build_wake_listener(config, mic, bus)
        controller = build_controller(
            config,
            engines,
            wake.tap if wake is not None else mic,
            audio.speaker,
            bus,
            config.turn,
            earcons=config.audio.earcons,
            hands_free=build_hands_free(config),
        )
        # Closed in reverse order, after the controller has stopped.
        stack.callback(controller.skills.close)
        stack.enter_context(build_buttons(config, controller, gpio=gpio))
        indicator = stack.enter_context(build_indicator(config, gpio=gpio))
        bus.subscribe(indicator.on_event)
        if wake is not None:
            stack.callback(wake.stop)  # after the controller, which reads its tap
            wake.start(controller.submit)
    except BaseException:
        engines.close()  # no worker has started yet
        raise
    # run_appliance handles SIGTERM from here on, with a clean stop.
    starting[0] = False
    return run_appliance(controller, notifier, close_engines=engines.close, stopping=stopping)
