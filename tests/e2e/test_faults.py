"""Faults at run time, one test per row of docs/faults.md where it can be
automated: devices that vanish mid-turn (the real PortAudio stack on fake
ALSA devices, tests/support/alsa.py), stop signals in every state (the serving loop
on fakes, then `assistant run` as a real process), a fetch killed with
SIGKILL, two fetches into one models folder, and a config that cannot be
written."""

from __future__ import annotations

import errno
import hashlib
import http.server
import io
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.appliance.keyboard import KeyboardButton
from assistant.appliance.run import run_appliance
from assistant.catalog.catalogue import load_catalog
from assistant.catalog.manage import fetch_models, use_model
from assistant.core.config import AudioConfig, TurnConfig
from assistant.core.errors import ConfigError
from assistant.core.events import (
    ButtonPressed,
    ButtonReleased,
    EventBus,
    PartialTranscript,
    State,
    StateChanged,
    TurnFailed,
    TurnFinished,
)
from assistant.pipeline.controller import Controller
from assistant.pipeline.memory import Conversation
from assistant.stages.audio.mic import SoundDeviceSource
from assistant.stages.audio.speaker import SoundDeviceSink
from tests.support.alsa import (
    MIC,
    NATIVE_RATE_HZ,
    SPEAKER,
    AlsaDevices,
    portaudio_env,
    sine,
    write_raw,
)
from tests.support.fakes import (
    FakeAudioSink,
    FakeAudioSource,
    FakeLanguageModel,
    FakeNotifier,
    FakeSpeechToText,
    FakeTextToSpeech,
)
from tests.support.models import require
from tests.support.paths import child_env
from tests.support.recorder import Recorder

TIMEOUT_S = 30.0
TOKENS = ["Paris is the capital.", " It is old.", " It is big.", " Bye."]


def controller_on(*, source=None, sink=None, gate=None, bus=None) -> Controller:
    """A controller on fake engines and the given devices (fakes by default)."""
    return Controller(
        stt=FakeSpeechToText(),
        llm=FakeLanguageModel(TOKENS, gate=gate),
        tts=FakeTextToSpeech(),
        source=source or FakeAudioSource(),
        sink=sink or FakeAudioSink(),
        conversation=Conversation("test", 4),
        turn=TurnConfig(min_press_s=0.0),
        bus=bus,
        earcons=False,
    )


def unplug_on(device_class, monkeypatch) -> threading.Event:
    """Set the returned event to "unplug" the device: its next PortAudio
    callback aborts the stream, on PortAudio's own thread, as a vanished
    device does. (Aborting from the test thread races the stream's close.)"""
    import sounddevice

    unplugged = threading.Event()
    make_callback = device_class._make_callback

    def wrapped(state):
        callback = make_callback(state)

        def on_block(*args) -> None:
            if unplugged.is_set():
                unplugged.clear()  # only this stream: the reopened one plays on
                raise sounddevice.CallbackAbort
            callback(*args)

        return on_block

    monkeypatch.setattr(device_class, "_make_callback", staticmethod(wrapped))
    return unplugged


def failures(rec: Recorder) -> list[TurnFailed]:
    return [e for e in rec.events if isinstance(e, TurnFailed)]


# -- a device unplugged mid-turn (real PortAudio, fake ALSA) -------------------


def test_microphone_unplugged_mid_turn_fails_once_then_the_next_press_reopens_it(
    tmp_path, monkeypatch
):
    unplugged = unplug_on(SoundDeviceSource, monkeypatch)
    raw = write_raw(tmp_path / "mic.raw", sine(440, 60, 16000))
    devices = AlsaDevices(tmp_path, raw, tmp_path / "speaker.raw")
    bus = EventBus()
    rec = Recorder(bus)
    source = SoundDeviceSource(AudioConfig(input_device=MIC, input_rate_hz=16000))
    controller = controller_on(source=source, bus=bus)
    with devices, portaudio_env(devices.env):
        controller.start()
        try:
            controller.submit(ButtonPressed())
            rec.wait_for(lambda e: isinstance(e, PartialTranscript), TIMEOUT_S)
            unplugged.set()
            failed = rec.wait_for(lambda e: isinstance(e, TurnFailed), TIMEOUT_S)
            rec.wait_state(State.IDLE)
            assert failed.stage == "audio" and MIC in failed.message
            assert "reopens it on the next turn" in failed.message
            # The next press opens the microphone again and the turn completes.
            before = len(rec.events)
            controller.submit(ButtonPressed())
            rec.wait_for(lambda e: isinstance(e, PartialTranscript), TIMEOUT_S)
            controller.submit(ButtonReleased())
            finished = rec.wait_for(lambda e: isinstance(e, TurnFinished), TIMEOUT_S)
            rec.wait_state(State.IDLE)
        finally:
            assert controller.stop(timeout_s=TIMEOUT_S)
    assert finished.reply.startswith("Paris") and not finished.interrupted
    assert failures(rec) == [failed]
    assert State.ERROR not in [e.new for e in rec.events[before:] if isinstance(e, StateChanged)]


