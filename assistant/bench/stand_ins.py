"""Stand-in engines for measuring orchestration overhead: fakes that do no
work, so a turn's time through the real `Controller` is the pipeline's own
(threads, queues, events, skills), not a model's.

They are not engines: the recognizer hears a fixed question at once, the
language model says `STAND_IN_REPLY` one word per token, the voice yields
10 ms of silence per sentence, and the microphone gives ten blocks of silence
as fast as they are read. Each implements its whole protocol, so the
pipeline treats it as the real thing.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence

import numpy as np

from assistant.bench.turns import TimingSink
from assistant.compose import Engines, build_controller
from assistant.core.config import Config, TurnConfig
from assistant.core.errors import AssistantError
from assistant.core.events import ButtonPressed, EventBus, TurnFailed, TurnFinished, TurnIgnored
from assistant.core.messages import Message
from assistant.stages.audio.pcm import AudioChunk
from assistant.stages.llm.base import GenerationStats

RATE_HZ = 16000
STAND_IN_QUESTION = "what is the capital of france"
STAND_IN_REPLY = "The capital of France is Paris. It is a lovely city."
"""What `StandInLanguageModel` says: two sentences, one word per token."""
ORCHESTRATION_TURNS = 30
TURN_TIMEOUT_S = 60.0


class StandInTranscriber:
    """Hears nothing; `finish` returns the fixed text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def accept(self, samples: np.ndarray) -> None:
        pass

    def partial(self) -> str:
        return ""

    def endpoint(self) -> bool:
        return False

    def finish(self) -> str:
        return self.text

    def close(self) -> None:
        pass


class StandInSpeechToText:
    """Stand-in `SpeechToText`: every utterance is ``text``, at once."""

    name = "stand-in-asr"
    sample_rate_hz = RATE_HZ

    def __init__(self, text: str = STAND_IN_QUESTION) -> None:
        self.text = text

    def start(self) -> StandInTranscriber:
        return StandInTranscriber(self.text)

    def warm_up(self) -> None:
        pass


class StandInLanguageModel:
    """Stand-in `LanguageModel`: says ``text`` one word per token, with no compute."""

    name = "stand-in-llm"

    def __init__(self, text: str = STAND_IN_REPLY) -> None:
        self.text = text
        self.last_stats = GenerationStats()

    def generate(
        self, messages: Sequence[Message], cancel: threading.Event | None = None
    ) -> Iterator[str]:
        words = self.text.split(" ")
        sent = 0
        try:
            for word in words:
                if cancel is not None and cancel.is_set():
                    return
                yield word if sent == 0 else " " + word
                sent += 1
        finally:
            stop = "end" if sent == len(words) else "cancelled"
            self.last_stats = GenerationStats(generated_tokens=sent, stop=stop)

    def generate_with_grammar(
        self,
        messages: Sequence[Message],
        gbnf: str,
        cancel: threading.Event | None = None,
        *,
        max_tokens: int = 64,
    ) -> Iterator[str]:
        """Says nothing: no grammar is ever satisfied by a stand-in."""
        self.last_stats = GenerationStats(stop="end")
        return iter(())

    def prefill(self, messages: Sequence[Message], cancel: threading.Event | None = None) -> int:
        """Nothing to read ahead: a stand-in has no prompt to evaluate."""
        return 0

    def fits(self, messages: Sequence[Message]) -> bool:
        return True

    def warm_up(self) -> None:
        pass

    def close(self) -> None:
        pass


class StandInTextToSpeech:
    """Stand-in `TextToSpeech`: 10 ms of silence per call, with no compute."""

    name = "stand-in-tts"
    sample_rate_hz = RATE_HZ

    def __init__(self) -> None:
        self.gain = 1.0

    def synthesize(self, text: str, cancel: threading.Event | None = None) -> Iterator[AudioChunk]:
        if text.strip() and not (cancel is not None and cancel.is_set()):
            yield AudioChunk(np.zeros(RATE_HZ // 100, dtype=np.int16), self.sample_rate_hz)

    def warm_up(self) -> None:
        pass

    def set_volume(self, gain: float) -> None:
        self.gain = gain


class StandInMicrophone:
    """Stand-in `AudioSource`: ``blocks`` blocks of 30 ms of silence, as fast
    as they are read, then exhausted (like `WavFileSource`)."""

    sample_rate_hz = RATE_HZ

    def __init__(self, blocks: int = 10) -> None:
        self.blocks = blocks
        self._left = 0
        self._opened = False

    @property
    def exhausted(self) -> bool:
        return self._opened and self._left <= 0

    def open(self) -> None:
        self._left = self.blocks
        self._opened = True

    def read(self, timeout_s: float) -> np.ndarray | None:
        if self._left <= 0:
            return None
        self._left -= 1
        return np.zeros(RATE_HZ * 30 // 1000, dtype=np.int16)

    def discard(self) -> None:
        pass

    def close(self) -> None:
        self._left = 0


def stand_in_engines() -> Engines:
    return Engines(StandInSpeechToText(), StandInLanguageModel(), StandInTextToSpeech())


def orchestration(config: Config, turns: int = ORCHESTRATION_TURNS) -> list[dict]:
    """``turns`` turns through the real `Controller`, built by the composition
    root with stand-in engines: whatever time a turn takes is the pipeline's
    own. Per turn: press to turn finished and end of speech to first audio,
    in ms. Raises `AssistantError` when a turn does not finish."""
    bus = EventBus()
    done: queue.Queue = queue.Queue()
    bus.subscribe(
        lambda e: done.put(e) if isinstance(e, TurnFinished | TurnFailed | TurnIgnored) else None
    )
    turn = TurnConfig(
        mode="hold",
        min_press_s=0.0,
        max_listen_s=300.0,
        reply_timeout_s=config.turn.reply_timeout_s,
    )
    controller = build_controller(
        config, stand_in_engines(), StandInMicrophone(), TimingSink(), bus, turn, earcons=False
    )
    rows = []
    controller.start()
    try:
        for _ in range(turns):
            pressed = ButtonPressed()
            controller.submit(pressed)
            event = done.get(timeout=TURN_TIMEOUT_S)
            if not isinstance(event, TurnFinished):
                raise AssistantError(f"bench: a stand-in turn did not finish: {event}")
            rows.append(
                {
                    "turn_ms": round((event.at_s - pressed.at_s) * 1000, 2),
                    "ttfa_ms": event.timings_ms.get("ttfa"),
                }
            )
    finally:
        controller.stop()
        controller.skills.close()
    return rows


__all__ = [
    "ORCHESTRATION_TURNS",
    "STAND_IN_REPLY",
    "StandInLanguageModel",
    "StandInMicrophone",
    "StandInSpeechToText",
    "StandInTextToSpeech",
    "orchestration",
    "stand_in_engines",
]
