"""Fakes: small stand-ins for the engines and devices, for orchestration tests.

These are fakes, not the real stages. The real llama.cpp, piper, Vosk,
faster-whisper and PortAudio paths are tested in their own test modules and
end to end in ``test_e2e.py``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence

import numpy as np

from assistant.core.errors import AudioError
from assistant.core.messages import Message
from assistant.stages.audio.pcm import AudioChunk

RATE_HZ = 16000


class FakeLanguageModel:
    """Replies with scripted tokens. With `gate`, each token waits for the
    gate, so a test controls exactly how far generation has got."""

    name = "fake-llm"

    def __init__(self, tokens: Sequence[str], gate: threading.Semaphore | None = None):
        self.tokens = list(tokens)
        self.gate = gate
        self.calls: list[list[Message]] = []
        self.yielded = 0

    def generate(self, messages, cancel=None) -> Iterator[str]:
        self.calls.append(list(messages))
        for token in self.tokens:
            if self.gate is not None:
                while not self.gate.acquire(timeout=0.05):
                    if cancel is not None and cancel.is_set():
                        return
            if cancel is not None and cancel.is_set():
                return
            self.yielded += 1
            yield token

    def fits(self, messages) -> bool:
        return sum(len(m.content) for m in messages) < 4000

    def warm_up(self) -> None:
        pass

    def close(self) -> None:
        pass


class FakeTextToSpeech:
    """One chunk of a 440 Hz tone per sentence, 50 ms per word."""

    name = "fake-tts"
    sample_rate_hz = RATE_HZ

    def __init__(self) -> None:
        self.sentences: list[str] = []

    def synthesize(self, text: str, cancel=None) -> Iterator[AudioChunk]:
        if cancel is not None and cancel.is_set():
            return
        self.sentences.append(text)
        n = int(0.05 * RATE_HZ * max(1, len(text.split())))
        tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(n) / RATE_HZ)).astype(np.int16)
        yield AudioChunk(tone, RATE_HZ)

    def warm_up(self) -> None:
        pass


class FakeTranscriber:
    def __init__(self, text: str, endpoint_after: int | None) -> None:
        self.text = text
        self.blocks = 0
        self.endpoint_after = endpoint_after

    def accept(self, samples: np.ndarray) -> None:
        self.blocks += 1

    def partial(self) -> str:
        words = self.text.split()
        return " ".join(words[: min(len(words), self.blocks)])

    def endpoint(self) -> bool:
        return self.endpoint_after is not None and self.blocks >= self.endpoint_after

    def finish(self) -> str:
        return self.text


class FakeSpeechToText:
    """Hears `text` whatever the audio is."""

    name = "fake-asr"
    sample_rate_hz = RATE_HZ

    def __init__(self, text: str = "what is the capital of france", endpoint_after=None):
        self.text = text
        self.endpoint_after = endpoint_after
        self.started = 0

    def start(self) -> FakeTranscriber:
        self.started += 1
        return FakeTranscriber(self.text, self.endpoint_after)

    def warm_up(self) -> None:
        pass


class FakeAudioSource:
    """A microphone that yields 30 ms blocks of low noise forever (or fails)."""

    sample_rate_hz = RATE_HZ

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
    """Records what is written; 'plays' it instantly, or as `play` allows."""

    def __init__(self) -> None:
        self.rate_hz = 0
        self.chunks: list[AudioChunk] = []
        self.frames = 0
        self.stops = 0
        self.opened = 0
        self.closed = 0
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
    so a test shows that validation alone stops a bad call."""

    name = "SmolLM2-135M-Instruct.Q4_1.gguf"

    def __init__(self, output: str) -> None:
        self.output = output
        self.calls: list[str] = []

    def generate_with_grammar(self, messages, gbnf, *, max_tokens=64):
        self.calls.append(messages[-1].content)
        yield from [self.output[:5], self.output[5:]]
