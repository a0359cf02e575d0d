"""Reading downloads and writing their members to disk.

A download is a wheel or zip, a tar.gz, or a single file; `Archive` is a
read-only view of one. `copy_members` streams members into one staged file
while hashing it, so a model is read once. `safe_destination` refuses a
catalogue path that would leave the models directory. A full disk is one
`FetchError` line (`disk_full`). Everything blocks; the caller closes what it
opens (`Archive.open` is a context manager).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import shutil
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Literal

from assistant.core.errors import FetchError, ModelError

CHUNK = 1 << 20
"""Bytes copied at a time."""

Kind = Literal["zip", "tar.gz", "file"]
"""How a download is read: a wheel is a zip."""


def disk_full(path: Path, what: str) -> FetchError:
    """The one-line error for ENOSPC while writing ``path`` (``what`` says
    how far it got)."""
    return FetchError(
        f"disk full while writing {path} ({what}); free some space in {path.parent} "
        "or set paths.models_dir to a bigger disk, then run the fetch again"
    )


class Archive:
    """Read-only view of a wheel, zip, tar.gz or single downloaded file.

    A ``file`` archive has one member, named ``label``. Open it with
    `Archive.open`, which closes the underlying zip or tar file."""

    def __init__(self, path: Path, kind: Kind, label: str = "") -> None:
        self.path = path
        self.kind = kind
        self.label = label
        """``file`` kind: the member name that opens the file."""
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: Path, kind: Kind, label: str = "") -> Iterator[Archive]:
        """`ModelError` when ``path`` is not a readable archive of ``kind``."""
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
        """Every regular-file member."""
        if self._zip:
            return [i.filename for i in self._zip.infolist() if not i.is_dir()]
        if self._tar:
            return [m.name for m in self._tar.getmembers() if m.isfile()]
        return [self.label]

    def member(self, name: str) -> IO[bytes] | None:
        """An open binary stream of member ``name`` (the caller closes it), or
        None when there is no such regular file."""
        try:
            if self._zip:
                return self._zip.open(name)
            if self._tar:
                member = self._tar.getmember(name)
                return self._tar.extractfile(member) if member.isfile() else None
        except KeyError:
            return None
        return open(self.path, "rb") if name == self.label else None


def open_member(opened: list[Archive], member: str, entry_id: str) -> IO[bytes]:
    """Member ``member`` from the first archive that has it; `ModelError`
    naming the archives when none has (the catalogue entry is wrong)."""
    for archive in opened:
        stream = archive.member(member)
        if stream is not None:
            return stream
    raise ModelError(
        f"{entry_id}: {member!r} is not in {', '.join(a.path.name for a in opened)}; "
        "the catalogue entry is wrong"
    )


def safe_destination(models_dir: Path, rel: str, entry_id: str) -> Path:
    """``models_dir / rel`` resolved; `ModelError` when it leaves ``models_dir``."""
    dest = (models_dir / rel).resolve()
    if not dest.is_relative_to(models_dir.resolve()):
        raise ModelError(f"{entry_id}: archive path {rel!r} leaves {models_dir}")
    return dest


def copy_members(
    opened: list[Archive], members: tuple[str, ...], out_path: Path, dest: Path, entry_id: str
) -> str:
    """Write ``members`` (concatenated in order) to ``out_path``, a staging
    file for ``dest``; return the SHA-256 of what was written. `FetchError`
    naming ``dest`` when the disk fills."""
    digest = hashlib.sha256()
    try:
        with open(out_path, "wb") as out:
            for member in members:
                with open_member(opened, member, entry_id) as src:
                    while block := src.read(CHUNK):
                        digest.update(block)
                        out.write(block)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise disk_full(dest, f"unpacking {entry_id}") from None
        raise
    return digest.hexdigest()


def join_files(paths: list[Path], out_path: Path, entry_id: str) -> Path:
    """Concatenate ``paths`` in order into ``out_path`` (the ``parts`` archive
    type); return ``out_path``. `FetchError` when the disk fills."""
    try:
        with open(out_path, "wb") as out:
            for path in paths:
                with open(path, "rb") as src:
                    shutil.copyfileobj(src, out, CHUNK)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise disk_full(out_path, f"joining the parts of {entry_id}") from None
        raise
    return out_path
