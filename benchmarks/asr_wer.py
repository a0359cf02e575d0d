"""Whisper stage vs bare faster-whisper: time at release and word error rate.

Speaks each sentence of ``benchmarks/asr_speech.txt`` with the piper voice
``en_US-joe-medium`` and with one of a few espeak-ng ``en-us`` variants (in
turn), into a temporary folder, then runs `assistant.bench.asr` on the
clips: bare ``WhisperModel.transcribe`` on the whole clip against the stage
fed at real-time pace (see that module). Prints a table, then the JSON.

Run from the checkout (models in ``models/``, espeak-ng installed)::

    .venv/bin/python benchmarks/asr_wer.py [--clips N] [--tail-s S] [--final-window-s W]
        [--json out.json]

``--tail-s`` adds silence between the end of speech and the release (a
person lets go of the button a moment after the last word), which gives
the stage its pause decode; ``--final-window-s`` (30 decodes like plain
faster-whisper) and ``--min-logprob`` set how the final text is decoded.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.bench.asr import BareWhisper, format_table, load_clip, measure  # noqa: E402
from assistant.compose import make_speech_to_text  # noqa: E402
from assistant.core.config import AsrConfig, resolve_models_dir  # noqa: E402
from tests.support.speech import espeak_wav, piper_wav  # noqa: E402

SENTENCES = ROOT / "benchmarks" / "asr_speech.txt"
ESPEAK_VOICES = ("en-us", "en-us+f3", "en-us+m3", "en-us+klatt")


def sentences() -> list[str]:
    lines = SENTENCES.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def synthesize(folder: Path, models_dir: Path, limit: int) -> list[tuple[Path, str]]:
    """Piper and espeak clips, alternating, ``limit`` in all."""
    clips = []
    for i, text in enumerate(sentences()):
        piper = piper_wav(text, models_dir, folder / f"piper-{i:02d}.wav")
        voice = ESPEAK_VOICES[i % len(ESPEAK_VOICES)]
        espeak = espeak_wav(text, voice, folder / f"espeak-{i:02d}.wav")
        clips += [(piper, text), (espeak, text)]
    return clips[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=64, help="clips to run (default all)")
    parser.add_argument("--tail-s", type=float, default=0.0, help="silence before the release")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: CTranslate2's)")
    parser.add_argument(
        "--final-window-s", type=int, default=10, help="asr.whisper_final_window_s (default 10)"
    )
    parser.add_argument(
        "--min-logprob", type=float, default=-0.6, help="asr.whisper_min_logprob (default -0.6)"
    )
    parser.add_argument("--json", type=Path, help="also write the JSON result here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    models_dir = resolve_models_dir("")
    config = AsrConfig(
        engine="whisper",
        language="en",
        whisper_final_window_s=args.final_window_s,
        whisper_min_logprob=args.min_logprob,
    )
    stt = make_speech_to_text(config, models_dir, n_threads=args.threads)
    stt.warm_up()
    bare = BareWhisper(models_dir / config.whisper_model, config.language, args.threads)
    bare.transcribe(np.zeros(8000, np.int16))  # warm-up, as the stage's
    with tempfile.TemporaryDirectory(prefix="asr-wer-") as tmp:
        pairs = synthesize(Path(tmp), models_dir, args.clips)
        clips = [load_clip(path, text, tail_s=args.tail_s) for path, text in pairs]
        result = measure(stt, bare, clips)
    result["settings"] = {
        "tail_s": args.tail_s,
        "threads": args.threads,
        "final_window_s": stt.final_window_s,
        "min_logprob": stt.min_logprob,
    }
    print(format_table(result))
    text = json.dumps(result, indent=1, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
