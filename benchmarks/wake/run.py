"""Wake-word and endpointing benchmark (see benchmarks/README.md, "Hands-free").

    python benchmarks/wake/run.py [--hours 1.0] [--replies 120] [--out benchmarks/wake/results.json]
    python benchmarks/wake/run.py --sweep [--hours 1.0]   # only the threshold sweep

Measures, with the real detector and endpointers the appliance uses:
misses on synthesized positives (piper joe and espeak-ng voices, three
speeds, clean / noise / reverb / both), false accepts per hour on non-wake
speech and on its own replies mixed at speaker-to-microphone level (at the
idle threshold and at the barge-in threshold), CPU per second of audio for
the always-on detector and for the VADs, and endpoint_ms (end of speech to
the endpoint) for Silero vs the energy endpointer on speech with natural
pauses, with how often each cut a speaker off mid-sentence. ``--sweep``
measures instead misses and false accepts of hey_mycroft at several
thresholds (`SWEEP`), to choose ``wake.threshold``. Results are merged into
``--out``: keys another run wrote are kept. Run it with ``nice``: it is
single-threaded and takes a few CPU-minutes per hour of audio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402

from assistant.core.config import resolve_models_dir  # noqa: E402
from assistant.stages.asr.endpoint import SilenceEndpointer  # noqa: E402
from assistant.stages.audio.paced import voiced_span  # noqa: E402
from assistant.stages.vad.silero import SileroEndpointer, load_silero  # noqa: E402
from assistant.stages.wake.micro import MicroWakeWordDetector  # noqa: E402

BLOCK = 320  # 20 ms, as the microphone gives it
WORDS = ["hey_mycroft", "hey_jarvis"]
BARGE_IN_THRESHOLD = 0.99
SWEEP = (0.5, 0.7, 0.9, 0.97, 0.99)
"""Thresholds the sweep tries for hey_mycroft, besides the model's own cutoff."""


def detect(detector: MicroWakeWordDetector, audio: np.ndarray, threshold=None) -> list:
    found = []
    for start in range(0, len(audio), BLOCK):
        found += detector.process(audio[start : start + BLOCK], threshold)
    return found


def positives(
    piper: corpus.Piper, rng: np.random.Generator, words: list[str] = WORDS
) -> list[dict]:
    """Each wake word, spoken by every voice at three speeds, in four rooms."""
    rows = []
    for word in words:
        phrases = corpus.WAKE_PHRASES[word]
        clips = []
        for scale in (0.8, 1.0, 1.25):
            for phrase in phrases:
                clips.append(("piper-joe", f"x{1 / scale:.2f}", piper.say(phrase, scale)))
        for voice in corpus.ESPEAK_VOICES:
            for wpm in (140, 175, 210):
                clips.append(
                    (f"espeak-{voice}", f"{wpm}wpm", corpus.espeak(phrases[0], voice, wpm))
                )
        for voice, pace, clean in clips:
            rooms = {
                "clean": clean,
                "noise 20 dB": corpus.noisy(clean, 20, rng),
                "noise 10 dB": corpus.noisy(clean, 10, rng),
                "reverb 0.4 s": corpus.room(clean, 0.4, rng),
                "reverb+noise 10 dB, -10 dB": corpus.gain_db(
                    corpus.noisy(corpus.room(clean, 0.4, rng), 10, rng), -10
                ),
            }
            for condition, audio in rooms.items():
                rows.append(
                    {
                        "word": word,
                        "voice": voice,
                        "pace": pace,
                        "room": condition,
                        "audio": corpus.pad(audio),
                    }
                )
    return rows


def miss_table(rows: list[dict]) -> dict:
    detectors = {w: MicroWakeWordDetector([w]) for w in WORDS}
    misses: dict[str, list[int]] = {}
    for row in rows:
        detector = detectors[row["word"]]
        detector.reset()
        hit = any(d.word == row["word"] for d in detect(detector, row["audio"]))
        for key in (
            row["word"],
            f"{row['word']} / {row['room']}",
            f"{row['word']} / {row['voice'].split('-')[0]}",
        ):
            tally = misses.setdefault(key, [0, 0])
            tally[0] += not hit
            tally[1] += 1
    return {k: {"missed": m, "of": n, "miss_rate": round(m / n, 3)} for k, (m, n) in misses.items()}


