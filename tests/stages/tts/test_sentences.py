"""Sentence splitting, whole and streamed token by token."""

from __future__ import annotations

import random

import pytest

from assistant.stages.tts.pacing import keeps_speaker_fed
from assistant.stages.tts.sentences import SentenceSplitter, split_sentences, spoken_pieces

CORPUS = [
    "Hello there. How are you? I am fine!",
    "Mr. Smith met Dr. Jones on Main St. yesterday. They talked.",
    "Pi is about 3.14 and e is 2.718. Both are irrational.",
    "Bring fruit, e.g. apples or pears, i.e. something sweet etc. and water. Thanks.",
    "J. R. R. Tolkien wrote it. C. S. Lewis did not.",
    "Wait... what? Hmm... I see. Well… fine.",
    'He said "stop." Then he left (quietly.) The end.',
    "Really?! Yes!! Okay.",
    "Steps:\n1. Open the box.\n2. Take it out\n3. Enjoy\n\nThat is all.",
    "Here is code:\n```python\nx = 1. y = 2\nprint(x)\n```\nRun it. Done.",
    "Unfinished code ```bash\nrm -rf / etc. Danger.",
    "The capital of France is Paris, which is a lovely city on the river Seine. It has "
    "museums, parks, and cafes; people love it. Visit in spring — it is nicer then.",
    "I was born in the U.S. in 1999. It was fun.",
    "No terminator at the end",
    " lots   of   space .  And more\n\n\n",
    "A" * 450 + ". Short.",
    "word " * 90 + "end.",
    "Some clause, then a long run-on sentence that goes on, and on; and on - and on, without"
    " stopping for a very long while, because it can, and because it wants to, really, truly.",
    "Emoji only 😀. 🎉 --- . Real end.",
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello there. How are you? I am fine!", ["Hello there.", "How are you?", "I am fine!"]),
        (
            "Mr. Smith went to Washington. Then he left.",
            ["Mr. Smith went to Washington.", "Then he left."],
        ),
        (
            "Dr. Who and Mrs. Hudson live on Baker St. in London. Yes.",
            ["Dr. Who and Mrs. Hudson live on Baker St. in London.", "Yes."],
        ),
        ("Pi is 3.14 roughly. Yes.", ["Pi is 3.14 roughly.", "Yes."]),
        (
            "Use fruit, e.g. apples. Or not, i.e. pears. Ok.",
            ["Use fruit, e.g. apples.", "Or not, i.e. pears.", "Ok."],
        ),
        ("Cats, dogs, etc. are pets. Right.", ["Cats, dogs, etc. are pets.", "Right."]),
        ("J. R. R. Tolkien wrote it. True.", ["J. R. R. Tolkien wrote it.", "True."]),
        ("Wait... what? Hmm... I see.", ["Wait... what?", "Hmm...", "I see."]),
        ("So… maybe later. Sure.", ["So… maybe later.", "Sure."]),
        ('He said "hi." Then left.', ['He said "hi."', "Then left."]),
        ("Really?! Yes.", ["Really?!", "Yes."]),
        ("One\nTwo\n\nThree", ["One", "Two", "Three"]),
        ("1. Apples\n2. Pears", ["1. Apples", "2. Pears"]),
        ("I counted to 3. Then I stopped.", ["I counted to 3.", "Then I stopped."]),
        ("Version 2.0.1 is out. Get it.", ["Version 2.0.1 is out.", "Get it."]),
        ("It costs 3.50. Cheap.", ["It costs 3.50.", "Cheap."]),
        ("Meet at 5 p.m. Bring food.", ["Meet at 5 p.m. Bring food."]),
        ("No end mark", ["No end mark"]),
        ("", []),
        ("   \n\n  ", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_fenced_code_is_dropped_and_splits_around_it() -> None:
    text = "Code:\n```py\nx = 1. y\n```\nDone. Bye."
    assert split_sentences(text) == ["Code:", "Done.", "Bye."]


def test_text_before_an_inline_fence_is_its_own_piece() -> None:
    assert split_sentences("Run ```ls -l``` now.") == ["Run", "now."]


def test_an_unterminated_fence_drops_the_rest() -> None:
    assert split_sentences("Start here. ```py\nx = 1. Still code.") == ["Start here."]


def test_pieces_without_letters_or_digits_are_dropped() -> None:
    assert split_sentences("Hi 😀. 🎉🎉. --- . Ok.") == ["Hi 😀.", "Ok."]


def test_long_pieces_break_at_the_last_clause_boundary() -> None:
    text = ("alpha " * 20).strip() + ", " + ("beta " * 30).strip() + "."
    pieces = split_sentences(text)
    assert pieces[0] == ("alpha " * 20).strip() + ","
    assert all(len(p) <= 200 for p in pieces)
    assert " ".join(pieces) == text


def test_long_pieces_without_clauses_break_at_a_space() -> None:
    text = "word " * 90
    pieces = split_sentences(text)
    assert len(pieces) == 3
    assert all(len(p) <= 200 and not p.endswith(" ") for p in pieces)
    assert " ".join(pieces).split() == text.split()


def test_a_long_word_is_cut_hard() -> None:
    pieces = split_sentences("x" * 450)
    assert [len(p) for p in pieces] == [200, 200, 50]


def test_never_emits_empty_or_blank_pieces() -> None:
    for text in CORPUS:
        for piece in split_sentences(text):
            assert piece and piece == piece.strip(), (text, piece)


def test_first_long_clause_is_emitted_early() -> None:
    splitter = SentenceSplitter(min_clause_chars=40, first_words=50)
    first = "The capital of France is Paris, which is lovely,"
    assert splitter.feed(first + " ") == []  # until the sentence is seen to go on
    # Later clauses wait for the end of the sentence.
    assert splitter.feed("and it is old, very old, older than most of the cities, ") == [first]
    assert splitter.feed("truly. Next") == [
        "and it is old, very old, older than most of the cities, truly."
    ]
    assert splitter.flush() == ["Next"]


def test_a_short_first_clause_waits_for_the_sentence() -> None:
    splitter = SentenceSplitter(min_clause_chars=40)
    assert splitter.feed("Sure, Paris is the capital. ") == ["Sure, Paris is the capital."]


@pytest.mark.parametrize("dash", [" — ", "—", " – ", " - "])
def test_a_dash_ends_an_early_clause(dash: str) -> None:
    head = "The capital of France is of course Paris"
    splitter = SentenceSplitter(min_clause_chars=40, first_words=50)
    pieces = splitter.feed(head + dash + "a city of light. ")
    assert pieces[0] == (head + dash).strip()
    assert pieces[1] == "a city of light."


def test_a_decimal_comma_is_not_a_clause_boundary() -> None:
    splitter = SentenceSplitter(min_clause_chars=10)
    assert splitter.feed("It costs exactly 1,000,000 dollars today. ") == [
        "It costs exactly 1,000,000 dollars today."
    ]


def test_flush_returns_the_remainder_and_resets() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("One. Two") == ["One."]
    assert splitter.flush() == ["Two"]
    assert splitter.flush() == []
    # A new reply gets the early first piece again.
    assert splitter.feed("a first clause that is long enough to go early, then ") == [
        "a first clause that is long"
    ]


def test_flush_of_nothing_speakable_is_empty() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("  ") == []
    assert splitter.flush() == []
    splitter.feed("```py\nprint(1)")
    assert splitter.flush() == []


def test_a_sentence_end_waits_for_the_following_whitespace() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Pi is 3.") == []
    assert splitter.feed("14. ") == ["Pi is 3.14."]


def test_an_abbreviation_at_a_chunk_boundary_is_not_a_sentence_end() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Ask Dr.") == []
    assert splitter.feed(" Jones") == []
    assert splitter.feed(" now. ") == ["Ask Dr. Jones now."]


def _stream(splitter: SentenceSplitter, text: str, rng: random.Random) -> list[str]:
    pieces: list[str] = []
    i = 0
    while i < len(text):
        size = rng.randint(1, 3)
        pieces += splitter.feed(text[i : i + size])
        i += size
    return pieces + splitter.flush()


@pytest.mark.parametrize("text", CORPUS)
def test_streaming_token_by_token_equals_split_sentences(text: str) -> None:
    rng = random.Random(1234)
    for _ in range(5):
        streamed = _stream(SentenceSplitter(min_clause_chars=10**9), text, rng)
        assert streamed == split_sentences(text)


@pytest.mark.parametrize("text", CORPUS)
def test_streaming_with_early_clause_does_not_depend_on_chunking(text: str) -> None:
    rng = random.Random(99)
    splitter = SentenceSplitter()
    whole = splitter.feed(text)
    whole += splitter.flush()
    for _ in range(5):
        assert _stream(SentenceSplitter(), text, rng) == whole


def test_max_chars_must_be_sensible() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        SentenceSplitter(max_chars=3)


def test_a_leading_number_is_kept_in_its_sentence() -> None:
    text = "42. That is the answer to six times seven. Nice."
    assert split_sentences(text) == ["42. That is the answer to six times seven.", "Nice."]
    splitter = SentenceSplitter(min_clause_chars=10**9)
    pieces = [p for token in text.split(" ") for p in splitter.feed(" " + token)]
    assert [*pieces, *splitter.flush()] == split_sentences(text)
    splitter = SentenceSplitter()
    pieces = [p for token in text.split(" ") for p in splitter.feed(" " + token)]
    assert [*pieces, *splitter.flush()] == SentenceSplitter().feed(text) + ["Nice."]


def test_the_last_piece_is_cut_to_max_chars_too() -> None:
    # Found by fuzzing: a trailing run of stops carried the end past the bound.
    splitter = SentenceSplitter(0, 10)
    assert splitter.feed("000000000..") == []
    assert all(len(piece) <= 10 for piece in splitter.flush())
    splitter = SentenceSplitter(0, 10)
    pieces = splitter.feed("one two three four five six seven")
    pieces += splitter.flush()
    assert pieces and all(len(piece) <= 10 for piece in pieces)
    assert " ".join(pieces) == "one two three four five six seven"


# -- the early first piece ------------------------------------------------


def _pieces(text: str, **kwargs) -> list[str]:
    splitter = SentenceSplitter(**kwargs)
    return splitter.feed(text) + splitter.flush()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A clause boundary after two words or more ends the first piece.
        (
            "Of course, Paris is the capital of France. It is big.",
            ["Of course,", "Paris is the capital of France.", "It is big."],
        ),
        ("Well; it depends on the day.", ["Well; it depends on the day."]),
        # No one-word fragment on either side of a cut.
        ("Sure, Paris is the capital.", ["Sure, Paris is the capital."]),
        ("Paris is in France, mostly.", ["Paris is in France, mostly."]),
        ("Their capital city is lovely Paris.", ["Their capital city is lovely Paris."]),
        ("The capital city of France is Paris.", ["The capital city of France", "is Paris."]),
        # Five words when no boundary comes; the rest stays one sentence.
        (
            "The capital city of France has been Paris for a very long time. Yes.",
            ["The capital city of France", "has been Paris for a very long time.", "Yes."],
        ),
        # Not after an article, a preposition or a conjunction...
        (
            "Paris is the capital of France and a lovely city.",
            ["Paris is the capital of France", "and a lovely city."],
        ),
        # ...nor inside a number or after one...
        (
            "It costs about 3,000 euros to fly there today.",
            ["It costs about 3,000 euros", "to fly there today."],
        ),
        (
            "We walked for about 3 000 metres along the river.",
            ["We walked for about 3 000 metres", "along the river."],
        ),
        (
            "The trip takes 1.5 hours by the fast train.",
            ["The trip takes 1.5 hours", "by the fast train."],
        ),
        # ...nor after an abbreviation or an initial.
        (
            "Please go and ask Dr. Smith about it now.",
            ["Please go and ask Dr. Smith", "about it now."],
        ),
        (
            "Ask J. R. R. Tolkien about the ring today.",
            ["Ask J. R. R. Tolkien", "about the ring today."],
        ),
        # Portuguese and Spanish.
        (
            "A capital de Portugal é Lisboa, uma cidade muito bonita.",
            ["A capital de Portugal é Lisboa,", "uma cidade muito bonita."],
        ),
        (
            "La capital de España es Madrid y tiene muchos museos.",
            ["La capital de España es Madrid", "y tiene muchos museos."],
        ),
        (
            "Fale com a Sra. Silva sobre o jantar de hoje.",
            ["Fale com a Sra. Silva", "sobre o jantar de hoje."],
        ),
    ],
)
def test_the_first_piece_ends_early_at_a_clause_or_after_five_words(
    text: str, expected: list[str]
) -> None:
    assert _pieces(text) == expected
    # Token by token gives the same pieces.
    rng = random.Random(7)
    for _ in range(5):
        assert _stream(SentenceSplitter(), text, rng) == expected


