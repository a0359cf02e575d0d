"""``assistant models recommend``: the catalogue set that fits this board.

Reads the RAM (``/proc/meminfo``), the cores, the Pi model
(``/proc/device-tree/model``) and the configured language, and picks one model
per stage. Token generation reads every weight once per token, so its
ceiling is the board's memory bandwidth divided by the GGUF's size; the
figures used are `BANDWIDTH_GBS` (benchmarks/README.md, "Which models for
which board"). The first language model of `LLM_PREFERENCE` whose expected
speed is at least `MIN_TOKENS_S` and whose set fits the memory wins; a board
under `SMALL_BOARD_MB` gets the ``board = "512mb"`` profile's set.

Reads ``/proc`` and the catalogue only; blocks for milliseconds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from assistant.catalog.catalogue import Catalog, ModelEntry, load_catalog
from assistant.catalog.machine import DEVICE_MODEL, MB, MEMINFO, memory_info
from assistant.catalog.tomledit import set_toml_keys, set_top_level_keys
from assistant.core.profiles import BOARDS, profile_models, set_name

BANDWIDTH_GBS: dict[str, tuple[float, float]] = {
    "pi5": (17.0, 11.0),
    "pi4": (12.8, 5.0),
    "pi3": (3.6, 1.5),
    "zero2": (3.6, 1.5),
}
"""(peak, sustained) memory bandwidth in GB/s by board. Pi 5 and Pi 4 peaks
are the published LPDDR4X-4267 and LPDDR4-3200 figures; the Pi 5's sustained
figure is measured (STREAM-like), the Pi 4's is an assumption of the same
kind. The Pi 3 and Zero 2 W have 32-bit LPDDR2 at 900 MT/s (3.6 GB/s peak);
1.5 GB/s sustained is an assumption. Expected tokens/s use the sustained one."""

MIN_TOKENS_S = 8.0
"""Speech needs about 3-4 tokens/s; twice that leaves room for piper and the
recognizer running on the other cores."""

OS_RESERVE_MB = 100
"""Memory left to Linux and its services (Raspberry Pi OS Lite, no desktop)."""

PYTHON_MB = 40
"""Python and the assistant's imports, before any model (measured: ~36 MiB)."""

SMALL_BOARD_MB = 700
"""MemTotal under this is a 512 MB board (a Pi Zero 2 W reports ~430 MB)."""

LLM_PREFERENCE = {
    "en": ("qwen2.5-1.5b", "llama-3.2-1b", "smollm2-360m", "smollm2-135m"),
    "pt": ("qwen2.5-1.5b", "gemma-3-1b", "llama-3.2-1b", "qwen2.5-0.5b", "gemma-3-270m"),
    "es": ("qwen2.5-1.5b", "gemma-3-1b", "llama-3.2-1b", "qwen2.5-0.5b", "gemma-3-270m"),
}
"""Candidate language models by language, best answers first (see
``assistant bench --quality``); the first that is fast enough and fits wins."""


@dataclass(frozen=True)
class Machine:
    """What the recommendation depends on."""

    model: str
    """The device tree's model string, or empty when not a device-tree board."""
    board: str
    """``pi5``, ``pi4``, ``pi3``, ``zero2`` or ``other``."""
    total_mb: int
    """MemTotal in MB (0 when unreadable)."""
    available_mb: int
    """MemAvailable in MB (0 when unreadable)."""
    cores: int

    @property
    def ram_class(self) -> str:
        """``512mb``, ``1-2gb``, ``4gb`` or ``8gb`` (by MemTotal, which is a
        little under the size on the box)."""
        if self.total_mb < SMALL_BOARD_MB:
            return "512mb"
        if self.total_mb < 3000:
            return "1-2gb"
        return "4gb" if self.total_mb < 6000 else "8gb"

    @property
    def bandwidth_gbs(self) -> float | None:
        """Sustained memory bandwidth, None for a board not in `BANDWIDTH_GBS`."""
        figures = BANDWIDTH_GBS.get(self.board)
        return figures[1] if figures else None


