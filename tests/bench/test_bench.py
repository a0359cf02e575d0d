"""`assistant bench`: the command runs on the real models and reports every
field; the pure parts (playback simulation, targets, table) are checked on
their own. No time threshold is asserted anywhere: only that each number
was measured and agrees with the others (stages in order, targets met as
their numbers say)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.bench import sweep as bench_sweep
from assistant.bench.report import (
    STAGE_LABELS,
    breakdown,
    evaluate_targets,
    format_table,
    summarize,
    waterfall,
)
from assistant.bench.run import bench_config, load_questions
from assistant.bench.stand_ins import (
    STAND_IN_REPLY,
    StandInLanguageModel,
    StandInMicrophone,
    StandInSpeechToText,
    StandInTextToSpeech,
    orchestration,
)
from assistant.bench.turns import TimingSink, speak_questions
from assistant.compose import build_engines
from assistant.core.config import Config, config_from_dict
from assistant.core.errors import ConfigError
from assistant.core.messages import Message
from assistant.frontends.cli import main
from assistant.stages.audio.pcm import AudioChunk
from assistant.stages.llm.threads import batch_threads
from tests.support.models import require

SPANS = ["speech", "asr", "llm", "tts", "playback", "wait"]
TARGETS = {
    "ttfa_ratio",
    "llm_tokens_per_s_ratio",
    "tts_rtf_ratio",
    "orchestration_ms",
    "ttft_second_turn_ratio",
    "peak_rss_mb",
}


@pytest.fixture
def one_question(tmp_path: Path) -> Path:
    path = tmp_path / "questions.txt"
    path.write_text("# a comment\n\nWhat is the capital of France?\n", encoding="utf-8")
    return path


@pytest.fixture
def models(models_dir: Path) -> Path:
    for name in ("SmolLM2-135M-Instruct.Q4_1.gguf", "en_US-joe-medium.onnx", "whisper-base"):
        require(models_dir / name)
    return models_dir


@pytest.mark.slow
def test_bench_json_has_every_field(models, one_question, tmp_path, capsys):
    # Replies cut at 24 tokens (llm.max_tokens): every field is measured all the same.
    config = tmp_path / "config.toml"
    config.write_text(f'[paths]\nmodels_dir = "{models}"\n[llm]\nmax_tokens = 24\n')
    args = ["--config", str(config), "bench", "--json", "--turns", "1"]
    status = main([*args, "--questions", str(one_question)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    result = json.loads(captured.out)
    assert set(result) >= {"setup", "stages", "targets", "memory", "waterfall", "turns"}
    assert result["setup"]["questions"] == ["What is the capital of France?"]
    assert result["setup"]["llm_threads"] >= 1
    for key in STAGE_LABELS:
        stage = result["stages"][key]
        assert set(stage) == {"median", "p90", "min", "max", "n"}
        assert stage["n"] >= 1 and stage["median"] is not None, key
    assert {t["name"] for t in result["targets"]} == TARGETS
    for target in result["targets"]:
        value, limit = target["value"], target["limit"]
        assert value is not None, target
        assert target["met"] is (value <= limit if target["op"] == "<=" else value >= limit)
    memory = result["memory"]
    assert [row["stage"].split()[0] for row in memory["stages"]] == [
        "python",
        "asr",
        "llm",
        "tts",
        "after",
    ]
    assert all(row["vm_rss_mb"] > 0 for row in memory["stages"])
    assert memory["peak_mb"] >= max(row["vm_rss_mb"] for row in memory["stages"])
    assert result["setup"]["paced"] is True
    for arm in ("streaming", "sequential"):
        assert [s["stage"] for s in result["waterfall"][arm]] == SPANS
        turn = result["turns"][arm][0]
        assert turn["transcript"] and turn["reply"]
        # Each arm's clock starts at the release (the file's last sample):
        # recognition, then the first token, then the first audio, then the
        # end of playback; the speech came before it.
        assert 0 <= turn["asr_ms"] <= turn["llm_first_token_ms"] <= turn["ttfa_ms"]
        assert turn["ttfa_ms"] < turn["done_ms"]
        assert turn["speech_start_ms"] < turn["speech_end_ms"] <= 0
        assert turn["voiced_to_audio_ms"] == pytest.approx(
            turn["ttfa_ms"] - turn["speech_end_ms"], abs=0.2
        )
        assert 0.0 <= turn["ready_fraction"] <= 1.0
    streaming = result["turns"]["streaming"][0]
    # Paced: the recognizer had the question from its first sample on.
    assert streaming["listen_start_ms"] == pytest.approx(-streaming["clip_ms"])
    assert result["threads_sweep"] is None


@pytest.mark.slow
def test_bench_threads_sweep_smoke(models, tmp_path, monkeypatch):
    """The sweep of ``bench --threads-sweep`` on the real engines, kept
    short: one question, replies cut at 8 tokens (llm.max_tokens), and a
    grid of one thread count, so every part of it runs once. The figures
    over the whole grid are the bench's (benchmarks/README.md); here every
    cell is measured and the table shows it. The rest of the command is
    `test_bench_json_has_every_field`'s."""
    monkeypatch.setattr(bench_sweep, "THREADS", (1,))
    notes: list[str] = []
    # The sweep's recognizer part sweeps Whisper's threads.
    settings = {
        "paths": {"models_dir": str(models)},
        "llm": {"max_tokens": 8},
        "asr": {"engine": "whisper"},
    }
    config = bench_config(config_from_dict(settings), notes)
    question = "What is the capital of France?"
    progress: list[str] = []
    with build_engines(config) as engines:
        wavs = speak_questions(engines.tts, [question], tmp_path)
        sweep = bench_sweep.threads_sweep(
            engines, config, [question], wavs, [question], progress.append
        )
    assert [row["n_threads"] for row in sweep["llm"]] == [1]
    for row in sweep["llm"]:
        assert row["n_threads_batch"] == batch_threads(1)
        assert row["tokens_per_s_alone"] > 0 and row["tokens_per_s_with_tts"] > 0, row
        assert row["tts_rtf_with_llm"] > 0 and row["ttfa_ms"] > 0, row
    assert sweep["tts_rtf_alone"] > 0
    assert [row["cpu_threads"] for row in sweep["asr"]] == [1]
    assert all(row["decode_ms"] > 0 for row in sweep["asr"])
    assert [row["n_threads"] for row in sweep["tts"]] == [1]
    assert all(row["tts_rtf_alone"] > 0 and row["ttfa_ms"] > 0 for row in sweep["tts"])
    off, on = sweep["prefill"]
    assert (off["prefill"], on["prefill"]) == (False, True)
    assert off["prefill_tokens"] == 0  # nothing is read ahead with llm.prefill off
    assert on["prompt_tokens_read"] <= off["prompt_tokens_read"]
    assert progress[-1] == "threads sweep: prefill on"
    table = format_table({**table_result(), "threads_sweep": sweep})
    assert "llama threads (batch)" in table
    assert f"1 ({batch_threads(1)})" in table
    assert "whisper cpu_threads 1: decode" in table


