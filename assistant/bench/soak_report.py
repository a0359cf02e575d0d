"""Summary, targets, table and per-turn file of ``assistant bench --soak``.

Pure functions over the per-turn rows that `bench.soak` records, so the
bookkeeping can be checked without running a model. Memory is in MiB
(``/proc/self/status`` kB / 1024), disk use in MiB, rates in tokens/s.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from assistant.bench.report import Target, median
from assistant.core.errors import ConfigError

CHECKPOINTS = (1, 20, 50, 100, 200, 500)
"""Turns whose RSS the summary quotes (those the run reached, and the last)."""
GROWTH_FROM_TURN = 50
"""RSS growth is measured from this turn (after warm-up effects) to the last."""
RATE_WINDOW = 50
"""Tokens/s "early" and "late" are the medians of this many LLM turns."""
MAX_RSS_MB = 1024.0
MAX_GROWTH_PCT = 5.0

ROW_FIELDS = (
    "turn",
    "kind",
    "text",
    "transcript",
    "path",
    "ok",
    "error",
    "wall_ms",
    "ttfa_ms",
    "tokens",
    "tokens_per_s",
    "reply_chars",
    "alerts",
    "vm_rss_mb",
    "vm_hwm_mb",
    "rss_anon_mb",
    "rss_file_mb",
    "heap_mb",
    "heap_free_mb",
    "py_objects",
    "replies_mb",
    "replies_files",
    "elapsed_s",
)
"""Every row's keys, in the order the per-turn CSV lists them."""


def _at(rows: Sequence[dict], turn: int, key: str) -> float | None:
    return rows[turn - 1][key] if 1 <= turn <= len(rows) else None


def _slope_per_100(rows: Sequence[dict], key: str) -> float | None:
    """Least-squares slope of ``key`` against the turn number, per 100 turns."""
    points = [(r["turn"], r[key]) for r in rows if r.get(key) is not None]
    if len(points) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var == 0:
        return None
    cov = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return round(cov / var * 100, 2)


def soak_summary(rows: Sequence[dict], growth_from: int = GROWTH_FROM_TURN) -> dict:
    """The figures of a soak from its rows (one per turn, turn 1 first);
    memory growth and its slope are taken from turn ``growth_from`` on."""
    n = len(rows)
    rss = [r["vm_rss_mb"] for r in rows if r.get("vm_rss_mb") is not None]
    checkpoints = sorted({c for c in (*CHECKPOINTS, growth_from) if c <= n} | ({n} if n else set()))
    start = min(growth_from, n)
    first, last = _at(rows, start, "vm_rss_mb"), _at(rows, n, "vm_rss_mb")
    growth = None
    if n > start and first and last is not None:
        growth = round((last - first) / first * 100, 2)
    rates = [r["tokens_per_s"] for r in rows if r.get("tokens_per_s")]
    failures = [r for r in rows if not r["ok"]]
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    disk = rows[-1]["replies_mb"] if rows else None
    return {
        "turns": n,
        "kinds": kinds,
        "failures": len(failures),
        "failed_turns": [{"turn": r["turn"], "error": r["error"]} for r in failures[:20]],
        "rss_mb_at": {str(c): _at(rows, c, "vm_rss_mb") for c in checkpoints},
        "max_rss_mb": max(rss) if rss else None,
        "peak_hwm_mb": rows[-1]["vm_hwm_mb"] if rows else None,
        "growth_from_turn": start,
        "growth_pct": growth,
        "rss_slope_mb_per_100_turns": _slope_per_100(rows[start - 1 :] if n else [], "vm_rss_mb"),
        "anon_mb_at": {str(c): _at(rows, c, "rss_anon_mb") for c in checkpoints},
        "heap_mb_at": {str(c): _at(rows, c, "heap_mb") for c in checkpoints},
        "py_objects_at": {str(c): _at(rows, c, "py_objects") for c in checkpoints},
        "tokens_per_s": {
            "median": median(rates),
            "early": median(rates[:RATE_WINDOW]),
            "late": median(rates[-RATE_WINDOW:]),
            "llm_turns": len(rates),
        },
        "replies_mb": disk,
        "replies_files": rows[-1]["replies_files"] if rows else None,
        "replies_mb_per_turn": round(disk / n, 3) if n and disk is not None else None,
        "duration_s": rows[-1]["elapsed_s"] if rows else None,
    }


