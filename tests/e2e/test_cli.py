"""The command line as a user meets it: bad input gets one line and a
non-zero exit, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.models import require
from tests.support.paths import child_env


def assistant(*args: str, env: dict | None = None, timeout: float = 300):
    full_env = child_env(**(env or {}))
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


# `assistant ask --json`'s documented fields are checked on the one real
# `ask` run of the suite, in test_offline.py (which also blocks the network).


# Permission tests need a user that permissions apply to: as root, run the
# CLI as nobody, in a folder nobody can reach.
AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture
def shared_dir():
    """A temporary folder every user can enter (pytest's tmp_path is private)."""
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.fail("as root the CLI runs as nobody through setpriv: apt-get install util-linux")
    path = Path(tempfile.mkdtemp(prefix="assistant-perm-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for sub in path.rglob("*"):
            if sub.is_dir() and not sub.is_symlink():
                sub.chmod(0o755)
        shutil.rmtree(path)


def as_user(*args: str, env: dict | None = None, cwd: Path | None = None):
    """The CLI as an unprivileged user (nobody when the tests run as root)."""
    full_env = child_env(**(env or {}))
    full_env.pop("ASSISTANT_CONFIG", None)
    prefix = AS_NOBODY if os.geteuid() == 0 else []
    return subprocess.run(
        [*prefix, sys.executable, "-m", "assistant.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=full_env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def test_an_unreadable_home_does_not_block_any_command(shared_dir):
    home = shared_dir / "home"
    (home / ".config" / "assistant").mkdir(parents=True)
    (home / ".config" / "assistant" / "config.toml").write_text("[llm]\nn_ctx = 512\n")
    home.chmod(0o000)
    env = {"HOME": str(home), "XDG_CONFIG_HOME": "", "ASSISTANT_MODELS_DIR": str(shared_dir)}
    result = as_user("config", "show", env=env)
    assert result.returncode == 0, result.stderr
    assert "n_ctx = 2048" in result.stdout, "the unreadable file was skipped"
    result = as_user("-v", "config", "show", env=env)
    assert "config.toml skipped: permission denied" in result.stderr


def test_an_unreadable_explicit_config_is_still_one_line(shared_dir):
    config = shared_dir / "secret.toml"
    config.write_text("[llm]\nn_ctx = 512\n")
    config.chmod(0o000)
    line = one_line_error(as_user("--config", str(config), "config", "show"))
    assert line == (
        f"assistant: config {config}: cannot read it "
        "(permission denied; check its owner and permissions)"
    )


@pytest.mark.parametrize(
    "target, words",
    [
        ("/dev/zero", "is a character device, not a regular file"),
        ("{tmp}", "is a directory"),
        ("{tmp}/loop", "a symlink loop"),
        ("{tmp}/fifo", "is a FIFO, not a regular file"),
        ("", "an empty path"),
    ],
)
def test_a_config_that_is_not_a_file_says_what_it_is(tmp_path, target, words):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    os.mkfifo(tmp_path / "fifo")
    path = target.format(tmp=tmp_path)
    line = one_line_error(assistant("--config", path, "config", "show", timeout=60))
    assert line.startswith(f"assistant: config {path or repr('')}")
    assert words in line


def test_ask_wav_into_a_read_only_folder_fails_before_the_model_loads(shared_dir):
    read_only = shared_dir / "ro"
    read_only.mkdir(mode=0o555)
    read_only.chmod(0o555)
    # The models directory is empty: reaching the model would say so instead.
    env = {"ASSISTANT_MODELS_DIR": str(shared_dir)}
    line = one_line_error(as_user("ask", "hello", "--wav", str(read_only / "r.wav"), env=env))
    assert str(read_only) in line and "Permission denied" in line
    line = one_line_error(as_user("console", "--wav-dir", str(read_only / "replies"), env=env))
    assert str(read_only / "replies") in line and "Permission denied" in line


def test_ask_wav_that_is_a_folder_fails_before_the_model_loads(tmp_path):
    line = one_line_error(assistant("ask", "hello", "--wav", str(tmp_path)))
    assert str(tmp_path) in line and "model" not in line


@pytest.mark.slow
def test_the_console_in_a_read_only_folder_prints_whole_replies(shared_dir, models_dir):
    require(models_dir / "SmolLM2-135M-Instruct.Q4_1.gguf")
    read_only = shared_dir / "ro"
    read_only.mkdir()
    config = read_only / "config.toml"
    config.write_text("[llm]\nmax_tokens = 24\nseed = 1\ntemperature = 0.0\n")
    read_only.chmod(0o555)
    env = {"ASSISTANT_MODELS_DIR": str(models_dir)}
    script = "What is the capital of France?\n"
    prefix = AS_NOBODY if os.geteuid() == 0 else []
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "assistant.cli", "--config", str(config), "console"],
        input=script,
        capture_output=True,
        text=True,
        timeout=600,
        env=child_env(**env),
        cwd=read_only,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    if "replies are text only" not in result.stderr:
        # A sound card: the replies folder is not used at all.
        assert "replies" not in result.stderr
    reply = result.stdout.split("assistant> ")[1]
    assert "[error]" not in reply and "first token" in reply, reply
    assert not (read_only / "replies").exists()