def test_only_the_first_piece_ends_early() -> None:
    text = "Yes. The capital city of France has been Paris for a long time, they say."
    assert _pieces(text) == [
        "Yes.",
        "The capital city of France has been Paris for a long time, they say.",
    ]


def test_the_early_piece_waits_for_the_word_after_the_cut() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("The capital city of France ") == []  # "France" may end it
    assert splitter.feed("is") == []
    assert splitter.feed(" ") == ["The capital city of France"]
    assert splitter.flush() == ["is"]


def test_flush_keeps_a_short_reply_whole() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("one two three four five six") == []
    assert splitter.flush() == ["one two three four five six"]
    assert splitter.feed("Of course, yes") == []
    assert splitter.flush() == ["Of course, yes"]


def test_a_newline_after_the_next_word_keeps_the_line_whole() -> None:
    assert _pieces("The capital city of France is\nParis.") == [
        "The capital city of France is",
        "Paris.",
    ]


def test_the_word_count_and_the_clause_length_are_settings() -> None:
    text = "The capital city of France has been Paris for a very long time."
    assert _pieces(text, first_words=8) == [
        "The capital city of France has been Paris",
        "for a very long time.",
    ]
    assert _pieces("Of course, Paris is the capital.", min_clause_chars=20) == [
        "Of course, Paris is the capital."
    ]
    # Above max_chars: no early piece at all, as split_sentences.
    assert _pieces(text, min_clause_chars=10**9) == [text]
    with pytest.raises(ValueError, match="first_words"):
        SentenceSplitter(first_words=1)


