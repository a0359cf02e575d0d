"""Whisper's final pass at the release: the whole utterance, or only its tail.

When a person pauses mid-utterance and goes on, the streaming transcriber
already holds a final-quality decode of the audio up to the pause. At the
release it can decode only what came after a cut point, with the text
before it as the prompt. This script compares, interleaved on each clip:

* ``whole``: today's final decode of the whole utterance
  (`WhisperSpeechToText.decode`);
* ``tail_vad``: the cut where the energy endpointer first heard a
  ``--pause-s`` pause after speech (where the transcriber runs its pause
  decode), the prefix being the final decode of the audio up to there;
* ``tail_words``: the cut at the end of the last word that word timestamps
  place at least 0.3 s before the end of a partial decode made 1 s before
  the release (``WhisperModel.transcribe(word_timestamps=True)``), the
  prefix being those words;

each tail with ``decode_tail`` (a window of at least ``--tail-window-s``).
A tail in doubt (`Decoded.fallback`) falls back to the whole decode, as the
transcriber does, and its time is the sum. Only the release-to-final time
is timed: the prefixes are decoded during the speech.

Clips: two or three sentences of ``benchmarks/asr_speech.txt`` spoken by
piper, joined with ``--gap-s`` of silence (a pause for breath); and, when
``benchmarks/real_speech/`` holds recordings with a ``transcripts.tsv``
(file, text), each of them as is. Run from the checkout::

    .venv/bin/python benchmarks/whisper_tail.py [--utterances N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.bench.wer import corpus_wer  # noqa: E402
from assistant.compose import make_speech_to_text  # noqa: E402
from assistant.core.config import AsrConfig, resolve_models_dir  # noqa: E402
from assistant.stages.asr.endpoint import SilenceEndpointer  # noqa: E402
from assistant.stages.audio.pcm import ASR_RATE_HZ  # noqa: E402
from tests.support.speech import load_16k, piper_wav  # noqa: E402

SENTENCES = ROOT / "benchmarks" / "asr_speech.txt"
REAL = ROOT / "benchmarks" / "real_speech"
BLOCK = 480  # 30 ms, as the microphone delivers
ARMS = ("whole", "tail_vad", "tail_words")


def sentences() -> list[str]:
    lines = SENTENCES.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def piper_utterances(folder: Path, models_dir: Path, n: int, gap_s: float) -> list[tuple]:
    """(name, samples, text): 2 or 3 sentences in a row, ``gap_s`` apart."""
    said = sentences()
    spoken = [load_16k(piper_wav(t, models_dir, folder / f"{i}.wav")) for i, t in enumerate(said)]
    gap = np.zeros(round(gap_s * ASR_RATE_HZ), np.int16)
    edge = np.zeros(round(0.3 * ASR_RATE_HZ), np.int16)
    out = []
    for k in range(n):
        picks = [(k * 3 + j) % len(said) for j in range(2 + k % 2)]
        parts = [edge]
        for j, i in enumerate(picks):
            parts += [spoken[i]] if j == 0 else [gap, spoken[i]]
        out.append((f"piper-{k}", np.concatenate(parts), " ".join(said[i] for i in picks)))
    return out


def real_utterances() -> list[tuple]:
    table = REAL / "transcripts.tsv"
    if not table.is_file():
        return []
    out = []
    for line in table.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#") or "\t" not in line:
            continue
        name, text = line.split("\t", 1)
        path = REAL / name
        if path.is_file():
            out.append((f"real-{name}", load_16k(path), text.strip()))
    return out


def vad_cut(samples: np.ndarray, pause_s: float) -> int | None:
    """Where the transcriber's last pause decode would end: the first block
    of the last ``pause_s`` pause after speech that more speech follows."""
    endpointer = SilenceEndpointer()
    cut, in_pause, last = None, False, None
    for start in range(0, len(samples), BLOCK):
        voiced = endpointer.update(samples[start : start + BLOCK])
        paused = endpointer.heard_speech and endpointer.trailing_quiet_s >= pause_s
        if paused and not in_pause:
            last = start + BLOCK
        if voiced and last is not None:
            cut, last = last, None
        in_pause = paused
    return cut


def words_cut(model, samples: np.ndarray) -> tuple[int, str] | None:
    """The cut from word timestamps on a partial decode 1 s before the release."""
    partial = samples[: max(0, len(samples) - ASR_RATE_HZ)]
    end_s = len(partial) / ASR_RATE_HZ
    segments, _ = model.transcribe(
        partial.astype(np.float32) / 32768.0,
        language="en",
        beam_size=1,
        word_timestamps=True,
        condition_on_previous_text=False,
    )
    words = [w for s in segments for w in (s.words or [])]
    kept = [w for w in words if w.end <= end_s - 0.3]
    if not kept:
        return None
    return round(kept[-1].end * ASR_RATE_HZ), "".join(w.word for w in kept).strip()


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def run_clip(stt, name: str, samples: np.ndarray, text: str, pause_s: float, flip: bool) -> dict:
    row: dict = {"clip": name, "ref": text, "audio_s": round(len(samples) / ASR_RATE_HZ, 2)}
    cuts = {}
    n = vad_cut(samples, pause_s)
    prefix = stt.decode(samples[:n]) if n is not None else None
    # As the transcriber: no tail after a pause decode that was in doubt.
    if n is not None and prefix is not None and prefix.text and not prefix.fallback:
        cuts["tail_vad"] = (n, prefix.text)
    found = words_cut(stt._loaded_model(), samples)
    if found is not None:
        cuts["tail_words"] = found
    for arm in reversed(ARMS) if flip else ARMS:
        if arm == "whole" or arm not in cuts:
            decoded, elapsed = timed(lambda: stt.decode(samples))
            row[arm] = {"text": decoded.text, "ms": round(elapsed * 1000, 1), "cut_s": None}
            continue
        cut, before = cuts[arm]
        tail, elapsed = timed(lambda c=cut, b=before: stt.decode_tail(samples[c:], b))
        hyp = f"{before} {tail.text}".strip()
        if tail.fallback:
            decoded, more = timed(lambda: stt.decode(samples))
            hyp, elapsed = decoded.text, elapsed + more
        row[arm] = {
            "text": hyp,
            "ms": round(elapsed * 1000, 1),
            "cut_s": round(cut / ASR_RATE_HZ, 2),
            "doubt": tail.fallback,
        }
    return row


def summary(rows: list[dict]) -> dict:
    out = {}
    for arm in ARMS:
        cut = [r for r in rows if r[arm].get("cut_s") is not None or arm == "whole"]
        out[arm] = {
            "median_ms": round(statistics.median(r[arm]["ms"] for r in rows), 1),
            "wer": round(corpus_wer((r["ref"], r[arm]["text"]) for r in rows), 3),
            "cut": len(cut),
            "doubt": sum(1 for r in rows if r[arm].get("doubt")),
        }
    whole = [r["whole"]["ms"] for r in rows]
    for arm in ARMS[1:]:
        ratios = [r[arm]["ms"] / w for r, w in zip(rows, whole, strict=True) if w]
        out[arm]["median_ratio_to_whole"] = round(statistics.median(ratios), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=16, help="piper utterances")
    parser.add_argument("--gap-s", type=float, default=0.5, help="pause between sentences")
    parser.add_argument("--pause-s", type=float, default=0.25, help="the transcriber's pause_s")
    parser.add_argument("--tail-window-s", type=int, default=10, help="decode_tail's window")
    parser.add_argument("--json", type=Path, help="also write the rows and summary here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    models_dir = resolve_models_dir("")
    stt = make_speech_to_text(AsrConfig(engine="whisper", language="en"), models_dir)
    stt.tail_window_s = args.tail_window_s
    stt.warm_up()
    with tempfile.TemporaryDirectory(prefix="whisper-tail-") as tmp:
        sets = {
            "piper": piper_utterances(Path(tmp), models_dir, args.utterances, args.gap_s),
            "real": real_utterances(),
        }
    result: dict = {"settings": vars(args) | {"json": None}, "sets": {}}
    for label, clips in sets.items():
        if not clips:
            continue
        rows = []
        for i, (name, samples, text) in enumerate(clips):
            rows.append(run_clip(stt, name, samples, text, args.pause_s, flip=i % 2 == 1))
            logging.warning("%s %s", name, {a: rows[-1][a]["ms"] for a in ARMS})
        result["sets"][label] = {"summary": summary(rows), "rows": rows}
    for label, data in result["sets"].items():
        print(f"\n{label}: {len(data['rows'])} clips")
        print(
            f"{'arm':12s} {'median ms':>10s} {'x whole':>8s} {'WER':>6s} {'cut':>4s} {'doubt':>5s}"
        )
        for arm, s in data["summary"].items():
            ratio = s.get("median_ratio_to_whole", 1.0)
            print(
                f"{arm:12s} {s['median_ms']:10.1f} {ratio:8.3f} {s['wer']:6.3f} "
                f"{s['cut']:4d} {s['doubt']:5d}"
            )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
