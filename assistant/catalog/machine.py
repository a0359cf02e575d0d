"""This machine, as the catalogue asks about it: the board and the memory.

Reads ``/proc`` only; cheap enough to call from any thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

MB = 1_000_000
MEMINFO = Path("/proc/meminfo")
DEVICE_MODEL = Path("/proc/device-tree/model")

Fit = Literal["yes", "tight", "no", "?"]


def is_raspberry_pi(model_file: Path = DEVICE_MODEL) -> bool:
    """True when the device tree names a Raspberry Pi (Pi-only set members apply)."""
    try:
        return "raspberry pi" in model_file.read_text("ascii", "ignore").lower()
    except OSError:
        return False


def memory_info(path: Path = MEMINFO) -> tuple[int, int] | None:
    """(MemAvailable, MemTotal) in bytes from /proc/meminfo; None when unreadable."""
    try:
        text = path.read_text("ascii")
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            values[name] = int(fields[0]) * 1024  # /proc/meminfo counts kB (KiB)
    if "MemAvailable" not in values or "MemTotal" not in values:
        return None
    return values["MemAvailable"], values["MemTotal"]


def fits(memory_mb: int, memory: tuple[int, int] | None) -> Fit:
    """``yes`` when a model of ``memory_mb`` megabytes fits in MemAvailable,
    ``tight`` when only in MemTotal (other programs must give way), ``no``
    when not even that, ``?`` when ``memory`` (see `memory_info`) is unknown."""
    if memory is None:
        return "?"
    available, total = memory
    need = memory_mb * MB
    return "yes" if need <= available else "tight" if need <= total else "no"
