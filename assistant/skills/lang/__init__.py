"""Every per-language table of the skills, one module per language.

Each of `en`, `pt` and `es` holds the same names: the intent patterns and
the polite words around them, number and time-unit words, the device words,
and every sentence the skills say. `language` gathers one module's tables
into a `Language`; nothing else in the skills holds words of a language.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from assistant.skills.lang import en, es, pt

_MODULES: dict[str, ModuleType] = {"en": en, "pt": pt, "es": es}
LANGUAGES = tuple(_MODULES)
"""The language codes the skills speak."""

UNIT_WORDS: dict[str, int] = {word: s for m in _MODULES.values() for word, s in m.UNITS.items()}
"""Time-unit words of every language, in seconds: a duration is read the same
whichever language said it."""
JOINERS: tuple[str, ...] = tuple(m.NUMBERS["joiner"] for m in _MODULES.values())
"""The "and" of every language, as it joins the parts of a duration."""


@dataclass(frozen=True)
class Language:
    """One language's tables; see `assistant.skills.lang.en` for what each holds."""

    code: str
    patterns: dict[str, list[str]]
    filler: str
    trailer: str
    timer_word: str
    numbers: dict[str, Any]
    units: dict[str, int]
    half_words: tuple[str, ...]
    and_a_half: str
    rewrites: list[tuple[str, str]]
    label_articles: tuple[str, ...]
    all_words: tuple[str, ...]
    replies: dict[str, Any]
    action_words: dict[str, set[str]]
    status_start: set[str]
    status_anywhere: set[str]
    leading_filler: set[str]
    pronouns: set[str]
    device_commands: list[str]


def language(code: str) -> Language:
    """The tables of language ``code``; raise ValueError naming the codes allowed."""
    module = _MODULES.get(code)
    if module is None:
        raise ValueError(
            f"skills language {code!r} is not supported; use one of {', '.join(LANGUAGES)}"
        )
    return Language(
        code=code,
        patterns=module.PATTERNS,
        filler=module.FILLER,
        trailer=module.TRAILER,
        timer_word=module.TIMER_WORD,
        numbers=module.NUMBERS,
        units=module.UNITS,
        half_words=module.HALF_WORDS,
        and_a_half=module.AND_A_HALF,
        rewrites=module.REWRITES,
        label_articles=module.LABEL_ARTICLES,
        all_words=module.ALL_WORDS,
        replies=module.REPLIES,
        action_words=module.ACTION_WORDS,
        status_start=module.STATUS_START,
        status_anywhere=module.STATUS_ANYWHERE,
        leading_filler=module.LEADING_FILLER,
        pronouns=module.PRONOUNS,
        device_commands=module.DEVICE_COMMANDS,
    )


def recognised(code: str) -> tuple[Language, ...]:
    """The languages a profile in ``code`` recognises, in the order tried: its
    own, then English (people mix in English commands)."""
    first = language(code)
    return (first,) if code == "en" else (first, language("en"))