def test_speaker_unplugged_mid_reply_fails_once_then_the_next_turn_plays(tmp_path, monkeypatch):
    unplugged = unplug_on(SoundDeviceSink, monkeypatch)
    devices = AlsaDevices(tmp_path, None, tmp_path / "speaker.raw")
    bus = EventBus()
    rec = Recorder(bus)
    gate = threading.Semaphore(0)
    sink = SoundDeviceSink(AudioConfig(output_device=SPEAKER))
    controller = controller_on(sink=sink, gate=gate, bus=bus)
    with devices, portaudio_env(devices.env):
        controller.start()
        try:
            controller.submit(ButtonPressed())
            controller.submit(ButtonReleased())
            gate.release(2)  # the first sentence ends when the second starts
            rec.wait_state(State.SPEAKING)
            unplugged.set()
            gate.release(len(TOKENS))
            failed = rec.wait_for(lambda e: isinstance(e, TurnFailed), TIMEOUT_S)
            rec.wait_state(State.IDLE)
            assert failed.stage == "audio" and SPEAKER in failed.message
            played_before = len(devices.played())
            controller.submit(ButtonPressed())
            controller.submit(ButtonReleased())
            gate.release(len(TOKENS))
            finished = rec.wait_for(lambda e: isinstance(e, TurnFinished), TIMEOUT_S)
            rec.wait_state(State.IDLE)
        finally:
            assert controller.stop(timeout_s=TIMEOUT_S)
        played = devices.played()
    assert not finished.interrupted and finished.reply.endswith("Bye.")
    assert failures(rec) == [failed]
    # The reopened speaker played the whole second reply: 50 ms a word.
    words = sum(len(t.split()) for t in TOKENS)
    assert len(played) - played_before >= 0.9 * words * 0.05 * 16000


def test_a_keyboard_line_that_is_not_text_is_still_a_press():
    pressed: list[type] = []
    # stdin as the service gets it: text over bytes that are not UTF-8.
    text = io.TextIOWrapper(io.BytesIO(b"caf\xe9\n\xff\xfe\n"), encoding="utf-8")
    button = KeyboardButton(
        lambda event: pressed.append(type(event)), lambda: State.IDLE, mode="toggle", stream=text
    )
    button.read_all()
    assert pressed == [ButtonPressed, ButtonReleased] * 2


# -- stop signals in every state: the serving loop on fakes --------------------


