"""``assistant bench --soak N --hub-clients K``: the hub soaked the way Home
Assistant uses it, as a product measurement of memory and lost turns.

The real engines are loaded by the composition root and served by the real
`HubServer` on a loopback port, on its own event-loop thread. K clients
(one asyncio loop on another thread) then take whole turns until N are
done, each turn three connections, one per request, as HA opens them:

1. ``transcribe``: a question spoken by the configured voice ahead of time,
   sent in 100 ms chunks, until ``transcript``;
2. ``handle``: that transcript, with the client's own ``conversation_id`` in
   its context (HA keeps one per conversation), until ``handled``;
3. ``synthesize``: the answer, until ``audio-stop``.

A turn is lost when any of the three fails, times out, or comes back empty
where words were due. After every finished turn a row records the
process's memory (`usage.process_memory`: the hub and its K light clients
share the process, so the hub's memory is what moves). Rows, summary and
series have the appliance soak's shape (`soak_report`), so
``benchmarks/plot_soak.py`` plots either.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import queue
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from assistant.bench.run import asr_available, machine_setup
from assistant.bench.soak_report import format_soak, series, soak_summary, soak_targets
from assistant.bench.turns import speak_questions
from assistant.bench.usage import process_memory
from assistant.compose import build_engines
from assistant.compose.hub import build_services, engines_config
from assistant.core.config import Config, ServeConfig
from assistant.core.errors import ConfigError

QUESTIONS = (
    "What is the capital of Italy?",
    "What time is it?",
    "How many legs does a spider have?",
    "Set a timer for two minutes.",
    "Name a fruit.",
    "Cancel the timer.",
    "Why is the sky blue?",
    "Say that again.",
)
"""Spoken by the configured voice before the first turn; LLM questions and
skills, timers included, so the handle path's every branch is soaked."""
GROWTH_FROM_TURN = 200
"""Memory growth is measured from here: by then every engine, allocator
and conversation table is at its working size."""
WAIT_S = 120.0
"""One request may wait behind every other client's work; a lost turn still
fails the soak, only later."""
CHUNK_S = 0.1


def check_soak(turns: int, clients: int) -> None:
    """`ConfigError` unless the numbers make a soak."""
    if turns < 1:
        raise ConfigError(f"bench --soak {turns} is not allowed; expected 1 or more turns")
    if not 1 <= clients <= 64:
        raise ConfigError(f"bench --hub-clients {clients} is not allowed; expected 1 to 64")


def _audio_events(path: Path) -> list:
    from wyoming.asr import Transcribe
    from wyoming.audio import AudioChunk, AudioStart, AudioStop

    with wave.open(str(path), "rb") as wav:
        rate, width, channels = wav.getframerate(), wav.getsampwidth(), wav.getnchannels()
        data = wav.readframes(wav.getnframes())
    step = int(rate * CHUNK_S) * width * channels
    chunks = [
        AudioChunk(rate=rate, width=width, channels=channels, audio=data[i : i + step]).event()
        for i in range(0, len(data), step)
    ]
    start = AudioStart(rate=rate, width=width, channels=channels).event()
    return [Transcribe().event(), start, *chunks, AudioStop().event()]


@contextlib.contextmanager
def serving(config: Config, services) -> Iterator[int]:
    """``services`` served on an ephemeral loopback port from a thread of its
    own; yields the port, then stops the server and joins the thread."""
    from assistant.hub.server import HubServer

    serve = ServeConfig(uri="tcp://127.0.0.1:0", max_clients=config.serve.max_clients)
    handoff: queue.Queue = queue.Queue()

    def main() -> None:
        async def go() -> None:
            server = HubServer(services, serve)
            await server.start()
            stop = asyncio.Event()
            handoff.put((asyncio.get_running_loop(), stop, server.port))
            try:
                await stop.wait()
            finally:
                await server.close()

        try:
            asyncio.run(go())
        except BaseException as exc:  # handed to the caller's thread
            handoff.put(exc)

    thread = threading.Thread(target=main, name="soak-hub", daemon=True)
    thread.start()
    ready = handoff.get(timeout=WAIT_S)
    if isinstance(ready, BaseException):
        raise ready
    loop, stop, port = ready
    try:
        yield port
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=WAIT_S)


async def _request(port: int, events: list, until: str) -> list:
    from wyoming.client import AsyncTcpClient

    async with AsyncTcpClient("127.0.0.1", port) as client:
        for event in events:
            await client.write_event(event)
        got = []
        while True:
            event = await asyncio.wait_for(client.read_event(), WAIT_S)
            if event is None:
                raise ConnectionError(f"the hub closed the connection before {until}")
            if event.type == "error":
                raise RuntimeError(f"hub error: {event.data.get('text')}")
            got.append(event)
            if event.type in (until, "not-handled"):
                return got


