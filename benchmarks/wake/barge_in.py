"""Barge-in by voice: how often the wake word said over its own reply is
heard at the barge-in threshold, against the idle threshold.

    python benchmarks/wake/barge_in.py [--trials 40]

The user's "hey mycroft" (piper joe and espeak-ng voices) is mixed over a
random stretch of its own reply as the microphone hears it (quieter, room
reverb, some noise), at a user-to-reply level drawn from 0 to +10 dB.
The complement, its own replies never triggering it, is in run.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402
from run import detect  # noqa: E402

from assistant.core.config import resolve_models_dir  # noqa: E402
from assistant.stages.wake.micro import MicroWakeWordDetector  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    args = parser.parse_args()
    rng = np.random.default_rng(11)
    piper = corpus.Piper(resolve_models_dir(""))
    wakes = [piper.say(p, s) for p in corpus.WAKE_PHRASES["hey_mycroft"] for s in (0.9, 1.1)]
    wakes += [corpus.espeak("hey mycroft", v) for v in corpus.ESPEAK_VOICES]
    reply = np.concatenate([piper.say(r) for r in corpus.replies(20, seed=9)])
    detector = MicroWakeWordDetector(["hey_mycroft"])
    hits = {"model cutoff": 0, "0.99": 0}
    for trial in range(args.trials):
        wake = wakes[trial % len(wakes)]
        start = int(rng.integers(0, len(reply) - len(wake) - 16000))
        echo = reply[start : start + len(wake) + 16000].astype(np.float64)
        echo = corpus.noisy(corpus.room(corpus.gain_db(echo, -6), 0.3, rng), 30, rng)
        level = float(rng.uniform(0, 10))
        user = np.zeros(len(echo))
        user[8000 : 8000 + len(wake)] = wake
        rms = np.sqrt(np.mean(echo.astype(np.float64) ** 2)) + 1
        user_rms = np.sqrt(np.mean(wake.astype(np.float64) ** 2)) + 1
        user *= rms / user_rms * 10 ** (level / 20)
        mixed = corpus.pad(np.clip(echo + user, -32768, 32767).astype(np.int16), 0.5, 0.5)
        for name, threshold in (("model cutoff", None), ("0.99", 0.99)):
            detector.reset()
            hits[name] += bool(detect(detector, mixed, threshold))
    result = {
        k: {"heard": v, "of": args.trials, "rate": round(v / args.trials, 3)}
        for k, v in hits.items()
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
