"""The echo canceller in simulated rooms: ERLE, CPU, the wake word said over
its own reply, and a command recognized over the reply.

    nice .venv/bin/python benchmarks/echo_rooms.py [--trials 60] [--commands 36]
        [--reply-minutes 30] [--out FILE]

Needs ``pip install pywebrtc-audio webrtc-noise-gain`` (the AEC3 and the
noise-suppression arms; neither is a dependency of the appliance).

Rooms are `tests/support/rooms.py`'s three (delay 60/150/250 ms, RT60
0.2/0.35/0.5 s, tanh loudspeaker, noise 35 dB under the echo, drift
0/+100/-100 ppm). The reply is piper's joe voice saying the assistant's own
templates (`benchmarks/wake/corpus.py`); the user's "hey mycroft" (piper at
two speeds, three phrasings, and five espeak-ng voices, as
`benchmarks/wake/barge_in.py`) starts 3-4 s into the reply, from across the
room, at 0 dB (and -5 dB) relative to the echo over the words. A previous
answer (5 s, then 1 s of silence) comes first: "warm" arms run over it, as
the appliance keeps its canceller's state between replies; "cold" ones
start fresh with the reply. Every arm runs on the same mic audio,
interleaved trial by trial; the detector is scored from the reply's start.
``--reply-minutes`` of its own replies (no user) play through the rooms,
a third each, into the warm canceller, and every detection is a false
barge-in.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks" / "wake"))

import corpus  # noqa: E402

from assistant.bench.asr import BareWhisper  # noqa: E402
from assistant.bench.wer import word_errors  # noqa: E402
from assistant.core.config import resolve_models_dir  # noqa: E402
from assistant.stages.echo import cancel_offline  # noqa: E402
from assistant.stages.wake.micro import MicroWakeWordDetector  # noqa: E402
from tests.support import rooms  # noqa: E402

RATE = 16000
COMMANDS = [
    "What time is it?",
    "Set a timer for ten minutes.",
    "Turn off the kitchen light.",
    "What is the weather like tomorrow?",
    "Play some music in the living room.",
    "How many days until Christmas?",
    "Stop talking and tell me a joke.",
    "Remind me to call my sister at six.",
    "What is the capital of Portugal?",
    "Turn the volume down a little.",
    "Add milk and eggs to the shopping list.",
    "How far away is the moon?",
    "Call mum on her mobile.",
    "Open the garage door.",
    "What is on my calendar today?",
    "Wake me up at seven tomorrow.",
    "How do you spell necessary?",
    "Lock the front door please.",
    "What is twelve times eight?",
    "Pause the podcast.",
    "Switch the heating to twenty degrees.",
    "Who wrote Pride and Prejudice?",
    "Skip to the next song.",
    "Is it going to rain this afternoon?",
    "Cancel my alarm for tomorrow.",
    "Dim the bedroom lights to half.",
    "How long do I boil an egg?",
    "Read me the latest news.",
    "What is the square root of eighty one?",
    "Tell me how tall Mount Everest is.",
    "Start the vacuum cleaner.",
    "Where is the nearest pharmacy?",
    "Translate thank you into Spanish.",
    "Close the living room blinds.",
    "When does the sun set today?",
    "Turn on the fan in the office.",
]
"""36 commands (206 words): one run's WER moved by 0.05 with 12 of them,
as piper's synthesis differs from run to run."""