def _short_first(text: str) -> list[str]:
    splitter = SentenceSplitter()
    splitter.short_first = True
    return splitter.feed(text) + splitter.flush()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Where a verb follows its subject, or a subordinate clause begins.
        ("A spider has eight legs and eight eyes.", ["A spider", "has eight legs and eight eyes."]),
        ("The capital of France is Paris.", ["The capital of France", "is Paris."]),
        (
            "The sky appears blue because of scattering.",
            ["The sky appears blue", "because of scattering."],
        ),
        # No phrase starts within 4 words: today's five-word rule.
        (
            "The capital city of France has been Paris for a very long time.",
            ["The capital city of France", "has been Paris for a very long time."],
        ),
        (
            "William Shakespeare wrote Romeo and Juliet.",
            ["William Shakespeare wrote Romeo and Juliet."],
        ),
        # Once it holds a verb, before a preposition or conjunction.
        (
            "I'm sorry for any confusion, but I cannot help.",
            ["I'm sorry", "for any confusion, but I cannot help."],
        ),
        ("I’m here to help you.", ["I’m here", "to help you."]),
        ("I can help with that today.", ["I can help", "with that today."]),
        ("I am sorry for the delay.", ["I am sorry", "for the delay."]),
        # Without a verb, a preposition is no place to stop.
        ("The road to the old town is long.", ["The road to the old", "town is long."]),
        ("The history of Rome is long.", ["The history of Rome", "is long."]),
        # Never a one-word piece.
        ("Paris is the capital of France.", ["Paris is the capital of France."]),
        ("The sky is blue.", ["The sky", "is blue."]),
    ],
)
def test_a_short_first_piece_ends_where_a_phrase_begins(text: str, expected: list[str]) -> None:
    assert _short_first(text) == expected
    rng = random.Random(3)
    for _ in range(5):
        splitter = SentenceSplitter()
        splitter.short_first = True
        assert _stream(splitter, text, rng) == expected


