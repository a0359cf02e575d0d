"""Real third-party servers on loopback for the remote-engine tests:
``python -m llama_cpp.server`` (OpenAI-compatible chat), wyoming-faster-whisper
and wyoming-piper, each on a free port of 127.0.0.1, with the test models and
no download. Each runs as a child process that a fixture stops at the end.

`Server` waits for the process's own "ready" log line (never a sleep), and
gives up after `START_TIMEOUT_S` or as soon as the process exits.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0


def serve_once(handler: Callable[[BinaryIO], None]) -> tuple[str, threading.Thread]:
    """A one-connection server on a free port of 127.0.0.1: ``handler`` gets
    the accepted connection as a binary stream. Returns its ``tcp://`` URI
    and the serving thread (join it to know the handler ended)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def run() -> None:
        with server:
            conn, _ = server.accept()
            with conn, conn.makefile("rwb") as stream:
                handler(stream)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return f"tcp://127.0.0.1:{server.getsockname()[1]}", thread


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server process; `uri`/`url` address it."""

    def __init__(self, argv: list[str], ready: str, port: int) -> None:
        self.port = port
        self.uri = f"tcp://127.0.0.1:{port}"
        self.url = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._exited = threading.Event()
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self._reader = threading.Thread(target=self._read, args=(ready,), daemon=True)
        self._reader.start()
        started = self._ready.wait(START_TIMEOUT_S) and self._accepts(START_TIMEOUT_S)
        if not started or self.process.poll() is not None:
            self.stop()
            pytest.fail(f"{argv[2]} did not start:\n" + "\n".join(self.lines[-20:]))

    def _accepts(self, timeout_s: float) -> bool:
        """Whether the port accepts a connection within ``timeout_s``. The
        wyoming servers log "Ready" just before they bind, so the line alone
        is not enough; each retry waits on the process's exit, not a sleep."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1.0).close()
                return True
            except OSError:
                if self._exited.wait(0.05):
                    return False
        return False

    def _read(self, ready: str) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            if ready in line:
                self._ready.set()
        self._exited.set()
        self._ready.set()  # exited: stop waiting (the caller checks poll())

    def kill(self) -> None:
        """Kill it at once (SIGKILL), as a crash or a pulled plug would."""
        self.process.kill()
        self.process.wait(STOP_TIMEOUT_S)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reader.join(STOP_TIMEOUT_S)


@contextlib.contextmanager
def running(argv: list[str], ready: str, port: int) -> Iterator[Server]:
    server = Server(argv, ready, port)
    try:
        yield server
    finally:
        server.stop()


def llama_server(models_dir: Path) -> contextlib.AbstractContextManager[Server]:
    """llama-cpp-python's OpenAI-compatible server on the test LLM."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(models_dir / "SmolLM2-135M-Instruct.Q4_1.gguf"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "1024",
        "--n_threads",
        "2",
    ]
    return running(argv, "Uvicorn running", port)


def whisper_server(models_dir: Path) -> contextlib.AbstractContextManager[Server]:
    """wyoming-faster-whisper on the test Whisper model directory, no download."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "wyoming_faster_whisper",
        "--uri",
        f"tcp://127.0.0.1:{port}",
        "--model",
        str(models_dir / "whisper-base"),
        "--data-dir",
        str(models_dir),
        "--stt-library",
        "faster-whisper",
        "--local-files-only",
        "--language",
        "en",
        "--compute-type",
        "int8",
        "--cpu-threads",
        "2",
    ]
    return running(argv, "Ready", port)


def piper_server(models_dir: Path) -> contextlib.AbstractContextManager[Server]:
    """wyoming-piper on the test voice, no download."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "wyoming_piper",
        "--uri",
        f"tcp://127.0.0.1:{port}",
        "--voice",
        "en_US-joe-medium",
        "--data-dir",
        str(models_dir),
        "--local-files-only",
    ]
    return running(argv, "Ready", port)


def assistant_serve(config: Path) -> contextlib.AbstractContextManager[Server]:
    """This checkout's ``assistant serve`` with ``config``, on a free loopback port."""
    port = free_port()
    argv = [sys.executable, "-m", "assistant", "--config", str(config), "serve"]
    return running([*argv, "--uri", f"tcp://127.0.0.1:{port}"], "serving Wyoming on", port)
