"""Whisper's confidence floor: the short window against the 30 s window, per clip.

For each clip, Whisper base decodes the audio twice: on the short window
the transcript comes from (`ShortWindowDecoder.decode` on the engine's final
window, nothing decoded again) and on Whisper's own 30 s window
(`transcribe_full`). It prints, for each group of clips and each candidate
rule (a floor on the short decode's average log-probability, with or
without sending all 8 kHz audio to 30 s), the word error rate of the text
the rule keeps and how many 30 s decodes it costs; then every clip whose two
transcripts differ. The clips:

* ``real``: the 30 recordings of ``benchmarks/real_speech/``, as cut;
* ``piper``: the sentences of ``asr_speech.txt`` in the piper voice, after
  0.3 s of silence (as the tests speak them);
* ``p8k``: those, down to 8 kHz and back (a telephone, a headset);
* ``espeak``: the same sentences in espeak-ng voices, in turn.

Times are printed too, but the rule is chosen on words. Usage::

    .venv/bin/python benchmarks/whisper_floor.py [--sets real,piper,p8k,espeak]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.bench.wer import corpus_wer, normalize, wer  # noqa: E402
from assistant.compose import make_speech_to_text  # noqa: E402
from assistant.core.config import AsrConfig, resolve_models_dir  # noqa: E402
from assistant.stages.asr.whisper_window import FULL_WINDOW_S, narrow_band, transcribe_full  # noqa: E402
from assistant.stages.audio.pcm import ASR_RATE_HZ, resample  # noqa: E402
from assistant.stages.audio.wavfile import read_wav  # noqa: E402
from tests.support.real_speech import real_clips  # noqa: E402
from tests.support.speech import espeak_wav, load_16k, piper_wav  # noqa: E402

SENTENCES = ROOT / "benchmarks" / "asr_speech.txt"
ESPEAK_VOICES = ("en-us", "en-us+f3", "en-us+m3", "en-us+klatt")
FLOORS = (-0.3, -0.4, -0.5, -0.6, -0.7, -0.8, -1.0, -10.0)


def clips(
    sets: list[str], models_dir: Path, folder: Path
) -> Iterator[tuple[str, str, np.ndarray, str]]:
    """(set, name, mono int16 at 16 kHz, reference) for each clip of ``sets``."""
    if "real" in sets:
        for clip in real_clips():
            yield "real", clip.path.stem, read_wav(clip.path).samples, clip.text
    lines = SENTENCES.read_text(encoding="utf-8").splitlines()
    texts = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    pre_roll = np.zeros(round(0.3 * ASR_RATE_HZ), np.int16)
    for i, text in enumerate(texts):
        if "piper" in sets or "p8k" in sets:
            piper = np.concatenate(
                [pre_roll, load_16k(piper_wav(text, models_dir, folder / f"p{i}.wav"))]
            )
            if "piper" in sets:
                yield "piper", f"piper-{i:02d}", piper, text
            if "p8k" in sets:
                narrow = resample(resample(piper, ASR_RATE_HZ, 8000), 8000, ASR_RATE_HZ)
                yield "p8k", f"p8k-{i:02d}", narrow, text
        if "espeak" in sets:
            voice = ESPEAK_VOICES[i % len(ESPEAK_VOICES)]
            speech = load_16k(espeak_wav(text, voice, folder / f"e{i}.wav"))
            yield "espeak", f"espeak-{i:02d}", np.concatenate([pre_roll, speech]), text


def measure(stt, samples: np.ndarray) -> dict:
    """Both windows on ``samples``: texts, the short one's log-probability, times."""
    decoder = stt._decoder  # the engine's own short-window decoder, loaded
    started = time.perf_counter()
    short = decoder.decode(samples, stt.final_window_s, fall_back=False)
    middle = time.perf_counter()
    full = transcribe_full(stt._loaded_model(), samples, stt.language)
    ended = time.perf_counter()
    return {
        "short": short.text,
        "window_s": short.window_s,
        "logprob": round(short.logprob, 3),
        # A loop or "no speech" on voiced audio goes to 30 s whatever the floor.
        "other_doubt": bool(short.fallback) and "log-probability" not in short.fallback,
        "full": full,
        "short_ms": round((middle - started) * 1000),
        "full_ms": round((ended - middle) * 1000),
    }


def kept_text(row: dict, floor: float, narrow_to_full: bool) -> tuple[str, bool]:
    """(the text a rule gives, whether it cost a 30 s decode)."""
    if row["window_s"] >= FULL_WINDOW_S:
        return row["full"], False
    if row["other_doubt"] or (narrow_to_full and row["narrow"]) or row["logprob"] < floor:
        return row["full"], True
    return row["short"], False


def summary(rows: list[dict]) -> list[str]:
    lines = []
    for group in [*dict.fromkeys(r["set"] for r in rows), "all"]:
        mine = [r for r in rows if group in ("all", r["set"])]
        same = sum(normalize(r["short"]) == normalize(r["full"]) for r in mine)
        short = corpus_wer((r["reference"], r["short"]) for r in mine)
        full = corpus_wer((r["reference"], r["full"]) for r in mine)
        lines.append(
            f"{group}: {len(mine)} clips, {same} with the same words; "
            f"WER short only {short:.3f}, 30 s only {full:.3f}"
        )
        for narrow_to_full in (True, False):
            cells = []
            for floor in FLOORS:
                kept = [kept_text(r, floor, narrow_to_full) for r in mine]
                w = corpus_wer((r["reference"], t) for r, (t, _) in zip(mine, kept, strict=True))
                cells.append(f"{floor:g}: {w:.3f}/{sum(redone for _, redone in kept)}")
            rule = "8 kHz to 30 s" if narrow_to_full else "floor only   "
            lines.append(f"  {rule}  floor: WER/30 s decodes  " + "  ".join(cells))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="real,piper,p8k,espeak")
    parser.add_argument("--json", type=Path, help="write every row here")
    args = parser.parse_args()
    models_dir = resolve_models_dir("")
    stt = make_speech_to_text(AsrConfig(engine="whisper", language="en"), models_dir)
    stt.warm_up()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for group, name, samples, reference in clips(args.sets.split(","), models_dir, Path(tmp)):
            row = {
                "set": group,
                "clip": name,
                "reference": reference,
                "narrow": narrow_band(samples),
            }
            row.update(measure(stt, samples))
            row["wer_short"] = round(wer(reference, row["short"]), 3)
            row["wer_full"] = round(wer(reference, row["full"]), 3)
            rows.append(row)
            print(
                f"{name:22s} lp {row['logprob']:6.3f}"
                f" WER {row['wer_short']:.2f}/{row['wer_full']:.2f}"
                f" {row['short_ms']}/{row['full_ms']} ms",
                file=sys.stderr,
            )
    stt.close()
    print("\n".join(summary(rows)))
    print("clips whose two windows differ (set, clip, 8 kHz, log-prob, WER short/30 s):")
    for r in rows:
        if normalize(r["short"]) != normalize(r["full"]):
            print(
                f"  {r['clip']:22s} {'8k' if r['narrow'] else '  '} {r['logprob']:6.3f} "
                f"{r['wer_short']:.2f}/{r['wer_full']:.2f}  {r['short']!r} / {r['full']!r}"
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
