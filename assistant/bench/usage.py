"""What the soak measures after a turn besides time: this process's memory
(``/proc/self/status`` and glibc's ``mallinfo2``) and a folder's size.

Everything here reads; nothing frees. Linux gives every field; elsewhere a
field this system cannot give is None.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import platform
from pathlib import Path

MIB = 1024 * 1024


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc with ``mallinfo2`` (2.33+), else None."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def process_memory() -> dict:
    """This process's memory now, in MiB (None where this system cannot say):
    ``vm_rss_mb``, ``vm_hwm_mb``, ``rss_anon_mb`` (heap and other private
    memory), ``rss_file_mb`` (mapped files: the models), ``heap_mb`` (what
    glibc's malloc holds from the system, every arena) and ``heap_free_mb``
    (of it, free but not given back), and ``py_objects`` (objects the
    garbage collector tracks)."""
    keys = {"VmRSS": "vm_rss_mb", "VmHWM": "vm_hwm_mb", "RssAnon": "rss_anon_mb"}
    keys["RssFile"] = "rss_file_mb"
    out: dict = dict.fromkeys([*keys.values(), "heap_mb", "heap_free_mb"])
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        status = ""
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in keys:
            out[keys[key]] = round(int(value.split()[0]) / 1024, 1)
    if _LIBC is not None:
        info = _LIBC.mallinfo2()
        out["heap_mb"] = round((info.arena + info.hblkhd) / MIB, 1)
        out["heap_free_mb"] = round(info.fordblks / MIB, 1)
    out["py_objects"] = len(gc.get_objects())
    return out


def folder_usage(folder: Path) -> tuple[float, int]:
    """(MiB, number of files) directly in ``folder``; (0, 0) if it is missing."""
    total, files = 0, 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
                    files += 1
    except FileNotFoundError:
        pass
    return round(total / MIB, 3), files
