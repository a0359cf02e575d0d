"""The installation checks of ``assistant doctor``: Python, packages, the
config, the configured models (re-hashed) and whether they fit in memory.

Each check takes the `Config` and returns a `Check` (or a list of them); what
it probes (package versions, the catalogue, /proc/meminfo) is a keyword
argument so tests can swap it. Everything blocks on the calling thread.
"""

from __future__ import annotations

import importlib.metadata
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from assistant.catalog.catalogue import Catalog, ModelEntry, load_catalog
from assistant.core.config import Config

Status = Literal["ok", "warn", "fail", "info"]
"""``fail``: ``assistant run`` cannot work; ``warn`` does not block it;
``info`` is neither good nor bad."""


@dataclass(frozen=True)
class Check:
    """One line of ``assistant doctor``'s report."""

    name: str
    status: Status
    detail: str
    fix: str = ""
    """One line telling the user what to do; expected for ``fail`` and ``warn``."""


def check_python(config: Config, *, version: tuple[int, ...] = sys.version_info[:3]) -> Check:
    text = ".".join(map(str, version))
    if version < (3, 11):
        return Check("python", "fail", text, "install Python 3.11 or newer (Raspberry Pi OS 12+)")
    return Check("python", "ok", text)


def check_packages(
    config: Config, *, version: Callable[[str], str] = importlib.metadata.version
) -> Check:
    """The run-time packages; the recognizer not configured is informational."""
    required = ["numpy", "llama-cpp-python", "piper-tts", "sounddevice", "soxr", "gpiozero"]
    asr = {
        "vosk": "vosk",
        "whisper": "faster-whisper",
        "moonshine": "onnxruntime",
        "wyoming": "wyoming",
    }
    required.append(asr[config.asr.engine])
    if "wyoming" in (config.tts.engine, config.llm.backend) and "wyoming" not in required:
        required.append("wyoming")
    optional = [p for e, p in asr.items() if e != config.asr.engine]
    found, missing = [], []
    for name in required + optional:
        try:
            found.append(f"{name} {version(name)}")
        except importlib.metadata.PackageNotFoundError:
            (missing if name in required else found).append(f"{name} (not installed)")
    if missing:
        fix = "reinstall the assistant (`pip install .`, `.[whisper]` for faster-whisper, "
        fix += "`.[hub]` for wyoming)"
        return Check("packages", "fail", ", ".join(missing), fix)
    return Check("packages", "ok", ", ".join(found))


def configured_models(
    config: Config, catalog: Catalog
) -> list[tuple[str, Path, ModelEntry | None]]:
    """(role, path, catalogue entry or None) for the LLM, recognizer and voice in use."""
    d = config.models_dir
    asr = config.asr.model
    wanted = [
        ("language model", "llm", d / config.llm.model),
        (f"{config.asr.engine} model", "asr", d / asr),
        ("voice", "tts", d / f"{config.tts.voice}.onnx"),
    ]
    # Remote engines have their models on the hub (`check_remote`); a local
    # fallback language model is still needed here.
    local_llm = config.llm.backend == "llama" or config.llm.fallback == "local"
    remote = {"llm": not local_llm, "asr": config.asr.engine == "wyoming"}
    remote["tts"] = config.tts.engine == "wyoming"
    wanted = [w for w in wanted if not remote[w[1]]]
    engines = {"llm": "llama.cpp", "asr": config.asr.engine, "tts": "piper"}
    found = []
    for role, kind, path in wanted:
        same = [
            e
            for e in catalog.entries.values()
            if e.kind == kind and e.engine == engines[kind] and d / e.root == path
        ]
        found.append((role, path, same[0] if same else None))
    return found


def check_remote(config: Config, *, timeout_s: float = 3.0) -> list[Check]:
    """Each remote engine's server: does it accept a connection? (One TCP
    connect each, to the configured address only.)"""
    from assistant.core.errors import AssistantError
    from assistant.core.uris import parse_address
    from assistant.stages.link import Link

    remotes = []
    if config.asr.engine == "wyoming":
        remotes.append(("speech recognizer", "asr.uri", config.asr.uri))
    if config.llm.backend != "llama":
        remotes.append(("language model", "llm.url", config.llm.url))
    if config.tts.engine == "wyoming":
        remotes.append(("voice", "tts.uri", config.tts.uri))
    checks = []
    for role, key, uri in remotes:
        if not uri:
            checks.append(Check(role, "fail", f"{key} is not set", f"set {key}, or pass --hub"))
            continue
        try:
            address = parse_address(uri, ("tcp", "http", "https"))
            Link(
                address,
                error=AssistantError,
                fix="",
                connect_timeout_s=timeout_s,
            ).close()
        except (ValueError, AssistantError) as exc:
            checks.append(Check(role, "fail", str(exc), f"start the server, or fix {key}"))
            continue
        checks.append(Check(role, "ok", f"the server at {address} answers"))
    return checks


def check_models(
    config: Config, *, catalog: Catalog | None = None, verify: Callable | None = None
) -> list[Check]:
    """Re-hash every file of the configured models (seconds for large ones)."""
    from assistant.catalog.manage import verify_models

    catalog = catalog or load_catalog()
    checks = check_remote(config)
    for role, path, entry in configured_models(config, catalog):
        if entry is None:  # not a catalogue model: no checksum to compare
            checks.append(check_own_model(role, path))
            continue
        results = (verify or verify_models)(config.models_dir, [entry.id], catalog=catalog)
        bad = [r for r in results if not r.ok]
        fix = f"run `assistant models fetch {entry.id}`"
        if bad and all(r.message == "missing" for r in bad):
            from assistant.catalog.missing import fetch_command, profile_note

            detail = f"{entry.id}{profile_note(entry, config)} is missing from {path.parent}"
            fix = f"run `{fetch_command([entry], config, catalog)}`"
            checks.append(Check(role, "fail", detail, fix))
        elif bad:
            problems = "; ".join(f"{r.file}: {r.message}" for r in bad)
            detail = f"{entry.id} is corrupt or changed since it was installed ({problems})"
            fix += ": it moves the bad file aside as .quarantine and downloads it again"
            checks.append(Check(role, "fail", detail, fix))
        else:
            how = "sha256 ok" if entry.verified else "present (no published checksum)"
            checks.append(Check(role, "ok", f"{entry.id}: {how}, {len(results)} file(s)"))
    return checks


