"""`assistant serve` against the Wyoming servers users run today, side by side.

Starts three servers on free loopback ports, each on this checkout's test
models: `assistant serve` (Whisper base and the joe voice), the
`wyoming-faster-whisper` server (the same Whisper base directory, int8, 2
threads) and the `wyoming-piper` server (the same voice). Then, for each
bench question spoken by piper and each round, in alternating order, the
`wyoming` library's own client asks:

* **transcribe**: the whole question sent at once, timed from `audio-stop`
  to the `transcript` event;
* **synthesize**: the question's text, timed from `synthesize` to the first
  `audio-chunk`. Ours speaks the text as `spoken_pieces` cuts it (the first
  piece short); wyoming-piper synthesizes it whole first.

Run from a checkout after `./setup.sh --test`:
    .venv/bin/python benchmarks/hub_vs_wyoming.py [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.bench.asr import load_clip  # noqa: E402
from assistant.bench.run import load_questions  # noqa: E402
from assistant.bench.turns import speak_questions  # noqa: E402
from assistant.compose import build_tts  # noqa: E402
from assistant.core.config import load_config  # noqa: E402
from tests.support.remote_servers import assistant_serve, piper_server, whisper_server  # noqa: E402

CHUNK = 1024  # samples per audio-chunk, 64 ms at 16 kHz


async def transcribe(uri: str, samples) -> tuple[float, str]:
    host, port = uri.removeprefix("tcp://").split(":")
    async with AsyncTcpClient(host, int(port)) as client:
        await client.write_event(Transcribe(language="en").event())
        await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
        for i in range(0, len(samples), CHUNK):
            chunk = AudioChunk(rate=16000, width=2, channels=1, audio=samples[i : i + CHUNK])
            await client.write_event(chunk.event())
        started = time.perf_counter()
        await client.write_event(AudioStop().event())
        while (event := await client.read_event()) is not None:
            if Transcript.is_type(event.type):
                return time.perf_counter() - started, Transcript.from_event(event).text
    raise RuntimeError(f"{uri} closed without a transcript")


async def first_audio(uri: str, text: str) -> float:
    host, port = uri.removeprefix("tcp://").split(":")
    async with AsyncTcpClient(host, int(port)) as client:
        started = time.perf_counter()
        await client.write_event(Synthesize(text=text).event())
        while (event := await client.read_event()) is not None:
            if AudioChunk.is_type(event.type):
                return time.perf_counter() - started
    raise RuntimeError(f"{uri} closed without audio")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--tts-threads", type=int, default=0, help="the hub's tts.n_threads")
    args = parser.parse_args()
    config = load_config()
    models = config.models_dir
    questions = load_questions(None)
    rows = []
    load_before = os.getloadavg()[0]  # a shared machine: every figure with its load
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wavs = speak_questions(build_tts(config), questions, folder)
        clips = [load_clip(wav, "", lead_s=0.0).samples.tobytes() for wav in wavs]
        hub_config = folder / "hub.toml"
        hub_config.write_text(f'[asr]\nengine = "whisper"\n[tts]\nn_threads = {args.tts_threads}\n')
        with (
            assistant_serve(hub_config) as hub,
            whisper_server(models) as whisper,
            piper_server(models) as piper,
        ):
            asyncio.run(transcribe(hub.uri, clips[0]))  # both warmed up alike
            asyncio.run(transcribe(whisper.uri, clips[0]))
            for r in range(args.rounds):
                for i, (question, audio) in enumerate(zip(questions, clips, strict=True)):
                    order = ["ours", "theirs"] if (i + r) % 2 == 0 else ["theirs", "ours"]
                    row: dict = {"question": question, "round": r}
                    for who in order:
                        asr_uri, tts_uri = (
                            (hub.uri, hub.uri) if who == "ours" else (whisper.uri, piper.uri)
                        )
                        seconds, text = asyncio.run(transcribe(asr_uri, audio))
                        row[f"{who}_transcript_ms"] = round(seconds * 1000, 1)
                        row[f"{who}_text"] = text
                        seconds = asyncio.run(first_audio(tts_uri, question))
                        row[f"{who}_first_audio_ms"] = round(seconds * 1000, 1)
                    rows.append(row)
                    print(
                        question,
                        {k: v for k, v in row.items() if k.endswith("ms")},
                        file=sys.stderr,
                    )
    summary: dict = {"load_avg": [round(load_before, 1), round(os.getloadavg()[0], 1)]}
    for who in ("ours", "theirs"):
        for what in ("transcript_ms", "first_audio_ms"):
            summary[f"{who}_{what}_median"] = statistics.median(r[f"{who}_{what}"] for r in rows)
    summary["transcript_ratio"] = round(
        summary["ours_transcript_ms_median"] / summary["theirs_transcript_ms_median"], 3
    )
    summary["first_audio_ratio"] = round(
        summary["ours_first_audio_ms_median"] / summary["theirs_first_audio_ms_median"], 3
    )
    print(json.dumps({"summary": summary, "rows": rows} if args.json else summary, indent=2))


if __name__ == "__main__":
    main()