@dataclass(frozen=True)
class Recommendation:
    machine: Machine
    language: str
    board_profile: str
    """``512mb`` or ``default``: the config's ``board`` key to use."""
    models: tuple[ModelEntry, ...]
    """Language model, recognizer, voice."""
    tokens_s: float | None
    """Expected generation speed: sustained bandwidth / GGUF bytes."""
    peak_mb: int
    """Expected peak RSS: Python plus each model's catalogue ``memory_mb``."""
    fits: Literal["yes", "tight", "no", "?"]
    """``yes`` when ``peak_mb`` fits in MemTotal less `OS_RESERVE_MB`;
    ``tight`` when it fits only with zram swap (zram-tools' default: half the
    RAM, compressed about 3:1, adds about a third) and the mapped GGUF's pages
    (``board = "512mb"`` sets ``llm.mmap``) left to the page cache, which the
    kernel can drop; ``no`` otherwise; ``?`` when /proc/meminfo is unreadable."""
    notes: list[str] = field(default_factory=list)

    @property
    def set_name(self) -> str:
        return set_name(self.language, self.board_profile)

    def as_json(self) -> dict[str, object]:
        """What ``models recommend --json`` prints."""
        m = self.machine
        return {
            "board": m.board,
            "model": m.model,
            "cores": m.cores,
            "total_mb": m.total_mb,
            "available_mb": m.available_mb,
            "ram_class": m.ram_class,
            "bandwidth_gbs": m.bandwidth_gbs,
            "language": self.language,
            "board_profile": self.board_profile,
            "models": [e.id for e in self.models],
            "tokens_per_s": round(self.tokens_s, 1) if self.tokens_s else None,
            "peak_mb": self.peak_mb,
            "fits": self.fits,
            "fetch": fetch_names(self),
            "config": config_keys(self),
            "notes": self.notes,
        }


def board_of(model: str) -> str:
    """The board key of a device-tree model string."""
    text = model.lower()
    if "raspberry pi" not in text:
        return "other"
    if "zero 2" in text:
        return "zero2"
    for key, marks in (
        ("pi5", ("pi 5", "pi 500", "compute module 5")),
        ("pi4", ("pi 4", "pi 400", "compute module 4")),
        ("pi3", ("pi 3", "compute module 3")),
    ):
        if any(m in text for m in marks):
            return key
    return "other"


def read_machine(
    meminfo: Path = MEMINFO, device_model: Path = DEVICE_MODEL, cores: int | None = None
) -> Machine:
    """This machine (or the fake ``/proc`` files a test passes)."""
    try:
        model = device_model.read_text("ascii", "ignore").strip("\0\n ")
    except OSError:
        model = ""
    memory = memory_info(meminfo)
    available, total = memory if memory else (0, 0)
    return Machine(
        model=model,
        board=board_of(model),
        total_mb=total // MB,
        available_mb=available // MB,
        cores=cores or os.cpu_count() or 1,
    )


def expected_tokens_s(entry: ModelEntry, machine: Machine) -> float | None:
    """Generation ceiling on ``machine``: sustained bandwidth / model bytes."""
    bandwidth = machine.bandwidth_gbs
    if bandwidth is None or entry.kind != "llm":
        return None
    return bandwidth * 1e9 / entry.size_bytes


def peak_mb(entries: list[ModelEntry] | tuple[ModelEntry, ...]) -> int:
    """Python plus every model's catalogue ``memory_mb``."""
    return PYTHON_MB + sum(e.memory_mb for e in entries)


def fit(peak: int, llm: ModelEntry, board: str, budget: int) -> Literal["yes", "tight", "no", "?"]:
    """See `Recommendation.fits`."""
    if budget <= -OS_RESERVE_MB:
        return "?"
    if peak <= budget:
        return "yes"
    mapped = llm.size_bytes // MB if board in BOARDS else 0
    with_zram = (budget + OS_RESERVE_MB) * 4 // 3 - OS_RESERVE_MB
    return "tight" if peak - mapped <= with_zram else "no"