def drive_to(controller: Controller, rec: Recorder, gate: threading.Semaphore, state: State):
    """Put the controller in ``state`` and keep it there (the LLM waits on ``gate``)."""
    if state is State.IDLE:
        return
    controller.submit(ButtonPressed())
    rec.wait_state(State.LISTENING)
    if state is State.LISTENING:
        return
    controller.submit(ButtonReleased())
    rec.wait_state(State.THINKING)
    if state is State.THINKING:
        return
    gate.release(2)  # the first sentence ends when the second starts
    rec.wait_state(State.SPEAKING)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize(
    "state", [State.IDLE, State.LISTENING, State.THINKING, State.SPEAKING], ids=lambda s: s.value
)
def test_a_stop_signal_in_any_state_stops_cleanly(monkeypatch, signum, state):
    # The loop wakes every 50 ms, so a signal taken by another thread is
    # handled on the main thread promptly.
    monkeypatch.setenv("WATCHDOG_USEC", "100000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    gate = threading.Semaphore(0)
    bus = EventBus()
    rec = Recorder(bus)
    controller = controller_on(gate=gate, bus=bus)
    closed: list[State] = []
    reached = threading.Event()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

    def signal_in_state() -> None:
        drive_to(controller, rec, gate, state)
        reached.set()
        os.kill(os.getpid(), signum)

    notifier = FakeNotifier(
        on_ready=lambda: threading.Thread(target=signal_in_state, daemon=True).start()
    )
    code = run_appliance(
        controller,
        notifier,
        close_engines=lambda: closed.append(controller.state),
        stop_timeout_s=TIMEOUT_S,
    )
    assert reached.is_set()
    assert code == (130 if signum == signal.SIGINT else 0)
    assert notifier.messages[0] == "READY=1" and "STOPPING=1" in notifier.messages
    assert closed == [State.IDLE], "every worker stopped, then the engines closed"
    assert not controller.alive(within_s=60)
    assert failures(rec) == []
    assert {s: signal.getsignal(s) for s in handlers} == handlers


# -- the models folder: SIGKILL mid-fetch, two fetches at once -----------------


class GatedHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` (honouring Range); sends half of each body,
    then waits for ``server.gate`` before the rest. Each request's Range
    header goes to ``server.requests``."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        data = self.server.files[self.path]
        rng = self.headers.get("Range")
        self.server.requests.put(rng)
        start = int(rng[6:].split("-")[0]) if rng else 0
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.server.gate.wait(TIMEOUT_S)
            self.wfile.write(body[len(body) // 2 :])
        except OSError:
            pass  # the client was killed

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def gated_server() -> Iterator[http.server.ThreadingHTTPServer]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), GatedHandler)
    srv.files, srv.requests, srv.gate = {}, queue.Queue(), threading.Event()
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.gate.set()
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


DATA = bytes(range(256)) * 8192  # 2 MiB
FETCH = """
import sys
from pathlib import Path
from assistant.catalog.catalogue import load_catalog
from assistant.catalog.manage import fetch_models
catalog = load_catalog(Path(sys.argv[1]))
fetch_models(["m"], Path(sys.argv[2]), lambda line: print(line, flush=True), catalog=catalog)
"""


def model_catalog(tmp_path: Path, port: int) -> Path:
    digest = hashlib.sha256(DATA).hexdigest()
    path = tmp_path / "catalog.toml"
    path.write_text(
        f"""schema = 1
[sets.default]
models = []
[[model]]
id = "m"
kind = "llm"
language = "en"
licence = "MIT"
memory_mb = 1
boards = ["pi4"]
min_ram_gb = 1
checksum_source = "made by the test"
verified = true
files = [{{ path = "m.gguf", size = {len(DATA)}, sha256 = "{digest}" }}]
[[model.sources]]
type = "url"
url = "http://127.0.0.1:{port}/m.gguf"
archive = "file"
size = {len(DATA)}
""",
        "utf-8",
    )
    return path


def start_fetch(catalog: Path, models: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", FETCH, str(catalog), str(models)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )


def wait_for(predicate, what: str, timeout_s: float = TIMEOUT_S) -> None:
    tick = threading.Event()
    deadline = threading.Event()
    timer = threading.Timer(timeout_s, deadline.set)
    timer.start()
    try:
        while not predicate():
            assert not deadline.is_set(), f"timed out waiting for {what}"
            tick.wait(0.01)
    finally:
        timer.cancel()


def test_sigkill_mid_download_then_the_next_fetch_resumes_and_verifies(tmp_path, gated_server):
    gated_server.files["/m.gguf"] = DATA
    catalog = model_catalog(tmp_path, gated_server.server_address[1])
    models = tmp_path / "models"
    part = models / ".downloads" / "m-m.gguf.part"
    proc = start_fetch(catalog, models)
    try:
        assert gated_server.requests.get(timeout=TIMEOUT_S) is None
        wait_for(lambda: part.exists() and part.stat().st_size > 0, "a partial download")
        proc.kill()
        assert proc.wait(timeout=TIMEOUT_S) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    have = part.stat().st_size
    assert 0 < have < len(DATA)
    assert not (models / "m.gguf").exists(), "nothing half-fetched is in place"
    # Left by a kill during unpacking: the next fetch clears it.
    stale = models / ".fetch-killed" / "out"
    stale.mkdir(parents=True)
    (stale / "m.gguf").write_bytes(DATA[:1000])
    gated_server.gate.set()
    lines: list[str] = []
    fetch_models(["m"], models, lines.append, catalog=load_catalog(catalog))
    assert gated_server.requests.get(timeout=TIMEOUT_S) == f"bytes={have}-"
    assert (models / "m.gguf").read_bytes() == DATA
    assert sorted(p.name for p in models.iterdir()) == [".assistant-models.json", "m.gguf"]
    assert any("installed m.gguf" in line for line in lines)


def test_two_fetches_into_one_models_folder_take_turns(tmp_path, gated_server):
    gated_server.files["/m.gguf"] = DATA
    catalog = model_catalog(tmp_path, gated_server.server_address[1])
    models = tmp_path / "models"
    first = start_fetch(catalog, models)
    second = None
    try:
        assert gated_server.requests.get(timeout=TIMEOUT_S) is None  # the first is downloading
        second = start_fetch(catalog, models)
        # The second either waits for the first (one line says so) or, without
        # a lock, starts its own download of the same file.
        waiting = second.stdout.readline()
        gated_server.gate.set()
        out1, err1 = first.communicate(timeout=TIMEOUT_S)
        out2, err2 = second.communicate(timeout=TIMEOUT_S)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    assert "waiting for another fetch" in waiting
    assert "m: installed, sha256 ok" in out2
    assert gated_server.requests.empty(), "the second fetch downloaded nothing"
    assert (models / "m.gguf").read_bytes() == DATA
    assert not list(models.glob("*.quarantine")) and not (models / ".downloads").exists()


# -- the config file cannot be written -----------------------------------------


class UnwritableFile:
    """A file opened for writing whose every write fails with ``err``."""

    def __init__(self, file, err: int) -> None:
        self.file, self.err = file, err

    def write(self, data) -> int:
        raise OSError(self.err, os.strerror(self.err))

    def __getattr__(self, name: str):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS], ids=["disk-full", "read-only"])
def test_models_use_that_cannot_write_the_config_leaves_it_unchanged(tmp_path, monkeypatch, err):
    from assistant.catalog import manage

    config = tmp_path / "config.toml"
    config.write_text("# mine\n[llm]\nn_ctx = 1024\n", "utf-8")
    monkeypatch.setattr(manage, "status", lambda *args: "installed")
    real_open = io.open

    def failing_open(file, mode="r", *args, **kwargs):
        if not any(m in mode for m in "wax"):
            return real_open(file, mode, *args, **kwargs)
        if err == errno.EROFS:  # a read-only folder refuses the open itself
            raise OSError(err, os.strerror(err), str(file))
        return UnwritableFile(real_open(file, mode, *args, **kwargs), err)

    # Every way of writing a file (Path.write_text, os.fdopen) opens it here.
    monkeypatch.setattr(io, "open", failing_open)
    with pytest.raises(ConfigError, match=r"config .*config\.toml: cannot write it") as error:
        use_model("smollm2-135m", tmp_path / "models", config)
    monkeypatch.undo()
    assert "\n" not in str(error.value) and os.strerror(err) in str(error.value)
    assert config.read_text("utf-8") == "# mine\n[llm]\nn_ctx = 1024\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


# -- `assistant run` as a process: signals at the process level ----------------


def _read_lines(stream, out: queue.Queue) -> None:
    for line in stream:
        out.put(line)


class Service:
    """``assistant run --keyboard`` on fake ALSA devices, with a notify socket."""

    def __init__(self, tmp_path: Path, mic: Path | None, extra_config: str = "") -> None:
        self.config = tmp_path / "config.toml"
        self.config.write_text(
            f'[audio]\ninput_device = "{MIC}"\noutput_device = "{SPEAKER}"\nearcons = false\n'
            '[asr]\nengine = "whisper"\n[gpio]\nenabled = false\n' + extra_config,
            "utf-8",
        )
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(tmp_path / "notify.sock"))
        self.devices = AlsaDevices(
            tmp_path, mic, tmp_path / "speaker.raw", rate_hz=NATIVE_RATE_HZ, playback_rate_hz=22050
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.datagrams: queue.Queue[str] = queue.Queue()
        self.messages: list[str] = []

    def __enter__(self) -> Service:
        self.devices.__enter__()
        env = child_env(
            **self.devices.env, NOTIFY_SOCKET=self.notify.getsockname(), WATCHDOG_USEC="2000000"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "--config", str(self.config)]
            + ["run", "--keyboard"],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        threading.Thread(
            target=_read_lines, args=(self.proc.stderr, self.lines), daemon=True
        ).start()
        # Drained all along, as systemd does: a full socket would drop messages.
        self.notify.settimeout(0.1)
        self._closing = threading.Event()
        self._receiver = threading.Thread(target=self._receive, daemon=True)
        self._receiver.start()
        return self

    def _receive(self) -> None:
        while not self._closing.is_set():
            try:
                self.datagrams.put(self.notify.recv(4096).decode())
            except TimeoutError:
                continue

    def message(self, wanted: str) -> None:
        while not any(m.startswith(wanted) for m in self.messages):
            try:
                self.messages.append(self.datagrams.get(timeout=120))
            except queue.Empty:
                raise AssertionError(f"no {wanted}: {self.messages}\n{self.log()}") from None

    def line(self, needle: str, timeout_s: float = 120) -> str:
        while True:
            try:
                line = self.lines.get(timeout=timeout_s)
            except queue.Empty:
                raise AssertionError(f"no {needle!r}; got:\n{''.join(self.seen)}") from None
            self.seen.append(line)
            if needle in line:
                return line

    def press(self) -> None:
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()

    def stop(self, signum: int) -> int:
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout=60)
        return code

    def log(self) -> str:
        self.seen.extend(self.lines.get_nowait() for _ in range(self.lines.qsize()))
        return "".join(self.seen)

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._closing.set()
        self._receiver.join(timeout=5)
        self.notify.close()
        self.devices.__exit__(*exc)


def spoken_question(tmp_path: Path, models_dir: Path) -> Path:
    """A long-answer question as the fake microphone hears it (44.1 kHz)."""
    from assistant.stages.audio.pcm import resample
    from tests.support.speech import load_16k, piper_wav

    speech = load_16k(
        piper_wav("Tell me a long story about a dragon.", models_dir, tmp_path / "q.wav")
    )
    quiet = np.zeros(int(0.3 * NATIVE_RATE_HZ), dtype=np.int16)
    tail = np.zeros(int(60 * NATIVE_RATE_HZ), dtype=np.int16)
    audio = resample(speech, 16000, NATIVE_RATE_HZ)
    return write_raw(tmp_path / "mic.raw", np.concatenate([quiet, audio, tail]))


TOGGLE = '[turn]\nmode = "toggle"\nsilence_s = 0.8\n'
STORY = '[llm]\nsystem_prompt = "You tell long stories in many sentences."\n'


@pytest.mark.slow
def test_sigterm_while_the_models_load_exits_cleanly(tmp_path, models_dir):
    require(models_dir / "whisper-base" / "model.bin")
    with Service(tmp_path, None) as service:
        service.message("STATUS=loading models")
        code = service.stop(signal.SIGTERM)
        service.message("STOPPING=1")
        log = service.log()
    assert code == 0, log
    assert "Traceback" not in log
    assert "SIGTERM while starting" in log
    assert "READY=1" not in service.messages


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "after", "code"),
    [
        (signal.SIGTERM, "state thinking -> speaking", 0),
        (signal.SIGINT, "state listening -> thinking", 130),
    ],
    ids=["SIGTERM-speaking", "SIGINT-thinking"],
)
def test_a_stop_signal_mid_reply_stops_the_service_cleanly(
    tmp_path, models_dir, signum, after, code
):
    require(models_dir / "whisper-base" / "model.bin")
    mic = spoken_question(tmp_path, models_dir)
    with Service(tmp_path, mic, TOGGLE + STORY) as service:
        service.message("READY=1")
        service.press()
        service.line(after)
        got = service.stop(signum)
        service.message("STOPPING=1")
        log = service.log()
    assert got == code, log
    assert "Traceback" not in log and "Exception ignored" not in log and "leaked" not in log
    assert "cannot notify" not in log
    name = signal.Signals(signum).name
    stopped = next(line for line in log.splitlines() if f"{name}: finishing" in line)
    # Sent right after the state changed; the reply may have moved on to speaking.
    assert "(state thinking)" in stopped or "(state speaking)" in stopped
    assert "did not stop" not in log