def test_without_short_first_the_first_piece_keeps_todays_length() -> None:
    assert _pieces("A spider has eight legs and eight eyes.") == [
        "A spider has eight legs",
        "and eight eyes.",
    ]


def test_only_a_fast_enough_reply_keeps_the_speaker_fed() -> None:
    assert keeps_speaker_fed(40.0)  # SmolLM2 on this VM
    assert not keeps_speaker_fed(5.0)  # a big model on a Pi
    assert not keeps_speaker_fed(None) and not keeps_speaker_fed(0.0)
    # A slower voice needs a faster reply.
    assert keeps_speaker_fed(20.0, tts_rtf=0.2) and not keeps_speaker_fed(20.0, tts_rtf=0.6)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A phrase begins within 4 words: cut there.
        ("How many legs does a spider have?", ["How many legs", "does a spider have?"]),
        ("What color is the sky on a clear day?", ["What color", "is the sky on a clear day?"]),
        # Else from the 4th word on, before a word that begins a phrase.
        ("What is the capital of France?", ["What is the capital", "of France?"]),
        ("What is the boiling point of water?", ["What is the boiling point", "of water?"]),
        # No such word before the end: whole, never a one-word piece.
        ("Who wrote Romeo and Juliet?", ["Who wrote Romeo and Juliet?"]),
        ("Hello.", ["Hello."]),
        # Only the first piece is cut short; later ones are sentences.
        (
            "The capital of France is Paris. It is known for the Eiffel Tower.",
            ["The capital of France", "is Paris.", "It is known for the Eiffel Tower."],
        ),
    ],
)
def test_a_whole_text_starts_with_a_short_piece(text: str, expected: list[str]) -> None:
    assert spoken_pieces(text) == expected


def test_a_whole_text_is_spoken_whole_and_in_order() -> None:
    for text in CORPUS:
        pieces = spoken_pieces(text)
        assert " ".join(pieces).split() == " ".join(_pieces(text)).split()
