"""Property-based fuzzing of the text paths to speech: the sentence splitter
and the speech cleaner. Nothing may raise, and each keeps its documented
promises for any text, however hostile. Example-based regressions for what
the fuzzing found live in test_sentences.py and test_speechtext.py.

The profile in conftest.py gives a few thousand examples per property; each
example is kept small so a property costs seconds. Long pathological inputs
are fixed examples at the end: they must simply complete (no timing is
asserted; before the fixes some ran for hours).
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from assistant.stages.tts.sentences import SentenceSplitter, split_sentences
from assistant.stages.tts.text import clean_for_speech

LANGUAGES = ("en", "pt", "es")

# Any code point, surrogates and unassigned ones included.
ANY_CHAR = st.characters(exclude_categories=())
# Pieces that exercise every rule of the splitter and the cleaner.
TOKENS = [
    *"abcXYZ019 .,;:!?…-—–\"'”’)]([“‘\n\t*_#`~|>/%$£€°=×+<",
    "```", "~~~", "**", "__", "~~", "...", "Mr.", "Dr.", "e.g.", "U.S.", "J.", "1.", "42.",
    "3.14", "1,000", "$5.50", "50%", "10:30", "7am", "21st", "1990s", "'80s", "in 1999",
    "1/2", "5-10", "-3", "20°C", "#1", "~5", "2 x 3", "[a](b)", "![i](p)", "<b>", "</b>",
    "https://e.x/y", "- ", "1. ", "> ", "# ", "| a | b |", "|---|", "---", "😀", "👨‍👩‍👧",
    "\u200d", "\u200b", "\u200f", "\u202e", "\ufeff", "\x00", "\x07", "\x1b", "\x7f",
    "\ud800", "\udfff", "\u0301", "\ue000", "e\u0301", "١٢٣", "日本", "Ωμέγα", "שלום",
    "9" * 20, "1" * 400, "1e999", "NaN", "10**400", "0.000001", "12/25/2024",
]  # fmt: skip
MARKUP = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)
TEXT = st.one_of(st.text(ANY_CHAR, max_size=80), MARKUP)

_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff\u2190-\u21ff"
    "\u25a0-\u25ff\ufe0e\ufe0f\u200d\u20e3\U000e0020-\U000e007f]"
)
"""The pictographs the cleaner promises to remove."""


# -- the sentence splitter ---------------------------------------------------


def _feed(splitter: SentenceSplitter, chunks: list[str]) -> list[str]:
    pieces = [piece for chunk in chunks for piece in splitter.feed(chunk)]
    return pieces + splitter.flush()


@st.composite
def chunked(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A text and the same text cut at arbitrary points."""
    text = draw(TEXT)
    cuts = sorted(set(draw(st.lists(st.integers(0, len(text)), max_size=12))))
    bounds = [0, *cuts, len(text)]
    return text, [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


SPLITTER_ARGS = st.tuples(st.integers(0, 80), st.integers(10, 120))


@given(chunked(), SPLITTER_ARGS)
@example(("Ask Dr.\n Jones", ["Ask Dr.", "\n Jones"]), (40, 200))
@example(("a" * 8 + "``" + "xyz", ["a" * 8 + "`", "`xyz"]), (40, 10))
def test_the_pieces_do_not_depend_on_how_the_text_was_chunked(case, args) -> None:
    text, chunks = case
    min_clause, max_chars = args
    whole = _feed(SentenceSplitter(min_clause, max_chars), [text])
    assert _feed(SentenceSplitter(min_clause, max_chars), chunks) == whole


@given(TEXT, SPLITTER_ARGS)
def test_pieces_are_stripped_speakable_and_bounded(text: str, args) -> None:
    min_clause, max_chars = args
    splitter = SentenceSplitter(min_clause, max_chars)
    for piece in _feed(splitter, [text]):
        assert piece == piece.strip() and any(c.isalnum() for c in piece), piece
        assert len(piece) <= max_chars, (len(piece), max_chars)


def _visible(text: str) -> str:
    return "".join(text.split())


def _is_subsequence(short: str, long: str) -> bool:
    rest = iter(long)
    return all(c in rest for c in short)


@given(TEXT, SPLITTER_ARGS)
def test_pieces_keep_the_characters_of_the_text_in_order(text: str, args) -> None:
    """Only whole pieces (code, lone marks) are dropped; nothing is reordered."""
    pieces = _feed(SentenceSplitter(*args), [text])
    assert _is_subsequence(_visible("".join(pieces)), _visible(text))


# Words that always carry a letter, so no piece is dropped as unspeakable.
WORD = st.builds(
    "".join,
    st.tuples(
        st.sampled_from("aZ7"),
        st.text("abXY09'-", max_size=6),
        st.sampled_from(["", ".", ",", ";", ":", "!", "?", "?!", ".."]),
    ),
)
PROSE = st.lists(st.tuples(WORD, st.sampled_from([" ", " ", " ", "\n", "  "])), max_size=60)


@given(PROSE, SPLITTER_ARGS)
def test_prose_loses_no_character(words, args) -> None:
    text = "".join(word + space for word, space in words)
    pieces = _feed(SentenceSplitter(*args), [text])
    assert _visible("".join(pieces)) == _visible(text)


@given(TEXT)
def test_split_sentences_is_the_whole_text_fed_at_once(text: str) -> None:
    splitter = SentenceSplitter(min_clause_chars=10**9)
    assert split_sentences(text) == _feed(splitter, [text])


# -- the speech cleaner ----------------------------------------------------


def _assert_speakable(spoken: str) -> None:
    assert spoken == spoken.strip() and "  " not in spoken
    assert not set("*_#`~") & set(spoken), spoken
    assert not _EMOJI.search(spoken), spoken
    bad = [c for c in spoken if unicodedata.category(c)[0] == "C" or (c.isspace() and c != " ")]
    assert not bad, (spoken, bad)
    assert spoken == "" or any(c.isalnum() for c in spoken)


@pytest.mark.parametrize("language", LANGUAGES)
@given(text=TEXT)
def test_the_cleaner_gives_plain_speakable_text(language: str, text: str) -> None:
    spoken = clean_for_speech(text, language)
    _assert_speakable(spoken)
    # Numbers become words, so English grows; never by more than a constant
    # factor ("1°F" is " one degrees Fahrenheit").
    assert len(spoken) <= 12 * len(text), (len(spoken), len(text))


@pytest.mark.parametrize("language", LANGUAGES)
@given(text=TEXT)
def test_cleaning_twice_says_the_same_words(language: str, text: str) -> None:
    """Stable, not idempotent: a second pass may still tidy punctuation that
    the first left at a line start ("-*0" -> "- zero" -> "zero."), but the
    words, what is actually said, no longer change."""
    once = clean_for_speech(text, language)
    assert _said(clean_for_speech(once, language)) == _said(once)


def _said(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text)


@given(st.integers(1, 1200), st.sampled_from(["", "$", "-", "#", "~"]), st.sampled_from(
    ["", "%", "th", ".5", " million", "s", ",000"]
))  # fmt: skip
def test_a_number_of_n_digits_gives_words_in_proportion(n: int, before: str, after: str) -> None:
    digits = ("9876543210" * (n // 10 + 1))[:n]
    spoken = clean_for_speech(f"It is {before}{digits}{after} now.")
    _assert_speakable(spoken)
    assert not any(c.isdigit() for c in spoken)
    # "seven " per digit when read one by one; at most ~11 per digit as words.
    assert len(spoken) <= 12 * n + 60, (n, len(spoken))


# -- inputs that once took quadratic or cubic time -------------------------

PATHOLOGICAL = {
    "header then a long run of spaces": "# a" + " " * 100_000 + "b",
    "a line of spaces": " " * 100_000 + "x",
    "unclosed bold": "**a " * 25_000,
    "unclosed links": "[a](" * 25_000,
    "open brackets": "[" * 100_000,
    "open parentheses": "(" * 100_000,
    "stars": "*" * 100_000,
    "underscores": "_a" * 50_000,
    "tildes": "~" * 100_000,
    "backticks": "`" * 100_000,
    "a long number": "1" * 100_000 + "x",
    "a long comma number": "1" + ",111" * 25_000,
    "a long fraction": "1." + "1" * 100_000,
    "dotted numbers": "1." * 50_000,
    "html": "<a" * 50_000,
    "table cells": "|" * 100_000,
    "quotes": ">" * 100_000,
    "minus signs": "-1" * 50_000,
    "a long word": "a" * 100_000,
    "newlines": "\n" * 100_000,
    "combining marks": "a" + "\u0301" * 100_000,
    "emoji": "😀" * 50_000,
}


@pytest.mark.parametrize("text", list(PATHOLOGICAL.values()), ids=list(PATHOLOGICAL))
def test_pathological_text_completes(text: str) -> None:
    for language in LANGUAGES:
        spoken = clean_for_speech(text, language)
        _assert_speakable(spoken)
        for piece in split_sentences(spoken) + split_sentences(text):
            assert 0 < len(piece) <= 200