def stream(
    clips: list[np.ndarray], seconds: float, rng: np.random.Generator, *, speaker: bool
) -> np.ndarray:
    """``seconds`` of continuous audio from ``clips`` with variations; with
    ``speaker``, as its own voice reaches its microphone (quieter, room, hum)."""
    parts, total = [], 0
    while total < seconds * corpus.RATE:
        clip = clips[int(rng.integers(len(clips)))]
        clip = corpus.speed(clip, float(rng.uniform(0.9, 1.1)))
        if speaker:
            clip = corpus.room(corpus.gain_db(clip, float(rng.uniform(-12, 0))), 0.3, rng)
            clip = corpus.noisy(clip, float(rng.uniform(20, 35)), rng)
        else:
            clip = corpus.gain_db(clip, float(rng.uniform(-10, 3)))
            if rng.random() < 0.5:
                clip = corpus.noisy(clip, float(rng.uniform(10, 30)), rng)
        gap = np.zeros(int(rng.uniform(0.1, 1.0) * corpus.RATE), np.int16)
        parts += [clip, gap]
        total += len(clip) + len(gap)
    return np.concatenate(parts)


def false_accepts(audio: np.ndarray, threshold=None) -> tuple[dict, float]:
    """Detections per word in ``audio``, and detector CPU seconds."""
    detector = MicroWakeWordDetector(WORDS)
    started = time.process_time()
    found = detect(detector, audio, threshold)
    cpu_s = time.process_time() - started
    hours = len(audio) / corpus.RATE / 3600
    per_word = {w: sum(d.word == w for d in found) for w in WORDS}
    result = {
        "hours": round(hours, 3),
        "threshold": threshold or "model cutoff",
        "accepts": per_word,
        "per_hour": {w: round(n / hours, 2) for w, n in per_word.items()},
        "examples": [{"word": d.word, "t_s": d.t_s, "score": d.score} for d in found[:10]],
    }
    return result, cpu_s


def heard(detector: MicroWakeWordDetector, word: str, audio: np.ndarray, threshold) -> int:
    """How often ``word`` is detected in ``audio`` from a fresh start."""
    detector.reset()
    return sum(d.word == word for d in detect(detector, audio, threshold))


def sweep(rows: list[dict], talk: np.ndarray, mine: np.ndarray, word: str = "hey_mycroft") -> dict:
    """``word`` at its model's cutoff and at each of `SWEEP`: misses on the
    positives in ``rows``, false accepts per hour on ``talk`` (other speech)
    and on ``mine`` (its own replies at the microphone)."""
    detector = MicroWakeWordDetector([word])
    clips = [row["audio"] for row in rows if row["word"] == word]
    out = {}
    for threshold in (None, *SWEEP):
        missed = sum(heard(detector, word, clip, threshold) == 0 for clip in clips)
        per_hour = {
            name: round(
                heard(detector, word, audio, threshold) / (len(audio) / corpus.RATE / 3600), 2
            )
            for name, audio in (("speech", talk), ("own_voice", mine))
        }
        label = "model cutoff" if threshold is None else f"{threshold:g}"
        out[label] = {
            "threshold": round(detector.cutoff(word) if threshold is None else threshold, 3),
            "missed": missed,
            "of": len(clips),
            "miss_rate": round(missed / len(clips), 3),
            "false_accepts_per_hour_speech": per_hour["speech"],
            "false_accepts_per_hour_own_voice": per_hour["own_voice"],
        }
        print(label, out[label], flush=True)
    out["hours"] = {
        "speech": round(len(talk) / corpus.RATE / 3600, 3),
        "own_voice": round(len(mine) / corpus.RATE / 3600, 3),
    }
    return out


def speech_streams(
    piper: corpus.Piper, rng: np.random.Generator, hours: float, replies: int, reply_hours: float
) -> tuple[np.ndarray, np.ndarray]:
    """``hours`` of non-wake speech (piper and espeak-ng), and
    ``reply_hours`` of its own ``replies`` as its microphone hears them."""
    said = [piper.say(s) for s in corpus.sentences(60)]
    said += [
        corpus.espeak(s, corpus.ESPEAK_VOICES[i % 5], 150 + 10 * (i % 6))
        for i, s in enumerate(corpus.sentences(60, seed=3))
    ]
    talk = stream(said, hours * 3600, rng, speaker=False)
    own = [piper.say(r) for r in corpus.replies(replies)]
    return talk, stream(own, reply_hours * 3600, rng, speaker=True)


def merge(path: Path, result: dict) -> None:
    """Write ``result`` into the JSON object at ``path``, keeping other keys."""
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update(result)
    path.write_text(json.dumps(data, indent=1) + "\n")


