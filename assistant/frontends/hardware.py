"""The hardware checks of ``assistant doctor``: microphone and speaker (with
a 1 s input level test), GPIO and the configured pins, CPU temperature and
throttling.

Each check takes the `Config` and returns a `Check`; what it probes (the
audio source, GPIO, /sys, ``vcgencmd``) is a keyword argument so tests can
swap it. Everything blocks on the calling thread.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

from assistant.compose import build_source
from assistant.core.config import Config
from assistant.core.errors import AssistantError
from assistant.frontends.checks import Check
from assistant.stages.audio.base import AudioSource
from assistant.stages.audio.pcm import rms_dbfs

log = logging.getLogger(__name__)

THERMAL_ROOT = Path("/sys/class/thermal")
HOT_C = 80.0
"""The Pi firmware starts throttling the CPU at 80 °C."""
SILENT_DBFS = -60.0
NO_MIC_FIX = (
    "plug in a USB microphone, check `arecord -l`, and that the user is in the `audio` group"
)
NO_SPEAKER_FIX = (
    "plug in a speaker (USB, HDMI or the 3.5 mm jack), check `aplay -l`, "
    "and that the user is in the `audio` group"
)
THROTTLE_FLAGS = ("under-voltage", "frequency capped", "throttled", "soft temperature limit")
"""``vcgencmd get_throttled`` bits 0-3 (happening now) and 16-19 (since boot)."""


def _device(config: Config, kind: Literal["input", "output"]) -> Check:
    from assistant.stages.audio.devices import (
        device_info,
        find_device,
        have_input_device,
        have_output_device,
    )

    name, have, fix = ("microphone", have_input_device, NO_MIC_FIX)
    if kind == "output":
        name, have, fix = ("speaker", have_output_device, NO_SPEAKER_FIX)
    spec = config.audio.input_device if kind == "input" else config.audio.output_device
    try:
        index = find_device(spec, kind)
        if index is None and not have():
            return Check(name, "fail", f"no {kind} device found", fix)
        info = device_info(index, kind)
    except AssistantError as exc:  # the message names the device and lists the others
        return Check(name, "fail", str(exc), fix)
    which = f"{spec!r} ->" if spec else "default:"
    rate = int(info.get("default_samplerate", 0))
    return Check(name, "ok", f"{which} {info.get('name')} (#{info.get('index')}, {rate} Hz)")


def check_microphone(config: Config) -> Check:
    return _device(config, "input")


def check_speaker(config: Config) -> Check:
    return _device(config, "output")


def check_input_level(
    config: Config,
    *,
    seconds: float = 1.0,
    source_factory: Callable[[Config], AudioSource] = build_source,
) -> Check:
    """Record ``seconds`` from the microphone (the appliance's own source,
    from ``source_factory``) and report the level in dBFS."""
    name = "microphone level"
    if check_microphone(config).status == "fail":
        return Check(name, "info", "skipped: no microphone")
    source = source_factory(config)
    blocks, got = [], 0
    try:
        source.open()
        while got < seconds * source.sample_rate_hz:
            block = source.read(timeout_s=3.0)
            if block is None:
                return Check(name, "fail", f"no audio for 3 s after {got} samples", NO_MIC_FIX)
            blocks.append(block)
            got += len(block)
    except AssistantError as exc:
        return Check(name, "fail", str(exc), NO_MIC_FIX)
    finally:
        source.close()
    level = rms_dbfs(np.concatenate(blocks))
    detail = f"{level:.1f} dBFS over {got / source.sample_rate_hz:.1f} s"
    if level < SILENT_DBFS:
        fix = "microphone is silent: check the mute switch / alsamixer capture level"
        return Check(name, "warn", detail, fix)
    return Check(name, "ok", detail)


def check_gpio(config: Config, *, available: Callable | None = None) -> Check:
    """The pin factory; without one `run` falls back to keyboard push-to-talk."""
    from assistant.appliance.gpio import gpio_available

    reason = (available or gpio_available)(config.gpio)
    if reason is None:
        from gpiozero import Device

        return Check("gpio", "ok", f"pin factory {type(Device.pin_factory).__name__}")
    if not config.gpio.enabled:
        return Check("gpio", "info", reason)
    fix = "on a Pi: `pip install 'pi-voice-assistant[pi]'` (lgpio) and add the user to `gpio`"
    return Check("gpio", "warn", reason, fix)


def check_pins(config: Config) -> Check:
    """The configured pins: every role its own pin, tools off the [gpio] pins."""
    from assistant.skills.devices import parse_tool_specs, reserved_pins

    g = config.gpio
    roles = {"button_pin": g.button_pin}
    if g.cancel_pin >= 0:
        roles["cancel_pin"] = g.cancel_pin
    if g.led_kind != "none":
        roles |= {"listening_pin": g.listening_pin, "thinking_pin": g.thinking_pin}
        roles["speaking_pin"] = g.speaking_pin
    listed = ", ".join(f"{k.removesuffix('_pin')} GPIO{v}" for k, v in roles.items())
    by_pin: dict[int, list[str]] = {}
    for key, pin in roles.items():
        by_pin.setdefault(pin, []).append(f"gpio.{key}")
    shared = [f"GPIO{p} is {' and '.join(keys)}" for p, keys in by_pin.items() if len(keys) > 1]
    if shared:
        fix = "give each role its own pin in [gpio]"
        return Check("gpio pins", "fail", f"{listed}; " + "; ".join(shared), fix)
    try:
        tools = parse_tool_specs(config.tools.outputs, config.tools.inputs, reserved_pins(g))
    except AssistantError as exc:
        return Check("gpio pins", "fail", str(exc), "fix [tools] in the config")
    listed += "".join(f", {t.name} GPIO{t.pin}" for t in tools)
    return Check("gpio pins", "ok", listed)


def run_vcgencmd(*args: str) -> str | None:
    """``vcgencmd`` output, or None when it is missing or fails (never via a shell)."""
    exe = shutil.which("vcgencmd")
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.debug("vcgencmd %s failed: %s", args, exc)
        return None
    if proc.returncode != 0:
        log.debug("vcgencmd %s: rc %d: %s", args, proc.returncode, proc.stderr.strip())
        return None
    return proc.stdout.strip()


def parse_throttled(text: str) -> list[str]:
    """Flags of ``vcgencmd get_throttled`` output such as ``throttled=0x50005``."""
    value = int(text.strip().removeprefix("throttled="), 16)
    now = [f"{flag} now" for bit, flag in enumerate(THROTTLE_FLAGS) if value >> bit & 1]
    past = [f"{f} since boot" for bit, f in enumerate(THROTTLE_FLAGS) if value >> (bit + 16) & 1]
    return now + past


def parse_temp(text: str) -> float:
    """Degrees Celsius from ``vcgencmd measure_temp`` output such as ``temp=48.3'C``."""
    return float(text.strip().partition("=")[2].rstrip("'C"))


