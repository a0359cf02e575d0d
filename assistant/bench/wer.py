"""Word error rate, for comparing recognizers on test speech.

Both texts are normalized the same way before they are compared, so only
the words count:

* case is folded, and apostrophes are dropped ("What's" = "whats");
* other punctuation separates words ("twenty-five" = "twenty five");
* whole numbers written in digits become English words ("8" = "eight",
  "1,500" = "one thousand five hundred"), since Whisper writes digits where
  a reference usually spells the number out; "%" becomes "percent".

WER is (substitutions + deletions + insertions) / reference words, from the
word-level edit distance.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from assistant.stages.tts.text import number_words

_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?!\d)|\d+")
_NOT_WORD = re.compile(r"[^\w\s]|_")


def _spell(match: re.Match[str]) -> str:
    return f" {number_words(int(match.group().replace(',', '')))} "


def normalize(text: str) -> list[str]:
    """The words of ``text`` as compared (see the module docstring)."""
    text = text.lower().replace("'", "").replace("\u2019", "").replace("%", " percent ")
    text = _NUMBER.sub(_spell, text)
    return _NOT_WORD.sub(" ", text).split()


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Fewest word substitutions, deletions and insertions turning
    ``reference`` into ``hypothesis``."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, 1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, 1):
            current.append(
                min(
                    previous[j] + 1,  # deletion
                    current[j - 1] + 1,  # insertion
                    previous[j - 1] + (ref_word != hyp_word),  # substitution or match
                )
            )
        previous = current
    return previous[-1]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word errors, reference words) after normalizing both texts."""
    ref = normalize(reference)
    return edit_distance(ref, normalize(hypothesis)), len(ref)


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of one pair; an empty reference gives 0.0 for an
    empty hypothesis and 1.0 otherwise."""
    errors, words = word_errors(reference, hypothesis)
    if words == 0:
        return 0.0 if errors == 0 else 1.0
    return errors / words


def corpus_wer(pairs: Iterable[tuple[str, str]]) -> float:
    """WER over many (reference, hypothesis) pairs: all errors over all
    reference words, so long sentences weigh more; 0.0 with no words."""
    errors = words = 0
    for reference, hypothesis in pairs:
        e, n = word_errors(reference, hypothesis)
        errors += e
        words += n
    return errors / words if words else 0.0
