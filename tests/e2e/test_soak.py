"""``assistant bench --soak``: the bookkeeping with stand-in engines (fast),
and one short soak on the real models through the CLI (slow). No time or
speed threshold is asserted: only that every figure was measured and agrees
with the rows it came from."""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from assistant.bench.soak import Soak, run_turns
from assistant.bench.soak_plan import PATTERN, VOICE_QUESTIONS, plan
from assistant.bench.soak_report import (
    ROW_FIELDS,
    format_soak,
    soak_summary,
    soak_targets,
    write_rows,
)
from assistant.bench.stand_ins import (
    StandInLanguageModel,
    StandInSpeechToText,
    StandInTextToSpeech,
)
from assistant.bench.usage import folder_usage, process_memory
from assistant.bench.wer import wer
from assistant.compose import Engines
from assistant.core.config import Config
from assistant.core.errors import ConfigError
from assistant.frontends.cli import main
from assistant.stages.audio.paced import PacedWavSource
from assistant.stages.audio.pcm import AudioChunk
from assistant.stages.audio.wavfile import write_wav
from tests.support.models import require
from tests.support.paths import ROOT


@pytest.fixture
def voice_wavs(tmp_path: Path) -> dict[str, Path]:
    """Every voice question as 0.1 s of quiet (the stand-in recognizer hears
    its fixed text whatever it is given)."""
    out = {}
    for i, question in enumerate(VOICE_QUESTIONS):
        path = tmp_path / f"q{i}.wav"
        write_wav(path, AudioChunk(np.zeros(1600, np.int16), 16000))
        out[question] = path
    return out


def stand_in_soak(tmp_path: Path, heard: str = "what is the capital of france") -> Soak:
    engines = Engines(StandInSpeechToText(heard), StandInLanguageModel(), StandInTextToSpeech())
    return Soak(Config(), engines, tmp_path / "replies")


def soak_rows(soak: Soak, turns: int, wavs: dict[str, Path]) -> list[dict]:
    lines: list[str] = []
    try:
        rows = run_turns(soak, turns, wavs, lines.append)
    finally:
        assert soak.close()
    assert len(lines) == turns and lines[-1].startswith(f"turn {turns}/{turns} ")
    return rows


def test_plan_follows_the_pattern_and_cycles_each_list():
    turns = plan(25)
    assert [kind for kind, _ in turns] == [*PATTERN, *PATTERN, *PATTERN[:5]]
    assert turns[9] == ("voice", VOICE_QUESTIONS[0]) and turns[19] == ("voice", VOICE_QUESTIONS[1])
    llm = [text for kind, text in turns if kind == "llm"]
    assert len(set(llm)) == len(llm)  # no question repeats within 25 turns
    assert any(len(text) > 100 for text in llm)


def test_soak_rows_with_stand_in_engines(tmp_path, voice_wavs):
    soak = stand_in_soak(tmp_path)
    rows = soak_rows(soak, 12, voice_wavs)
    assert [r["turn"] for r in rows] == list(range(1, 13))
    assert all(set(r) == set(ROW_FIELDS) for r in rows)
    assert all(r["ok"] for r in rows), [r["error"] for r in rows if not r["ok"]]
    voice = rows[9]
    assert voice["kind"] == "voice" and voice["path"] == "llm"
    assert voice["transcript"] == "what is the capital of france"
    assert voice["tokens_per_s"] > 0 and voice["ttfa_ms"] is not None
    paths = {r["kind"]: r["path"] for r in rows}
    assert paths["llm"] == "llm" and paths["skill"] == "intent" and paths["device"] == "tool"
    # Only LLM answers have a token rate: a skill's words are not tokens.
    assert all((r["tokens_per_s"] is not None) == (r["path"] == "llm") for r in rows)
    # Every reply, typed or spoken, left a WAV file; the folder only grows.
    sizes = [r["replies_mb"] for r in rows]
    assert sizes == sorted(sizes) and sizes[-1] > 0
    assert rows[-1]["replies_files"] == folder_usage(tmp_path / "replies")[1] >= 12
    assert all(r["vm_hwm_mb"] >= r["vm_rss_mb"] > 0 for r in rows)
    assert all(r["heap_mb"] >= r["heap_free_mb"] and r["py_objects"] > 0 for r in rows)
    elapsed = [r["elapsed_s"] for r in rows]
    assert elapsed == sorted(elapsed)


