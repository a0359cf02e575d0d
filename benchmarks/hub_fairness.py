"""Release to transcript with 4 clients speaking at once: FIFO against fair order.

A hub (`HubServer`, Whisper base, nothing else) on a loopback port, and 4
Wyoming clients that each stream a different piper-spoken question at
real-time pace (64 ms chunks), starting ``--stagger-s`` apart, so one
client's release comes while the others still speak and their partial
decodes are queued; ``--tail-s`` of silence after the speech stands for a
button released a moment late or a satellite's endpointer. Each client
times ``audio-stop`` to ``transcript``.

The same process runs both orders, alternating round by round, so the
machine's load falls on both alike:

* **fifo**: every job on the ASR lane and on Whisper's decode worker runs in
  the order it was queued (the order before issue 22), finals behind
  partials;
* **fair**: `FairQueue` as shipped: finals first, clients in turn.

The switch swaps the queue class the lane and the worker are built with
for one that, in FIFO mode, makes every job its own client (so the
rotation is arrival order). Prints per client and overall the median and
p95 in ms, and fair/fifo ratios.

Run from a checkout after ``./setup.sh --test``::

    .venv/bin/python benchmarks/hub_fairness.py [--rounds 6] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import assistant.hub.lanes as lanes  # noqa: E402
import assistant.stages.asr.decode_worker as decode_worker  # noqa: E402
from assistant.bench.wer import wer  # noqa: E402
from assistant.compose import make_speech_to_text  # noqa: E402
from assistant.core.config import AsrConfig, ServeConfig, resolve_models_dir  # noqa: E402
from assistant.core.fairqueue import FairQueue  # noqa: E402
from assistant.hub.server import HubServer  # noqa: E402
from assistant.hub.services import HubServices  # noqa: E402
from tests.support.speech import load_16k, piper_wav  # noqa: E402

CHUNK = 1024  # samples per audio-chunk, 64 ms at 16 kHz
RATE = 16000
QUESTIONS = (
    "What is the capital of France?",
    "How far away is the moon from the earth?",
    "Set a timer for ten minutes and turn on the kitchen light.",
    "Can you tell me a short joke about cats?",
)


class OrderUnderTest(FairQueue):
    """`FairQueue`, or plain arrival order while `fifo` is set."""

    fifo = False

    def put(self, job, client, *, final):
        if OrderUnderTest.fifo:
            # Each job its own client, all partial: the rotation is arrival order.
            return super().put(job, object(), final=False)
        return super().put(job, client, final=final)


async def speak(port: int, samples: np.ndarray, start_at: float) -> tuple[float, str]:
    """Stream ``samples`` from ``start_at`` (loop time) at real-time pace;
    (seconds from audio-stop to transcript, transcript)."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, start_at - loop.time()))
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Transcribe(language="en").event())
        await client.write_event(AudioStart(rate=RATE, width=2, channels=1).event())
        began = loop.time()
        for i in range(0, len(samples), CHUNK):
            await asyncio.sleep(max(0.0, began + i / RATE - loop.time()))  # real-time pace
            part = samples[i : i + CHUNK].tobytes()
            await client.write_event(AudioChunk(rate=RATE, width=2, channels=1, audio=part).event())
        await asyncio.sleep(max(0.0, began + len(samples) / RATE - loop.time()))
        released = time.perf_counter()
        await client.write_event(AudioStop().event())
        while (event := await client.read_event()) is not None:
            if Transcript.is_type(event.type):
                return time.perf_counter() - released, Transcript.from_event(event).text
    raise RuntimeError("the hub closed without a transcript")


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


