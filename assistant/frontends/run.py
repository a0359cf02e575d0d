"""``assistant run``: compose the appliance (engines, sound card, buttons,
LEDs, controller) and serve it with `assistant.appliance.run.run_appliance`
until SIGTERM. This is what the systemd unit starts."""

from __future__ import annotations

import contextlib

from assistant.appliance.notify import SystemdNotifier
from assistant.appliance.run import log_turns, run_appliance
from assistant.compose import (
    build_buttons,
    build_controller,
    build_engines,
    build_indicator,
    build_source,
    build_speaker,
    use_gpio,
)
from assistant.core.config import Config
from assistant.core.events import EventBus
from assistant.stages.audio.devices import find_device


def run(config: Config, *, keyboard: bool = False, profile: bool = False) -> int:
    """Load and warm every engine, then serve push-to-talk turns until
    SIGTERM; returns the exit status (0). Devices and the push-to-talk input
    are checked first, so a missing one fails in a second, not after minutes
    of model loading. Must run on the main thread (signal handling)."""
    with contextlib.ExitStack() as stack:
        notifier = stack.enter_context(SystemdNotifier())
        notifier.status("loading models")
        find_device(config.audio.input_device, "input")
        find_device(config.audio.output_device, "output")
        gpio = use_gpio(config, keyboard=keyboard)
        engines = build_engines(config)
        try:
            bus = EventBus()
            bus.subscribe(log_turns(profile))
            controller = build_controller(
                config,
                engines,
                build_source(config),
                build_speaker(config),
                bus,
                config.turn,
                earcons=config.audio.earcons,
            )
            # Closed in reverse order, after the controller has stopped.
            stack.callback(controller.skills.close)
            stack.enter_context(build_buttons(config, controller, gpio=gpio))
            indicator = stack.enter_context(build_indicator(config, gpio=gpio))
            bus.subscribe(indicator.on_event)
        except BaseException:
            engines.close()  # no worker has started yet
            raise
        run_appliance(controller, notifier, close_engines=engines.close)
    return 0
