"""Word error rate (`assistant.bench.wer`): normalization and the edit distance."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.bench.wer import (
    corpus_wer,
    edit_distance,
    normalize,
    number_words,
    wer,
    word_errors,
)


def test_case_and_punctuation_do_not_count():
    assert normalize("What is the capital of France?") == normalize(
        "what is the capital, of france"
    )
    assert wer("What is the capital of France?", "what is the capital of france") == 0.0


def test_apostrophes_are_dropped_and_hyphens_split():
    assert normalize("What's twenty-five?") == ["whats", "twenty", "five"]
    assert normalize("It\u2019s six o'clock") == ["its", "six", "oclock"]


@pytest.mark.parametrize(
    ("digits", "words"),
    [
        ("0", "zero"),
        ("8", "eight"),
        ("13", "thirteen"),
        ("40", "forty"),
        ("96", "ninety six"),
        ("100", "one hundred"),
        ("115", "one hundred fifteen"),
        ("1,500", "one thousand five hundred"),
        ("2024", "two thousand twenty four"),
        ("3000000", "three million"),
    ],
)
def test_numbers_in_digits_equal_numbers_in_words(digits, words):
    assert normalize(f"Set a timer for {digits} minutes") == normalize(
        f"set a timer for {words} minutes"
    )


def test_percent_is_a_word():
    assert normalize("volume 50%") == ["volume", "fifty", "percent"]


def test_a_very_long_digit_string_is_read_digit_by_digit():
    spoken = "one two three four five six seven eight nine zero one two three four five six"
    assert normalize("1234567890123456") == normalize(spoken)


def test_one_error_of_each_kind():
    reference = "turn on the kitchen light"
    assert word_errors(reference, "turn on the kitchen light") == (0, 5)
    assert word_errors(reference, "turn on the kitchen lamp") == (1, 5)  # substitution
    assert word_errors(reference, "turn on kitchen light") == (1, 5)  # deletion
    assert word_errors(reference, "turn on the big kitchen light") == (1, 5)  # insertion
    assert wer(reference, "turn off a kitchen lamp") == pytest.approx(3 / 5)


def test_empty_texts():
    assert wer("", "") == 0.0
    assert wer("", "hello") == 1.0
    assert wer("hello there", "") == 1.0


def test_corpus_wer_weighs_by_reference_words():
    pairs = [("one two three four", "one two three four"), ("five", "six")]
    assert corpus_wer(pairs) == pytest.approx(1 / 5)
    assert corpus_wer([]) == 0.0


words = st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=8)


@given(words, words)
def test_edit_distance_is_a_metric_bounded_by_the_lengths(first, second):
    distance = edit_distance(first, second)
    assert distance == edit_distance(second, first)
    assert abs(len(first) - len(second)) <= distance <= max(len(first), len(second))
    assert (distance == 0) == (first == second)


@given(st.integers(min_value=0, max_value=10**12 - 1))
def test_every_number_spells_into_plain_words(n):
    spelled = number_words(n).replace("-", " ")  # "twenty-one" as the speller writes it
    assert spelled and all(word.isalpha() for word in spelled.split())
    assert normalize(str(n)) == spelled.split()
