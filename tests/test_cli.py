"""The command line as a user meets it: bad input gets one line and a
non-zero exit, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require

ROOT = Path(__file__).resolve().parent.parent


def assistant(*args: str, env: dict | None = None, timeout: float = 300):
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    full_env.pop("ASSISTANT_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )


def one_line_error(result) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_bad_config_value_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[llm]\nn_threads = 'many'\n")
    line = one_line_error(assistant("--config", str(bad), "config", "show"))
    assert "llm.n_threads" in line and "'many'" in line and "an integer" in line


def test_missing_config_file_is_one_line(tmp_path):
    line = one_line_error(assistant("--config", str(tmp_path / "nope.toml"), "config", "show"))
    assert "nope.toml" in line


def test_missing_model_names_the_file_and_the_fetch_command(tmp_path):
    line = one_line_error(assistant("--models-dir", str(tmp_path), "ask", "hello"))
    assert str(tmp_path) in line
    assert "assistant models fetch" in line


def test_corrupt_model_is_one_line(tmp_path):
    (tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"not a model" * 100)
    line = one_line_error(assistant("--models-dir", str(tmp_path), "ask", "hello"))
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in line


def test_listen_with_a_missing_or_bad_wav_is_one_line(tmp_path):
    line = one_line_error(assistant("listen", "--wav", str(tmp_path / "q.wav")))
    assert "q.wav" in line and "no such file" in line
    (tmp_path / "text.wav").write_text("hello")
    line = one_line_error(assistant("listen", "--wav", str(tmp_path / "text.wav")))
    assert "text.wav" in line and "not a PCM WAV file" in line


def test_config_show_prints_every_section():
    result = assistant("config", "show")
    assert result.returncode == 0, result.stderr
    for section in ("[llm]", "[tts]", "[asr]", "[audio]", "[turn]", "[gpio]"):
        assert section in result.stdout


@pytest.mark.slow
def test_ask_json_has_the_documented_fields(tmp_path, models_dir):
    require(models_dir / "SmolLM2-135M-Instruct.Q4_1.gguf")
    wav = tmp_path / "reply.wav"
    result = assistant("ask", "What is the capital of France?", "--json", "--wav", str(wav))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["question"] == "What is the capital of France?"
    assert payload["reply"]
    assert set(payload["timings_ms"]) == {
        "llm_first_token",
        "llm_total",
        "tts_first_audio",
        "total",
    }
    timings = payload["timings_ms"]
    assert 0 < timings["llm_first_token"] <= timings["llm_total"] <= timings["total"]
    assert timings["llm_first_token"] <= timings["tts_first_audio"] <= timings["total"]
    assert payload["tokens_per_s"] > 0
    assert payload["path"] == "llm"
    assert wav.stat().st_size > 44 + 22050  # more than half a second of audio
