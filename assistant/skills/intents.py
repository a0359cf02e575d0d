"""Appliance commands recognised without the LLM: a small, pure intent matcher.

`IntentMatcher.match` turns a transcript into an `Intent` (a name and its
slots) or None. It is tolerant of speech-recognition errors: text is
lowercased, accents and punctuation are dropped, number words become digits
("five minutes" -> "5 minutes"), and a word that is not in the command
vocabulary is replaced by the closest one (difflib), so "timmer" and
"cansel" still match. Patterns match the *whole* utterance (after polite
filler such as "please" or "can you"), so a question that merely contains a
command word ("how do I stop a dog barking") goes to the LLM.

Intent names and slots:

=============== ====================================================
``time``        -
``date``        -
``timer.set``   ``seconds`` (int), ``label`` (str, may be empty)
``timer.list``  -
``timer.cancel`` ``all`` (bool), ``label`` (str: a name, or a duration
                such as "5 minute", may be empty)
``stop``        -  (stop, cancel, be quiet)
``repeat``      -
``volume.up``   -
``volume.down`` -
``volume.set``  ``percent`` (int)
``reset``       -  (forget the conversation)
``identity``    -  (which model and voice are in use)
=============== ====================================================

English patterns are always tried; Portuguese (``pt``) or Spanish (``es``)
patterns are tried first when the language profile says so.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field

from assistant.skills import intent_patterns as ip

LANGUAGES = ("en", "pt", "es")

FUZZY_CUTOFF = 0.8
"""difflib similarity a misheard word needs to count as a command word."""
FUZZY_MIN_LEN = 4
"""Shorter words are never corrected: too many short words look alike."""


@dataclass(frozen=True)
class Intent:
    name: str
    slots: dict[str, object] = field(default_factory=dict)
    language: str = "en"
    """Language of the pattern that matched."""


# -- number words ----------------------------------------------------------


def _counting(words: str, first: int, step: int = 1) -> dict[str, int]:
    """{"twenty": 20, "thirty": 30, ...} from "twenty thirty ...", 20, 10."""
    return {word: first + i * step for i, word in enumerate(words.split(" "))}


_NUMBERS = {
    "en": {
        "ones": _counting(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen "
            "fourteen fifteen sixteen seventeen eighteen nineteen",
            0,
        ),
        "tens": _counting("twenty thirty forty fifty sixty seventy eighty ninety", 20, 10),
        "hundred": {},
        "times_hundred": "hundred",
        "joiner": "and",
        "articles": {"a": 1, "an": 1},
    },
    "pt": {
        "ones": {
            **_counting(
                "zero um dois tres quatro cinco seis sete oito nove dez onze doze treze "
                "catorze quinze dezesseis dezessete dezoito dezenove",
                0,
            ),
            "uma": 1,
            "duas": 2,
            "quatorze": 14,
            "dezasseis": 16,
            "dezassete": 17,
            "dezanove": 19,
        },
        "tens": _counting(
            "vinte trinta quarenta cinquenta sessenta setenta oitenta noventa", 20, 10
        ),
        "hundred": {"cem": 100, "cento": 100},
        "times_hundred": "",
        "joiner": "e",
        "articles": {"um": 1, "uma": 1},
    },
    "es": {
        "ones": {
            **_counting(
                "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece "
                "catorce quince dieciseis diecisiete dieciocho diecinueve veinte veintiuno "
                "veintidos veintitres veinticuatro veinticinco veintiseis veintisiete "
                "veintiocho veintinueve",
                0,
            ),
            "un": 1,
            "una": 1,
        },
        "tens": _counting("treinta cuarenta cincuenta sesenta setenta ochenta noventa", 30, 10),
        "hundred": {"cien": 100, "ciento": 100},
        "times_hundred": "",
        "joiner": "y",
        "articles": {"un": 1, "una": 1},
    },
}

_UNIT_WORDS = {
    "second": 1, "seconds": 1, "sec": 1, "secs": 1, "segundo": 1, "segundos": 1,
    "minute": 60, "minutes": 60, "min": 60, "mins": 60, "minuto": 60, "minutos": 60,
    "hour": 3600, "hours": 3600, "hr": 3600, "hrs": 3600, "hora": 3600, "horas": 3600,
}  # fmt: skip

_PHRASES = {
    "en": [("half an hour", "30 minutes"), ("half a minute", "30 seconds")],
    "pt": [("meia hora", "30 minutos"), ("meio minuto", "30 segundos"), ("por cento", "percent")],
    "es": [
        ("media hora", "30 minutos"),
        ("medio minuto", "30 segundos"),
        ("por ciento", "percent"),
    ],
}


def _parse_number(words: list[str], i: int, table: dict) -> tuple[int, int] | None:
    """The number spelled from ``words[i]``: (value, index after it), or None."""
    ones, tens, joiner = table["ones"], table["tens"], table["joiner"]
    value, j = 0, i

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

    if words[j] in table["hundred"]:
        value, j = table["hundred"][words[j]], j + 1
        if j + 1 < len(words) and words[j] == joiner:
            more, k = rest(j + 1)
            if k > j + 1:
                return value + more, k
        more, k = rest(j)
        return value + more, k
    if (
        table["times_hundred"]
        and words[j] in ones
        and j + 1 < len(words)
        and words[j + 1] == table["times_hundred"]
    ):
        value, j = ones[words[j]] * 100, j + 2
        if j < len(words) and words[j] == joiner:
            more, k = rest(j + 1)
            if k > j + 1:
                return value + more, k
        more, k = rest(j)
        return value + more, k
    value, k = rest(j)
    return (value, k) if k > j else None


def numbers_to_digits(words: list[str], languages: tuple[str, ...]) -> list[str]:
    """Replace spelled numbers with digits. Articles ("a", "um", "una") count
    as 1 only before a unit ("a minute"), where they cannot be articles."""
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        next_word = words[i + 1] if i + 1 < len(words) else ""
        done = False
        for lang in languages:
            table = _NUMBERS[lang]
            if word in table["articles"]:
                if next_word in _UNIT_WORDS:
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


# "1 hour and a half", "2 and a half minutes", "1 hora e meia", "2 minutos y
# medio", after number words became digits: the half becomes the next unit.
_HALF_UNIT = r"(?:hours?|hrs?|horas?|minutes?|mins?|minutos?|seconds?|secs?|segundos?)"
_HALF_AFTER = re.compile(rf"\b(\d+) ({_HALF_UNIT}) (?:and a half|e mei[ao]|y medi[ao])\b")
_HALF_BETWEEN = re.compile(rf"\b(\d+) (?:and a half|e mei[ao]|y medi[ao]) ({_HALF_UNIT})\b")
_HALF_OF = {3600: "30 minutes", 60: "30 seconds", 1: ""}


def _halves(text: str) -> str:
    def half(count: str, unit: str) -> str:
        rest = _HALF_OF[_UNIT_WORDS[unit]]
        return f"{count} {unit} {rest}".rstrip()

    text = _HALF_AFTER.sub(lambda m: half(m.group(1), m.group(2)), text)
    return _HALF_BETWEEN.sub(lambda m: half(m.group(1), m.group(2)), text)


def parse_duration(text: str) -> int:
    """Seconds in a normalised duration such as "1 hour 30 minutes"; 0 if none."""
    total = 0
    for count, unit in re.findall(r"(\d+) ([a-z]+)", text):
        total += int(count) * _UNIT_WORDS.get(unit, 0)
    return total


def _compile(lang: str) -> list[tuple[str, re.Pattern[str]]]:
    compiled = []
    for name, patterns in ip.PATTERNS[lang].items():
        for pattern in patterns:
            text = pattern.replace("DUR", ip.DUR).replace("UNIT", ip.UNIT)
            text = text.replace("TIMER", ip.TIMER_WORD[lang])
            compiled.append((name, re.compile(text)))
    return compiled


def _vocabulary(lang: str) -> set[str]:
    """Every literal word of the language's patterns and number words."""
    words: set[str] = set()
    for patterns in ip.PATTERNS[lang].values():
        for pattern in patterns:
            literal = re.sub(r"\?P<\w+>|\\[a-z]|\[[^\]]*\]", " ", pattern)
            words.update(re.findall(r"[a-z]+", literal))
    for word in ("DUR", "UNIT", "TIMER"):
        words.discard(word.lower())
    words.update(_UNIT_WORDS)
    words.update(("half", "meia", "meio", "media", "medio"))
    words.update(re.findall(r"[a-z]+", ip.TIMER_WORD[lang]))
    table = _NUMBERS[lang]
    words.update(table["ones"], table["tens"], table["hundred"])
    return {w for w in words if len(w) >= 2}


