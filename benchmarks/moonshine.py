"""Moonshine against Whisper: time per clip, word error rate, and release to
transcript through the streaming stage, side by side in one run.

Takes the real recordings of ``benchmarks/real_speech/`` (cut tight: the
release comes on the last word), or with ``--speech piper`` each sentence
of ``benchmarks/asr_speech.txt`` spoken by the piper voice
``en_US-joe-medium``, after 0.3 s of silence, then, per clip, in an order
that rotates from clip to clip:

* ``moonshine``: one decode of the whole clip by the engine, guards on
  (`MoonshineSpeechToText.decode_partial`: what fails a guard is counted,
  not decoded again);
* ``base`` and ``tiny.en``: bare faster-whisper (``WhisperModel.transcribe``,
  greedy, int8), the latter only when ``models/whisper-tiny.en`` exists;
* ``moonshine_stage`` and ``whisper_stage``: the engines as the appliance
  uses them, fed in 30 ms blocks at real-time pace, timed from the last
  block to ``finish()`` (Moonshine with Whisper base to fall back on).

"moonshine + fallback" is the WER when the clips that failed a guard take
Whisper base's words, as the engine does. Every engine on ``--threads``
threads (1 by default). Prints a table, then the JSON.

    .venv/bin/python benchmarks/moonshine.py [--speech real|piper] [--clips N] [--threads T]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.bench.asr import BareWhisper, clock, load_clip, run_stage  # noqa: E402
from assistant.bench.report import median  # noqa: E402
from assistant.bench.wer import corpus_wer  # noqa: E402
from assistant.core.config import AsrConfig, resolve_models_dir  # noqa: E402
from assistant.stages.asr.moonshine import MoonshineSpeechToText  # noqa: E402
from assistant.stages.asr.whisper import WhisperSpeechToText  # noqa: E402
from tests.support.real_speech import real_clips  # noqa: E402
from tests.support.speech import piper_wav  # noqa: E402

SENTENCES = ROOT / "benchmarks" / "asr_speech.txt"


def sentences() -> list[str]:
    lines = SENTENCES.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--speech", choices=["real", "piper"], default="real",
        help="real: benchmarks/real_speech/ (cut tight); piper: asr_speech.txt synthesized",
    )  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    models = resolve_models_dir("")
    config = AsrConfig(engine="moonshine", language="en")
    whisper = WhisperSpeechToText(config, models / "whisper-base", n_threads=args.threads)
    moon = MoonshineSpeechToText(config, models / "moonshine-base-en", n_threads=args.threads)
    checked = MoonshineSpeechToText(
        config, models / "moonshine-base-en", n_threads=args.threads, fallback=whisper
    )
    bare = {"base": BareWhisper(models / "whisper-base", "en", args.threads)}
    if (models / "whisper-tiny.en" / "model.bin").is_file():
        bare["tiny.en"] = BareWhisper(models / "whisper-tiny.en", "en", args.threads)
    for engine in (whisper, moon, checked):
        engine.warm_up()
    arms = ["moonshine", *bare, "moonshine_stage", "whisper_stage"]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.speech == "real":
            sources = [(c.path, c.text) for c in real_clips()][: args.clips]
        else:
            texts = sentences()[: args.clips]
            sources = [
                (piper_wav(t, models, Path(tmp) / f"{i:02d}.wav"), t) for i, t in enumerate(texts)
            ]
        for i, (path, text) in enumerate(sources):
            clip = load_clip(path, text)
            row: dict[str, Any] = {"clip": i, "audio_s": round(clip.audio_s, 2), "ref": text}
            for k in range(len(arms)):
                arm = arms[(i + k) % len(arms)]
                if arm == "moonshine":
                    started = clock()
                    decoded = moon.decode_partial(clip.samples)
                    seconds, said = clock() - started, decoded.text
                    row["guard"] = decoded.fallback
                elif arm in bare:
                    started = clock()
                    said = bare[arm].transcribe(clip.samples)
                    seconds = clock() - started
                else:
                    stt = checked if arm == "moonshine_stage" else whisper
                    said, seconds, _decodes = run_stage(stt, clip)
                row[f"{arm}_ms"] = round(seconds * 1000, 1)
                row[f"{arm}_text"] = said
            rows.append(row)
            print(f"{i:2d} {row['audio_s']:4.1f} s " + " ".join(
                f"{a} {row[f'{a}_ms']:.0f}" for a in arms), file=sys.stderr)  # fmt: skip
    summary: dict[str, Any] = {"clips": len(rows), "threads": args.threads}
    for arm in arms:
        summary[f"{arm}_median_ms"] = median([r[f"{arm}_ms"] for r in rows])
        summary[f"{arm}_wer"] = round(corpus_wer((r["ref"], r[f"{arm}_text"]) for r in rows), 3)
    fallback = [(r["ref"], r["base_text"] if r["guard"] else r["moonshine_text"]) for r in rows]
    summary["moonshine_guarded_clips"] = sum(1 for r in rows if r["guard"])
    summary["moonshine_with_fallback_wer"] = round(corpus_wer(fallback), 3)
    for arm in arms:
        print(
            f"{arm:16s} median {summary[f'{arm}_median_ms']:7.1f} ms  WER {summary[f'{arm}_wer']}"
        )
    print(f"moonshine + fallback WER {summary['moonshine_with_fallback_wer']} "
          f"({summary['moonshine_guarded_clips']} clips failed a guard)")  # fmt: skip
    result = {"summary": summary, "clips": rows}
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
