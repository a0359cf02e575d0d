"""SHA-256 checks of installed model files, the hash cache, and quarantine.

An installed file is trusted only when its SHA-256 matches the catalogue (or,
for an entry with no published hash, the hash recorded when it was fetched:
trust on first use). `State` is ``<models_dir>/.assistant-models.json``;
losing it costs a re-hash, and for unverified entries the recorded hashes
(``models verify`` then says the file has no hash to check until the next
fetch). Everything here reads local files only and blocks: call it from the
CLI thread, never from an audio or engine thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from assistant.catalog.catalogue import Catalog, ModelEntry, ModelFile, load_catalog
from assistant.core.errors import ModelError

log = logging.getLogger(__name__)

STATE_FILE = ".assistant-models.json"
CHUNK = 1 << 20
"""Bytes read (and hashed) at a time."""

Status = Literal["installed", "missing", "corrupt"]

TOFU_OK = f"ok: matches the sha256 recorded at first fetch in {STATE_FILE} (trust on first use)"
"""`check_file`'s message for a file of an unverified entry checked against
the hash `Fetcher` observed and recorded when it installed it."""


@dataclass(frozen=True)
class VerifyResult:
    entry: str
    """Catalogue id."""
    file: str
    """Path relative to the models directory."""
    ok: bool
    message: str
    """``ok``, ``missing``, or what is wrong, in a few words."""


def sha256_file(path: Path) -> str:
    """Lower-case hex SHA-256 of ``path``, read in `CHUNK` blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


class State:
    """``<models_dir>/.assistant-models.json``: verified hashes keyed by
    (size, mtime), so a re-run does not re-hash hundreds of megabytes, and the
    hashes observed for unverified entries (trust on first use). Changes stay
    in memory until `save`."""

    def __init__(self, models_dir: Path) -> None:
        self.path = models_dir / STATE_FILE
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            data = {}
        self.hashes: dict[str, list] = data.get("hashes", {})
        self.observed: dict[str, dict[str, str]] = data.get("observed", {})
        self.changed = False
        """Whether a hash was recorded since the file was read."""

    def sha256(self, models_dir: Path, rel: str, use_cache: bool = True) -> str:
        """The digest of ``models_dir / rel``: the cached one when its size and
        mtime still match and ``use_cache``, else a fresh hash (then cached)."""
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
        self.changed = True

    def save(self) -> None:
        """Write the file atomically; a read-only models directory only loses the cache."""
        # Per process, so two processes saving at once cannot mix their bytes.
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        data = {"hashes": self.hashes, "observed": self.observed}
        try:
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True), "utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            log.debug("cannot save the hash cache %s (%s)", self.path, exc)
            with contextlib.suppress(OSError):
                tmp.unlink()


def check_file(
    entry: ModelEntry, f: ModelFile, models_dir: Path, state: State, use_cache: bool = True
) -> VerifyResult:
    """Whether ``f`` of ``entry`` is present with the right size and SHA-256."""
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
    return VerifyResult(entry.id, f.path, True, "ok" if f.sha256 else TOFU_OK)


def entry_files(entry: ModelEntry, state: State) -> list[ModelFile]:
    """The catalogue's files plus, for unverified entries, those seen at fetch."""
    listed = {f.path for f in entry.files}
    seen = state.observed.get(entry.id, {})
    return list(entry.files) + [ModelFile(p, 0, "") for p in sorted(seen) if p not in listed]


def status(entry: ModelEntry, models_dir: Path, state: State) -> Status:
    """``installed`` when every file checks out, ``corrupt`` when one is
    present but wrong, else ``missing``. Uses the hash cache."""
    results = [check_file(entry, f, models_dir, state) for f in entry_files(entry, state)]
    if all(r.ok for r in results):
        return "installed"
    if any(r.message != "missing" for r in results if not r.ok):
        return "corrupt"
    return "missing"


def quarantine(path: Path, into: Path | None = None) -> Path:
    """Rename ``path`` to ``<name>.quarantine`` in ``into`` (default: its own
    directory, which must exist) so nothing loads it; return the new path.
    The caller reports it: this only logs at INFO."""
    target = (into or path.parent) / (path.name + ".quarantine")
    os.replace(path, target)
    log.info("moved %s to %s", path, target)
    return target


def entry_at(path: Path, models_dir: Path, catalog: Catalog) -> ModelEntry | None:
    """The catalogue entry installed at ``path`` (what a backend loads: a
    file, or a model's directory) in ``models_dir``; None for anything else,
    such as a user's own GGUF."""
    target = os.path.realpath(path)
    for entry in catalog.entries.values():
        if os.path.realpath(models_dir / entry.root) == target:
            return entry
    return None


def verify_at_load(
    path: Path, models_dir: Path, catalog: Catalog | None = None
) -> ModelEntry | None:
    """Check the catalogue model at ``path`` before a backend loads it, and
    return its entry (None, with nothing checked, when ``path`` is not a
    catalogue model or does not exist: the backend reports that itself).

    Cheap when nothing changed: sizes are compared with the catalogue first,
    and a file is re-hashed only when its size or mtime differs from when it
    was last verified (`State`, updated here). Raises `ModelError`, one line
    naming the file and ``assistant models fetch <id>``, when a file is
    missing, has the wrong size, or its SHA-256 no longer matches. Blocks
    (seconds to hash a changed file); call it where the model is loaded.
    """
    entry = entry_at(path, models_dir, catalog or load_catalog())
    if entry is None or not path.exists():
        return None
    fetch = f"run `assistant models fetch {entry.id}`"
    fix = f"{fetch} to replace it"
    state = State(models_dir)
    files = entry_files(entry, state)
    try:
        # Sizes first: a truncated or replaced file is found without hashing.
        for f in files:
            file = models_dir / f.path
            if not file.is_file():
                raise ModelError(f"model file {file} of {entry.id} is missing; {fetch}")
            size = file.stat().st_size
            if f.size and size != f.size:
                raise ModelError(
                    f"model file {file} is {size} bytes, but {entry.id}'s is {f.size}: "
                    f"it was changed or damaged since it was installed; {fix}"
                )
        for f in files:
            result = check_file(entry, f, models_dir, state)
            if not result.ok:
                raise ModelError(
                    f"model file {models_dir / f.path} was changed or damaged since it was "
                    f"installed ({result.message}); {fix}"
                )
    except ModelError:
        raise  # a ModelError is an OSError too
    except OSError as exc:
        raise ModelError(
            f"model file of {entry.id} in {models_dir} cannot be read "
            f"({exc.strerror}: {exc.filename}); fix its permissions or {fix}"
        ) from None
    finally:
        if state.changed:
            state.save()
    return entry