def recommend(machine: Machine, language: str, catalog: Catalog | None = None) -> Recommendation:
    """The set for ``machine`` and ``language`` (``en``, ``pt`` or ``es``)."""
    catalog = catalog or load_catalog()
    budget = machine.total_mb - OS_RESERVE_MB if machine.total_mb else -OS_RESERVE_MB
    notes = []
    if machine.board == "other":
        notes.append("not a Raspberry Pi: expected speed unknown, chosen by memory only")
    if machine.total_mb and machine.ram_class == "512mb":
        board = "512mb"
        chosen = [catalog.get(i) for i in profile_models(language, board).ids]
    else:
        board = "default"
        base = profile_models(language)
        others = [catalog.get(base.asr_model), catalog.get(base.voice)]
        chosen = []
        for llm_id in LLM_PREFERENCE[language]:
            llm = catalog.get(llm_id)
            speed = expected_tokens_s(llm, machine)
            fast = speed is None or speed >= MIN_TOKENS_S
            if fast and fit(peak_mb([llm, *others]), llm, board, budget) in ("yes", "?"):
                chosen = [llm, *others]
                break
        if not chosen:  # nothing fast enough fits: the profile's own, the smallest
            chosen = [catalog.get(base.llm_id), *others]
            notes.append("no faster model fits; this one is the profile's own")
    peak = peak_mb(chosen)
    fits = fit(peak, chosen[0], board, budget)
    if fits == "?":
        notes.append("/proc/meminfo unreadable: memory not checked")
    elif fits == "tight":
        notes.append(
            f"needs ~{peak} MB against the {budget} MB this board leaves: it runs only with "
            "zram swap (`sudo apt install zram-tools`), the mapped language model paged "
            "out as needed, and nothing else running"
        )
    elif fits == "no":
        notes.append(f"needs ~{peak} MB, more than the {budget} MB this board leaves")
    speed = expected_tokens_s(chosen[0], machine)
    if speed is not None and speed < MIN_TOKENS_S:
        notes.append(f"about {speed:.0f} tokens/s: replies will lag behind speech")
    return Recommendation(
        machine=machine,
        language=language,
        board_profile=board,
        models=tuple(chosen),
        tokens_s=expected_tokens_s(chosen[0], machine),
        peak_mb=peak,
        fits=fits,
        notes=notes,
    )


def config_keys(rec: Recommendation) -> dict[str, object]:
    """The config keys that select ``rec``: the profile keys, plus the model
    of each stage where it differs from the profile's own."""
    keys: dict[str, object] = {"language": rec.language}
    if rec.board_profile in BOARDS:
        keys["board"] = rec.board_profile
    own = profile_models(rec.language, rec.board_profile)
    llm = rec.models[0]
    if llm.id != own.llm_id:
        keys["llm.model"] = llm.root
    return keys


def format_recommendation(rec: Recommendation) -> list[str]:
    """The lines ``assistant models recommend`` prints."""
    m = rec.machine
    bandwidth = BANDWIDTH_GBS.get(m.board)
    bw = f"{bandwidth[1]:g} GB/s sustained ({bandwidth[0]:g} peak)" if bandwidth else "unknown"
    lines = [
        f"board: {m.model or 'not a Raspberry Pi'} ({m.board}), {m.cores} cores, "
        f"{m.total_mb} MB RAM ({m.ram_class}), {m.available_mb} MB available; "
        f"memory bandwidth {bw}",
        f"language: {rec.language}; board profile: {rec.board_profile}",
    ]
    for entry in rec.models:
        extra = ""
        if entry.kind == "llm":
            speed = f"~{rec.tokens_s:.0f} tokens/s" if rec.tokens_s else "speed unknown"
            extra = f", {entry.size_bytes / MB:.0f} MB file, {speed}"
        mark = "" if entry.verified else " (unverified checksum)"
        lines.append(f"  {entry.kind:4} {entry.id}: ~{entry.memory_mb} MB{extra}{mark}")
    verdict = {"yes": "fits", "tight": "tight", "no": "does NOT fit", "?": "memory unknown"}
    lines.append(f"expected peak RSS ~{rec.peak_mb} MB: {verdict[rec.fits]}")
    lines += [f"note: {n}" for n in rec.notes]
    keys = ", ".join(f"{k} = {v!r}" for k, v in config_keys(rec).items())
    lines.append(f"fetch: assistant models fetch {' '.join(fetch_names(rec))}")
    lines.append(f"config: {keys}")
    return lines


def fetch_names(rec: Recommendation, catalog: Catalog | None = None) -> list[str]:
    """What ``models fetch`` takes for ``rec``: its profile's set name when
    the set is exactly these models, else the ids."""
    ids = [e.id for e in rec.models]
    sets = (catalog or load_catalog()).sets
    if rec.set_name in sets and set(sets[rec.set_name].models) == set(ids):
        return [rec.set_name]
    return ids


def recommended_toml(rec: Recommendation, text: str) -> str:
    """Config file ``text`` pointed at ``rec``: its top-level and section keys
    set, every other line kept."""
    keys = config_keys(rec)
    top = {k: str(v) for k, v in keys.items() if "." not in k}
    sections = {tuple(k.split(".", 1)): str(v) for k, v in keys.items() if "." in k}
    return set_toml_keys(set_top_level_keys(text, top), sections)  # type: ignore[arg-type]


__all__ = [
    "BANDWIDTH_GBS",
    "Machine",
    "Recommendation",
    "board_of",
    "config_keys",
    "expected_tokens_s",
    "fetch_names",
    "format_recommendation",
    "read_machine",
    "recommend",
    "recommended_toml",
]