def check_own_model(role: str, path: Path) -> Check:
    """A model that is not in the catalogue: present, and for a GGUF, its magic."""
    fix = "`assistant models list` shows the catalogue's models"
    if not path.exists():
        return Check(role, "fail", f"{path} is missing", fix)
    if path.suffix == ".gguf":
        try:
            with path.open("rb") as f:
                magic = f.read(4)
        except OSError as exc:
            detail = f"{path} cannot be read ({exc.strerror})"
            return Check(role, "fail", detail, "make it readable by the assistant's user")
        if magic != b"GGUF":
            detail = f"{path} is not a GGUF file (starts with {magic!r})"
            return Check(role, "fail", detail, "replace it with a GGUF model, or " + fix)
    return Check(role, "warn", f"{path} is not in the catalogue (no checksum to check)", fix)


def check_memory(
    config: Config,
    *,
    catalog: Catalog | None = None,
    memory: Callable[[], tuple[int, int] | None] | None = None,
) -> Check:
    """MemAvailable against the catalogue's memory_mb of the configured models
    (plus Python's own): a warning when they fit only in MemTotal, a failure
    when not even there."""
    from assistant.catalog.machine import MB, fits, memory_info
    from assistant.catalog.recommend import peak_mb

    catalog = catalog or load_catalog()
    entries = [e for _, _, e in configured_models(config, catalog) if e is not None]
    need_mb = peak_mb(entries)
    mem = (memory or memory_info)()
    if mem is None:
        return Check("memory", "info", f"models need ~{need_mb} MB; /proc/meminfo unreadable")
    detail = f"{mem[0] / MB:.0f} MB available of {mem[1] / MB:.0f} MB; models need ~{need_mb} MB"
    fit = fits(need_mb, mem)
    if fit == "no":
        fix = "pick smaller models: `assistant models recommend` says which fit this board"
        return Check("memory", "fail", detail, fix)
    if fit == "tight":
        fix = "close other programs, or `assistant models recommend` for models that fit"
        return Check("memory", "warn", detail, fix)
    return Check("memory", "ok", detail)


def check_config(config: Config, *, catalog: Catalog | None = None) -> list[Check]:
    """The config loaded (or we would not be here); plus cross-checks between keys."""
    checks = [Check("config", "ok", f"loaded from {config.source}")]
    if config.asr.grammar and config.asr.engine in ("whisper", "moonshine"):
        fix = 'remove asr.grammar, or set asr.engine = "vosk"'
        detail = f"asr.grammar is ignored by the {config.asr.engine} engine"
        checks.append(Check("config", "warn", detail, fix))
    lang = config.asr.language.lower()
    for role, _, entry in configured_models(config, catalog or load_catalog()):
        spoken = entry.language.lower().split("_")[0] if entry else lang
        if entry and entry.kind != "llm" and spoken not in ("multilingual", lang):
            fix = f"set asr.language, or pick a {lang} model (`assistant models list`)"
            detail = f"{role} {entry.id} is {entry.language} but asr.language is {lang!r}"
            checks.append(Check("config", "warn", detail, fix))
    return checks


def check_wake(config: Config, *, load: Callable[[Config], object] | None = None) -> Check:
    """With ``[wake]`` on, loads the wake-word models (tens of ms) and says
    which endpointer hands-free turns use."""
    from assistant.compose.handsfree import build_detector, endpointer_name
    from assistant.core.errors import AssistantError

    if not config.wake.enabled:
        return Check("wake word", "info", "off (push-to-talk only; [wake] enabled = true)")
    try:
        detector = (load or build_detector)(config)
    except AssistantError as exc:
        return Check(
            "wake word", "fail", str(exc), "`pip install .[wake]`, or set [wake] enabled = false"
        )
    getattr(detector, "close", lambda: None)()
    words = ", ".join(config.wake.words)
    return Check("wake word", "ok", f"{words}; turns end by the {endpointer_name()}")


def check_echo(config: Config, *, reason: Callable[[Config], str | None] | None = None) -> Check:
    """Whether ``assistant run`` cancels the speaker's echo in the microphone,
    and so whether the wake word stops a reply (``wake.barge_in = "auto"``)."""
    from assistant.compose.devices import echo_off_reason

    name = "echo canceller"
    why = (reason or echo_off_reason)(config)
    barge_in = config.wake.barge_in
    voice = config.wake.enabled and (barge_in is True or (barge_in == "auto" and why is None))
    says = "the wake word stops a reply" if voice else "only the button stops a reply"
    if why is None:
        return Check(name, "ok", f"active (speexdsp); {says}; `doctor --echo` tests the room")
    if config.echo.enabled is True:
        return Check(name, "fail", why, 'fix it, or set [echo] enabled = "auto"')
    if config.echo.enabled is False or not config.wake.enabled:
        return Check(name, "info", f"off: {why}; {says}")
    return Check(name, "warn", f"off: {why}; {says}", why.rpartition(": ")[2])