def paused_utterances(piper: corpus.Piper, count: int, rng: np.random.Generator) -> list:
    """Sentences of two or three clauses with natural pauses between them;
    returns (audio, end of speech in samples, ends of the pauses)."""
    clauses = corpus.sentences(count * 3, seed=5)
    out = []
    for i in range(count):
        pieces = [
            piper.say(c.rstrip("."), float(rng.uniform(0.9, 1.2)))
            for c in clauses[i * 3 : i * 3 + int(rng.integers(2, 4))]
        ]
        audio = [np.zeros(int(0.3 * corpus.RATE), np.int16)]
        for j, piece in enumerate(pieces):
            if j:
                audio.append(np.zeros(int(rng.uniform(0.25, 0.7) * corpus.RATE), np.int16))
            audio.append(piece)
        audio.append(np.zeros(3 * corpus.RATE, np.int16))
        joined = np.concatenate(audio)
        # The end of speech is the last voiced frame, not piper's trailing hush.
        out.append((joined, voiced_span(joined, corpus.RATE)[1]))
    return out


def endpoints(utterances: list, make, snr_db: float | None, rng) -> dict:
    ends_ms, cut = [], 0
    for audio, end in utterances:
        if snr_db is not None:
            audio = corpus.noisy(audio, snr_db, rng)
        endpointer = make()
        fired = None
        for start in range(0, len(audio), 480):  # 30 ms, the mic's default block
            endpointer.update(audio[start : start + 480])
            if endpointer.endpoint:
                fired = start + 480
                break
        if fired is None:
            continue
        if fired < end:
            cut += 1
        else:
            ends_ms.append((fired - end) / corpus.RATE * 1000)
    arr = np.array(ends_ms) if ends_ms else None
    return {
        "n": len(utterances),
        "cut_off": cut,
        "never_ended": len(utterances) - cut - len(ends_ms),
        "endpoint_ms_median": None if arr is None else round(float(np.median(arr)), 1),
        "endpoint_ms_p90": None if arr is None else round(float(np.percentile(arr, 90)), 1),
    }


def vad_cpu(audio: np.ndarray, make) -> float:
    endpointer = make()
    started = time.process_time()
    for start in range(0, len(audio), 480):
        endpointer.update(audio[start : start + 480])
    return (time.process_time() - started) / (len(audio) / corpus.RATE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0, help="non-wake speech to scan")
    parser.add_argument("--replies", type=int, default=120, help="own replies to synthesize")
    parser.add_argument("--reply-hours", type=float, default=0.5, help="own-reply audio to scan")
    parser.add_argument("--utterances", type=int, default=40, help="paused utterances")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    parser.add_argument("--sweep", action="store_true", help="only the hey_mycroft threshold sweep")
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    t0 = time.monotonic()
    piper = corpus.Piper(resolve_models_dir(""))
    if args.sweep:
        rows = positives(piper, rng, ["hey_mycroft"])
        talk, mine = speech_streams(piper, rng, args.hours, args.replies, args.reply_hours)
        result = {"threshold_sweep": sweep(rows, talk, mine)}
        result["threshold_sweep"]["wall_s"] = round(time.monotonic() - t0, 1)
        merge(args.out, result)
        print(f"wrote threshold_sweep to {args.out} in {result['threshold_sweep']['wall_s']} s")
        return 0
    result: dict = {"machine_cores": __import__("os").cpu_count()}

    result["misses"] = miss_table(positives(piper, rng))
    print("misses", json.dumps(result["misses"], indent=1), flush=True)

    talk, mine = speech_streams(piper, rng, args.hours, args.replies, args.reply_hours)
    result["false_accepts_speech"], cpu_s = false_accepts(talk)
    result["detector_cpu_percent_of_one_core"] = round(100 * cpu_s / (len(talk) / corpus.RATE), 2)
    print("speech", result["false_accepts_speech"], flush=True)

    result["false_accepts_own_voice"], _ = false_accepts(mine)
    result["false_accepts_own_voice_barge_in"], _ = false_accepts(mine, BARGE_IN_THRESHOLD)
    print(
        "own voice",
        result["false_accepts_own_voice"],
        result["false_accepts_own_voice_barge_in"],
        flush=True,
    )

    silero = load_silero()
    makers = {
        "silero": lambda: SileroEndpointer(silero, 1.0),
        "energy": lambda: SilenceEndpointer(1.0),
    }
    sample = talk[: 300 * corpus.RATE]
    result["vad_cpu_percent_of_one_core"] = {
        name: round(100 * vad_cpu(sample, make), 2) for name, make in makers.items()
    }
    utterances = paused_utterances(piper, args.utterances, rng)
    result["endpoint"] = {
        f"{name} / {label}": endpoints(utterances, make, snr, rng)
        for name, make in makers.items()
        for label, snr in (("quiet", None), ("fan 15 dB SNR", 15.0))
    }
    print("endpoint", json.dumps(result["endpoint"], indent=1))
    result["wall_s"] = round(time.monotonic() - t0, 1)
    merge(args.out, result)
    print(f"wrote {args.out} in {result['wall_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
