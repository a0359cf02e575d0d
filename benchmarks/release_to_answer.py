"""Release to first audio on real recordings, against a bare Whisper base.

For each clip of ``benchmarks/real_speech/`` (real human speech, cut so the
file ends within 0.1 s of the last word: the button is released on the last
word) and each round, these arms run back to back, in an order that rotates
from clip to clip:

* one per engine of ``--engines``: the clip through ``assistant listen --wav
  CLIP --realtime --engine E --json``'s own path, in this process: the
  engines are loaded and warmed up once (`compose.build_engines`), then
  every clip is a `compose.run_file_turn` with ``realtime`` (the file
  delivered at its own pace in ``audio.block_ms`` blocks, like a
  microphone) and `listen.turn_result` makes the same JSON as ``--json``.
  Nothing is subtracted. ``ttfa`` is from the release (the last sample
  delivered) to the first reply sample handed to the sink; ``asr_final``
  from the release to the final transcript;
* ``bare``: faster-whisper's ``WhisperModel.transcribe`` on the same samples
  (Whisper base from the same model directory, int8, greedy, no VAD, English,
  CTranslate2's default threads as the Whisper stage uses), timed from the
  call: what a recognizer that starts at the release needs for the
  transcript alone.

An engine that cannot be loaded here (not installed, not a known engine) is
skipped with one line. Prints a table per engine; ``--json PATH`` writes
every row and the summaries. Usage::

    .venv/bin/python benchmarks/release_to_answer.py [--engines whisper,moonshine]
        [--rounds 1] [--clips N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.bench.asr import BareWhisper  # noqa: E402
from assistant.bench.report import median, ratio  # noqa: E402
from assistant.bench.wer import corpus_wer  # noqa: E402
from assistant.compose import build_engines, build_sink, run_file_turn  # noqa: E402
from assistant.compose.engines import Engines  # noqa: E402
from assistant.core.config import Config, load_config  # noqa: E402
from assistant.core.errors import AssistantError  # noqa: E402
from assistant.frontends.listen import MAX_LISTEN_S, turn_result  # noqa: E402
from assistant.stages.audio.pcm import ASR_RATE_HZ  # noqa: E402
from assistant.stages.audio.wavfile import read_wav  # noqa: E402
from tests.support.real_speech import RealClip, real_clips  # noqa: E402

log = logging.getLogger("release_to_answer")


def load_engines(names: list[str]) -> tuple[dict[str, tuple[Config, Engines]], dict[str, str]]:
    """({engine: (config, loaded engines)}, {engine: why it was skipped})."""
    loaded, skipped = {}, {}
    for name in names:
        try:
            config = load_config(None, {"asr.engine": name})
            loaded[name] = (config, build_engines(config))
        except AssistantError as exc:
            skipped[name] = " ".join(str(exc).split())
            print(f"{name}: skipped: {skipped[name]}", file=sys.stderr)
    return loaded, skipped


def listen(config: Config, engines: Engines, clip: RealClip, out: Path) -> dict:
    """One ``listen --realtime --json`` result for ``clip`` on loaded engines."""
    event = run_file_turn(
        engines,
        config,
        clip.path,
        build_sink(config, wav=out),
        max_listen_s=max(config.turn.max_listen_s, MAX_LISTEN_S),
        realtime=True,
    )
    return turn_result(config, event, out, True, ready_fraction=event.ready_fraction)


def listen_row(config: Config, engines: Engines, clip: RealClip, out: Path) -> dict[str, Any]:
    try:
        result = listen(config, engines, clip, out)
    except AssistantError as exc:  # a failed turn is a result too: no text, no time
        return {"text": "", "error": " ".join(str(exc).split())}
    timings = result["timings_ms"]
    return {
        "text": result["transcript"],
        "ttfa_ms": timings["ttfa"],
        "asr_final_ms": timings["asr_final"],
        "voiced_to_audio_ms": timings["voiced_to_audio"],
        "llm_first_token_ms": timings["llm_first_token"],
        "path": result["path"],
        "ready_fraction": result["ready_fraction"],
    }


def bare_row(bare: BareWhisper, clip: RealClip) -> dict[str, Any]:
    samples = read_wav(clip.path).samples
    started = time.perf_counter()
    text = bare.transcribe(samples)
    return {"text": text, "ms": round((time.perf_counter() - started) * 1000, 1)}


def summarize(rows: list[dict], engine: str) -> dict[str, Any]:
    """Medians over the rows, the ratio to bare, and corpus WER, for ``engine``."""
    mine = [r[engine] for r in rows]
    ttfa = median([r.get("ttfa_ms") for r in mine])
    bare_ms = median([r["bare"]["ms"] for r in rows])
    per_clip = [
        r[engine]["ttfa_ms"] / r["bare"]["ms"] for r in rows if r[engine].get("ttfa_ms") is not None
    ]
    return {
        "turns": len(mine),
        "failed": sum("error" in r for r in mine),
        "median_ttfa_ms": ttfa,
        "median_bare_ms": bare_ms,
        "ttfa_over_bare": ratio(ttfa, bare_ms),
        "ttfa_over_bare_per_clip_median": round(float(median(per_clip)), 3) if per_clip else None,
        "median_asr_final_ms": median([r.get("asr_final_ms") for r in mine]),
        "median_voiced_to_audio_ms": median([r.get("voiced_to_audio_ms") for r in mine]),
        "wer": round(corpus_wer((r["reference"], r[engine]["text"]) for r in rows), 4),
        "wer_bare": round(corpus_wer((r["reference"], r["bare"]["text"]) for r in rows), 4),
    }


def run(loaded: dict[str, tuple[Config, Engines]], bare: BareWhisper, clips, rounds: int, out):
    """Every arm on every clip, rotating the order; one row per clip and round."""
    arms = ["bare", *loaded]
    rows = []
    for r in range(rounds):
        for i, clip in enumerate(clips):
            row: dict[str, Any] = {"clip": clip.path.name, "round": r, "reference": clip.text}
            row["audio_s"] = round(len(read_wav(clip.path).samples) / ASR_RATE_HZ, 2)
            for k in range(len(arms)):
                arm = arms[(i + r + k) % len(arms)]
                if arm == "bare":
                    row["bare"] = bare_row(bare, clip)
                else:
                    row[arm] = listen_row(*loaded[arm], clip, out)
            times = "  ".join(f"{a} {row[a].get('ttfa_ms', row[a].get('ms'))}" for a in arms)
            print(f"{clip.path.name:28s} {times}", file=sys.stderr)
            rows.append(row)
    return rows


def table(summaries: dict[str, dict]) -> str:
    columns = [
        ("turns", "turns"),
        ("first audio", "median_ttfa_ms"),
        ("bare", "median_bare_ms"),
        ("ratio", "ttfa_over_bare"),
        ("per clip", "ttfa_over_bare_per_clip_median"),
        ("final", "median_asr_final_ms"),
        ("WER", "wer"),
        ("bare WER", "wer_bare"),
    ]
    lines = ["engine     " + "".join(f"{label:>12}" for label, _key in columns)]
    for name, s in summaries.items():
        lines.append(f"{name:<11}" + "".join(f"{_cell(s[key]):>12}" for _label, key in columns))
    lines.append("(medians in ms from the release; final = release to final transcript)")
    return "\n".join(lines)


def _cell(value: float | int | None) -> str:
    if value is None:
        return "-"
    return (
        str(value) if isinstance(value, int) else f"{value:.3g}" if value < 10 else f"{value:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="whisper", help="comma-separated asr.engine names")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--clips", type=int, default=0, help="only the first N clips")
    parser.add_argument("--json", type=Path, help="write the rows and summaries here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    clips = real_clips()[: args.clips or None]
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    base = load_config()
    bare = BareWhisper(base.models_dir / base.asr.whisper_model, "en")
    bare.transcribe(read_wav(clips[0].path).samples)  # warm up, as the stage does
    load_before = os.getloadavg()
    loaded, skipped = load_engines(names)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rows = run(loaded, bare, clips, args.rounds, Path(tmp) / "reply.wav")
    finally:
        for _config, engines in loaded.values():
            engines.close()
    summaries = {name: summarize(rows, name) for name in loaded}
    result = {
        "method": "in-process: listen's own path (run_file_turn, realtime) on engines loaded once",
        "clips": len(clips),
        "rounds": args.rounds,
        "load_avg_1m": {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)},
        "cpus": os.cpu_count(),
        "skipped": skipped,
        "summaries": summaries,
        "rows": rows,
    }
    if summaries:
        print(table(summaries))
    print(f"load average (1 min): {result['load_avg_1m']} on {os.cpu_count()} CPUs")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
