"""`assistant bench`: every stage against its raw engine, and the streaming
turn against a sequential pipeline, side by side in one run.

Scenario: the questions in ``benchmarks/questions.txt`` (a built-in copy
when not run from a checkout), spoken at bench time by the configured piper
voice into WAV files. For each question and round, in alternating order so
machine noise hits both arms:

* **streaming**: `compose.run_file_turn`, the turn ``assistant listen
  --realtime`` runs (the real `Controller` on a WAV file delivered at the
  pace it was spoken, as a microphone would): ASR during the speech ->
  LLM tokens -> sentences -> TTS -> sink, overlapped;
* **sequential**: the same engines and samples, but once the last sample
  has arrived, transcribe everything, then generate everything, then
  synthesize everything, then play;
* **LLM stage vs bare**: ``LlamaLanguageModel.generate`` against a bare
  llama-cpp-python ``Llama.generate`` loop (same file, threads, prompt and
  sampling) - tokens/s after the first token;
* **TTS stage vs bare**: ``PiperTextToSpeech.synthesize`` against
  ``PiperVoice.synthesize`` on the same text - real-time factor.

Plus: orchestration overhead with stand-in engines (`bench.stand_ins`), time to
first token of a second turn against a cold first turn, and peak memory of
the appliance's engines in a separate process. With ``threads_sweep``, llama
1 vs 2 threads alone and while piper synthesizes, and Whisper's CPU threads.

The speaker is `bench.turns.TimingSink`: an unbounded buffer that records
when each chunk arrives, so TTFA is "first reply sample handed to the
speaker" and playback stalls are simulated from the arrival times. The two
arms are in `bench.turns`, the raw engines in `bench.bare`, the memory probe
in `bench.memory`, the sweep in `bench.sweep`, the summaries, targets and
table in `bench.report`; this module holds the command. Every assistant
engine comes from the composition root (`assistant.compose`).

Every LLM run starts from the same KV cache (the system prompt, as after the
appliance's warm-up) and samples greedily (temperature 0), so both arms of a
pair generate the same reply.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from assistant.bench.bare import (
    BareLlama,
    BarePiper,
    llm_stage_tokens_per_s,
    ttft_pair,
    tts_stage_rtf,
)
from assistant.bench.memory import measure_memory
from assistant.bench.report import evaluate_targets, format_table, stage_summaries, waterfall
from assistant.bench.stand_ins import orchestration
from assistant.bench.sweep import threads_sweep
from assistant.bench.turns import sequential_turn, speak_questions, streaming_turn
from assistant.compose import Engines, build_conversation, build_engines
from assistant.core.config import Config
from assistant.core.errors import ConfigError
from assistant.stages.llm.threads import batch_threads, tts_threads
from assistant.stages.tts.base import TextToSpeech

log = logging.getLogger(__name__)

QUESTIONS_FILE = Path(__file__).resolve().parents[2] / "benchmarks" / "questions.txt"
DEFAULT_QUESTIONS = (
    "What is the capital of France?",
    "How many legs does a spider have?",
    "What is the boiling point of water?",
    "Who wrote Romeo and Juliet?",
    "What color is the sky on a clear day?",
)


# -- set-up ---------------------------------------------------------------------


def load_questions(path: Path | None = None) -> list[str]:
    """One question per non-empty, non-``#`` line of ``path`` (default:
    ``benchmarks/questions.txt``, else the built-in list)."""
    if path is None and not QUESTIONS_FILE.is_file():
        return list(DEFAULT_QUESTIONS)
    path = Path(path or QUESTIONS_FILE)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"bench questions {path}: cannot read ({exc.strerror})") from None
    questions = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not questions:
        raise ConfigError(f"bench questions {path}: no questions; write one per line")
    return questions


def machine_setup(config: Config) -> dict:
    """The machine and the models a bench or soak ran on, for its JSON."""
    asr = config.asr
    return {
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "asr_engine": asr.engine,
        "asr_model": asr.model,
        "llm_model": Path(config.llm.model).name,
        "voice": config.tts.voice,
    }


def asr_available(config: Config, notes: list[str]) -> Config:
    """``config`` with Whisper for ASR when the configured Vosk or Moonshine
    model is not installed (Vosk's English model on a dev box), saying so in
    ``notes``."""
    asr = config.asr
    if asr.engine in ("vosk", "moonshine") and not (config.models_dir / asr.model).is_dir():
        notes.append(
            f"{asr.engine.capitalize()} model {asr.model} is not in {config.models_dir}; "
            f"using whisper ({asr.whisper_model}) for ASR"
        )
        return dataclasses.replace(config, asr=dataclasses.replace(asr, engine="whisper"))
    return config


def bench_config(config: Config, notes: list[str]) -> Config:
    """The config the bench runs: greedy sampling, and the ASR fallback of
    `asr_available`."""
    config = asr_available(config, notes)
    return dataclasses.replace(config, llm=dataclasses.replace(config.llm, temperature=0.0))


# -- the command ---------------------------------------------------------------


def collect(
    config: Config,
    *,
    turns: int = 3,
    questions_path: Path | None = None,
    threads: bool = False,
    memory: bool = True,
    paced: bool = True,
    progress: Callable[[str], None] = lambda line: None,
) -> dict:
    """Run every measurement and return the JSON-ready result (fields in
    benchmarks/README.md). With ``paced`` the streaming arm hears each
    question at the pace it was spoken; without, the whole file at once.
    Blocks for minutes; loads every model twice."""
    if turns < 1:
        raise ConfigError(f"bench --turns {turns} is not allowed; expected 1 or more")
    notes: list[str] = []
    questions = load_questions(questions_path)
    config = bench_config(config, notes)
    for note in notes:
        progress(f"note: {note}")
    mem = None
    if memory:
        # First, while this process is small: the child inherits its ru_maxrss.
        progress("memory of the appliance's engines, in a fresh process")
        mem = measure_memory(config, questions[0])
    progress("loading engines")
    with build_engines(config) as engines:
        return _measure(engines, config, questions, turns, threads, mem, notes, progress, paced)


def _measure(
    engines: Engines,
    config: Config,
    questions: list[str],
    turns: int,
    threads: bool,
    mem: dict | None,
    notes: list[str],
    progress: Callable[[str], None],
    paced: bool = True,
) -> dict:
    """Every measurement on the loaded ``engines``; see `collect`."""
    raw: dict[str, list] = {"streaming": [], "sequential": [], "llm": [], "tts": [], "ttft": []}
    bare_llm = BareLlama(engines.llm)
    sweep = None
    try:
        bare_tts = BarePiper(config, tts_threads(config.tts.n_threads))
        with tempfile.TemporaryDirectory(prefix="assistant-bench-") as tmp:
            wavs = speak_questions(engines.tts, questions, Path(tmp))
            step = 0
            for round_ in range(turns):
                for i, (question, wav) in enumerate(zip(questions, wavs, strict=True)):
                    step += 1
                    progress(f"turn {step}/{turns * len(questions)}: {question}")
                    # Alternate which arm goes first, so drift hits both alike.
                    flip = step % 2 == 0
                    tags = {"question": i, "round": round_}
                    _pair_turns(engines, config, wav, flip, raw, tags, paced)
                    raw["llm"].append(_pair_llm(engines.llm, bare_llm, config, question, flip))
                    text = raw["streaming"][-1]["reply"] or question
                    raw["tts"].append(_pair_tts(engines.tts, bare_tts, text, flip))
            for k in range(turns):
                progress(f"time to first token, conversation {k + 1}/{turns}")
                first, second = questions[k % len(questions)], questions[(k + 1) % len(questions)]
                raw["ttft"].append(ttft_pair(engines.llm, config, first, second))
            progress("orchestration with stand-in engines")
            orch = orchestration(config)
            if threads:
                texts = [r["reply"] or r["transcript"] for r in raw["streaming"][: len(wavs)]]
                sweep = threads_sweep(engines, config, questions, wavs, texts, progress)
    finally:
        bare_llm.close()

    stages = stage_summaries(raw, orch)
    n_threads = engines.llm.n_threads  # the llama backend's (see bench.bare)
    return {
        "setup": {
            "turns": turns,
            "questions": questions,
            **machine_setup(config),
            "llm_threads": n_threads,
            "llm_batch_threads": batch_threads(n_threads),
            "paced": paced,
            "notes": notes,
        },
        "stages": stages,
        "targets": [t.to_dict() for t in evaluate_targets(stages, mem)],
        "memory": mem,
        "threads_sweep": sweep,
        "waterfall": waterfall(raw["streaming"], raw["sequential"]),
        "turns": {k: raw[k] for k in ("streaming", "sequential", "llm", "tts", "ttft")},
    }


def _pair_turns(
    engines: Engines, config: Config, wav: Path, flip: bool, raw: dict, tags: dict, paced: bool
) -> None:
    for arm in ("sequential", "streaming") if flip else ("streaming", "sequential"):
        if arm == "streaming":
            row = streaming_turn(engines, config, wav, paced)
        else:
            row = sequential_turn(engines, config, wav)
        row["reply_ttfa_ms"] = round(row["ttfa_ms"] - row["asr_ms"], 1)
        raw[arm].append({**tags, **row})


def _pair_llm(llm: Any, bare: Any, config: Config, question: str, flip: bool) -> dict:
    messages = build_conversation(config).messages(question)
    prompt = llm.tokenize(messages)
    prefix = llm.tokenize(messages[:1], reply=False)
    pair: dict[str, Any] = {}
    for arm in ("bare", "stage") if flip else ("stage", "bare"):
        if arm == "stage":
            pair["stage"], pair["stage_tokens"] = llm_stage_tokens_per_s(llm, messages)
        else:
            pair["bare"], pair["bare_tokens"] = bare.tokens_per_s(
                prefix, prompt, config.llm.max_tokens
            )
    return pair


def _pair_tts(tts: TextToSpeech, bare: Any, text: str, flip: bool) -> dict:
    pair: dict[str, Any] = {"chars": len(text)}
    for arm in ("bare", "stage") if flip else ("stage", "bare"):
        pair[arm] = tts_stage_rtf(tts, text) if arm == "stage" else bare.rtf(text)
    return pair


def run_bench(
    config: Config,
    *,
    turns: int = 3,
    as_json: bool = False,
    threads_sweep: bool = False,
    questions: Path | None = None,
    memory: bool = True,
    paced: bool = True,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> int:
    """The ``assistant bench`` command: print the table (or one JSON object)
    on ``out``, progress on ``err``. Returns the exit status (0)."""
    out = out or sys.stdout
    err = err or sys.stderr

    def progress(line: str) -> None:
        err.write(f"bench: {line}\n")
        err.flush()

    result = collect(
        config,
        turns=turns,
        questions_path=questions,
        threads=threads_sweep,
        memory=memory,
        paced=paced,
        progress=progress,
    )
    if as_json:
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    else:
        out.write(format_table(result))
    out.flush()
    return 0