def normalize(text: str) -> str:
    """Lowercase, accents and punctuation dropped, one space between words."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("%", " percent ").replace("'", "").replace("\u2019", "")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


class IntentMatcher:
    """Matches transcripts against the command patterns of one language profile.

    Pure and thread-safe after construction (compiled patterns are read-only).
    """

    def __init__(self, language: str = "en") -> None:
        if language not in LANGUAGES:
            raise ValueError(
                f"intent language {language!r} is not supported; use one of {', '.join(LANGUAGES)}"
            )
        self.language = language
        self._languages = (language, "en") if language != "en" else ("en",)
        self._compiled = [(lang, _compile(lang)) for lang in self._languages]
        self._vocab = sorted(set().union(*(_vocabulary(lang) for lang in self._languages)))
        self._vocab_set = set(self._vocab)
        self._strip = [
            (
                re.compile(rf"^(?:(?:{ip.FILLER[lang]}) )+"),
                re.compile(rf"(?: (?:{ip.TRAILER[lang]}))+$"),
            )
            for lang in self._languages
        ]

    def words(self, text: str) -> list[str]:
        """The normalised, spelling-corrected words, with numbers as digits."""
        words = []
        for word in normalize(text).split():
            if word in self._vocab_set or word.isdigit() or len(word) < FUZZY_MIN_LEN:
                words.append(word)
                continue
            close = difflib.get_close_matches(word, self._vocab, n=1, cutoff=FUZZY_CUTOFF)
            words.append(close[0] if close else word)
        joined = " ".join(words)
        for lang in self._languages:
            for phrase, replacement in _PHRASES[lang]:
                joined = re.sub(rf"\b{phrase}\b", replacement, joined)
        return _halves(" ".join(numbers_to_digits(joined.split(), self._languages))).split()

    def match(self, transcript: str) -> Intent | None:
        """The command in ``transcript``, or None when it is not one (ask the LLM)."""
        text = " ".join(self.words(transcript))
        if not text:
            return None
        for (lang, compiled), (head, tail) in zip(self._compiled, self._strip, strict=True):
            core = tail.sub("", head.sub("", text)) or text
            for candidate in dict.fromkeys((core, text)):
                for name, pattern in compiled:
                    found = pattern.fullmatch(candidate)
                    if found:
                        return Intent(name, _slots(name, found), lang)
        return None


def _slots(name: str, found: re.Match[str]) -> dict[str, object]:
    groups = {k: v for k, v in found.groupdict().items() if v}
    if name == "timer.set":
        return {"seconds": parse_duration(groups.get("dur", "")), "label": groups.get("label", "")}
    if name == "timer.cancel":
        label = groups.get("label", "").strip()
        label = re.sub(r"^(the|my|o|os|el|los) ", "", label)
        return {"all": "all" in groups or label in ("all", "every"), "label": label}
    if name == "volume.set":
        if "max" in groups:
            return {"percent": 100}
        percent = int(groups["pct"])
        # ASR rarely hears "%": "volume 7" means seven out of ten.
        if percent <= 10 and "percent" not in found.group(0):
            percent *= 10
        return {"percent": percent}
    return {}
