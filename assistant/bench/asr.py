"""Whisper stage against bare faster-whisper: time at release and word error rate.

For each clip (a WAV and its reference text), three arms, in an order that
rotates from clip to clip:

* ``bare``: faster-whisper's ``WhisperModel.transcribe`` (greedy, no VAD,
  no timestamps, no conditioning), timed on the whole clip, as a
  recognizer that starts decoding at the release would;
* ``window``: one decode of the whole clip by the stage's own decoder
  (``WhisperSpeechToText.decode``, on its final window), the same moment;
* ``stage``: the stage as the appliance uses it, fed in 30 ms blocks at
  real-time pace (each block when it would have been captured), timed from
  the last block delivered to ``finish()`` returning.

Both models are built from the same model directory, threads and language.
Everything runs on the calling thread (the stage adds its decode thread).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.bench.report import median, ratio
from assistant.bench.wer import corpus_wer, wer
from assistant.stages.audio.pcm import ASR_RATE_HZ, resample
from assistant.stages.audio.wavfile import read_wav

log = logging.getLogger(__name__)

clock = time.perf_counter

ARMS = ("bare", "window", "stage")


@dataclass(frozen=True)
class Clip:
    """One test utterance."""

    name: str
    samples: np.ndarray
    """Mono int16 at 16 kHz."""
    reference: str
    """What was said."""

    @property
    def audio_s(self) -> float:
        return len(self.samples) / ASR_RATE_HZ


def load_clip(path: Path, reference: str, *, lead_s: float = 0.3, tail_s: float = 0.0) -> Clip:
    """``path`` at 16 kHz, after ``lead_s`` of silence (the button is pressed
    just before speaking) and before ``tail_s`` (it is released after)."""
    chunk = read_wav(path)
    speech = resample(chunk.samples, chunk.rate_hz, ASR_RATE_HZ)
    pad = [np.zeros(round(s * ASR_RATE_HZ), np.int16) for s in (lead_s, tail_s)]
    return Clip(Path(path).stem, np.concatenate([pad[0], speech, pad[1]]), reference)


class BareWhisper:
    """faster-whisper alone, as the stage configures it (CPU, int8)."""

    def __init__(self, model_dir: Path, language: str | None, n_threads: int = 0) -> None:
        from faster_whisper import WhisperModel

        self.language = language
        self.model = WhisperModel(
            str(model_dir), device="cpu", compute_type="int8", cpu_threads=n_threads
        )

    def transcribe(self, samples: np.ndarray) -> str:
        segments, _info = self.model.transcribe(
            samples.astype(np.float32) / 32768.0,
            language=self.language,
            beam_size=1,
            vad_filter=False,
            without_timestamps=True,
            condition_on_previous_text=False,
        )
        return "".join(segment.text for segment in segments).strip()


def run_bare(bare: BareWhisper, clip: Clip) -> tuple[str, float]:
    started = clock()
    text = bare.transcribe(clip.samples)
    return text, clock() - started


def run_window(stt: Any, clip: Clip) -> tuple[str, float]:
    started = clock()
    text = stt.decode(clip.samples).text
    return text, clock() - started


def run_stage(stt: Any, clip: Clip, block_ms: int = 30) -> tuple[str, float, int]:
    """(final text, seconds from the last block to ``finish`` returning, decodes)."""
    transcriber = stt.start()
    step = ASR_RATE_HZ * block_ms // 1000
    started = clock()
    for start in range(0, len(clip.samples), step):
        end = min(start + step, len(clip.samples))
        # Pacing, not synchronisation: a block exists only once it is "captured".
        wait_s = started + end / ASR_RATE_HZ - clock()
        if wait_s > 0:
            time.sleep(wait_s)
        transcriber.accept(clip.samples[start:end])
    released = clock()
    text = transcriber.finish()
    return text, clock() - released, transcriber.decodes


def measure(stt: Any, bare: BareWhisper, clips: list[Clip]) -> dict:
    """Every arm on every clip; per-clip rows and a summary (times in ms)."""
    rows = []
    for i, clip in enumerate(clips):
        row: dict[str, Any] = {"clip": clip.name, "audio_s": round(clip.audio_s, 2)}
        row["reference"] = clip.reference
        for k in range(len(ARMS)):
            arm = ARMS[(i + k) % len(ARMS)]
            if arm == "bare":
                text, seconds = run_bare(bare, clip)
            elif arm == "window":
                text, seconds = run_window(stt, clip)
            else:
                text, seconds, row["stage_decodes"] = run_stage(stt, clip)
            row[f"{arm}_ms"] = round(seconds * 1000, 1)
            row[f"{arm}_text"] = text
            row[f"{arm}_wer"] = round(wer(clip.reference, text), 3)
        log.info("%s: bare %.0f ms, stage %.0f ms", clip.name, row["bare_ms"], row["stage_ms"])
        rows.append(row)
    return {"clips": rows, "summary": summarize(rows)}


def summarize(rows: list[dict]) -> dict:
    """Median times per arm, the stage's ratio to bare, and corpus WER per arm."""
    summary: dict[str, Any] = {"clips": len(rows)}
    for arm in ARMS:
        summary[f"{arm}_median_ms"] = median([r[f"{arm}_ms"] for r in rows])
        pairs = [(r["reference"], r[f"{arm}_text"]) for r in rows]
        summary[f"{arm}_wer"] = round(corpus_wer(pairs), 4)
    bare = summary["bare_median_ms"]
    summary["stage_ratio"] = ratio(summary["stage_median_ms"], bare)
    summary["window_ratio"] = ratio(summary["window_median_ms"], bare)
    per_clip = [r["stage_ms"] / r["bare_ms"] for r in rows if r["bare_ms"]]
    summary["stage_ratio_per_clip_median"] = median(per_clip)
    return summary


def format_table(result: dict) -> str:
    """Per-clip times and WERs, then the summary, as plain text."""
    lines = [
        f"{'clip':<14}{'audio s':>8}{'bare ms':>9}{'window':>8}{'stage':>8}"
        f"{'decodes':>8}{'WER bare':>9}{'stage':>7}"
    ]
    for r in result["clips"]:
        lines.append(
            f"{r['clip'][:13]:<14}{r['audio_s']:>8.2f}{r['bare_ms']:>9.0f}{r['window_ms']:>8.0f}"
            f"{r['stage_ms']:>8.0f}{r['stage_decodes']:>8}{r['bare_wer']:>9.2f}{r['stage_wer']:>7.2f}"
        )
    s = result["summary"]
    lines += [
        "",
        f"median ms: bare {s['bare_median_ms']}, window {s['window_median_ms']}, "
        f"stage {s['stage_median_ms']}",
        f"stage / bare: {s['stage_ratio']} (median of per-clip ratios "
        f"{s['stage_ratio_per_clip_median']}); window / bare: {s['window_ratio']}",
        f"WER: bare {s['bare_wer']}, window {s['window_wer']}, stage {s['stage_wer']} "
        f"over {s['clips']} clips",
    ]
    return "\n".join(lines)
