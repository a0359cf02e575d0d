"""How often a short Whisper window says "no speech" where the 30 s window hears words.

Speaks each sentence of ``benchmarks/asr_speech.txt`` with the piper voice
and with an espeak-ng voice, then makes copies of every clip as users send
them: through 8 kHz and back (a telephone, a Bluetooth headset), through
8 kHz mu-law (a telephone line), 20 dB quieter, and under white noise at
10 dB SNR; ``--levels`` adds quieter copies still. Each clip, after 0.3 s
of silence, gets the final decode's short window (`ShortWindowDecoder`, the
engine's ``final_window_s``); when that window calls it silent, the 30 s
window decodes it too, and the voiced span the endpointer hears is shown.

Noise alone is measured the same way (steady white noise, silence then
noise, short clatter), to show which noise would pay the 30 s decode under
the `MIN_VOICED_S` rule.

Run from a checkout after ``./setup.sh --test`` (espeak-ng installed)::

    .venv/bin/python benchmarks/whisper_no_speech.py [--clips N] [--levels -30 -40]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.compose import make_speech_to_text  # noqa: E402
from assistant.core.config import AsrConfig, resolve_models_dir  # noqa: E402
from assistant.stages.asr.whisper_window import (  # noqa: E402
    MIN_VOICED_S,
    transcribe_full,
    voiced_s,
    window_s,
)
from assistant.stages.audio.pcm import ASR_RATE_HZ, resample  # noqa: E402
from tests.support.speech import espeak_wav, load_16k, piper_wav  # noqa: E402

RATE = ASR_RATE_HZ
ESPEAK_VOICES = ("en-us", "en-us+f3", "en-us+m3", "en-us+klatt")


def sentences() -> list[str]:
    lines = (ROOT / "benchmarks" / "asr_speech.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def mu_law(samples: np.ndarray, folder: Path) -> np.ndarray:
    """Through an 8 kHz mu-law WAV, written and read by libsndfile."""
    import soundfile

    path = folder / "ulaw.wav"
    soundfile.write(path, resample(samples, RATE, 8000), 8000, subtype="ULAW")
    return load_16k(path)


def copies(samples: np.ndarray, folder: Path, levels: list[float]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(len(samples))
    speech = samples.astype(np.float64)
    rms = float(np.sqrt(np.mean(speech**2)))
    noisy = speech + rng.normal(0, rms / np.sqrt(10), len(speech))  # 10 dB SNR
    out = {
        "original": samples,
        "8 kHz": resample(resample(samples, RATE, 8000), 8000, RATE),
        "mu-law": mu_law(samples, folder),
        "-20 dB": (speech * 0.1).astype(np.int16),
        "noise 10 dB": np.clip(noisy, -32768, 32767).astype(np.int16),
    }
    for db in levels:
        out[f"{db:+.0f} dB"] = (speech * 10 ** (db / 20)).astype(np.int16)
    return out


def noises() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    quiet = np.zeros(RATE // 2, np.int16)

    def white(seconds: float, rms: float) -> np.ndarray:
        return rng.normal(0, rms, round(seconds * RATE)).astype(np.int16)

    clatter = np.concatenate([np.concatenate([white(0.05, 8000), quiet[:3200]]) for _ in range(6)])
    return {
        "steady white noise 2 s": white(2.0, 1000),
        "steady loud noise 3 s": white(3.0, 6000),
        "silence, then noise 1 s": np.concatenate([quiet, white(1.0, 1000)]),
        "silence, then noise 0.2 s": np.concatenate([quiet, white(0.2, 3000), quiet]),
        "clatter (6 x 50 ms)": np.concatenate([quiet, clatter]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=0, help="sentences to use (default all)")
    parser.add_argument("--levels", type=float, nargs="*", default=[], help="extra dB copies")
    parser.add_argument("--json", type=Path, help="also write the JSON result here")
    args = parser.parse_args()
    models_dir = resolve_models_dir("")
    stt = make_speech_to_text(AsrConfig(engine="whisper", language="en"), models_dir)
    stt.warm_up()
    decoder, model = stt._decoder, stt._loaded_model()
    lead = np.zeros(round(0.3 * RATE), np.int16)
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    cases = []

    def judge(kind: str, name: str, samples: np.ndarray) -> None:
        window = window_s(len(samples) / RATE, stt.margin_s, stt.final_window_s)
        _text, _why, _logprob, silent = decoder._short(samples, window)
        counts[kind]["clips"] += 1
        if not silent:
            return
        counts[kind]["no speech on the short window"] += 1
        full = transcribe_full(model, samples, "en")
        voiced = voiced_s(samples)
        counts[kind]["... and words on 30 s"] += bool(full)
        counts[kind][f"... and voiced >= {MIN_VOICED_S} s"] += voiced >= MIN_VOICED_S
        cases.append({"kind": kind, "clip": name, "voiced_s": round(voiced, 2), "full": full})
        print(f"  {kind:12} {name:28} voiced {voiced:.2f} s, 30 s window: {full!r}", flush=True)

    with tempfile.TemporaryDirectory(prefix="no-speech-") as tmp:
        folder = Path(tmp)
        texts = sentences()[: args.clips or None]
        for i, text in enumerate(texts):
            voice = ESPEAK_VOICES[i % len(ESPEAK_VOICES)]
            made = {
                "piper": piper_wav(text, models_dir, folder / f"piper-{i}.wav"),
                voice: espeak_wav(text, voice, folder / f"espeak-{i}.wav"),
            }
            for source, path in made.items():
                for kind, samples in copies(load_16k(path), folder, args.levels).items():
                    judge(kind, f"{source} {i:02d}", np.concatenate([lead, samples]))
        for name, samples in noises().items():
            judge("noise only", name, samples)
            print(f"  noise only   {name:28} voiced {voiced_s(samples):.2f} s", flush=True)
    print()
    for kind, counter in counts.items():
        print(f"{kind:14}", ", ".join(f"{k}: {v}" for k, v in counter.items()))
    result = {"counts": {k: dict(v) for k, v in counts.items()}, "cases": cases}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    stt.close()


if __name__ == "__main__":
    main()