def test_a_voice_turn_that_hears_nothing_is_a_failure_and_the_soak_goes_on(tmp_path, voice_wavs):
    rows = soak_rows(stand_in_soak(tmp_path, heard=""), 11, voice_wavs)
    assert [r["turn"] for r in rows if not r["ok"]] == [10]
    assert rows[9]["error"] == "ignored: no-speech"
    assert rows[10]["ok"] and rows[10]["kind"] == "llm"
    summary = soak_summary(rows)
    assert summary["failures"] == 1 and summary["failed_turns"][0]["turn"] == 10
    assert soak_targets(summary)[0].met is False


def rows_with(rss: list[float], rates: list[float | None] | None = None) -> list[dict]:
    rates = rates or [None] * len(rss)
    return [
        {
            **dict.fromkeys(ROW_FIELDS),
            "turn": i + 1,
            "kind": "llm" if rate else "skill",
            "ok": True,
            "vm_rss_mb": value,
            "vm_hwm_mb": max(rss[: i + 1]),
            "tokens_per_s": rate,
            "replies_mb": 0.5 * (i + 1),
            "replies_files": i + 1,
            "elapsed_s": float(i),
        }
        for i, (value, rate) in enumerate(zip(rss, rates, strict=True))
    ]


def test_summary_growth_checkpoints_and_rates():
    rss = [600.0 + i * 0.1 for i in range(100)]
    rates = [40.0 if i < 50 else 30.0 for i in range(100)]
    s = soak_summary(rows_with(rss, rates))
    assert s["turns"] == 100 and s["failures"] == 0
    assert list(s["rss_mb_at"]) == ["1", "20", "50", "100"]
    assert s["rss_mb_at"]["50"] == rss[49] and s["rss_mb_at"]["100"] == rss[99]
    assert s["growth_from_turn"] == 50
    assert s["growth_pct"] == round((rss[99] - rss[49]) / rss[49] * 100, 2)
    assert s["rss_slope_mb_per_100_turns"] == pytest.approx(10.0)
    assert s["max_rss_mb"] == rss[-1] and s["peak_hwm_mb"] == rss[-1]
    assert s["tokens_per_s"] == {"median": 35.0, "early": 40.0, "late": 30.0, "llm_turns": 100}
    assert s["replies_mb"] == 50.0 and s["replies_mb_per_turn"] == 0.5
    targets = {t.name: t for t in soak_targets(s)}
    assert targets["soak_failures"].met and targets["soak_max_rss_mb"].met
    assert targets["soak_rss_growth_pct"].met  # about 0.8 %


def test_summary_flags_growth_and_memory_over_the_limits():
    rss = [700.0] * 50 + [1100.0] * 10
    s = soak_summary(rows_with(rss))
    targets = {t.name: t for t in soak_targets(s)}
    assert targets["soak_max_rss_mb"].met is False
    assert targets["soak_rss_growth_pct"].value == pytest.approx(57.14, abs=0.01)
    assert targets["soak_rss_growth_pct"].met is False
    assert s["tokens_per_s"]["median"] is None


def test_short_soak_has_no_growth_figure():
    s = soak_summary(rows_with([500.0] * 12))
    assert s["growth_from_turn"] == 12 and s["growth_pct"] is None
    assert soak_targets(s)[2].met is None
    assert list(s["rss_mb_at"]) == ["1", "12"]


def test_report_table_names_every_figure():
    rows = rows_with([600.0] * 60, [30.0] * 60)
    rows[3] = {**rows[3], "ok": False, "error": "llm: boom"}
    summary = soak_summary(rows)
    setup = {
        "cpu_count": 2,
        "asr_engine": "whisper",
        "asr_model": "whisper-base",
        "llm_model": "m.gguf",
        "voice": "v",
        "loaded": {"vm_rss_mb": 500.0},
        "notes": ["a note"],
    }
    targets = [t.to_dict() for t in soak_targets(summary)]
    table = format_soak({"setup": setup, "summary": summary, "targets": targets})
    assert "60 turns" in table and "note: a note" in table
    assert "turn 4: llm: boom" in table and "failures: 1" in table
    assert "growth from turn 50" in table and "NO" in table


