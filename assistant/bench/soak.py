"""``assistant bench --soak N``: N mixed turns in one process, as a product
measurement of memory, speed and disk use over a long run.

Everything is real and built by the composition root (`assistant.compose`):
the engines, the skills, the reply path and the controller. The turns come
in a fixed pattern of ten (`soak_plan.PATTERN`):

* **llm**: a question for the language model (varied, some long), answered
  through `reply.answer` with the conversation's memory, as the text console
  answers it; the reply is synthesized and written to the replies folder;
* **skill**: an appliance command answered without the LLM (time, date,
  timers of a few seconds that ring on a later turn, volume, repeat);
* **device**: a device command with no tool declared, refused without the LLM;
* **voice** (every tenth turn): a question spoken by piper ahead of time,
  delivered at real-time pace (`PacedWavSource`) through one long-lived
  `Controller` with the configured recognizer (Whisper when the Vosk model
  is missing, as ``assistant bench`` falls back).

Replies go to WAV files in a temporary replies folder through
`compose.build_sink`, the sink the front ends use with no sound card, so
the folder's size is the disk use a run leaves behind. After every turn a
row records the process's memory (``/proc/self/status``: VmRSS, VmHWM,
RssAnon, RssFile; glibc's heap via ``mallinfo2``; the number of objects the
Python garbage collector tracks), the turn's tokens/s and the folder size.
The summary and targets are in `bench.soak_report`.

Threads: text turns run on the caller's thread, voice turns on the
controller's workers, never at once (llama.cpp's one-thread rule); the text
path and the controller have their own conversation and skills, so a timer
rings on the path that set it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import queue
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from assistant.bench.run import asr_available, machine_setup
from assistant.bench.soak_plan import PATTERN, VOICE_QUESTIONS, plan
from assistant.bench.soak_report import (
    ROW_FIELDS,
    format_soak,
    series,
    soak_summary,
    soak_targets,
    write_rows,
)
from assistant.bench.turns import speak_questions
from assistant.bench.usage import folder_usage, process_memory
from assistant.compose import (
    Engines,
    build_controller,
    build_conversation,
    build_engines,
    build_sink,
    build_skills,
)
from assistant.core.config import Config
from assistant.core.errors import AssistantError, ConfigError
from assistant.core.events import (
    ButtonPressed,
    EventBus,
    State,
    StateChanged,
    TurnFailed,
    TurnFinished,
    TurnIgnored,
)
from assistant.pipeline.reply import ReplyStreamer, answer, say
from assistant.stages.audio.paced import PacedWavSource

log = logging.getLogger(__name__)

VOICE_TURN_TIMEOUT_S = 600.0
"""A voice turn that has not ended after this long stops the soak."""
ALIVE_S = 30.0

# -- the turns -----------------------------------------------------------------


class Soak:
    """The parts a soak turns over: the text path (conversation, skills and
    a WAV sink, as the console with speech has) and one controller with a
    paced WAV microphone and its own WAV sink, both writing to ``replies``.
    `close` stops the controller, closes the sinks and skills; the caller
    closes the engines (unless `close` returned False: then a worker is
    still inside one, and the engines were abandoned)."""

    def __init__(self, config: Config, engines: Engines, replies: Path) -> None:
        self.config = config
        self.engines = engines
        self.replies = replies
        self.clock = time.monotonic
        tts = engines.tts
        self.sink = build_sink(config, wav_dir=replies)
        self.sink.open(tts.sample_rate_hz)
        self.conversation = build_conversation(config)
        self.skills = build_skills(config, engines.llm, tts, self.conversation)
        self.source = PacedWavSource(config.audio.block_ms)
        self.bus = EventBus()
        self.ended: queue.Queue = queue.Queue()
        self.bus.subscribe(self._on_event)
        turn = dataclasses.replace(config.turn, mode="hold", min_press_s=0.0)
        voice_sink = build_sink(config, wav_dir=replies)
        self.controller = build_controller(
            config, engines, self.source, voice_sink, self.bus, turn, earcons=False
        )
        self.controller.start()

    def _on_event(self, event: object) -> None:
        """On the controller thread: the outcome of a voice turn, then idle."""
        idle = isinstance(event, StateChanged) and event.new is State.IDLE
        if idle or isinstance(event, TurnFinished | TurnFailed | TurnIgnored):
            self.ended.put(event)

    def text_turn(self, kind: str, text: str) -> dict:
        """One typed turn, as the console runs it: due timers ring first."""
        llm, tts = self.engines.llm, self.engines.tts
        started = self.clock()
        alerts = self.skills.due_alerts()
        try:
            for alert in alerts:
                say(ReplyStreamer(tts, self.sink), self.conversation, alert)
            result = answer(
                ReplyStreamer(tts, self.sink), llm, self.conversation, text, shortcuts=self.skills
            )
        except AssistantError as exc:
            return {"ok": False, "error": f"{exc.stage}: {exc}", "alerts": len(alerts)}
        return {
            "ok": True,
            "path": result.path,
            "wall_ms": round((self.clock() - started) * 1000, 1),
            "ttfa_ms": result.timings_ms.get("first_audio_played"),
            "tokens": result.tokens,
            "tokens_per_s": round(result.tokens_per_s, 2) if result.path == "llm" else None,
            "reply_chars": len(result.spoken),
            "alerts": len(alerts),
        }

    def voice_turn(self, wav: Path) -> dict:
        """One push-to-talk turn on the controller: ``wav`` is spoken into the
        paced microphone; returns when the controller is idle again. Raises
        `AssistantError` when the controller stops responding."""
        while not self.ended.empty():
            self.ended.get_nowait()
        self.source.load(wav)
        pressed = ButtonPressed()
        started = self.clock()
        self.controller.submit(pressed)
        outcome = None
        while True:
            try:
                event = self.ended.get(timeout=0.5)
            except queue.Empty:
                stuck = not self.controller.alive(within_s=ALIVE_S)
                if stuck or self.clock() - started > VOICE_TURN_TIMEOUT_S:
                    raise AssistantError("bench --soak: a voice turn stopped responding") from None
                continue
            if isinstance(event, StateChanged):
                if outcome is not None:
                    break
            else:
                outcome = event
        row: dict = {"wall_ms": round((self.clock() - started) * 1000, 1)}
        if isinstance(outcome, TurnFailed):
            return {**row, "ok": False, "error": f"{outcome.stage}: {outcome.message}"}
        if isinstance(outcome, TurnIgnored):
            return {**row, "ok": False, "error": f"ignored: {outcome.reason}"}
        return {
            **row,
            "ok": True,
            "path": outcome.path,
            "transcript": outcome.transcript,
            "ttfa_ms": outcome.timings_ms.get("ttfa"),
            "tokens_per_s": outcome.tokens_per_s if outcome.path == "llm" else None,
            "reply_chars": len(outcome.reply),
        }

    def close(self) -> bool:
        """Stop the controller and close what the soak opened; False (and
        the engines abandoned) when a worker did not stop."""
        stopped = self.controller.stop()
        if not stopped:
            self.engines.abandon()
        self.controller.skills.close()
        self.skills.close()
        self.sink.close()
        return stopped


def run_turns(
    soak: Soak,
    turns: int,
    wavs: dict[str, Path],
    progress: Callable[[str], None],
    after_turn: Callable[[], None] | None = None,
) -> list[dict]:
    """Run `plan` (``turns``) on ``soak`` and return one row per turn
    (fields: `soak_report.ROW_FIELDS`). ``after_turn`` runs after each turn,
    before the row's measurements (the memory experiments use it)."""
    rows = []
    began = soak.clock()
    for number, (kind, text) in enumerate(plan(turns), start=1):
        voice = kind == "voice"
        outcome = soak.voice_turn(wavs[text]) if voice else soak.text_turn(kind, text)
        if after_turn is not None:
            after_turn()
        mb, files = folder_usage(soak.replies)
        row: dict = dict.fromkeys(ROW_FIELDS)
        row.update({"turn": number, "kind": kind, "text": text, "alerts": 0, **outcome})
        row.update(process_memory())
        row.update(replies_mb=mb, replies_files=files, elapsed_s=round(soak.clock() - began, 1))
        rows.append(row)
        rate = f", {row['tokens_per_s']:.1f} tok/s" if row.get("tokens_per_s") else ""
        status = "ok" if row["ok"] else f"FAILED ({row['error']})"
        progress(
            f"turn {number}/{turns} {kind} {status}{rate}, VmRSS {row['vm_rss_mb']} MiB, "
            f"replies {mb:.1f} MiB"
        )
    return rows