async def bench(args: argparse.Namespace, clips: list[np.ndarray]) -> dict:
    models_dir = resolve_models_dir("")
    lanes.FairQueue = OrderUnderTest  # what the lanes and the worker are built with
    decode_worker.FairQueue = OrderUnderTest
    stt = make_speech_to_text(AsrConfig(engine="whisper", language="en"), models_dir)
    stt.warm_up()
    services = HubServices(stt=stt)
    server = HubServer(services, ServeConfig(uri="tcp://127.0.0.1:0", max_clients=64))
    await server.start()
    times: dict[str, list[list[float]]] = {o: [[] for _ in clips] for o in ("fifo", "fair")}
    errors: dict[str, list[float]] = {"fifo": [], "fair": []}
    try:
        for round_ in range(args.rounds * 2 + 1):
            order = ("fair", "fifo")[round_ % 2] if round_ else "warm-up"
            OrderUnderTest.fifo = order == "fifo"
            start = asyncio.get_running_loop().time() + 0.2
            runs = [
                speak(server.port, clip, start + i * args.stagger_s) for i, clip in enumerate(clips)
            ]
            results = await asyncio.gather(*runs)
            if order == "warm-up":
                continue
            for i, (seconds, text) in enumerate(results):
                times[order][i].append(seconds)
                errors[order].append(wer(QUESTIONS[i], text))
            line = "  ".join(f"{s * 1000:5.0f}" for s, _ in results)
            print(f"round {round_:2d} {order}: release -> transcript ms {line}", flush=True)
    finally:
        await server.close()
        services.close()
        stt.close()
    result: dict = {"rounds": args.rounds, "stagger_s": args.stagger_s, "tail_s": args.tail_s}
    result["clients"] = []
    for i, clip in enumerate(clips):
        row = {"audio_s": round(len(clip) / RATE, 2)}
        for order in ("fifo", "fair"):
            row[f"{order}_median_ms"] = round(statistics.median(times[order][i]) * 1000)
            row[f"{order}_p95_ms"] = round(p95(times[order][i]) * 1000)
        row["ratio_median"] = round(row["fair_median_ms"] / row["fifo_median_ms"], 2)
        row["ratio_p95"] = round(row["fair_p95_ms"] / row["fifo_p95_ms"], 2)
        result["clients"].append(row)
    for order in ("fifo", "fair"):
        every = [t for client in times[order] for t in client]
        result[f"{order}_median_ms"] = round(statistics.median(every) * 1000)
        result[f"{order}_p95_ms"] = round(p95(every) * 1000)
        result[f"{order}_mean_wer"] = round(statistics.mean(errors[order]), 3)
    result["ratio_median"] = round(result["fair_median_ms"] / result["fifo_median_ms"], 2)
    result["ratio_p95"] = round(result["fair_p95_ms"] / result["fifo_p95_ms"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="rounds of each order")
    parser.add_argument("--stagger-s", type=float, default=0.5, help="between the clients' starts")
    parser.add_argument(
        "--tail-s", type=float, default=0.0, help="silence after the speech, before the release"
    )
    parser.add_argument("--json", type=Path, help="also write the JSON result here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    models_dir = resolve_models_dir("")
    with tempfile.TemporaryDirectory(prefix="hub-fair-") as tmp:
        lead = np.zeros(round(0.3 * RATE), np.int16)
        tail = np.zeros(round(args.tail_s * RATE), np.int16)
        clips = [
            np.concatenate([lead, load_16k(piper_wav(q, models_dir, Path(tmp) / f"{i}.wav")), tail])
            for i, q in enumerate(QUESTIONS)
        ]
    result = asyncio.run(bench(args, clips))
    print()
    print("client  audio s  fifo median/p95 ms  fair median/p95 ms  fair/fifo median  p95")
    for i, row in enumerate(result["clients"]):
        print(
            f"{i:6d}  {row['audio_s']:7.2f}  {row['fifo_median_ms']:7d} / {row['fifo_p95_ms']:5d}"
            f"      {row['fair_median_ms']:7d} / {row['fair_p95_ms']:5d}"
            f"      {row['ratio_median']:15.2f}  {row['ratio_p95']:4.2f}"
        )
    print(
        f"all     fifo {result['fifo_median_ms']} / {result['fifo_p95_ms']} ms, "
        f"fair {result['fair_median_ms']} / {result['fair_p95_ms']} ms: "
        f"ratio {result['ratio_median']} (median), {result['ratio_p95']} (p95); "
        f"mean WER fifo {result['fifo_mean_wer']}, fair {result['fair_mean_wer']}"
    )
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
