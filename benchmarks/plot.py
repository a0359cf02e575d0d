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

COLOURS = {
    "speech": "#8c8c8c",
    "asr": "#4c72b0",
    "llm": "#dd8452",
    "tts": "#55a868",
    "playback": "#c44e52",
    "wait": "#8172b3",
}
LABELS = {
    "speech": "the question being spoken",
    "asr": "ASR (first sample heard -> transcript)",
    "llm": "LLM (prompt -> last token)",
    "tts": "TTS (until the first audio)",
    "playback": "playback",
    "wait": "what the person waits (last voiced sample -> first audio)",
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
# The paced estimate (benchmarks/README.md, "Paced: the paper estimate").
QUESTION_S = 2.0  # a bench question, spoken
VOSK_DECODE_RTF = (0.5, 1.0)  # Vosk decode time / speech time on the Pi: it keeps up (<= 1)
REPLY_RATIO = 0.83  # measured: streaming / sequential, transcript -> first audio
FIRST_PIECE_AUDIO_S = 1.0  # the earlier first audio piece (a clause, not the sentence)
PACED_MODELS = ("smollm2-135m", "qwen2.5-0.5b")


def plot(results: Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = json.loads(results.read_text())
    waterfall = data["waterfall"]
    fig, ax = plt.subplots(figsize=(10, 4.8))
    arms = ["sequential", "streaming"]
    seen = set()
    for y, arm in enumerate(arms):
        spans = waterfall[arm]
        height = 0.8 / max(1, len(spans))
        for row, span in enumerate(spans):
            start, end = span["start_ms"] / 1000, span["end_ms"] / 1000
            label = LABELS[span["stage"]] if span["stage"] not in seen else None
            seen.add(span["stage"])
            offset = (row - (len(spans) - 1) / 2) * height
            ax.barh(
                y + offset,
                end - start,
                left=start,
                height=height * 0.9,
                color=COLOURS[span["stage"]],
                label=label,
            )
        ttfa = next(s["start_ms"] for s in spans if s["stage"] == "playback") / 1000
        ax.plot([ttfa, ttfa], [y - 0.4, y + 0.4], color="black", linewidth=1.5)
        wait = next((s for s in spans if s["stage"] == "wait"), None)
        felt = (
            f", {(wait['end_ms'] - wait['start_ms']) / 1000:.2f} s after the voice" if wait else ""
        )
        ax.annotate(f"first audio {ttfa:.2f} s{felt}", (ttfa, y + 0.42), fontsize=8)
    ax.axvline(0, color="grey", linewidth=0.8, linestyle="--")
    setup = data["setup"]
    ax.set_yticks(range(len(arms)), ["sequential\nbaseline", "streaming\n(the assistant)"])
    paced = "paced like a microphone" if setup.get("paced", False) else "whole file at once"
    ax.set_xlabel(f"seconds since the release (the question's last sample; {paced})")
    ax.set_title(
        f"A typical turn: {setup['asr_engine']} + {setup['llm_model']} "
        f"({setup['llm_threads']} thread) + {setup['voice']}, {setup['cpu_count']}-core "
        f"{setup['machine']}",
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)
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


def paced_table() -> str:
    """TTFA streaming / sequential with Vosk, paced, per board: see README."""
    from assistant.catalog.catalogue import load_catalog

    entries = load_catalog().entries
    lines = [
        "| model | board | reply part, streaming (s) | streaming TTFA (s) "
        "| sequential TTFA (s) | ratio | ratio, first piece + prefill on partials |",
        "|---|---|---|---|---|---|---|",
    ]
    for model in PACED_MODELS:
        gb = entries[model].size_bytes / 1e9
        for board, (_, sustained, prefill_per_gb, rtfs) in BOARDS.items():
            prefill = NEW_PROMPT_TOKENS / (prefill_per_gb / gb)
            gen = FIRST_SENTENCE_TOKENS / (sustained / gb)
            cells = {"reply": [], "stream": [], "seq": [], "ratio": [], "next": []}
            for rtf in rtfs:  # the faster voice first
                reply = prefill + gen + rtf * FIRST_SENTENCE_AUDIO_S
                stream = VOSK_FINAL_S + reply
                piece = VOSK_FINAL_S + gen * 0.5 + rtf * FIRST_PIECE_AUDIO_S
                for vosk in VOSK_DECODE_RTF:
                    seq = vosk * QUESTION_S + reply / REPLY_RATIO
                    cells["seq"].append(seq)
                    cells["ratio"].append(stream / seq)
                    cells["next"].append(piece / seq)
                cells["reply"].append(reply)
                cells["stream"].append(stream)

            def span(values: list[float], digits: int = 2) -> str:
                return f"{min(values):.{digits}f}-{max(values):.{digits}f}"

            lines.append(
                f"| {model} | {board} | {span(cells['reply'])} | {span(cells['stream'])} "
                f"| {span(cells['seq'])} | {span(cells['ratio'])} | {span(cells['next'])} |"
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
    print()
    print(paced_table())


if __name__ == "__main__":
    main()
