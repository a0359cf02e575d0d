"""Text from outside, as the real CLI meets it: arguments, stdin lines,
config files and environment variables that are not UTF-8, strange pasted
characters, and terminals that cannot show UTF-8. Nothing may end in a
traceback; each case is one clear line or a working answer.

Real subprocesses (``python -m assistant.cli``) with bytes in argv and
stdin. Most cases fail or finish before a model loads; the ones that need
the real language model are marked slow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from assistant.core.inputs import has_words, repair_text, replaced_bytes
from tests.support.models import require
from tests.support.paths import child_env


def run_cli(*args: str | bytes, stdin: bytes = b"", env: dict | None = None, timeout=300):
    """The CLI in a subprocess; stdout and stderr decoded with replacement."""
    full_env = child_env()
    full_env.pop("ASSISTANT_CONFIG", None)
    full_env.update(env or {})
    result = subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        env=full_env,
    )
    return (
        result.returncode,
        result.stdout.decode("utf-8", "replace"),
        result.stderr.decode("utf-8", "replace"),
    )


def only_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


# A strict UTF-8 terminal, as on a Pi with en_GB.UTF-8: Python's own
# surrogateescape default (C or C.UTF-8 locale) would hide the bugs.
STRICT_UTF8 = {"PYTHONIOENCODING": "utf-8:strict"}


@pytest.mark.parametrize(
    "question", ["", "   ", "\t\n", "\x01\x02\x1b", "\u200f\u200b", "\x1b[A\x1b[B"]
)
def test_an_empty_question_is_one_line_before_any_model(question):
    code, stdout, stderr = run_cli("ask", question)
    assert code == 2
    assert only_line(stderr) == (
        'assistant: the question is empty; ask something, e.g. `assistant ask "hello"`'
    )
    assert stdout == ""


def test_a_question_of_only_bad_bytes_is_one_line():
    code, _, stderr = run_cli("ask", b"\xff\xfe\x80")
    assert code == 2
    assert "no readable text, only bytes that are not UTF-8" in only_line(stderr)


def test_bad_bytes_in_a_question_are_replaced_with_a_warning_before_the_model():
    # The models directory is empty here, so the model error follows; the
    # question was mended before it, where the tokenizer used to crash.
    code, _, stderr = run_cli("ask", b"caf\xe9", env=STRICT_UTF8)
    assert code == 2
    assert "Traceback" not in stderr
    warning, missing = [line for line in stderr.splitlines() if line.strip()]
    assert "the question has bytes that are not UTF-8" in warning
    assert "language model" in missing and "missing" in missing


@pytest.mark.slow
def test_ask_with_bad_bytes_answers_with_replacement_characters(models_dir, tmp_path):
    require(models_dir / "SmolLM2-135M-Instruct.Q4_1.gguf")
    config = tmp_path / "short.toml"
    config.write_text("[llm]\nmax_tokens = 16\n[tts]\nspeak = false\n")
    env = dict(STRICT_UTF8, ASSISTANT_MODELS_DIR=str(models_dir))
    code, stdout, stderr = run_cli("--config", str(config), "ask", b"caf\xe9?", "--json", env=env)
    assert code == 0, stderr
    payload = json.loads(stdout)
    assert payload["question"] == "caf\ufffd?"
    assert payload["reply"]


def test_a_config_file_that_is_not_utf8_is_one_line(tmp_path):
    for name, raw in [
        ("latin1.toml", '[llm]\nsystem_prompt = "café"\n'.encode("latin-1")),
        ("binary.toml", bytes(range(256)) * 4),
    ]:
        (tmp_path / name).write_bytes(raw)
        for env in ({}, {"ASSISTANT_CONFIG": str(tmp_path / name)}):
            args = (
                ("config", "show") if env else ("--config", str(tmp_path / name), "config", "show")
            )
            code, stdout, stderr = run_cli(*args, env=env)
            assert code == 2
            line = only_line(stderr)
            assert f"config {tmp_path / name} is not UTF-8 text (byte 0x" in line
            assert line.endswith("; save it as UTF-8")


def test_config_paths_with_bad_bytes_are_one_line(tmp_path):
    bad = os.fsencode(tmp_path) + b"/\xff.toml"
    code, _, stderr = run_cli("--config", bad, "config", "show", env=STRICT_UTF8)
    assert code == 2 and "no such file" in only_line(stderr)
    # And a real file with that name is read.
    Path(os.fsdecode(bad)).write_text("[llm]\nmax_tokens = 7\n")
    env = dict(STRICT_UTF8, ASSISTANT_CONFIG=os.fsdecode(bad))
    code, stdout, stderr = run_cli("config", "show", env=env)
    assert code == 0, stderr
    assert "max_tokens = 7" in stdout


@pytest.mark.parametrize(
    "env",
    [
        {"PYTHONIOENCODING": "ascii"},
        {"PYTHONIOENCODING": "latin-1"},
        {"LC_ALL": "C", "LANG": "C"},
        {"PYTHONIOENCODING": "utf-8:strict"},
    ],
)
def test_config_show_prints_on_any_terminal(tmp_path, env):
    config = tmp_path / "pt.toml"
    config.write_text('language = "pt"\n[audio]\ninput_device = "micro 😀"\n')
    models = os.fsencode(tmp_path) + b"/mod\xe8les"
    code, stdout, stderr = run_cli(
        "--config", str(config), "--models-dir", models, "config", "show", env=env
    )
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert "Voc" in stdout  # "Você é...": the é printed somehow, never a crash
    tomllib.loads(stdout)  # still valid TOML


@pytest.mark.slow
@pytest.mark.parametrize("env", [STRICT_UTF8, {"LC_ALL": "C", "LANG": "C"}])
def test_the_console_survives_hostile_lines_on_stdin(models_dir, tmp_path, env):
    require(models_dir / "SmolLM2-135M-Instruct.Q4_1.gguf")
    config = tmp_path / "short.toml"
    # A small context, so the very long line below overflows it many times
    # over and is cut to fit, without reading 2048 tokens of it.
    config.write_text("[llm]\nmax_tokens = 8\nn_ctx = 512\n")
    lines = [
        b"caf\xe9?",  # Latin-1
        b"\xff\xfe",  # only bad bytes: ignored
        b"a\xed\xa0\x80b",  # an encoded lone surrogate
        b"",
        b"   \t",
        b"\x00\x1b[A",  # NUL and an arrow key: nothing to answer
        "hi \u202eevil\u202c 😀 مرحبا".encode(),
        b"say " + b"word " * 3000,  # a very long line
        b"/speak maybe",
        b"hello",
    ]
    stdin = b"\n".join(lines) + b"\n"
    full_env = dict(env, ASSISTANT_MODELS_DIR=str(models_dir))
    code, stdout, stderr = run_cli(
        "--config", str(config), "console", "--no-speak", stdin=stdin, env=full_env
    )
    assert code == 0, stderr
    assert "Traceback" not in stderr and "Traceback" not in stdout
    answered = stdout.count("assistant> ")
    assert answered == 5, stdout  # café, a?b, the bidi line, the long line, hello
    assert stdout.count("not UTF-8 were read as") == 2
    assert "usage: /speak on|off" in stdout


def test_repair_text_keeps_good_text_and_mends_the_rest():
    assert repair_text("héllo 😀 \u200f") == "héllo 😀 \u200f"
    assert repair_text("caf\udce9") == "caf\ufffd"
    assert repair_text("\udcc3\udca9") == "é", "escaped bytes that are UTF-8 together"
    assert repair_text("a\ud800b") == "a\ufffdb"
    assert repair_text("a\x00b\x1b[31mc\x1b[0m\r\n") == "a bc \n"
    assert not has_words(repair_text("\udcff\u200b \x1b[A"))
    assert has_words("😀") and has_words("?") and has_words("٣")
    assert replaced_bytes("caf\udce9", "caf\ufffd") and not replaced_bytes("\ufffd", "\ufffd")
