"""`assistant bench`: the command runs on the real models and reports every
field; the pure parts (playback simulation, targets, table) are checked on
their own. No time threshold is asserted anywhere: only that each number
was measured."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.bench.probes import TimingSink
from assistant.bench.report import STAGE_LABELS, evaluate_targets, format_table, summarize
from assistant.bench.run import (
    INSTANT_REPLY,
    InstantAudioSource,
    InstantSpeechToText,
    InstantTextToSpeech,
    bench_config,
    load_questions,
    orchestration,
)
from assistant.core.config import Config, config_from_dict
from assistant.core.errors import ConfigError
from assistant.frontends.cli import main
from assistant.skills.handler import FixedReply
from assistant.stages.audio.pcm import AudioChunk
from tests.conftest import require

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
def test_bench_json_has_every_field(models, one_question, capsys):
    status = main(["bench", "--json", "--turns", "1", "--questions", str(one_question)])
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
        assert target["value"] is not None and target["met"] in (True, False), target
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
    for arm in ("streaming", "sequential"):
        assert [s["stage"] for s in result["waterfall"][arm]] == ["asr", "llm", "tts", "playback"]
        turn = result["turns"][arm][0]
        assert turn["transcript"] and turn["reply"]
    assert result["threads_sweep"] is None


@pytest.mark.slow
def test_bench_table_with_threads_sweep(models, one_question, capsys):
    args = ["bench", "--turns", "1", "--questions", str(one_question), "--no-memory"]
    status = main([*args, "--threads-sweep"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    table = captured.out
    for label in STAGE_LABELS.values():
        assert label in table
    assert "ttfa streaming / sequential" in table
    assert "llama threads (batch)" in table
    assert "whisper cpu_threads 2" in table
    assert "memory, one step" not in table
    assert "bench: turn 1/1" in captured.err


def test_bench_rejects_zero_turns(one_question, capsys):
    assert main(["bench", "--turns", "0", "--questions", str(one_question)]) == 2
    assert "--turns 0" in capsys.readouterr().err


def test_orchestration_turns_with_instant_engines():
    rows = orchestration(Config(), turns=3)
    assert len(rows) == 3
    assert all(row["turn_ms"] > 0 and row["ttfa_ms"] is not None for row in rows)


def test_instant_engines_are_instant_and_complete():
    transcriber = InstantSpeechToText("hello").start()
    transcriber.accept(np.zeros(10, np.int16))
    assert transcriber.finish() == "hello"
    assert "".join(FixedReply(INSTANT_REPLY).generate([])) == INSTANT_REPLY
    assert [len(c.samples) for c in InstantTextToSpeech().synthesize("Hi.")] == [160]
    source = InstantAudioSource(blocks=2)
    source.open()
    assert source.read(0.1) is not None and source.read(0.1) is not None
    assert source.read(0.1) is None and source.exhausted


def test_timing_sink_simulates_playback_stalls():
    sink = TimingSink()
    sink.open(16000)
    sink.arrivals = [(10.0, 1.0), (10.5, 1.0), (13.0, 0.5)]
    first, end, stall = sink.playback()
    assert (first, end, stall) == (10.0, 13.5, 1.0)
    sink.write(AudioChunk(np.zeros(8000, np.int16), 16000))
    assert sink.played_frames() == 8000


def test_load_questions_skips_comments_and_rejects_empty(tmp_path, one_question):
    assert load_questions(one_question) == ["What is the capital of France?"]
    assert len(load_questions()) >= 3
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no questions"):
        load_questions(empty)


def test_bench_config_falls_back_to_whisper_without_vosk(tmp_path):
    config = config_from_dict({"paths": {"models_dir": str(tmp_path)}})
    notes: list[str] = []
    bench = bench_config(config, notes)
    assert bench.asr.engine == "whisper" and bench.llm.temperature == 0.0
    assert "using whisper" in notes[0]
    (tmp_path / config.asr.vosk_model).mkdir()
    assert bench_config(config, []).asr.engine == "vosk"


def test_targets_and_table_from_summaries():
    stages = {key: summarize([1.0, 2.0, 3.0]) for key in STAGE_LABELS}
    stages["stream_ttfa_ms"] = summarize([300.0])
    stages["seq_ttfa_ms"] = summarize([1000.0])
    targets = {t.name: t for t in evaluate_targets(stages, {"peak_mb": 2048.0, "stages": []})}
    assert set(targets) == TARGETS
    assert targets["ttfa_ratio"].value == 0.3 and targets["ttfa_ratio"].met is True
    assert targets["peak_rss_mb"].met is False
    assert evaluate_targets(stages, None)[-1].met is None
    result = {
        "setup": {
            "turns": 1,
            "questions": ["q"],
            "cpu_count": 2,
            "asr_engine": "whisper",
            "asr_model": "whisper-base",
            "llm_model": "m.gguf",
            "llm_threads": 1,
            "llm_batch_threads": 1,
            "voice": "v",
            "notes": ["a note"],
        },
        "stages": stages,
        "targets": [t.to_dict() for t in targets.values()],
        "memory": None,
        "threads_sweep": None,
    }
    table = format_table(result)
    assert "note: a note" in table
    assert "0.300" in table and "NO" in table and "yes" in table


def test_summarize_ignores_missing_values():
    assert summarize([None, 4.0, 2.0])["median"] == 3.0
    assert summarize([None])["n"] == 0