def test_rows_are_written_as_csv_or_json(tmp_path):
    rows = rows_with([600.0, 601.0])
    write_rows(rows, tmp_path / "rows.csv")
    with (tmp_path / "rows.csv").open(newline="") as f:
        read = list(csv.DictReader(f))
    assert [r["vm_rss_mb"] for r in read] == ["600.0", "601.0"]
    assert list(read[0]) == list(ROW_FIELDS)
    write_rows(rows, tmp_path / "rows.json")
    assert json.loads((tmp_path / "rows.json").read_text())[1]["turn"] == 2
    with pytest.raises(ConfigError, match="cannot write"):
        write_rows(rows, tmp_path / "missing" / "rows.csv")


def test_bench_soak_rejects_bad_counts_and_unwritable_files(tmp_path, capsys):
    assert main(["bench", "--soak", "0"]) == 2
    assert "--soak 0 is not allowed" in capsys.readouterr().err
    assert main(["bench", "--soak", "-3", "--soak-out", str(tmp_path / "r.csv")]) == 2
    assert not (tmp_path / "r.csv").exists()
    assert main(["bench", "--soak", "5", "--soak-out", str(tmp_path / "no" / "r.csv")]) == 2
    assert "--soak-out" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--soak", "many"])
    assert exit_.value.code == 2 and "invalid int value" in capsys.readouterr().err


def test_process_memory_and_folder_usage(tmp_path):
    memory = process_memory()
    assert memory["vm_hwm_mb"] >= memory["vm_rss_mb"] > 0
    assert memory["rss_anon_mb"] > 0 and memory["py_objects"] > 0
    assert folder_usage(tmp_path / "missing") == (0, 0)
    (tmp_path / "a.bin").write_bytes(b"x" * 1024 * 1024)
    (tmp_path / "sub").mkdir()
    assert folder_usage(tmp_path) == (1.0, 1)


class StepClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_paced_source_gives_a_block_only_once_it_was_spoken(tmp_path):
    path = tmp_path / "q.wav"
    write_wav(path, AudioChunk(np.arange(1000, dtype=np.int16), 16000))  # 62.5 ms
    clock = StepClock()
    source = PacedWavSource(block_ms=30, clock=clock)
    assert source.load(path) == pytest.approx(0.0625)
    source.open()
    assert source.read(timeout_s=0.0) is None and not source.exhausted  # not spoken yet
    clock.now += 0.03
    assert len(source.read(0.0)) == 480
    clock.now += 0.1  # late: the rest is there at once
    assert len(source.read(0.0)) == 480 and len(source.read(0.0)) == 40
    assert source.exhausted and source.read(0.0) is None
    source.close()
    assert not source.exhausted and source.read(0.0) is None


def test_paced_source_close_wakes_a_waiting_read(tmp_path):
    path = tmp_path / "q.wav"
    write_wav(path, AudioChunk(np.zeros(16000, np.int16), 16000))
    source = PacedWavSource(block_ms=1000)  # the first block is due in 1 s
    source.load(path)
    source.open()
    got: list = []
    reader = threading.Thread(target=lambda: got.append(source.read(timeout_s=30.0)))
    reader.start()
    source.close()
    reader.join(timeout=5.0)
    assert not reader.is_alive() and got == [None]


SMOKE_TURNS = len(PATTERN)
"""One round of the pattern: every kind of turn once or more, the voice turn last.
Long soaks are `assistant bench --soak N`'s (benchmarks/README.md)."""


