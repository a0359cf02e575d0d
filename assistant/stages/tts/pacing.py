"""How fast a reply's pieces come, and whether that keeps the speaker fed:
what decides `SentenceSplitter.short_first`. Pure Python; `PieceRate` and
`FirstPiece` read an injected clock and belong to one reply on one thread."""

from __future__ import annotations

import time
from collections.abc import Callable

from assistant.stages.tts.sentences import SentenceSplitter

SPEECH_S_PER_TOKEN = 0.3
"""Seconds of speech per LLM token: about 0.75 words a token, spoken at
2.5 words a second."""
TTS_RTF = 0.4
"""Piper's real-time factor to plan with: 0.15-0.25 on one core of this
x86 VM (benchmarks/README.md), more on a Pi 4."""
FED_MARGIN = 1.5
"""How much faster than it plays the reply's audio must be produced for a
short first piece: it plays for about a second, in which the next piece
must be generated and synthesized."""


def keeps_speaker_fed(tokens_per_s: float | None, tts_rtf: float = TTS_RTF) -> bool:
    """Whether a reply generated at ``tokens_per_s`` and synthesized at
    ``tts_rtf`` (seconds of work per second of audio) makes audio at least
    `FED_MARGIN` times as fast as it plays, generation and synthesis taking
    turns on the cores: then a short first piece will not leave a gap
    before the next. About 12.5 tokens/s with the defaults; False when the
    rate is not known (None or 0)."""
    if not tokens_per_s or tokens_per_s <= 0:
        return False
    work_s_per_audio_s = 1.0 / (tokens_per_s * SPEECH_S_PER_TOKEN) + tts_rtf
    return work_s_per_audio_s * FED_MARGIN <= 1.0


class PieceRate:
    """Pieces per second of one reply, from their arrival times: after the
    first piece (whose wait is the prompt's, not generation's), once
    `MEASURED_AFTER` have come; ``known`` before that. Caller's thread only."""

    MEASURED_AFTER = 3

    def __init__(self, clock: Callable[[], float], known: float | None) -> None:
        self._clock = clock
        self._known = known
        self._first = 0.0
        self._last = 0.0
        self._n = 0

    def arrived(self) -> None:
        self._last = self._clock()
        if self._n == 0:
            self._first = self._last
        self._n += 1

    def per_s(self) -> float | None:
        span = self._last - self._first
        if self._n < self.MEASURED_AFTER:
            return self._known
        # Pieces that came all at once (a fixed answer) come infinitely fast.
        return (self._n - 1) / span if span > 0 else float("inf")


class PacedSplitter:
    """A streamed reply's `SentenceSplitter`, its `short_first` set from the
    pace of the pieces (`PieceRate`, then `keeps_speaker_fed`) before each
    one: how `pipeline.reply.ReplyStreamer` cuts what it speaks."""

    def __init__(self, clock: Callable[[], float], tokens_per_s: float | None) -> None:
        self._splitter = SentenceSplitter()
        self._rate = PieceRate(clock, tokens_per_s)

    def feed(self, piece: str) -> list[str]:
        """The next piece of the reply; returns the pieces it completed."""
        self._rate.arrived()
        self._splitter.short_first = keeps_speaker_fed(self._rate.per_s())
        return self._splitter.feed(piece)

    def flush(self) -> list[str]:
        return self._splitter.flush()


class FirstPiece:
    """Whether a reply's first piece is cut yet, where a client streaming
    it (`PacedSplitter`, with no rate known up front) would cut it, for the
    server generating the reply. The rate is read on this side of the
    network: the client's pieces come at the same pace, a little later."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._splitter = PacedSplitter(clock, None)
        self.cut = False

    def feed(self, piece: str) -> bool:
        """Add the next piece of the reply; True once the first piece is cut."""
        if not self.cut:
            self.cut = bool(self._splitter.feed(piece))
        return self.cut
