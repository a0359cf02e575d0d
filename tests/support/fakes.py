"""Fakes: small stand-ins for the engines and devices, for orchestration tests.

These are fakes, not the real stages. Each implements the whole protocol it
stands in for (`LanguageModel`, `TextToSpeech`, `SpeechToText`, `AudioSource`,
`AudioSink`, `Shortcuts`), so code under test never needs a ``getattr``. The
real llama.cpp, piper, Vosk, faster-whisper and PortAudio paths are tested in
their own test modules and end to end in ``test_e2e.py``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from assistant.core.errors import AudioError, SpeechToTextError
from assistant.core.messages import Message
from assistant.pipeline.shortcuts import Answer
from assistant.stages.audio.pcm import AudioChunk
from assistant.stages.llm.base import GenerationStats

RATE_HZ = 16000
WAIT_S = 10.0
"""How long a fake waits to be released before it gives up and raises."""


class FakeLanguageModel:
    """Replies with scripted tokens. With `gate`, each token waits for the
    gate, so a test controls exactly how far generation has got."""

    name = "fake-llm"

    def __init__(self, tokens: Sequence[str], gate: threading.Semaphore | None = None):
        self.tokens = list(tokens)
        self.gate = gate
        self.calls: list[list[Message]] = []
        self.grammar_calls: list[tuple[list[Message], str]] = []
        self.yielded = 0
        self.last_stats = GenerationStats()
        self.closed = 0
        self.prefills: list[list[Message]] = []
        self.prefill_gate: threading.Semaphore | None = None
        self.prefill_error: Exception | None = None
        self.prefill_cancelled = 0
        self.prefill_entered = threading.Event()
        self.prefilled = threading.Semaphore(0)
        self.order: list[str] = []
        """Appended ``prefill`` when a prefill ends, ``generate`` when a generation starts."""

    def generate(self, messages, cancel=None) -> Iterator[str]:
        self.calls.append(list(messages))
        self.order.append("generate")
        count = 0
        stop = "end"
        for token in self.tokens:
            if self.gate is not None:
                while not self.gate.acquire(timeout=0.05):
                    if cancel is not None and cancel.is_set():
                        break
            if cancel is not None and cancel.is_set():
                stop = "cancelled"
                break
            self.yielded += 1
            count += 1
            yield token
        self.last_stats = GenerationStats(generated_tokens=count, stop=stop)

    def generate_with_grammar(
        self, messages, gbnf: str, cancel=None, *, max_tokens: int = 64
    ) -> Iterator[str]:
        """Ignores the grammar: yields the scripted tokens, at most ``max_tokens``."""
        self.grammar_calls.append((list(messages), gbnf))
        tokens = self.tokens[:max_tokens]
        for token in tokens:
            if cancel is not None and cancel.is_set():
                break
            yield token
        self.last_stats = GenerationStats(generated_tokens=len(tokens), stop="end")

    def prefill(self, messages, cancel=None) -> int:
        """Records the messages and returns one "token" per word of the last
        one. Sets `prefill_entered` on entry and releases `prefilled` when
        done. With `prefill_gate`, waits for it (or ``cancel``) first; with
        `prefill_error`, raises it."""
        self.prefills.append(list(messages))
        self.prefill_entered.set()
        try:
            if self.prefill_gate is not None:
                while not self.prefill_gate.acquire(timeout=0.05):
                    if cancel is not None and cancel.is_set():
                        self.prefill_cancelled += 1
                        return 0
            if self.prefill_error is not None:
                raise self.prefill_error
            return len(messages[-1].content.split()) if messages else 0
        finally:
            self.order.append("prefill")
            self.prefilled.release()

    def fits(self, messages) -> bool:
        return sum(len(m.content) for m in messages) < 4000

    def warm_up(self) -> None:
        pass

    def close(self) -> None:
        self.closed += 1


class FakeTextToSpeech:
    """One chunk of a 440 Hz tone per sentence, 50 ms per word."""

    name = "fake-tts"
    sample_rate_hz = RATE_HZ

    def __init__(self) -> None:
        self.sentences: list[str] = []
        self.gain = 1.0

    def synthesize(self, text: str, cancel=None) -> Iterator[AudioChunk]:
        if cancel is not None and cancel.is_set():
            return
        self.sentences.append(text)
        n = int(0.05 * RATE_HZ * max(1, len(text.split())))
        tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(n) / RATE_HZ)).astype(np.int16)
        yield AudioChunk(tone, RATE_HZ)

    def warm_up(self) -> None:
        pass

    def set_volume(self, gain: float) -> None:
        self.gain = gain


class FakeTranscriber:
    def __init__(self, text: str, endpoint_after: int | None, doubt: str = "") -> None:
        self.text = text
        self.doubt = doubt
        self.blocks = 0
        self.endpoint_after = endpoint_after
        self.finished = 0
        self.closed = 0
        """Calls to `finish` and to `close`."""

    def accept(self, samples: np.ndarray) -> None:
        self.blocks += 1

    def partial(self) -> str:
        words = self.text.split()
        return " ".join(words[: min(len(words), self.blocks)])

    def endpoint(self) -> bool:
        return self.endpoint_after is not None and self.blocks >= self.endpoint_after

    def finish(self) -> str:
        self.finished += 1
        return self.text

    def close(self) -> None:
        self.closed += 1


class FakeSpeechToText:
    """Hears `text` whatever the audio is.

    With `hold` set, `start` (where a real engine loads its model) blocks
    until the event is set, so a test can keep a listener busy; `entered` is
    set when it starts waiting. With `start_error`, `start` raises it, like
    a model that does not load.
    """

    name = "fake-asr"
    sample_rate_hz = RATE_HZ

    def __init__(
        self,
        text: str = "what is the capital of france",
        endpoint_after=None,
        *,
        start_error: Exception | None = None,
        doubt: str = "",
    ):
        self.text = text
        self.doubt = doubt
        self.endpoint_after = endpoint_after
        self.start_error = start_error
        self.started = 0
        self.transcribers: list[FakeTranscriber] = []
        self.hold: threading.Event | None = None
        self.entered = threading.Event()

    def start(self) -> FakeTranscriber:
        self.started += 1
        if self.start_error is not None:
            raise self.start_error
        if self.hold is not None:
            self.entered.set()
            if not self.hold.wait(WAIT_S):
                raise SpeechToTextError("the fake recognizer was never released")
        self.transcribers.append(FakeTranscriber(self.text, self.endpoint_after, self.doubt))
        return self.transcribers[-1]

    def warm_up(self) -> None:
        pass


class FakeAudioSource:
    """A microphone that yields 30 ms blocks of low noise forever (or fails)."""

    sample_rate_hz = RATE_HZ
    exhausted = False

    def __init__(self, fail_on_open: int = 0) -> None:
        self.opened = 0
        self.closed = 0
        self.fail_on_open = fail_on_open
        self.is_open = False
        self.reads = threading.Semaphore(0)

    def open(self) -> None:
        self.opened += 1
        if self.opened == self.fail_on_open:
            raise AudioError("input device 'fake mic' vanished; plug it back in")
        self.is_open = True

    def read(self, timeout_s: float):
        if not self.is_open:
            raise AudioError("fake mic read while closed")
        self.reads.release()
        # Blocks come at most as fast as a real device would give them.
        threading.Event().wait(min(timeout_s, 0.03))
        return np.zeros(480, dtype=np.int16)

    def discard(self) -> None:
        pass

    def close(self) -> None:
        if self.is_open:
            self.closed += 1
        self.is_open = False


class FakeAudioSink:
    """Records what is written; 'plays' it instantly. A sound card, so it
    writes no files (`paths` stays empty)."""

    def __init__(self) -> None:
        self.rate_hz = 0
        self.chunks: list[AudioChunk] = []
        self.frames = 0
        self.stops = 0
        self.opened = 0
        self.closed = 0
        self.paths: list[Path] = []
        self.written: queue.Queue[AudioChunk] = queue.Queue()

    def open(self, rate_hz: int) -> None:
        self.rate_hz = rate_hz
        self.opened += 1

    def write(self, chunk: AudioChunk, cancel=None) -> None:
        if cancel is not None and cancel.is_set():
            return
        self.chunks.append(chunk)
        self.frames += len(chunk.samples)
        self.written.put(chunk)

    def played_frames(self) -> int:
        return self.frames

    def drain(self, timeout_s: float) -> bool:
        return True

    def stop(self) -> None:
        self.stops += 1

    def close(self) -> None:
        self.closed += 1


class FakeShortcuts:
    """Answers from a table of exact transcripts; "repeat that" says
    `last_reply`. Records every call; `alerts` are handed out once."""

    def __init__(self, answers: dict[str, Answer] | None = None) -> None:
        self.answers = dict(answers or {})
        self.calls: list[tuple[str, str]] = []
        self.alerts: list[str] = []
        self.closed = 0

    def answer(self, transcript: str, last_reply: str, cancel=None) -> Answer | None:
        self.calls.append((transcript, last_reply))
        if transcript == "repeat that":
            return Answer(last_reply or "I have not said anything yet.", "intent", "repeat")
        return self.answers.get(transcript)

    def due_alerts(self) -> list[str]:
        alerts, self.alerts = self.alerts, []
        return alerts

    def close(self) -> None:
        self.closed += 1


class FakeClock:
    """A monotonic clock (seconds) that moves only when the test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeGrammarModel:
    """An LLM for the tool path that ignores the grammar and returns a
    scripted output (in two pieces), recording each transcript it was given;
    so a test shows that validation alone stops a bad call. Its plain
    `generate` says nothing."""

    name = "SmolLM2-135M-Instruct.Q4_1.gguf"

    def __init__(self, output: str) -> None:
        self.output = output
        self.calls: list[str] = []
        self.last_stats = GenerationStats()

    def generate(self, messages, cancel=None) -> Iterator[str]:
        self.last_stats = GenerationStats(stop="end")
        yield from ()

    def generate_with_grammar(
        self, messages, gbnf: str, cancel=None, *, max_tokens: int = 64
    ) -> Iterator[str]:
        self.calls.append(messages[-1].content)
        for piece in (self.output[:5], self.output[5:]):
            if cancel is not None and cancel.is_set():
                return
            yield piece
        self.last_stats = GenerationStats(generated_tokens=2, stop="end")

    def fits(self, messages) -> bool:
        return True

    def warm_up(self) -> None:
        pass

    def close(self) -> None:
        pass