def soak_targets(summary: dict) -> list[Target]:
    """The issue's targets: no failure, RSS never above 1 GiB, and RSS growth
    from turn 50 to the last of at most 5 % (None when the run is too short)."""
    start = summary["growth_from_turn"]
    return [
        Target(
            "soak_failures",
            "failed turns",
            summary["failures"],
            0,
            "<=",
            "turns",
            f"of {summary['turns']} turns",
        ),
        Target(
            "soak_max_rss_mb",
            "max RSS over the soak",
            summary["max_rss_mb"],
            MAX_RSS_MB,
            "<=",
            "MiB",
            f"VmRSS after each turn; VmHWM {summary['peak_hwm_mb']} MiB",
        ),
        Target(
            "soak_rss_growth_pct",
            f"RSS growth, turn {start} to the last",
            summary["growth_pct"],
            MAX_GROWTH_PCT,
            "<=",
            "%",
            f"slope {summary['rss_slope_mb_per_100_turns']} MiB per 100 turns",
        ),
    ]


def series(rows: Sequence[dict]) -> dict[str, list]:
    """Compact per-turn columns for the plot (`benchmarks/plot_soak.py`)."""
    keys = ("turn", "kind", "vm_rss_mb", "vm_hwm_mb", "rss_anon_mb", "heap_mb")
    out: dict[str, list] = {k: [r.get(k) for r in rows] for k in keys}
    out["tokens_per_s"] = [r.get("tokens_per_s") for r in rows]
    out["replies_mb"] = [r.get("replies_mb") for r in rows]
    out["wall_s"] = [None if r.get("wall_ms") is None else r["wall_ms"] / 1000 for r in rows]
    return out


def write_rows(rows: Sequence[dict], path: Path) -> None:
    """The per-turn rows to ``path``: CSV when it ends in ``.csv``, else one
    JSON array. `ConfigError` naming the file if it cannot be written."""
    path = Path(path)
    try:
        with path.open("w", encoding="utf-8", newline="") as f:
            if path.suffix.lower() == ".csv":
                writer = csv.DictWriter(f, fieldnames=ROW_FIELDS, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
            else:
                json.dump(list(rows), f, ensure_ascii=False)
    except OSError as exc:
        raise ConfigError(f"bench --soak-out {path}: cannot write ({exc.strerror})") from None


def _num(value: float | None, fmt: str = ".1f") -> str:
    return "-" if value is None else format(value, fmt)


def format_soak(result: dict) -> str:
    """The human-readable report of one soak."""
    setup, s = result["setup"], result["summary"]
    rate = s["tokens_per_s"]
    lines = [
        f"assistant bench --soak: {s['turns']} turns in {_num(s['duration_s'], '.0f')} s "
        f"on {setup['cpu_count']} CPUs ({', '.join(f'{k} {v}' for k, v in s['kinds'].items())})",
        f"  asr {setup['asr_engine']} ({setup['asr_model']}), llm {setup['llm_model']}, "
        f"voice {setup['voice']}; after loading: VmRSS {setup['loaded']['vm_rss_mb']} MiB",
    ]
    lines += [f"  note: {note}" for note in setup.get("notes", [])]
    lines += ["", f"{'turn':>6} {'VmRSS':>8} {'anon':>8} {'heap':>8} {'py objects':>11}"]
    for turn, value in s["rss_mb_at"].items():
        lines.append(
            f"{turn:>6} {_num(value):>8} {_num(s['anon_mb_at'][turn]):>8} "
            f"{_num(s['heap_mb_at'][turn]):>8} {_num(s['py_objects_at'][turn], 'd'):>11}"
        )
    lines += [
        "",
        f"max VmRSS {_num(s['max_rss_mb'])} MiB, VmHWM {_num(s['peak_hwm_mb'])} MiB; "
        f"growth from turn {s['growth_from_turn']}: {_num(s['growth_pct'], '.2f')} % "
        f"(slope {_num(s['rss_slope_mb_per_100_turns'], '.2f')} MiB / 100 turns)",
    ]
    if rate["llm_turns"]:  # a hub soak's clients see no token rate
        lines.append(
            f"tokens/s: median {_num(rate['median'])}, first {RATE_WINDOW} LLM turns "
            f"{_num(rate['early'])}, last {RATE_WINDOW} {_num(rate['late'])} "
            f"({rate['llm_turns']} LLM turns)"
        )
    if s["replies_files"] is not None:  # nor a replies folder
        lines.append(
            f"replies folder: {_num(s['replies_mb'], '.1f')} MiB in {s['replies_files']} files "
            f"({_num(s['replies_mb_per_turn'], '.3f')} MiB per turn)"
        )
    lines.append(f"failures: {s['failures']}")
    lines += [f"  turn {f['turn']}: {f['error']}" for f in s["failed_turns"]]
    lines += ["", f"{'target':<40} {'measured':>9} {'target':>12}  met"]
    for t in result["targets"]:
        limit = f"{t['op']} {t['limit']:g} {t['unit']}"
        met = {True: "yes", False: "NO", None: "n/a"}[t["met"]]
        lines.append(f"{t['label']:<40} {_num(t['value'], '.1f'):>9} {limit:>12}  {met}")
    return "\n".join(lines) + "\n"
