"""Pure text helpers for recognizing during speech: local agreement between
successive hypotheses, and the guard that spots a decode gone into a loop.

No model here: everything works on strings and counts, so tests feed it
crafted hypotheses.
"""

from __future__ import annotations

import re
import zlib

SHORT_REPEATS = 3
"""A word or word pair said this many times in a row is a loop ("very very" is not)."""
PHRASE_WORDS = 3
"""A phrase of this many words or more said twice in a row is a loop: a
short window makes Whisper start the sentence over ("What time is it? What
time is it?"). Real speech seldom does; when it does, the check only costs
a second decode."""
MAX_COMPRESSION_RATIO = 2.4
"""Text that gzip shrinks more than this is repetitive (faster-whisper's own threshold)."""

_WORD_EDGES = re.compile(r"^\W+|\W+$")


def _key(word: str) -> str:
    # "France?" and "France," are the same word while the sentence grows.
    return _WORD_EDGES.sub("", word.lower())


def common_prefix(first: list[str], second: list[str]) -> int:
    """How many leading words ``first`` and ``second`` share, ignoring case
    and the punctuation around each word."""
    n = 0
    for a, b in zip(first, second, strict=False):
        if _key(a) != _key(b):
            break
        n += 1
    return n


class LocalAgreement:
    """whisper_streaming's "local agreement": words two consecutive
    hypotheses agree on are committed and never taken back.

    Feed each new hypothesis of the growing utterance to `update`; `text` is
    the committed words followed by the latest hypothesis' tentative rest.
    Only for display: the final transcript is always a decode of the final
    audio, never this. Not thread-safe; its owner serializes calls.
    """

    def __init__(self) -> None:
        self.committed: list[str] = []
        """Words agreed on so far, as the later of the two hypotheses spelt them."""
        self.tentative: list[str] = []
        """The latest hypothesis' words after the committed ones."""
        self._previous: list[str] = []

    def update(self, hypothesis: str) -> str:
        """Take the next hypothesis; returns the new `text`."""
        words = hypothesis.split()
        agreed = common_prefix(self._previous, words)
        if agreed > len(self.committed):
            self.committed = words[:agreed]
        self._previous = words
        self.tentative = words[len(self.committed) :]
        return self.text

    @property
    def text(self) -> str:
        return " ".join([*self.committed, *self.tentative])


def repeated_ngram(words: list[str]) -> str:
    """The first run of repeats that marks a loop (`SHORT_REPEATS`,
    `PHRASE_WORDS`), as the repeated words; "" if none. Case and
    punctuation are ignored."""
    keys = [_key(w) for w in words]
    for n in range(1, len(keys) // 2 + 1):
        times = SHORT_REPEATS if n < PHRASE_WORDS else 2
        for start in range(len(keys) - n * times + 1):
            gram = keys[start : start + n]
            if not any(gram):
                continue
            if all(keys[start + k * n : start + (k + 1) * n] == gram for k in range(1, times)):
                return " ".join(words[start : start + n])
    return ""


def compression_ratio(text: str) -> float:
    """Bytes of ``text`` over bytes of its zlib compression; 0 for ""."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def degenerate_reason(text: str, n_tokens: int, token_limit: int) -> str:
    """Why a decode looks like Whisper looping, or "" if it looks like speech.

    A short encoder window can make Whisper repeat itself until it runs out
    of tokens ("respectable, respectable, ..."); ``token_limit`` is the most
    tokens the audio could plausibly hold, so reaching it means a loop.
    """
    if n_tokens >= token_limit:
        return f"{n_tokens} tokens reached the limit of {token_limit}"
    gram = repeated_ngram(text.split())
    if gram:
        return f"{gram!r} repeated"
    ratio = compression_ratio(text)
    if ratio > MAX_COMPRESSION_RATIO:
        return f"compression ratio {ratio:.1f} > {MAX_COMPRESSION_RATIO}"
    return ""
