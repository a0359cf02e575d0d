"""Sockets seen from /proc, for tests that check what a client leaves open."""

from __future__ import annotations

from pathlib import Path


def open_connections_to(port: int) -> int:
    """Established TCP connections from this process to 127.0.0.1:``port``
    (Linux: /proc/net/tcp rows whose socket inode is one of our descriptors)."""
    ours = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = fd.readlink().name
        except OSError:
            continue
        if target.startswith("socket:["):
            ours.add(target[8:-1])
    count = 0
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()
        remote_port = int(fields[2].split(":")[1], 16)
        if remote_port == port and fields[3] == "01" and fields[9] in ours:
            count += 1
    return count