def test_bench_paces_the_streaming_arm_unless_told_not_to():
    from assistant.frontends.parser import build_parser

    assert build_parser().parse_args(["bench"]).paced is True
    assert build_parser().parse_args(["bench", "--unpaced"]).paced is False


def test_bench_rejects_zero_turns(one_question, capsys):
    assert main(["bench", "--turns", "0", "--questions", str(one_question)]) == 2
    assert "--turns 0" in capsys.readouterr().err


def test_orchestration_turns_with_stand_in_engines():
    rows = orchestration(Config(), turns=3)
    assert len(rows) == 3
    # The first audio comes within the turn, which ends after it.
    assert all(0 <= row["ttfa_ms"] < row["turn_ms"] for row in rows), rows


def test_stand_in_engines_do_no_work_and_fill_their_protocols():
    transcriber = StandInSpeechToText("hello").start()
    transcriber.accept(np.zeros(10, np.int16))
    assert transcriber.finish() == "hello"
    llm = StandInLanguageModel()
    question = [Message("user", "hi")]
    assert "".join(llm.generate(question)) == STAND_IN_REPLY
    assert llm.last_stats.generated_tokens == len(STAND_IN_REPLY.split()) and llm.fits(question)
    assert list(llm.generate_with_grammar(question, 'root ::= "x"')) == []
    tts = StandInTextToSpeech()
    assert [len(c.samples) for c in tts.synthesize("Hi.")] == [160]
    tts.set_volume(0.5)
    assert tts.gain == 0.5
    source = StandInMicrophone(blocks=2)
    assert not source.exhausted
    source.open()
    assert source.read(0.1) is not None and source.read(0.1) is not None
    assert source.read(0.1) is None and source.exhausted


def test_stand_in_language_model_stops_on_cancel():
    import threading

    cancel = threading.Event()
    llm = StandInLanguageModel()
    pieces = []
    for piece in llm.generate([], cancel):
        pieces.append(piece)
        cancel.set()
    assert pieces == ["The"]
    assert llm.last_stats.stop == "cancelled" and llm.last_stats.generated_tokens == 1


def test_timing_sink_simulates_playback_stalls():
    sink = TimingSink()
    sink.open(16000)
    sink.arrivals = [(10.0, 1.0), (10.5, 1.0), (13.0, 0.5)]
    first, end, stall = sink.playback()
    assert (first, end, stall) == (10.0, 13.5, 1.0)
    sink.write(AudioChunk(np.zeros(8000, np.int16), 16000))
    assert sink.played_frames() == 8000
    assert sink.paths == []


def test_load_questions_skips_comments_and_rejects_empty(tmp_path, one_question):
    assert load_questions(one_question) == ["What is the capital of France?"]
    assert len(load_questions()) >= 3
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no questions"):
        load_questions(empty)