def webrtc_own_alignment(mic: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """AEC3 as WebRTC means it to run: the reference as played, unaligned
    (its own delay estimator finds the echo), render before capture, 10 ms
    frames; not through `EchoPath`'s alignment."""
    from pywebrtc_audio import EchoCanceller

    aec = EchoCanceller(RATE)
    whole = len(mic) // 160 * 160
    out = [aec.process(mic[i : i + 160], reference[i : i + 160]) for i in range(0, whole, 160)]
    return np.concatenate([*out, np.zeros(len(mic) - whole, np.int16)])


def webrtc_ns(audio: np.ndarray, noise: int, gain: int) -> np.ndarray:
    """``webrtc-noise-gain`` (as wyoming-satellite uses it) over ``audio``."""
    from webrtc_noise_gain import AudioProcessor

    processor = AudioProcessor(gain, noise)
    padded = np.concatenate([audio, np.zeros(-len(audio) % 160, np.int16)])
    out = [
        np.frombuffer(processor.Process10ms(padded[i : i + 160].tobytes()).audio, np.int16)
        for i in range(0, len(padded), 160)
    ]
    return np.concatenate(out)[: len(audio)]


ARMS = {
    "none": lambda mic, ref: mic,
    "speex": lambda mic, ref: cancel_offline(mic, ref, RATE)[0],
    "speex + speex NS": lambda mic, ref: cancel_offline(mic, ref, RATE, denoise=True)[0],
    "webrtc AEC3": lambda mic, ref: cancel_offline(mic, ref, RATE, engine="webrtc")[0],
    "webrtc AEC3, own alignment": webrtc_own_alignment,
}
"""Cancellers, each ``(mic, reference) -> cleaned``."""
LINEAR = {
    "speex, no suppressor": lambda mic, ref: cancel_offline(mic, ref, RATE, suppress=False)[0]
}
"""Only in the steady-state ERLE table."""
AFTER = {
    "speex + webrtc NS 2": ("speex", lambda a: webrtc_ns(a, 2, 0)),
    "speex + webrtc AGC 15": ("speex", lambda a: webrtc_ns(a, 0, 15)),
}
"""Post-processing of another arm's (warm) output (not timed as a canceller)."""
COLD = ("speex", "webrtc AEC3")
"""Arms also run cold: a fresh canceller at the reply's start."""
LOW_LEVEL = ("none", "speex", "speex cold", "no reply (ceiling)")
"""Arms also run with the user at -5 dB."""
STRICT = (
    "none",
    "speex",
    "speex cold",
    "webrtc AEC3",
    "webrtc AEC3, own alignment",
    "no reply (ceiling)",
)
"""Arms also scored at the barge-in threshold 0.99."""
WARM_S = 5.0
"""A previous answer this long (then 1 s of silence) precedes the reply: the
appliance keeps its canceller's state from one reply to the next."""


def detect(detector: MicroWakeWordDetector, audio: np.ndarray, threshold=None) -> list:
    detector.reset()
    found = []
    for start in range(0, len(audio), 320):
        found += detector.process(audio[start : start + 320], threshold)
    return found


def heard(found: list, span: tuple[int, int]) -> tuple[bool, int]:
    """(a hey_mycroft during the words or within 1 s after, detections elsewhere)."""
    lo, hi = span[0] / RATE, span[1] / RATE + 1.0
    inside = [d for d in found if lo <= d.t_s <= hi]
    return bool(inside), len(found) - len(inside)


def scene(room, reply, rng, length: int, words, at_s: float, level: float):
    """A previous answer, 1 s of silence, then ``length`` samples of the reply
    with ``words`` ``at_s`` into it; returns (mix, where the reply starts)."""
    warm = round(WARM_S * RATE)
    start = int(rng.integers(warm, len(reply) - length))
    played = np.concatenate(
        [reply[start - warm : start], np.zeros(RATE, np.int16), reply[start : start + length]]
    )
    cut = warm + RATE
    return rooms.mix(room, played, words, user_at_s=cut / RATE + at_s, user_db=level), cut


def run_arms(mix, cut: int, names, cpu: dict | None = None) -> dict:
    """Each arm's output from ``cut`` on: warm (over the whole scene) and,
    for `COLD` ones, cold (started at ``cut``)."""
    outputs = {}
    for name in names:
        started = time.process_time()
        outputs[name] = ARMS[name](mix.mic, mix.reference)[cut:]
        if cpu is not None:
            cpu.setdefault(name, []).append(
                (time.process_time() - started) / (len(mix.mic) / RATE) * 100
            )
        if name in COLD and name != "none":
            outputs[f"{name} cold"] = ARMS[name](mix.mic[cut:], mix.reference[cut:])
    return outputs


def steady_erle(reply: np.ndarray) -> dict:
    """ERLE from 5 s on over 20 s of echo alone, and CPU, per room and canceller."""
    rows = {}
    for index, room in enumerate(rooms.ROOMS):
        mix = rooms.mix(room, reply[: 20 * RATE])
        for name in ("speex", "speex, no suppressor", "webrtc AEC3"):
            started = time.process_time()
            out = {**ARMS, **LINEAR}[name](mix.mic, mix.reference)
            cpu = (time.process_time() - started) / (len(out) / RATE) * 100
            rows.setdefault(name, []).append(
                {
                    "room": index,
                    "erle_db": round(rooms.erle_db(mix.mic, out, 5.0), 1),
                    "cpu_pct": round(cpu, 2),
                }
            )
    return rows


def wake_trials(reply: np.ndarray, clips: list[tuple[str, np.ndarray]], trials: int) -> dict:
    rng = np.random.default_rng(23)
    detector = MicroWakeWordDetector(["hey_mycroft"])
    tally: dict = {}
    cpu: dict = {}
    for trial in range(trials):
        room = rooms.ROOMS[trial % len(rooms.ROOMS)]
        voice, clip = clips[trial % len(clips)]
        at_s = float(rng.uniform(3.0, 4.0))
        length = round(at_s * RATE) + len(clip) + int(1.5 * RATE)
        for level in (0.0, -5.0):
            mix, cut = scene(room, reply, rng, length, clip, at_s, level)
            names = list(ARMS) if level == 0 else [n for n in ARMS if n in LOW_LEVEL]
            outputs = run_arms(mix, cut, names, cpu if level == 0 else None)
            if level == 0:
                for name, (source, post) in AFTER.items():
                    outputs[name] = post(outputs[source])
            # The same words and noise with the speaker silent: the detector's own ceiling.
            outputs["no reply (ceiling)"] = mix.quiet[cut:]
            span = (mix.user[0] - cut, mix.user[1] - cut)
            for name, audio in outputs.items():
                for label, threshold in (("idle cutoff", None), ("0.99", 0.99)):
                    if (label == "0.99" and name not in STRICT) or (
                        level < 0 and name not in LOW_LEVEL
                    ):
                        continue
                    hit, stray = heard(detect(detector, audio, threshold), span)
                    row = tally.setdefault(f"{level:+.0f} dB", {}).setdefault(name, {})
                    cell = row.setdefault(label, {"heard": 0, "of": 0, "stray": 0})
                    cell["heard"] += hit
                    cell["of"] += 1
                    cell["stray"] += stray
                    for key in (voice, f"room {trial % len(rooms.ROOMS)}"):
                        per = cell.setdefault(key, [0, 0])
                        per[0] += hit
                        per[1] += 1
        print(f"trial {trial + 1}/{trials}", file=sys.stderr, flush=True)
    detector.close()
    cpu_median = {k: round(statistics.median(v), 2) for k, v in cpu.items() if v}
    return {"heard": tally, "cpu_pct_median": cpu_median}


STOP_AFTER_S = 0.25
"""In the "reply stopped" arms, the reply stops this long after the command
starts: the user says the command right after "Hey Mycroft", the detector
fires about as the wake word ends (-61 ms median, `wake/latency.py`), and
what the sink had queued still plays."""


def stopped_at_barge_in(room, mix: rooms.Mix, stop: int) -> rooms.Mix:
    """``mix`` with the reply stopped at sample ``stop``: the user's words
    at the level they had over the reply, the echo of the shortened reply
    (its room's reverberant tail included) and the same noise."""
    played = mix.reference.copy()
    played[stop:] = 0
    echo = rooms.mix(room, played).echo
    voice = mix.mic.astype(np.int32) - mix.echo
    mic = np.clip(voice + echo, -32768, 32767).astype(np.int16)
    return rooms.Mix(mic, played, echo, mix.user, mix.quiet)


def command_wer(piper: corpus.Piper, reply: np.ndarray, count: int) -> dict:
    """Each command at 0 dB over the reply, cut from 0.3 s before to 0.6 s
    after it, against the same command alone in the same room: the reply
    goes on playing (the worst case), or stops `STOP_AFTER_S` into the
    command, as a voice barge-in stops it."""
    # Bare faster-whisper as the stage configures it: the measure is the
    # audio, not the streaming stage around the model.
    whisper = BareWhisper(resolve_models_dir("") / "whisper-base", "en")
    transcribe = whisper.transcribe

    errors: dict[str, list[int]] = {}
    rng = np.random.default_rng(5)
    for index, text in enumerate(COMMANDS[:count]):
        room = rooms.ROOMS[index % len(rooms.ROOMS)]
        spoken = piper.say(text)
        at_s = 3.5
        length = round(at_s * RATE) + len(spoken) + int(1.0 * RATE)
        mix, cut = scene(room, reply, rng, length, spoken, at_s, 0.0)
        versions = {"alone (speaker silent)": mix.quiet[cut:]}
        versions.update(
            run_arms(mix, cut, ("none", "speex", "webrtc AEC3", "webrtc AEC3, own alignment"))
        )
        stop = mix.user[0] + round(STOP_AFTER_S * RATE)
        stopped = run_arms(stopped_at_barge_in(room, mix, stop), cut, ("none", "speex"))
        versions.update({f"{name}, reply stopped": audio for name, audio in stopped.items()})
        lo, hi = mix.user[0] - cut - int(0.3 * RATE), mix.user[1] - cut + int(0.6 * RATE)
        for name, audio in versions.items():
            said = transcribe(audio[lo:hi])
            wrong, words = word_errors(text, said)
            total = errors.setdefault(name, [0, 0])
            total[0] += wrong
            total[1] += words
        print(f"command {index + 1}/{count}", file=sys.stderr, flush=True)
    return {name: round(w / max(n, 1), 3) for name, (w, n) in errors.items()}


def false_barge_ins(piper: corpus.Piper, minutes: float) -> dict:
    """Its own replies (no user) through each room, a minute at a time into
    one warm canceller per room; detections at the idle and barge-in
    cutoffs are false barge-ins."""
    rng = np.random.default_rng(31)
    said = [piper.say(r) for r in corpus.replies(120, seed=4)]
    detector = MicroWakeWordDetector(["hey_mycroft"])
    result: dict = {"minutes": minutes, "idle cutoff": 0, "0.99": 0, "examples": []}
    for index, room in enumerate(rooms.ROOMS):
        mics, references = [], []
        for _ in range(round(minutes / len(rooms.ROOMS))):
            parts, total = [], 0
            while total < 60 * RATE:  # replies with the pauses between turns
                reply = said[int(rng.integers(len(said)))]
                parts += [reply, np.zeros(int(rng.uniform(0.3, 2.0) * RATE), np.int16)]
                total += len(parts[-2]) + len(parts[-1])
            played = np.concatenate(parts)[: 60 * RATE]
            references.append(played)
            mics.append(rooms.mix(room, played).mic)
        cleaned = cancel_offline(np.concatenate(mics), np.concatenate(references), RATE)[0]
        for label, threshold in (("idle cutoff", None), ("0.99", 0.99)):
            found = detect(detector, cleaned, threshold)
            result[label] += len(found)
            result["examples"] += [(index, label, d.t_s, d.score) for d in found][:5]
        print(f"own replies: room {index + 1}/{len(rooms.ROOMS)}", file=sys.stderr, flush=True)
    detector.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--commands", type=int, default=len(COMMANDS))
    parser.add_argument("--reply-minutes", type=float, default=30.0)
    parser.add_argument(
        "--parts", default="steady_state,command_wer,wake,false_barge_ins", help="which to run"
    )
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    chosen = args.parts.split(",")
    unknown = set(chosen) - {"steady_state", "command_wer", "wake", "false_barge_ins"}
    if unknown:
        parser.error(f"--parts: unknown {', '.join(sorted(unknown))}")
    piper = corpus.Piper(resolve_models_dir(""))
    reply = np.concatenate([piper.say(r) for r in corpus.replies(24, seed=9)])
    clips = [
        ("piper", piper.say(p, s)) for p in corpus.WAKE_PHRASES["hey_mycroft"] for s in (0.9, 1.1)
    ]
    clips += [("espeak", corpus.espeak("hey mycroft", v)) for v in corpus.ESPEAK_VOICES]
    started = time.monotonic()
    result: dict = {}
    parts = (
        ("steady_state", lambda: steady_erle(reply)),
        ("command_wer", lambda: command_wer(piper, reply, args.commands)),
        ("wake", lambda: wake_trials(reply, clips, args.trials)),
        ("false_barge_ins", lambda: false_barge_ins(piper, args.reply_minutes)),
    )
    for key, part in parts:
        if key not in chosen:
            continue
        result[key] = part()
        result["wall_s"] = round(time.monotonic() - started, 1)
        if args.out:  # after each part, so a later failure loses nothing
            args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
