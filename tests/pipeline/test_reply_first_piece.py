"""The reply's first spoken piece: short when the pieces come fast enough to
keep the speaker fed, today's length when not. The pieces' rate is a fake
one (a `FakeClock` moved between pieces); the splitter is the real one."""

from __future__ import annotations

from collections.abc import Iterator

from assistant.pipeline.reply import ReplyStreamer
from tests.support.fakes import FakeAudioSink, FakeClock, FakeTextToSpeech

REPLY = "A spider has eight legs and most spiders have eight eyes."


def _fake_rate_pieces(clock: FakeClock, tokens_per_s: float) -> Iterator[str]:
    """The reply word by word, a fake LLM's tokens at ``tokens_per_s``."""
    for i, word in enumerate(REPLY.split(" ")):
        yield word if i == 0 else " " + word
        clock.advance(1.0 / tokens_per_s)


def _first_piece(tokens_per_s: float, known: float | None = None) -> str:
    clock = FakeClock()
    tts = FakeTextToSpeech()
    streamer = ReplyStreamer(tts, FakeAudioSink(), clock=clock, tokens_per_s=known)
    result = streamer.run(_fake_rate_pieces(clock, tokens_per_s))
    assert result.spoken == REPLY
    return tts.sentences[0]


def test_a_fast_reply_starts_with_a_short_piece() -> None:
    assert _first_piece(tokens_per_s=40.0) == "A spider"


def test_a_slow_reply_keeps_todays_first_piece() -> None:
    assert _first_piece(tokens_per_s=4.0) == "A spider has eight legs"


def test_the_measured_rate_overrides_the_known_one() -> None:
    assert _first_piece(tokens_per_s=4.0, known=40.0) == "A spider has eight legs"