def check_turns(turns: int) -> None:
    """`ConfigError` unless ``turns`` is a soak's length (1 or more)."""
    if turns < 1:
        raise ConfigError(f"bench --soak {turns} is not allowed; expected 1 or more turns")


def collect(
    config: Config,
    *,
    turns: int,
    progress: Callable[[str], None] = lambda line: None,
    after_turn: Callable[[], None] | None = None,
) -> dict:
    """Load the engines, run the soak and return the JSON-ready result:
    ``setup``, ``summary``, ``targets``, ``series`` and ``rows``. Blocks for
    about as many seconds as turns, and more; raises `ConfigError` for
    ``turns`` < 1 and `AssistantError` when the engines do not load or the
    controller stops responding."""
    check_turns(turns)
    notes: list[str] = []
    config = asr_available(config, notes)
    for note in notes:
        progress(f"note: {note}")
    progress("loading engines")
    with (
        build_engines(config) as engines,
        tempfile.TemporaryDirectory(prefix="assistant-soak-") as tmp,
    ):
        voices = Path(tmp) / "questions"
        voices.mkdir()
        wavs = dict(
            zip(VOICE_QUESTIONS, speak_questions(engines.tts, VOICE_QUESTIONS, voices), strict=True)
        )
        loaded = process_memory()
        soak = Soak(config, engines, Path(tmp) / "replies")
        try:
            rows = run_turns(soak, turns, wavs, progress, after_turn)
        finally:
            soak.close()
    summary = soak_summary(rows)
    setup = {
        "turns": turns,
        "pattern": list(PATTERN),
        **machine_setup(config),
        "malloc_arena_max": os.environ.get("MALLOC_ARENA_MAX"),
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


def run_soak(
    config: Config,
    *,
    turns: int,
    as_json: bool = False,
    rows_path: Path | None = None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> int:
    """The ``assistant bench --soak N`` command: the report (or one JSON
    object) on ``out``, one progress line per turn on ``err``, the per-turn
    rows to ``rows_path`` (CSV or JSON, see `write_rows`). Returns 0, or 1
    when a turn failed."""
    out = out or sys.stdout
    err = err or sys.stderr

    def progress(line: str) -> None:
        err.write(f"soak: {line}\n")
        err.flush()

    check_turns(turns)
    if rows_path is not None:
        write_rows([], rows_path)  # an unwritable file fails now, not after the run
    result = collect(config, turns=turns, progress=progress)
    if rows_path is not None:
        write_rows(result["rows"], rows_path)
    if as_json:
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    else:
        out.write(format_soak(result))
    out.flush()
    return 0 if result["summary"]["failures"] == 0 else 1