def thermal_zones(root: Path = THERMAL_ROOT) -> list[tuple[str, float]]:
    """(zone type, degrees Celsius) for each readable ``thermal_zone*/temp``."""
    zones = []
    for zone in sorted(root.glob("thermal_zone*")):
        try:
            milli = int((zone / "temp").read_text().strip())
        except (OSError, ValueError):
            continue
        try:
            kind = (zone / "type").read_text().strip()
        except OSError:
            kind = zone.name
        zones.append((kind, milli / 1000))
    return zones


def check_temperature(
    config: Config, *, vcgencmd: Callable = run_vcgencmd, thermal_root: Path = THERMAL_ROOT
) -> Check:
    out = vcgencmd("measure_temp")
    if out and out.startswith("temp="):
        where, temp = "vcgencmd", parse_temp(out)
    else:
        zones = thermal_zones(thermal_root)
        if not zones:
            return Check("cpu temperature", "info", "not available (no vcgencmd, no thermal zone)")
        where, temp = max(zones, key=lambda z: z[1])
    detail = f"{temp:.1f} °C ({where})"
    if temp >= HOT_C:
        fix = f"the Pi throttles from {HOT_C:.0f} °C: add a heatsink or fan, improve airflow"
        return Check("cpu temperature", "warn", detail, fix)
    return Check("cpu temperature", "ok", detail)


def check_throttling(config: Config, *, vcgencmd: Callable = run_vcgencmd) -> Check:
    out = vcgencmd("get_throttled")
    if not out or not out.startswith("throttled="):
        return Check("throttling", "info", "not available (no vcgencmd: not a Raspberry Pi)")
    flags = parse_throttled(out)
    if not flags:
        return Check("throttling", "ok", "none since boot")
    fix = "add a heatsink or fan"
    if any("under-voltage" in f for f in flags):
        fix = "use the official power supply (5.1 V 3 A for a Pi 4, 5 V 5 A for a Pi 5)"
    return Check("throttling", "warn", ", ".join(flags), fix)
