"""clean_for_speech: markdown, code, emoji and numbers become plain spoken words."""

from __future__ import annotations

import re

import pytest

from assistant.stages.tts.text import clean_for_speech, number_words, ordinal_words, year_words


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (42, "forty-two"),
        (100, "one hundred"),
        (101, "one hundred one"),
        (999, "nine hundred ninety-nine"),
        (1000, "one thousand"),
        (1001, "one thousand one"),
        (21_500, "twenty-one thousand five hundred"),
        (1_000_000, "one million"),
        (3_000_000_017, "three billion seventeen"),
        (2_500_000_000_000, "two trillion five hundred billion"),
        (-12, "minus twelve"),
    ],
)
def test_number_words(n: int, words: str) -> None:
    assert number_words(n) == words


def test_huge_numbers_are_read_digit_by_digit() -> None:
    assert number_words(10**16) == "one " + " ".join(["zero"] * 16)


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (1, "first"),
        (2, "second"),
        (3, "third"),
        (4, "fourth"),
        (5, "fifth"),
        (8, "eighth"),
        (9, "ninth"),
        (12, "twelfth"),
        (20, "twentieth"),
        (21, "twenty-first"),
        (100, "one hundredth"),
        (112, "one hundred twelfth"),
    ],
)
def test_ordinal_words(n: int, words: str) -> None:
    assert ordinal_words(n) == words


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (1999, "nineteen ninety-nine"),
        (1900, "nineteen hundred"),
        (1905, "nineteen oh five"),
        (2000, "two thousand"),
        (2007, "two thousand seven"),
        (2024, "twenty twenty-four"),
    ],
)
def test_year_words(n: int, words: str) -> None:
    assert year_words(n) == words


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("It is 42.", "It is forty-two."),
        ("1,000 people", "one thousand people"),
        ("1,234,567", "one million two hundred thirty-four thousand five hundred sixty-seven"),
        ("3.5 kg", "three point five kg"),
        ("pi is 3.14159", "pi is three point one four one five nine"),
        ("50% off", "fifty percent off"),
        ("2.5% interest", "two point five percent interest"),
        ("$5", "five dollars"),
        ("$1", "one dollar"),
        ("$5.50", "five dollars and fifty cents"),
        ("$0.99", "ninety-nine cents"),
        ("$1,200", "one thousand two hundred dollars"),
        ("$1.5 million", "one point five million dollars"),
        ("£3", "three pounds"),
        ("€20", "twenty euros"),
        ("the 1st and 2nd and 3rd", "the first and second and third"),
        ("the 21st century", "the twenty-first century"),
        ("born in 1999", "born in nineteen ninety-nine"),
        ("since 2005", "since two thousand five"),
        ("In 2024, we", "In twenty twenty-four, we"),
        ("the 1990s", "the nineteen nineties"),
        ("the '80s", "the eighties"),
        ("-5 degrees", "minus five degrees"),
        ("It fell to -3.5 today", "It fell to minus three point five today"),
        ("3:30", "three thirty"),
        ("at 3:05 pm", "at three oh five P M"),
        ("at 7:00", "at seven o'clock"),
        ("at 10am", "at ten A M"),
        ("pages 5-10", "pages five to ten"),
        ("20°C", "twenty degrees Celsius"),
        ("agent 007", "agent zero zero seven"),
        ("version 1.2.3", "version one point two point three"),
        ("#1 fan", "number one fan"),
        ("~5 minutes", "about five minutes"),
        ("an mp3 file", "an mp three file"),
    ],
)
def test_numbers_are_spoken_as_words(text: str, spoken: str) -> None:
    assert clean_for_speech(text) == spoken