@pytest.mark.parametrize("engine", ["moonshine", "vosk"])
def test_bench_config_falls_back_to_whisper_without_the_model(tmp_path, engine):
    config = config_from_dict({"paths": {"models_dir": str(tmp_path)}, "asr": {"engine": engine}})
    notes: list[str] = []
    bench = bench_config(config, notes)
    assert bench.asr.engine == "whisper" and bench.llm.temperature == 0.0
    assert "using whisper" in notes[0] and config.asr.model in notes[0]
    (tmp_path / config.asr.model).mkdir()
    assert bench_config(config, []).asr.engine == engine


def table_result() -> dict:
    """A `run_bench` result with made-up figures, for the table."""
    stages = {key: summarize([1.0, 2.0, 3.0]) for key in STAGE_LABELS}
    setup = {
        "turns": 1,
        "questions": ["q"],
        "cpu_count": 2,
        "asr_engine": "whisper",
        "asr_model": "whisper-base",
        "llm_model": "m.gguf",
        "llm_threads": 1,
        "llm_batch_threads": 1,
        "voice": "v",
        "notes": [],
    }
    return {"setup": setup, "stages": stages, "targets": [], "memory": None, "threads_sweep": None}


def test_targets_and_table_from_summaries():
    stages = {key: summarize([1.0, 2.0, 3.0]) for key in STAGE_LABELS}
    stages["stream_ttfa_ms"] = summarize([300.0])
    stages["seq_ttfa_ms"] = summarize([1000.0])
    targets = {t.name: t for t in evaluate_targets(stages, {"peak_mb": 2048.0, "stages": []})}
    assert set(targets) == TARGETS
    assert targets["ttfa_ratio"].value == 0.3 and targets["ttfa_ratio"].met is True
    assert targets["peak_rss_mb"].met is False
    assert evaluate_targets(stages, None)[-1].met is None
    base = table_result()
    setup = {**base["setup"], "notes": ["a note"]}
    result = {
        **base,
        "setup": setup,
        "stages": stages,
        "targets": [t.to_dict() for t in targets.values()],
    }
    table = format_table(result)
    assert "note: a note" in table
    assert "0.300" in table and "NO" in table and "yes" in table
    assert "ttfa breakdown" in table and "unpaced" not in table
    assert "streaming arm unpaced" in format_table({**result, "setup": {**setup, "paced": False}})


def paced_row(**overrides: float) -> dict:
    row = {
        "question": 0,
        "round": 0,
        "clip_ms": 2000.0,
        "listen_start_ms": -2000.0,
        "speech_start_ms": -1800.0,
        "speech_end_ms": -210.0,
        "asr_ms": 300.0,
        "llm_first_token_ms": 500.0,
        "llm_done_ms": 900.0,
        "tts_first_audio_ms": 800.0,
        "ttfa_ms": 800.0,
        "done_ms": 3000.0,
        "voiced_to_audio_ms": 1010.0,
        "ready_fraction": 0.8,
    }
    return {**row, **overrides}


def test_waterfall_shows_the_speech_and_the_wait_before_and_after_the_release():
    streaming = [paced_row(ttfa_ms=700.0), paced_row(round=1), paced_row(round=2, ttfa_ms=5e3)]
    sequential = [
        paced_row(round=r, listen_start_ms=0.0, llm_ms=1500.0, tts_ms=2000.0, ttfa_ms=2000.0)
        for r in range(3)
    ]
    spans = waterfall(streaming, sequential)
    for arm in ("streaming", "sequential"):
        assert [s["stage"] for s in spans[arm]] == SPANS
    by_stage = {s["stage"]: s for s in spans["streaming"]}
    assert by_stage["speech"] == {"stage": "speech", "start_ms": -1800.0, "end_ms": -210.0}
    assert by_stage["asr"]["start_ms"] == -2000.0  # heard during the speech
    assert by_stage["wait"] == {"stage": "wait", "start_ms": -210.0, "end_ms": 800.0}
    seq = {s["stage"]: s for s in spans["sequential"]}
    assert seq["asr"]["start_ms"] == 0.0 and seq["tts"] == {
        "stage": "tts",
        "start_ms": 1500.0,
        "end_ms": 2000.0,
    }
    # Rows of an older bench (no speech timing) still give their stages.
    old = waterfall([{k: v for k, v in paced_row().items() if "speech" not in k}], [])
    assert [s["stage"] for s in old["streaming"]] == ["asr", "llm", "tts", "playback"]


def test_breakdown_explains_each_arms_ttfa():
    stages = {
        "stream_asr_ms": summarize([250.0]),
        "stream_llm_first_token_ms": summarize([600.0]),
        "stream_ttfa_ms": summarize([1200.0]),
        "stream_voiced_to_audio_ms": summarize([1400.0]),
        "stream_ready_fraction": summarize([0.75]),
        "seq_asr_ms": summarize([2000.0]),
    }
    head, streaming, sequential = breakdown(stages)
    assert "transcript" in head and "voiced->audio" in head and "ready" in head
    assert streaming.split()[1:] == ["250", "600", "1200", "1400", "0.75"]
    assert sequential.split()[1:] == ["2000", "-", "-", "-", "0.00"]


def test_summarize_ignores_missing_values():
    assert summarize([None, 4.0, 2.0])["median"] == 3.0
    assert summarize([None])["n"] == 0
