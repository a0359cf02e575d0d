"""`FirstPiece`: where a server generating a reply knows that its client,
cutting the reply as `ReplyStreamer` does, has a first piece to speak."""

from __future__ import annotations

import itertools

from assistant.stages.tts.pacing import FirstPiece
from assistant.stages.tts.sentences import SentenceSplitter

PIECES = ["A", " spider", " has", " eight", " legs", " and", " two", " big", " eyes", "."]


def cut_at(pieces: list[str], seconds_apart: float) -> int:
    ticks = itertools.count(step=seconds_apart)
    first = FirstPiece(clock=lambda: next(ticks))
    return next(i for i, piece in enumerate(pieces) if first.feed(piece))


def splitter_cut_at(pieces: list[str], short_first: bool) -> int:
    splitter = SentenceSplitter()
    splitter.short_first = short_first
    return next(i for i, piece in enumerate(pieces) if splitter.feed(piece))


def test_a_fast_reply_is_cut_where_a_short_first_piece_ends():
    # 50 pieces a second keeps the speaker fed: the client cuts "A spider".
    assert cut_at(PIECES, 0.02) == splitter_cut_at(PIECES, short_first=True)


def test_a_slow_reply_is_cut_where_a_client_waits_for_more_words():
    # 2 pieces a second does not: the client waits for five words.
    slow = cut_at(PIECES, 0.5)
    assert slow == splitter_cut_at(PIECES, short_first=False)
    assert slow > cut_at(PIECES, 0.02)


def test_once_cut_it_stays_cut():
    first = FirstPiece()
    seen = [first.feed(piece) for piece in PIECES]
    at = seen.index(True)
    assert all(seen[at:]) and not any(seen[:at])