def test_a_four_digit_count_without_year_context_is_a_cardinal() -> None:
    assert (
        clean_for_speech("I have 1999 coins")
        == "I have one thousand nine hundred ninety-nine coins"
    )


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("**Hello**", "Hello"),
        ("__Hello__ *there* _you_", "Hello there you"),
        ("~~old~~ new", "old new"),
        ("# Title\nBody text.", "Title. Body text."),
        ("### Steps ###", "Steps."),
        ("Run `ls -la` now.", "Run ls -la now."),
        ("See [the docs](https://example.com/docs).", "See the docs."),
        ("![a cat](cat.png)", "a cat"),
        ("Visit https://example.com today", "Visit a link today"),
        ("> A quote.", "A quote."),
        ("- apples\n- pears\n* plums", "apples. pears. plums."),
        ("1. First step\n2) Second step:", "First step. Second step"),
        ("| Name | Age |\n|------|----:|\n| Bob | 7 |", "Name, Age. Bob, seven."),
        ("Line one\n\n---\n\nLine two", "Line one Line two"),
        ("a <b>bold</b> move", "a bold move"),
        ("snake_case_name", "snake case name"),
    ],
)
def test_markdown_is_stripped(text: str, spoken: str) -> None:
    assert clean_for_speech(text) == spoken


def test_fenced_code_blocks_are_removed_entirely() -> None:
    text = "Try this:\n```python\nprint('hi')  # 42 **x**\n```\nThen run it."
    assert clean_for_speech(text) == "Try this: Then run it."


def test_an_unterminated_fence_drops_the_rest() -> None:
    assert clean_for_speech("Here is code:\n```bash\nrm -rf /tmp/x\n") == "Here is code"


def test_tilde_fences_are_removed_too() -> None:
    assert clean_for_speech("A.\n~~~\ncode\n~~~\nB.") == "A. B."


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Great! 😀", "Great!"),
        ("Thumbs up 👍🏽 from me.", "Thumbs up from me."),
        ("Family 👨‍👩‍👧 time", "Family time"),
        ("Sunny ☀️ day", "Sunny day"),
        ("Flag 🇫🇷 here", "Flag here"),
        ("Done ✅.", "Done."),
        ("Go → there", "Go there"),
    ],
)
def test_emoji_and_pictographs_are_removed(text: str, spoken: str) -> None:
    assert clean_for_speech(text) == spoken


def test_whitespace_collapses() -> None:
    assert clean_for_speech("  Hello,\n\n   world \t again  ") == "Hello, world again"


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "😀🎉", "***", "```\ncode\n```", "---", "| |"])
def test_unspeakable_text_becomes_empty(text: str) -> None:
    assert clean_for_speech(text) == ""


def test_plain_text_passes_through_unchanged() -> None:
    text = "Dr. Smith said hello, and we left... It was fine! Wasn't it?"
    assert clean_for_speech(text) == text


def test_no_markup_characters_survive() -> None:
    text = "# **Top** _tips_:\n1. Use `git`\n2. ~~Never~~ *always* test 🎉\n> ok"
    spoken = clean_for_speech(text)
    assert not set("*_#`~>|") & set(spoken)
    assert spoken == "Top tips: Use git. Never always test. ok"


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("It takes about 5-10.", "It takes about five to ten."),
        ("Wait 5-10, then stir.", "Wait five to ten, then stir."),
        ("Read pages 10-20.", "Read pages ten to twenty."),
        ("Version 1.2-3.4 stays", "Version one point two-three point four stays"),
    ],
)
def test_ranges_before_a_stop_or_comma_are_read_as_ranges(text: str, spoken: str) -> None:
    assert clean_for_speech(text) == spoken


def test_a_leading_number_is_kept_unless_the_text_is_a_numbered_list() -> None:
    assert clean_for_speech("42. That is the answer to six times seven.") == (
        "forty-two. That is the answer to six times seven."
    )
    assert clean_for_speech("3) Stir well.") == "three. Stir well."
    assert clean_for_speech("2. Mix.\n3. Bake.") == "Mix. Bake."
    assert clean_for_speech("7. Lucky.\n42. Answer.") == "seven. Lucky. forty-two. Answer."


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("5 * 6 = 30.", "five times six equals thirty."),
        ("3×4=12", "three times four equals twelve"),
        ("2 x 3 = -6", "two times three equals minus six"),
        ("Add 1/2 cup, then 3/4.", "Add one half cup, then three quarters."),
        ("1/4, 1/3 and 2/3", "one quarter, one third and two thirds"),
        ("About 7/8 of it.", "About seven over eight of it."),
        ("On 12/25/2024.", "On twelve / twenty-five / two thousand twenty-four."),
    ],
)
def test_arithmetic_and_fractions_are_read_as_words(text: str, spoken: str) -> None:
    assert clean_for_speech(text) == spoken


