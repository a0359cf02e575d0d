"""The words the sentence splitter cuts a reply's first piece by, in
English, Portuguese and Spanish: lower-case word lists, and `has_verb`."""

from __future__ import annotations

import re

OPENERS = "\"'“‘(["
"""Quotes and brackets that may open a word."""
CLOSERS = "\"'”’)]"
"""Quotes and brackets that may close a word."""

ABBREVIATIONS = frozenset(
    (  # noqa: SIM905 - a word list reads better as one string
        "mr mrs ms dr prof sr jr st mt vs etc cf approx dept est fig gen gov lt col sgt "
        "capt rev hon "
        "sra srta dra av ud uds"  # Portuguese and Spanish
    ).split()
)
"""Lower-case words whose full stop never ends a sentence."""

FUNCTION_WORDS = frozenset(
    (  # noqa: SIM905 - a word list reads better as one string
        # English
        "a an the of to in on at by for from with about into over and or but nor so as "
        "if than then that this these those is are was were be been am my your his her "
        "its our their not no very "
        # Portuguese
        "o os um uma uns umas de do da dos das em no na nos nas ao aos à às para por "
        "pelo pela pelos pelas com e ou mas que se é são meu minha seu sua muito "
        # Spanish
        "el la los las un unos unas del al en con y u pero es son mi mis tu su sus muy"
    ).split()
)
"""Lower-case words an early first piece does not end on: in English,
Portuguese and Spanish, cutting after them sounds like a stumble."""

AUXILIARIES = frozenset(
    (  # noqa: SIM905 - a word list reads better as one string
        "is are was were has have had can could will would should may might must does do did "
        "é são foi eram era tem têm pode podem "  # Portuguese
        "es son fue eran era tiene tienen puede pueden"  # Spanish
    ).split()
)
"""Auxiliaries and copulas: the verbs the splitter knows by their words."""
PHRASE_STARTERS = AUXILIARIES | frozenset(
    (  # noqa: SIM905 - a word list reads better as one string
        "because which who whose where when while "  # English subordinators
        "porque onde quando "  # Portuguese
        "donde cuando"  # Spanish
    ).split()
)
"""Lower-case words before which a short first piece (`short_first`) may
end: the subject is said (an auxiliary or copula follows it), or a
subordinate clause begins."""
LINK_WORDS = frozenset(
    (  # noqa: SIM905 - a word list reads better as one string
        "to for with about in on at by from into than and or but so if "  # English
        "para por com em mas "  # Portuguese
        "con en pero"  # Spanish
    ).split()
)
"""Lower-case words before which a short first piece may also end once it
holds a verb (`has_verb`): the clause is said, and what follows adds to it
("I'm sorry | for any confusion", "I can help | with that")."""
_CONTRACTED_VERB = re.compile(
    r"[^\W\d_]+['’](?:m|re|ve|ll|d)|(?:it|that|there|here|what|he|she|who|let)['’]s"
)
"""A pronoun's contracted verb ("I'm", "you're", "we'll", "it's"), lower case."""


def has_verb(piece: str) -> bool:
    """Whether ``piece`` holds a verb the splitter can tell: one of
    `AUXILIARIES`, "am", or a pronoun's contracted verb."""
    for word in piece.lower().split():
        word = word.strip(OPENERS + CLOSERS + ",;:")
        if word in AUXILIARIES or word == "am" or _CONTRACTED_VERB.fullmatch(word):
            return True
    return False
