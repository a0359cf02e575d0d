"""Plot the waterfall of `assistant bench --json` results, and print the paper
estimate for a Raspberry Pi 4 and 5 as a Markdown table.

    assistant bench --json --threads-sweep > benchmarks/results.json
    python benchmarks/plot.py benchmarks/results.json      # -> benchmarks/waterfall.png
    python benchmarks/plot.py --pi                          # the Pi table only

matplotlib is needed only here (``pip install matplotlib``); the assistant
itself never imports it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

COLOURS = {"asr": "#4c72b0", "llm": "#dd8452", "tts": "#55a868", "playback": "#c44e52"}
LABELS = {
    "asr": "ASR (end of speech -> transcript)",
    "llm": "LLM (prompt -> last token)",
    "tts": "TTS (until the first audio)",
    "playback": "playback",
}

# Paper-estimate assumptions (see benchmarks/README.md).
BOARDS = {
    # name: (peak GB/s, sustained GB/s, prefill tok/s for a 1 GB model, Piper RTF range)
    "Pi 4": (12.8, 5.0, 15.0, (0.5, 0.8)),
    "Pi 5": (17.0, 11.0, 40.0, (0.25, 0.4)),
}
FIRST_SENTENCE_TOKENS = 12
FIRST_SENTENCE_AUDIO_S = 2.5
NEW_PROMPT_TOKENS = 25
VOSK_FINAL_S = 0.2


def plot(results: Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = json.loads(results.read_text())
    waterfall = data["waterfall"]
    fig, ax = plt.subplots(figsize=(10, 3.6))
    arms = ["sequential", "streaming"]
    seen = set()
    for y, arm in enumerate(arms):
        spans = waterfall[arm]
        for row, span in enumerate(spans):
            start, end = span["start_ms"] / 1000, span["end_ms"] / 1000
            label = LABELS[span["stage"]] if span["stage"] not in seen else None
            seen.add(span["stage"])
            offset = (row - 1.5) * 0.17
            ax.barh(
                y + offset,
                end - start,
                left=start,
                height=0.16,
                color=COLOURS[span["stage"]],
                label=label,
            )
        ttfa = next(s["start_ms"] for s in spans if s["stage"] == "playback") / 1000
        ax.plot([ttfa, ttfa], [y - 0.4, y + 0.4], color="black", linewidth=1.5)
        ax.annotate(f"first audio {ttfa:.2f} s", (ttfa, y + 0.42), fontsize=8)
    setup = data["setup"]
    ax.set_yticks(range(len(arms)), ["sequential\nbaseline", "streaming\n(the assistant)"])
    ax.set_xlabel("seconds since the end of speech")
    ax.set_title(
        f"A typical turn: {setup['asr_engine']} + {setup['llm_model']} "
        f"({setup['llm_threads']} thread) + {setup['voice']}, {setup['cpu_count']}-core "
        f"{setup['machine']}",
        fontsize=9,
    )
    ax.legend(fontsize=8, loc="lower right")
    ax.set_xlim(left=0)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


def pi_table() -> str:
    """Token-rate ceilings and expected time to first audio per catalogue LLM."""
    from assistant.catalog.catalogue import load_catalog

    lines = [
        "| model | GGUF MB | board | ceiling tok/s (peak BW) | tok/s (sustained BW) "
        "| prefill 25 tok (s) | first sentence 12 tok (s) | TTS first sentence (s) "
        "| expected TTFA (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in load_catalog().entries.values():
        if entry.kind != "llm":
            continue
        gb = entry.size_bytes / 1e9
        approx = "" if entry.size_known else "~"
        for board, (peak, sustained, prefill_per_gb, (rtf_lo, rtf_hi)) in BOARDS.items():
            tg = sustained / gb
            prefill = NEW_PROMPT_TOKENS / (prefill_per_gb / gb)
            gen = FIRST_SENTENCE_TOKENS / tg
            tts_lo, tts_hi = rtf_lo * FIRST_SENTENCE_AUDIO_S, rtf_hi * FIRST_SENTENCE_AUDIO_S
            lo = VOSK_FINAL_S + prefill + gen + tts_lo
            hi = VOSK_FINAL_S + prefill + gen + tts_hi
            lines.append(
                f"| {entry.id} | {approx}{entry.size_bytes / 1e6:.0f} | {board} "
                f"| {peak / gb:.0f} | {tg:.0f} | {prefill:.2f} | {gen:.2f} "
                f"| {tts_lo:.2f}-{tts_hi:.2f} | {lo:.1f}-{hi:.1f} |"
            )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="?", type=Path, default=HERE / "results.json")
    p.add_argument("--out", type=Path, default=HERE / "waterfall.png")
    p.add_argument("--pi", action="store_true", help="print only the Pi estimate table")
    args = p.parse_args()
    if not args.pi:
        plot(args.results, args.out)
    print(pi_table())


if __name__ == "__main__":
    main()
