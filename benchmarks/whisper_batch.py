"""Does batching concurrent short-window Whisper decodes help on this machine?

CTranslate2's Whisper ``encode`` and ``generate`` take batches, so the
decode worker could run several utterances' decodes at once. This times 4
piper-spoken questions decoded one by one against the same 4 in one batch
(and 2 against a batch of 2), on the 10 s window the final decode uses,
greedy as `ShortWindowDecoder` decodes. Prints each repetition's times and
the batch/singles ratio, then whether the texts agree.

Run from a checkout after ``./setup.sh --test``::

    .venv/bin/python benchmarks/whisper_batch.py [--repeats 3] [--threads 0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.core.config import resolve_models_dir  # noqa: E402
from tests.support.speech import load_16k, piper_wav  # noqa: E402

QUESTIONS = (
    "What is the capital of France?",
    "Turn on the kitchen light please.",
    "How far away is the moon from the earth?",
    "Set a timer for ten minutes.",
)
WINDOW_S = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: CTranslate2's)")
    args = parser.parse_args()
    import ctranslate2
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_suppressed_tokens

    models_dir = resolve_models_dir("")
    with tempfile.TemporaryDirectory(prefix="whisper-batch-") as tmp:
        clips = [
            load_16k(piper_wav(q, models_dir, Path(tmp) / f"{i}.wav"))
            for i, q in enumerate(QUESTIONS)
        ]
    model_dir = str(models_dir / "whisper-base")
    model = WhisperModel(model_dir, device="cpu", compute_type="int8", cpu_threads=args.threads)
    tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language="en")
    prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    suppressed = get_suppressed_tokens(tokenizer, [-1])
    extractor = model.feature_extractor
    frames = WINDOW_S * extractor.sampling_rate // extractor.hop_length

    def features(samples: np.ndarray) -> np.ndarray:
        audio = np.concatenate([samples.astype(np.float32) / 32768, np.zeros(4800, np.float32)])
        cut = extractor(audio)[:, :frames]
        return np.pad(cut, ((0, 0), (0, frames - cut.shape[1])))

    def decode(batch: list[np.ndarray]) -> list[str]:
        stacked = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.stack(batch)))
        encoded = model.model.encode(stacked, to_cpu=False)
        results = model.model.generate(
            encoded,
            [prompt] * len(batch),
            beam_size=1,
            max_length=len(prompt) + 60,
            suppress_blank=True,
            suppress_tokens=suppressed,
        )
        return [tokenizer.decode(r.sequences_ids[0]).strip() for r in results]

    feats = [features(clip) for clip in clips]
    decode(feats[:1])  # warm-up
    decode(feats)
    for repeat in range(args.repeats):
        started = time.perf_counter()
        singles = [decode([f])[0] for f in feats]
        one_by_one = time.perf_counter() - started
        started = time.perf_counter()
        batched = decode(feats)
        batch = time.perf_counter() - started
        started = time.perf_counter()
        for f in feats[:2]:
            decode([f])
        two = time.perf_counter() - started
        started = time.perf_counter()
        decode(feats[:2])
        pair = time.perf_counter() - started
        print(
            f"repeat {repeat}: 4 one by one {one_by_one:.2f} s, batch of 4 {batch:.2f} s "
            f"(ratio {batch / one_by_one:.2f}); 2 one by one {two:.2f} s, batch of 2 "
            f"{pair:.2f} s (ratio {pair / two:.2f})",
            flush=True,
        )
    print("same texts:", singles == batched)


if __name__ == "__main__":
    main()
