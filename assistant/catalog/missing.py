"""Which configured model is not installed, said in one line with the command
that fetches it.

A language or board profile (`assistant.core.profiles`) selects models the
machine may not have yet; ``doctor`` and the first load of an engine name the
missing one and ``assistant models fetch <set>``, which brings the profile's
whole set. Reads file names only (no hashing); call it from the thread that
loads the engine.
"""

from __future__ import annotations

from pathlib import Path

from assistant.catalog.catalogue import Catalog, ModelEntry, load_catalog
from assistant.catalog.verify import entry_at
from assistant.core.config import Config
from assistant.core.errors import ModelError
from assistant.core.profiles import profile_models, set_name

ROLES = {"llm": "language model", "asr": "speech model", "tts": "voice"}


def _profiled(config: Config) -> bool:
    """Whether a profile other than the embedded default chose the models."""
    return (config.language, config.board) != ("en", "default")


def configured_paths(config: Config) -> dict[str, Path]:
    """What each local engine of ``config`` loads, by kind (llm, asr, tts);
    a stage served over the network (``wyoming``, ``openai``) loads nothing."""
    d = config.models_dir
    paths = {}
    if config.llm.backend == "llama":
        paths["llm"] = d / Path(config.llm.model).expanduser()
    if config.asr.model:
        paths["asr"] = d / config.asr.model
    if config.tts.engine == "piper":
        paths["tts"] = d / f"{config.tts.voice}.onnx"
    return paths


def missing_models(config: Config, catalog: Catalog | None = None) -> list[ModelEntry]:
    """The catalogue models ``config`` uses that are not there at all."""
    catalog = catalog or load_catalog()
    found = []
    for path in configured_paths(config).values():
        entry = None if path.exists() else entry_at(path, config.models_dir, catalog)
        if entry is not None:
            found.append(entry)
    return found


def fetch_command(entries: list[ModelEntry], config: Config, catalog: Catalog) -> str:
    """``assistant models fetch <set> <ids>``: the profile's set for the
    entries that belong to it (the set brings the others too), and the id of
    each one that does not."""
    name = set_name(config.language, config.board)
    members = catalog.sets[name].models if name in catalog.sets and _profiled(config) else ()
    names = [name] if any(e.id in members for e in entries) else []
    names += [e.id for e in entries if e.id not in members]
    return "assistant models fetch " + " ".join(names)


def profile_note(entry: ModelEntry, config: Config) -> str:
    """`` (language = "pt")`` when the profile picked ``entry``, else empty."""
    if not _profiled(config) or entry.id not in profile_models(config.language, config.board).ids:
        return ""
    if config.board != "default":
        return f' (board = "{config.board}", language = "{config.language}")'
    return f' (language = "{config.language}")'


def missing_line(entries: list[ModelEntry], config: Config, catalog: Catalog) -> str:
    """One line: which models are missing, why they were chosen, and the fix."""
    first, rest = entries[0], entries[1:]
    line = f"{ROLES[first.kind]} {first.id}{profile_note(first, config)} is missing from "
    line += str(config.models_dir)
    if rest:
        line += ", and so are " + " and ".join(f"{ROLES[e.kind]} {e.id}" for e in rest)
    return f"{line}; run `{fetch_command(entries, config, catalog)}`"


def require_installed(config: Config, path: Path, catalog: Catalog | None = None) -> None:
    """`ModelError` when ``path`` is a catalogue model's root (see `entry_at`)
    and does not exist: one line naming it (with the profile's other missing
    models when the profile chose it) and the fetch command. Anything else is
    left to `verify_at_load` and the backend."""
    if path.exists():
        return
    catalog = catalog or load_catalog()
    entry = entry_at(path, config.models_dir, catalog)
    if entry is None:
        return
    # The profile's other missing models come with the same command; a model
    # the user chose is fetched alone.
    profile = profile_models(config.language, config.board).ids if _profiled(config) else ()
    others = [e for e in missing_models(config, catalog) if e.id != entry.id and e.id in profile]
    raise ModelError(
        missing_line([entry, *others] if entry.id in profile else [entry], config, catalog)
    )