@pytest.mark.parametrize(
    ("language", "text", "spoken"),
    [
        ("pt", "Tenho **42** anos e custa $5 😀", "Tenho 42 anos e custa $5"),
        ("pt", "5 * 6 = 30. Veja https://example.com", "5 vezes 6 igual a 30. Veja um link"),
        ("es", "## Paso 1\nSon 3,5 km", "Paso 1. Son 3,5 km"),
        ("es", "2 x 3 = 6", "2 por 3 igual a 6"),
        ("en", "I am 42", "I am forty-two"),
    ],
)
def test_numbers_are_spelled_out_in_english_only(language, text, spoken) -> None:
    assert clean_for_speech(text, language) == spoken


# -- found by fuzzing (tests/stages/tts/test_fuzz_text.py) ---------------------


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("1" * 5000, " ".join(["one"] * 5000)),
        ("the " + "2" * 5000 + "th", "the " + " ".join(["two"] * 4999) + " second"),
        ("$" + "3" * 5000, " ".join(["three"] * 5000) + " dollars"),
        ("4" * 5000 + "%", " ".join(["four"] * 5000) + " percent"),
        ("5" * 5000 + ".5", " ".join(["five"] * 5000) + " point five"),
    ],
    ids=["integer", "ordinal", "currency", "percent", "decimal"],
)
def test_numbers_too_long_for_int_are_read_digit_by_digit(text: str, spoken: str) -> None:
    """int() refuses more than 4300 digits: these raised ValueError."""
    assert clean_for_speech(text) == spoken


def test_number_words_of_an_int_too_long_for_str() -> None:
    assert number_words(7 * 10**5000) == "seven " + " ".join(["zero"] * 5000)


@pytest.mark.parametrize("language", ["en", "pt", "es"])
def test_control_and_invisible_characters_are_dropped(language: str) -> None:
    """They reached the synthesizer; a lone surrogate cannot even be encoded."""
    text = "\x00He\x07l\x1blo\u200b wo\u200frl\u202ed\ufeff\ud800\ue000\U000e0001 \x1fagain\x7f"
    assert clean_for_speech(text, language) == "Hello world again"


@pytest.mark.parametrize("symbol", ["▶️", "◀", "■", "▪", "‼️", "⤴"])
def test_emoji_style_symbols_are_removed(symbol: str) -> None:
    assert clean_for_speech(f"Press {symbol} now") == "Press now"


def test_a_link_whose_target_has_parentheses_is_read_as_its_text() -> None:
    text = "See [Python](https://en.wikipedia.org/wiki/Python_(programming_language)) now."
    assert clean_for_speech(text) == "See Python now."


@pytest.mark.parametrize(
    "text",
    [
        "# a" + " " * 100_000 + "b",  # cubic: never finished
        " " * 100_000 + "x",  # quadratic table separator: minutes
        "**a " * 25_000,  # quadratic bold: minutes
        "[a](" * 75_000,  # quadratic links: minutes
        "[" * 100_000,
        "9" * 100_000 + "x",  # quadratic percent and decimal: minutes
        "1" + ",111" * 25_000,
    ],
    ids=["header", "table", "bold", "links", "brackets", "digits", "commas"],
)
def test_long_runs_of_markup_or_digits_complete(text: str) -> None:
    """Each took from minutes to hours (backtracking); now linear. No timing
    is asserted: the test completing is the check."""
    spoken = clean_for_speech(text)
    assert spoken == spoken.strip() and not set("*_#`~") & set(spoken)


@pytest.mark.parametrize("language", ["en", "pt", "es"])
def test_words_made_inside_angle_brackets_are_said_the_same_twice(language: str) -> None:
    # Found by fuzzing: "<#0>" became "<número 0>", which a second pass took
    # for a tag; so did "<0/0>" ("<zero over zero>") and "<A<A>>" ("<A >").
    once = clean_for_speech("<#0> and <~5>, <0/0> or <A<A>>", language)
    assert re.findall(r"[^\W_]+", clean_for_speech(once, language)) == re.findall(r"[^\W_]+", once)
    assert "0" in once or "zero" in once