class FakeNotifier:
    """Stands in for `SystemdNotifier`: records the messages; ``on_ready`` runs
    when the serving loop reports ready (on its thread, inside the loop)."""

    def __init__(self, on_ready) -> None:
        self.messages: list[str] = []
        self.on_ready = on_ready

    def ready(self) -> None:
        self.messages.append("READY=1")
        self.on_ready()

    def status(self, text: str) -> None:
        self.messages.append(f"STATUS={text}")

    def watchdog(self) -> None:
        self.messages.append("WATCHDOG=1")

    def stopping(self) -> None:
        self.messages.append("STOPPING=1")


WAKE_MARK = 12345
"""A block holding this sample is "the wake word" to `FakeWakeDetector`."""


class FakeWakeDetector:
    """A `WakeDetector` that hears its word in any block holding `WAKE_MARK`
    (if the threshold asked for is at most `score`); records every threshold
    it was asked for and how often it was reset, and releases `marked` for
    every marked block it is fed, heard or not."""

    name = "fake-wake"
    words = ("hey_fake",)
    sample_rate_hz = RATE_HZ

    def __init__(self, score: float = 0.98) -> None:
        self.score = score
        self.thresholds: list[float | None] = []
        self.resets = 0
        self.closed = False
        self.marked = threading.Semaphore(0)
        self._fed = 0

    def process(self, samples: np.ndarray, threshold: float | None = None) -> list:
        from assistant.stages.wake.base import Detection

        self._fed += len(samples)
        self.thresholds.append(threshold)
        if WAKE_MARK not in samples:
            return []
        self.marked.release()
        if (threshold or 0.0) > self.score:
            return []
        return [Detection("hey_fake", self._fed / RATE_HZ, self.score)]

    def reset(self) -> None:
        self.resets += 1
        self._fed = 0

    def close(self) -> None:
        self.closed = True


class FakeMicrophone:
    """A live microphone the test speaks into: `say` queues blocks, and
    `read` returns them in order, else a 30 ms block of silence at most as
    fast as a device would. `said` is released as each said block is read."""

    sample_rate_hz = RATE_HZ
    exhausted = False

    def __init__(self) -> None:
        self.blocks: queue.Queue[np.ndarray] = queue.Queue()
        self.is_open = False
        self.opened = 0
        self.said = threading.Semaphore(0)

    def say(self, *blocks: np.ndarray) -> None:
        for block in blocks:
            self.blocks.put(block)

    def open(self) -> None:
        if not self.is_open:
            self.opened += 1
        self.is_open = True

    def read(self, timeout_s: float):
        if not self.is_open:
            raise AudioError("fake mic read while closed")
        try:
            block = self.blocks.get(timeout=min(timeout_s, 0.03))
        except queue.Empty:
            return np.zeros(480, dtype=np.int16)
        self.said.release()
        return block

    def discard(self) -> None:
        pass

    def close(self) -> None:
        self.is_open = False
