"""The speech stage's contract: text in, one self-describing chunk per sentence out.

Implementation: `piper.PiperTextToSpeech`; only the composition root builds it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Protocol

from assistant.stages.audio.pcm import AudioChunk


class TextToSpeech(Protocol):
    """A speech synthesizer. Implementations must provide every member below.

    `synthesize` and `warm_up` run on the TTS worker thread, one call at a
    time; `set_volume` may come from any thread. Whoever built the engine
    owns it; it holds no device, so there is nothing to close.
    """

    sample_rate_hz: int
    """Rate of every chunk `synthesize` yields, in Hertz."""
    name: str
    """Backend and voice, for logs and ``assistant doctor``."""

    def synthesize(self, text: str, cancel: threading.Event | None = None) -> Iterator[AudioChunk]:
        """Yield one mono int16 chunk per sentence of ``text``, each as soon as it is ready.

        Text is cleaned with `clean_for_speech` first; empty or unspeakable
        text yields nothing. ``cancel`` is checked between sentences: once it
        is set no further chunk is yielded. Blocks the calling worker thread.
        Raises `TextToSpeechError` if synthesis fails.
        """
        ...

    def warm_up(self) -> None:
        """Synthesize a throwaway word so the first real reply is not slowed by lazy setup."""
        ...

    def set_volume(self, gain: float) -> None:
        """Set the playback gain (1.0 keeps the voice's level) for the next
        sentence; may be called from any thread."""
        ...
