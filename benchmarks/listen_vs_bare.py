"""`assistant listen --realtime --json` against a bare faster-whisper, side by side.

Speaks the bench questions (benchmarks/questions.txt) with the configured
piper voice, then for each WAV and round, in alternating order:

* **listen**: ``python -m assistant listen --wav Q --realtime --engine whisper
  --json`` in its own process, as a user runs it: its ``ttfa`` is from the
  release (the last sample delivered at real-time pace) to the first audio;
* **bare**: faster-whisper's ``WhisperModel.transcribe`` on the same WAV
  (greedy, no VAD, same model directory and language), loaded once and warmed
  up here: the time a recognizer that starts at the release needs for the
  transcript alone.

Prints a table and, with --json, one JSON object. Usage:
    .venv/bin/python benchmarks/listen_vs_bare.py [--rounds 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assistant.bench.asr import BareWhisper, load_clip
from assistant.bench.run import load_questions
from assistant.bench.turns import speak_questions
from assistant.bench.wer import corpus_wer
from assistant.compose import build_tts
from assistant.core.config import load_config


def listen(wav: Path, out: Path) -> dict:
    cmd = [sys.executable, "-m", "assistant", "listen", "--wav", str(wav), "--out", str(out)]
    cmd += ["--realtime", "--engine", "whisper", "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    config = load_config()
    questions = load_questions(None)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wavs = speak_questions(build_tts(config), questions, folder)
        bare = BareWhisper(config.models_dir / config.asr.whisper_model, "en")
        bare.transcribe(load_clip(wavs[0], "").samples)  # warm up, like the appliance
        for r in range(args.rounds):
            for i, (wav, question) in enumerate(zip(wavs, questions, strict=True)):
                clip = load_clip(wav, question, lead_s=0.0)
                row: dict = {"question": question, "round": r}
                arms = ["listen", "bare"] if (i + r) % 2 == 0 else ["bare", "listen"]
                for arm in arms:
                    if arm == "bare":
                        started = time.perf_counter()
                        row["bare_text"] = bare.transcribe(clip.samples)
                        row["bare_ms"] = round((time.perf_counter() - started) * 1000, 1)
                    else:
                        result = listen(wav, folder / "reply.wav")
                        row["listen_text"] = result["transcript"]
                        row["ttfa_ms"] = result["timings_ms"]["ttfa"]
                        row["asr_final_ms"] = result["timings_ms"]["asr_final"]
                        row["voiced_to_audio_ms"] = result["timings_ms"].get("voiced_to_audio")
                        row["ready_fraction"] = result.get("ready_fraction")
                rows.append(row)
                times = f"ttfa {row['ttfa_ms']:7.1f} ms  bare {row['bare_ms']:7.1f} ms"
                print(f"{question:40.40s} {times}", file=sys.stderr)
    med = {k: statistics.median(r[k] for r in rows) for k in ("ttfa_ms", "bare_ms", "asr_final_ms")}
    result = {
        "rows": rows,
        "median_ttfa_ms": med["ttfa_ms"],
        "median_bare_ms": med["bare_ms"],
        "median_asr_final_ms": med["asr_final_ms"],
        "ttfa_over_bare": round(med["ttfa_ms"] / med["bare_ms"], 3),
        "wer_bare": round(corpus_wer((r["question"], r["bare_text"]) for r in rows), 3),
        "wer_listen": round(corpus_wer((r["question"], r["listen_text"]) for r in rows), 3),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            if key != "rows":
                print(f"{key:22s} {value}")


if __name__ == "__main__":
    main()