async def one_turn(port: int, audio: list, conversation_id: str) -> dict:
    """Transcribe, handle and synthesize over three connections; the row's
    ``ok`` is False, with the ``error``, when the turn was lost."""
    from wyoming.asr import Transcript
    from wyoming.tts import Synthesize

    started = time.monotonic()
    row: dict = {"kind": "hub", "transcript": "", "reply_chars": 0, "ttfa_ms": None}
    row.update(tokens_per_s=None, replies_mb=None, replies_files=None)
    try:
        heard = await _request(port, audio, "transcript")
        text = heard[-1].data.get("text", "").strip()
        row["transcript"] = text
        if not text:
            raise RuntimeError("empty transcript of a spoken question")
        context = {"conversation_id": conversation_id}
        handled = await _request(port, [Transcript(text=text, context=context).event()], "handled")
        if handled[-1].type != "handled":
            raise RuntimeError(f"not handled: {handled[-1].data.get('text')}")
        reply = handled[-1].data.get("text", "").strip()
        row["reply_chars"] = len(reply)
        if any(c.isalnum() for c in reply):
            spoken = await _request(port, [Synthesize(text=reply).event()], "audio-stop")
            chunks = [e for e in spoken if e.type == "audio-chunk" and e.payload]
            if not chunks:
                raise RuntimeError("no audio for a speakable reply")
        row.update(ok=True, error="")
    except Exception as exc:  # a lost turn is a row, not the end of the soak
        row.update(ok=False, error=f"{type(exc).__name__}: {exc}")
    row["wall_ms"] = round((time.monotonic() - started) * 1000)
    return row


def question_index(client: int, turn: int, questions: int) -> int:
    """The question ``client`` asks on its ``turn``-th turn (from 0): each
    client asks them all in order, in its own conversation, so the timer it
    sets is the one it cancels and "say that again" repeats its own reply.
    Client ``i`` starts at question ``2i``, so clients that start together
    ask different questions. Picking by the hub's overall turn count
    instead let quick skill turns lock into step with the clients: one
    1000-turn soak asked the time or cancelled a timer in 635 of its first
    750 turns, and the language model was barely soaked."""
    return (turn + 2 * client) % questions


async def _clients(
    port: int,
    turns: int,
    clients: int,
    audio: list[list],
    on_row: Callable[[dict], None],
) -> None:
    taken = 0

    async def client(index: int) -> None:
        nonlocal taken
        conversation_id = f"01SOAK{index:020d}"  # ULID-shaped, as HA sends
        for own in itertools.count():
            if taken >= turns:
                return
            taken += 1
            question = audio[question_index(index, own, len(audio))]
            on_row(await one_turn(port, question, conversation_id))

    await asyncio.gather(*(client(i) for i in range(clients)))


def collect_hub(
    config: Config,
    *,
    turns: int,
    clients: int = 4,
    questions: tuple[str, ...] = QUESTIONS,
    growth_from: int = GROWTH_FROM_TURN,
    progress: Callable[[str], None] = lambda line: None,
) -> dict:
    """Load the engines, serve them, run ``turns`` whole turns from
    ``clients`` clients and return the JSON-ready result (``setup``,
    ``summary``, ``targets``, ``series``, ``rows``). Blocks for the soak;
    raises `ConfigError` for bad numbers and `AssistantError` when the
    engines do not load."""
    check_soak(turns, clients)
    notes: list[str] = []
    config = asr_available(config, notes)
    for note in notes:
        progress(f"note: {note}")
    progress("loading engines")
    rows: list[dict] = []
    started = time.monotonic()

    def on_row(row: dict) -> None:
        # On the clients' loop thread, between requests: cheap, never blocks.
        row["turn"] = len(rows) + 1
        row.update(process_memory())
        row["elapsed_s"] = round(time.monotonic() - started, 1)
        rows.append(row)
        if row["turn"] % 10 == 0 or not row["ok"] or row["turn"] == turns:
            state = "ok" if row["ok"] else f"LOST ({row['error']})"
            progress(f"turn {row['turn']}/{turns} {state}, rss {row['vm_rss_mb']} MiB")

    with build_engines(engines_config(config)) as engines, tempfile.TemporaryDirectory() as tmp:
        wavs = speak_questions(engines.tts, questions, Path(tmp))
        audio = [_audio_events(path) for path in wavs]
        loaded = process_memory()
        services = build_services(config, engines)
        try:
            with serving(config, services) as port:
                asyncio.run(_clients(port, turns, clients, audio, on_row))
        finally:
            services.close()
    summary = soak_summary(rows, growth_from=growth_from)
    setup = {
        "turns": turns,
        "clients": clients,
        "kind": "hub",
        **machine_setup(config),
        "loaded": loaded,
        "notes": notes,
    }
    return {
        "setup": setup,
        "summary": summary,
        "targets": [t.to_dict() for t in soak_targets(summary)],
        "series": series(rows),
        "rows": rows,
    }


def run_hub_soak(
    config: Config,
    *,
    turns: int,
    clients: int,
    as_json: bool = False,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> int:
    """The ``assistant bench --soak N --hub-clients K`` command: the report
    (or one JSON object) on ``out``, progress on ``err``. Returns 0, or 1
    when a turn was lost."""
    out = out or sys.stdout
    err = err or sys.stderr

    def progress(line: str) -> None:
        err.write(f"soak: {line}\n")
        err.flush()

    result = collect_hub(config, turns=turns, clients=clients, progress=progress)
    out.write(json.dumps(result, ensure_ascii=False) + "\n" if as_json else format_soak(result))
    out.flush()
    return 0 if result["summary"]["failures"] == 0 else 1