@pytest.mark.slow
def test_bench_soak_on_the_real_models(models_dir, tmp_path, capsys):
    """A smoke of the soak command on the real models: every kind of turn,
    and every figure measured and consistent with its rows. Replies are cut
    at 24 tokens (llm.max_tokens): the soak's bookkeeping does not depend on
    their length, and the long runs belong to the bench."""
    for name in ("SmolLM2-135M-Instruct.Q4_1.gguf", "en_US-joe-medium.onnx", "whisper-base"):
        require(models_dir / name)
    config = tmp_path / "config.toml"
    config.write_text(f'[paths]\nmodels_dir = "{models_dir}"\n[llm]\nmax_tokens = 24\n')
    rows_file = tmp_path / "rows.csv"
    turns = str(SMOKE_TURNS)
    args = ["--config", str(config), "bench", "--soak", turns, "--json", "--soak-out"]
    status = main([*args, str(rows_file)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    result = json.loads(captured.out)
    summary, rows = result["summary"], result["rows"]
    assert summary["turns"] == SMOKE_TURNS and len(rows) == SMOKE_TURNS
    assert summary["failures"] == 0, summary["failed_turns"]
    assert [r["kind"] for r in rows] == list(PATTERN)
    voice = rows[-1]
    assert voice["kind"] == "voice" and voice["ok"]
    # The paced voice turn heard the question spoken into it (any CPU's
    # Whisper is within this bound of one short sentence).
    assert wer(VOICE_QUESTIONS[0], voice["transcript"]) <= 0.34, voice["transcript"]
    for row in rows:
        assert 50 < row["vm_rss_mb"] <= row["vm_hwm_mb"] < 8192, row
        assert row["rss_file_mb"] > 0 and row["rss_anon_mb"] > 0
        assert row["reply_chars"] > 0, row
    llm_rows = [r for r in rows if r["path"] == "llm"]
    assert all(r["tokens"] <= 24 for r in llm_rows if r["kind"] == "llm")
    assert summary["max_rss_mb"] == max(r["vm_rss_mb"] for r in rows)
    rated = [r for r in rows if r["tokens_per_s"]]
    assert summary["tokens_per_s"]["llm_turns"] == len(rated) >= PATTERN.count("llm")
    assert summary["tokens_per_s"]["median"] > 0
    assert summary["replies_files"] == rows[-1]["replies_files"] >= SMOKE_TURNS
    assert summary["replies_mb"] == rows[-1]["replies_mb"] > 0
    assert {t["name"] for t in result["targets"]} == {
        "soak_failures",
        "soak_max_rss_mb",
        "soak_rss_growth_pct",
    }
    assert result["setup"]["loaded"]["vm_rss_mb"] > 0
    assert len(list(csv.DictReader(rows_file.open(newline="")))) == SMOKE_TURNS
    assert f"soak: turn {turns}/{turns} voice ok" in captured.err


def synthesize_all(tts, text: str) -> float:
    return sum(chunk.duration_s for chunk in tts.synthesize(text))


@pytest.mark.slow
def test_piper_gives_back_the_memory_of_a_long_sentence(models_dir):
    """Before: onnxruntime's arena kept the buffers of the longest sentence so
    far, so RSS climbed with every longer one (+230 MiB over 150 sentences)."""
    from assistant.compose import build_tts
    from assistant.core.config import config_from_dict

    require(models_dir / "en_US-joe-medium.onnx")
    from assistant.stages.tts.piper import cancel_all_rests

    tts = build_tts(config_from_dict({"paths": {"models_dir": str(models_dir)}}))
    assert synthesize_all(tts, "A short one.") > 0
    cancel_all_rests()  # no other voice of the session empties its arena meanwhile
    before = process_memory()["vm_rss_mb"]
    for words in (10, 25, 40, 55):  # each longer than any before
        assert synthesize_all(tts, " ".join(["mountain"] * words) + ".") > words * 0.3
    tts.rest()  # as its timer does once the reply is done (tests/stages/tts)
    grown = process_memory()["vm_rss_mb"] - before
    assert grown < 40, f"RSS grew {grown:.0f} MiB over four ever longer sentences"


def test_the_service_bounds_malloc_arenas():
    """glibc gives each new thread (every turn starts some) its own arena, up
    to 8 per core; two keep freed memory in few places."""
    unit = ROOT / "systemd" / "assistant.service"
    assert "Environment=MALLOC_ARENA_MAX=2" in unit.read_text().splitlines()
