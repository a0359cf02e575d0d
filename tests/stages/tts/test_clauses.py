"""`clause_parts`: a long sentence cut into the parts piper synthesizes one
run at a time (its peak memory grows with a run's audio), at its commas
where it has them. Pure: no model."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.stages.tts.clauses import clause_parts
from assistant.stages.tts.words import FUNCTION_WORDS, PHRASE_STARTERS

LONG = (
    "When sunlight enters the atmosphere, the short blue waves are scattered in every "
    "direction by the tiny gas molecules, while the longer red waves pass straight through, "
    "so we see blue light coming from all over."
)


def test_a_sentence_within_the_limit_is_one_part() -> None:
    assert clause_parts("Why is the sky blue?", 80) == ["Why is the sky blue?"]
    assert clause_parts("", 80) == []


def test_a_long_sentence_is_cut_only_at_its_commas() -> None:
    parts = clause_parts(LONG, 80)
    assert len(parts) > 1
    assert all(len(part) <= 80 for part in parts)
    assert all(part.endswith(",") for part in parts[:-1])
    assert " ".join(parts) == LONG


def test_the_fewest_cuts_are_made_and_the_parts_are_even() -> None:
    # Three commas, one cut needed: the one nearest the middle.
    text = "One two three four, five six seven eight, nine ten eleven twelve, thirteen."
    assert clause_parts(text, 60) == [
        "One two three four, five six seven eight,",
        "nine ten eleven twelve, thirteen.",
    ]


def test_a_one_word_clause_is_not_a_part_of_its_own() -> None:
    text = "Well, " + "the compressor pumps the refrigerant around the loop all day long."
    parts = clause_parts(text, 60)
    assert all(len(part.split()) >= 2 for part in parts)


def test_without_a_comma_a_part_ends_where_a_phrase_begins() -> None:
    text = (
        "The compressor squeezes the refrigerant into a hot gas that flows through the coils "
        "behind the fridge and gives its heat to the kitchen air"
    )
    parts = clause_parts(text, 60)
    assert len(parts) > 1 and all(len(part) <= 60 for part in parts)
    for before, after in zip(parts, parts[1:], strict=False):
        first = after.split()[0].lower()
        assert first in FUNCTION_WORDS or first in PHRASE_STARTERS, (before, after)
        assert before.split()[-1].lower() not in FUNCTION_WORDS, (before, after)


def test_a_word_longer_than_the_limit_is_cut_inside() -> None:
    assert clause_parts("a " + "x" * 25, 10) == ["a", "x" * 10, "x" * 10, "x" * 5]


def test_max_chars_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        clause_parts("Hello.", 0)


WORDS = st.lists(
    st.sampled_from(["the", "sky", "is", "blue,", "because", "light", "scatters;", "—", "of"])
    | st.text("abcdefghij,;:", min_size=1, max_size=14),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(WORDS, st.integers(min_value=1, max_value=90))
def test_parts_are_within_the_limit_and_give_back_the_sentence(words, max_chars) -> None:
    sentence = " ".join(words)
    parts = clause_parts(sentence, max_chars)
    assert all(0 < len(part) <= max_chars for part in parts)
    if all(len(word) <= max_chars for word in words):
        assert " ".join(parts) == sentence
