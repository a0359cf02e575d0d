"""Text helpers for recognition: normalising, numbers spelled as words, durations.

Pure functions over strings; the word tables come from `assistant.skills.lang`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from assistant.skills.lang import JOINERS, UNIT_WORDS, Language

UNIT = "(?:" + "|".join(sorted(UNIT_WORDS, key=len, reverse=True)) + ")"
"""A regular expression for one time-unit word of any language."""
_JOIN = "|".join(f" {word}" for word in JOINERS)
DUR = rf"(?P<dur>\d+ {UNIT}(?:(?:{_JOIN})? \d+ {UNIT})*)"
"""A regular expression for a duration after `numbers_to_digits`, such as
"5 minutes and 30 seconds"; its text is the ``dur`` group."""

_HALF_OF = {3600: "30 minutes", 60: "30 seconds", 1: ""}


def normalize(text: str) -> str:
    """Lowercase, accents and punctuation dropped, one space between words.
    Invisible format characters (zero-width joiners and spaces, soft hyphens,
    direction marks) are dropped without splitting the word they are in."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(
        c for c in text if not unicodedata.combining(c) and unicodedata.category(c) != "Cf"
    )
    text = text.replace("%", " percent ").replace("'", "").replace("\u2019", "")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def _parse_number(words: list[str], i: int, table: dict) -> tuple[int, int] | None:
    """The number spelled from ``words[i]``: (value, index after it), or None."""
    ones, tens, joiner = table["ones"], table["tens"], table["joiner"]

    def rest(j: int) -> tuple[int, int]:
        """Tens and ones after a hundred or at the start."""
        if j < len(words) and words[j] in tens:
            v = tens[words[j]]
            j += 1
            after = words[j + 1] if j + 1 < len(words) else ""
            if j < len(words) and words[j] == joiner and ones.get(after, 10) < 10:
                return v + ones[after], j + 2
            if j < len(words) and words[j] in ones and 0 < ones[words[j]] < 10:
                return v + ones[words[j]], j + 1
            return v, j
        if j < len(words) and words[j] in ones:
            return ones[words[j]], j + 1
        return 0, j

    def hundreds(value: int, j: int) -> tuple[int, int]:
        if j < len(words) and words[j] == joiner:
            more, k = rest(j + 1)
            if k > j + 1:
                return value + more, k
        more, k = rest(j)
        return value + more, k

    if words[i] in table["hundred"]:
        return hundreds(table["hundred"][words[i]], i + 1)
    times = table["times_hundred"]
    if times and words[i] in ones and i + 1 < len(words) and words[i + 1] == times:
        return hundreds(ones[words[i]] * 100, i + 2)
    value, k = rest(i)
    return (value, k) if k > i else None


def numbers_to_digits(words: list[str], languages: Sequence[Language]) -> list[str]:
    """Replace spelled numbers with digits, trying ``languages`` in order.

    Articles ("a", "um", "una") count as 1 only before a unit ("a minute"),
    where they cannot be articles.
    """
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        next_word = words[i + 1] if i + 1 < len(words) else ""
        done = False
        for lang in languages:
            table = lang.numbers
            if word in table["articles"]:
                if next_word in UNIT_WORDS:
                    out.append(str(table["articles"][word]))
                    i += 1
                    done = True
                    break
                continue
            parsed = _parse_number(words, i, table)
            if parsed is not None:
                out.append(str(parsed[0]))
                i = parsed[1]
                done = True
                break
        if not done:
            out.append(word)
            i += 1
    return out


def halves(text: str, languages: Sequence[Language]) -> str:
    """ "1 hour and a half" and "2 and a half minutes" (after `numbers_to_digits`)
    with the half as the next unit: "1 hour 30 minutes"."""
    half = "|".join(lang.and_a_half for lang in languages)

    def spelled(found: re.Match[str]) -> str:
        count, unit = found.group(1), found.group(2)
        return f"{count} {unit} {_HALF_OF[UNIT_WORDS[unit]]}".rstrip()

    text = re.sub(rf"\b(\d+) ({UNIT}) (?:{half})\b", spelled, text)
    return re.sub(rf"\b(\d+) (?:{half}) ({UNIT})\b", spelled, text)


MAX_COUNT = 10**9
"""A count in a duration saturates here: far past any timer allowed, and
`int` refuses strings of more than 4300 digits."""


def parse_duration(text: str) -> int:
    """Seconds in a normalised duration such as "1 hour 30 minutes"; 0 if none.
    Each count saturates at `MAX_COUNT`, so the result stays a plain int."""
    total = 0
    for count, unit in re.findall(r"(\d+) ([a-z]+)", text):
        digits = count.lstrip("0") or "0"
        value = int(digits) if len(digits) <= len(str(MAX_COUNT)) else MAX_COUNT
        total += min(value, MAX_COUNT) * UNIT_WORDS.get(unit, 0)
    return total
