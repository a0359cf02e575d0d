"""Which device to use: PortAudio's microphones and speakers, found by name
or index, and the table ``assistant devices`` prints.

Every function may block while PortAudio enumerates devices (tens of
milliseconds) and may be called from any thread. When a name matches nothing,
`find_device` re-scans once (`portaudio.rescan`), so a device plugged in after
start-up is found.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any, Literal

from assistant.core.errors import AudioError
from assistant.stages.audio.portaudio import rescan, sounddevice

log = logging.getLogger(__name__)

Kind = Literal["input", "output"]


def _channels_key(kind: Kind) -> str:
    return "max_input_channels" if kind == "input" else "max_output_channels"


def _devices(sd: ModuleType, kind: Kind) -> list[dict[str, Any]]:
    key = _channels_key(kind)
    return [dict(d) for d in sd.query_devices() if d[key] > 0]


def _default_index(sd: ModuleType, kind: Kind) -> int:
    index = sd.default.device[0 if kind == "input" else 1]
    return int(index) if index is not None else -1


def _describe(devices: list[dict[str, Any]]) -> str:
    if not devices:
        return "none"
    return ", ".join(f"{d['index']} {d['name']!r}" for d in devices)


def _match(devices: list[dict[str, Any]], spec: str) -> int | None:
    if spec.strip().lstrip("-").isdigit():
        index = int(spec)
        return index if any(d["index"] == index for d in devices) else None
    wanted = spec.strip().lower()
    exact = [d for d in devices if d["name"].lower() == wanted]
    partial = [d for d in devices if wanted in d["name"].lower()]
    found = exact or partial
    if len(partial) > 1 and not exact:
        log.info("device %r matches %d devices; using %r", spec, len(partial), found[0]["name"])
    return found[0]["index"] if found else None


def find_device(spec: str, kind: Kind) -> int | None:
    """Device index for a name substring (case-insensitive) or an index.

    Empty ``spec`` means the system default and returns None. When nothing
    matches, PortAudio is re-scanned once (hot-plugged devices), then
    `AudioError` lists the available devices of that kind.
    """
    if not spec.strip():
        return None
    sd = sounddevice()
    found = _match(_devices(sd, kind), spec)
    if found is None and rescan():
        found = _match(_devices(sd, kind), spec)
    if found is None:
        setting = "audio.input_device" if kind == "input" else "audio.output_device"
        raise AudioError(
            f"{kind} device {spec!r} not found; available {kind} devices: "
            f"{_describe(_devices(sd, kind))}; set {setting} to a name or index from "
            "`assistant devices`"
        )
    return found


def device_info(device: int | None, kind: Kind) -> dict[str, Any]:
    """PortAudio's description of a device (None: the default of that kind)."""
    sd = sounddevice()
    try:
        return dict(sd.query_devices(device, kind=kind))
    except (sd.PortAudioError, ValueError):
        what = "microphone" if kind == "input" else "speaker"
        raise AudioError(
            f"no {what} found (PortAudio sees {kind} devices: {_describe(_devices(sd, kind))}); "
            f"connect one, check `{'arecord' if kind == 'input' else 'aplay'} -l`, "
            "and that the user is in the audio group"
        ) from None


def list_devices() -> str:
    """A table of input and output devices for ``assistant devices``; ``*`` marks defaults.

    Never raises: without PortAudio or devices it returns one explanatory line.
    """
    try:
        sd = sounddevice()
        rescan()
        everything = sd.query_devices()
    except AudioError as exc:
        return str(exc)
    if len(everything) == 0:
        return (
            "no audio devices found (PortAudio sees none); check `arecord -l` and `aplay -l` "
            "and that the user is in the audio group"
        )
    lines = []
    for kind, title in (("input", "Input devices (microphones):"), ("output", "Output devices:")):
        lines.append(title)
        devices = _devices(sd, kind)
        default = _default_index(sd, kind)
        if not devices:
            lines.append("    (none)")
        for d in devices:
            mark = "*" if d["index"] == default else " "
            lines.append(
                f"  {mark} {d['index']:>3}  {d['name']}  "
                f"({d[_channels_key(kind)]} ch, {int(d['default_samplerate'])} Hz)"
            )
    lines.append("* = default; set audio.input_device / audio.output_device to a name or index")
    return "\n".join(lines)


def have_output_device() -> bool:
    """Whether PortAudio has a default output device (speaker) to play to."""
    return _have_device("output")


def have_input_device() -> bool:
    """Whether PortAudio has a default input device (microphone)."""
    return _have_device("input")


def _have_device(kind: Literal["input", "output"]) -> bool:
    try:
        sd = sounddevice()
        return _default_index(sd, kind) >= 0 and bool(_devices(sd, kind))
    except AudioError:
        return False
