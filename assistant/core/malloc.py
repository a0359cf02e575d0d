"""glibc's malloc, set up as the service units set it.

With its default of 8 arenas a core, glibc gives threads that allocate at
once arenas of their own, and a hub's dozen engine threads each keep freed
memory in theirs: RSS steps up by tens of MB whenever a thread first meets
a busy arena, and stays. ``MALLOC_ARENA_MAX=2`` (systemd/*.service) bounds
that; `limit_arenas` applies it to a process started any other way (the
command by hand, the tests). It must run before the process starts threads:
glibc fixes its arena limit when it first needs more arenas than its test
count.
"""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger(__name__)

ARENAS = 2
M_ARENA_MAX = -8
"""mallopt's parameter number for the arena limit (glibc's malloc.h)."""


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas at ``arenas`` unless ``MALLOC_ARENA_MAX``
    says otherwise; True if the cap was set. A no-op on another C library
    (musl, macOS)."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        log.debug("no glibc mallopt here; malloc keeps its own arena count")
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))
