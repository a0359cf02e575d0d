"""`limit_arenas`: glibc's arena cap, as the service units set it, unless
the environment chose one. Each probe is a fresh process: glibc fixes the
cap once threads have needed arenas."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import ctypes, sys, threading
from assistant.core.malloc import limit_arenas
print(limit_arenas())
barrier = threading.Barrier(9)
def allocate():
    block = bytearray(1 << 16)  # glibc malloc, from this thread's arena
    barrier.wait()
    barrier.wait()
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
barrier.wait()
sys.stdout.flush()
ctypes.CDLL("libc.so.6").malloc_stats()  # to stderr: one "Arena N:" per arena
barrier.wait()
"""


def probe(env: dict[str, str]) -> tuple[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip(), done.stderr.count("Arena ")


def test_eight_threads_share_two_arenas():
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    capped, arenas = probe(env)
    assert capped == "True"  # glibc, as on Raspberry Pi OS and Debian
    assert arenas == 2


def test_the_environment_chooses_first():
    env = {**os.environ, "MALLOC_ARENA_MAX": "8"}
    capped, arenas = probe(env)
    assert capped == "False"
    assert arenas > 2  # glibc's own choice: a thread of its own, an arena of its own
