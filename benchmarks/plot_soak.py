"""Plot a soak: RSS and tokens/s against the turn number, and make the small
summary kept in the repository.

    assistant bench --soak 500 --json > /tmp/soak.json
    python benchmarks/plot_soak.py /tmp/soak.json   # -> benchmarks/soak.png, soak.json

    assistant bench --soak 2000 --hub-clients 4 --json > /tmp/hub.json
    python benchmarks/plot_soak.py /tmp/hub.json --out benchmarks/soak_hub.png \
        --summary benchmarks/soak_hub.json

``soak.json`` here is the run's setup, summary, targets and per-turn series
(memory, tokens/s, disk), without the per-turn rows. matplotlib is needed
only here (``pip install matplotlib``); the assistant never imports it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def plot(result: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s, setup = result["series"], result["setup"]
    turns = s["turn"]
    fig, (mem, rate) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    mem.plot(turns, s["vm_rss_mb"], label="VmRSS", color="#4c72b0")
    mem.plot(turns, s["vm_hwm_mb"], label="VmHWM (peak)", color="#c44e52", linestyle="--")
    mem.plot(turns, s["rss_anon_mb"], label="RssAnon (heap, private)", color="#55a868")
    if any(v is not None for v in s["heap_mb"]):
        mem.plot(turns, s["heap_mb"], label="glibc malloc heap (held, virtual)", color="#8172b2")
    mem.axhline(1024, color="grey", linewidth=0.8, linestyle=":")
    mem.set_ylabel("MiB")
    mem.set_ylim(bottom=0)
    mem.legend(fontsize=8, loc="lower right")
    if any(v is not None for v in s["replies_mb"]):  # a hub soak keeps no replies
        disk = mem.twinx()
        disk.plot(turns, s["replies_mb"], color="#dd8452", linewidth=0.8, label="replies folder")
        disk.set_ylabel("replies folder (MiB)", color="#dd8452")
        disk.set_ylim(bottom=0)
    points = [(t, r) for t, r in zip(turns, s["tokens_per_s"], strict=True) if r]
    if points:
        rate.scatter([t for t, _ in points], [r for _, r in points], s=6, color="#dd8452")
        rate.set_ylabel("LLM tokens/s")
    else:  # a hub soak: each turn's wall time as its clients saw it
        walls = s.get("wall_s") or []
        rate.scatter(turns[: len(walls)], walls, s=6, color="#dd8452")
        rate.set_ylabel("turn wall time (s)")
    rate.set_xlabel("turn")
    rate.set_ylim(bottom=0)
    summary = result["summary"]
    mem.set_title(
        f"{summary['turns']} turns in one process"
        f"{', a hub with ' + str(setup['clients']) + ' clients' if setup.get('clients') else ''}: "
        f"{setup['asr_engine']} + "
        f"{setup['llm_model']} + {setup['voice']}, {setup['cpu_count']}-core "
        f"{setup['machine']}; growth from turn {summary['growth_from_turn']}: "
        f"{summary['growth_pct']} %",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(f"wrote {out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("result", type=Path, help="`assistant bench --soak N --json` output")
    p.add_argument("--out", type=Path, default=HERE / "soak.png")
    p.add_argument("--summary", type=Path, default=HERE / "soak.json")
    args = p.parse_args()
    result = json.loads(args.result.read_text())
    plot(result, args.out)
    small = {k: result[k] for k in ("setup", "summary", "targets", "series")}
    args.summary.write_text(json.dumps(small, ensure_ascii=False) + "\n")
    print(f"wrote {args.summary}")


if __name__ == "__main__":
    main()
