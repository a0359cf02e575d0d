"""``assistant doctor --echo``: play a short test sound through the
configured speaker, record it with the configured microphone, and say
whether the echo canceller can work in this room.

It reports the echo's delay left after PortAudio's timestamps (what the
canceller searches for, up to ``echo.max_delay_s``), its ERLE once
converged, the levels, and one verdict line; ``--json`` prints the same as
one object. Blocks on the CLI thread for about 3 s.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from collections.abc import Callable
from typing import TextIO

from assistant.compose.devices import build_echo_probe
from assistant.core.config import Config
from assistant.core.errors import AudioError, InputError
from assistant.frontends.doctor import run_doctor
from assistant.stages.echo import echo_unavailable
from assistant.stages.echo.live import RoomMeasurement, measure_room


def doctor(config: Config, *, echo: bool = False, as_json: bool = False) -> int:
    """``assistant doctor [--echo] [--json]``: the checks, or the echo test."""
    if echo:
        return run_echo_check(config, as_json=as_json)
    if as_json:
        raise InputError("doctor --json goes with --echo; run `assistant doctor --echo --json`")
    return run_doctor(config)


def measure(config: Config) -> RoomMeasurement:
    """Run the test on the configured devices; `AudioError` with the fix
    when the canceller or a device is missing."""
    why = echo_unavailable()
    if why is not None:
        raise AudioError(f"the echo canceller cannot run here: {why}")
    mic, speaker, tap = build_echo_probe(config)
    return measure_room(mic, speaker, tap, max_delay_s=config.echo.max_delay_s)


def run_echo_check(
    config: Config,
    *,
    as_json: bool = False,
    out: TextIO | None = None,
    measure: Callable[[Config], RoomMeasurement] = measure,
) -> int:
    """Print the measurement to ``out`` (stdout); 0 when the canceller can
    work in this room, else 1."""
    out = out or sys.stdout
    result = measure(config)
    if as_json:
        fields = {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in dataclasses.asdict(result).items()
        }
        out.write(json.dumps(fields) + "\n")
    else:
        out.write(
            f"echo: {result.delay_ms:.0f} ms after PortAudio's timestamps "
            f"(at {result.echo_at_ms:.0f} ms in the recording, played at "
            f"{result.played_at_ms:.0f} ms); ERLE {result.erle_db:.1f} dB; echo "
            f"{result.echo_dbfs:.0f} dBFS, noise {result.noise_dbfs:.0f} dBFS\n"
        )
        out.write(f"{'✓' if result.ok else '✗'} {result.verdict}\n")
    return 0 if result.ok else 1
