"""Recognition: a transcript becomes an `Intent` with its slots, or None.

`Recogniser.recognise` normalises the text once, then tries the appliance
commands and then the device commands, in the profile's language and then
English (tables in `assistant.skills.lang`). None sends the transcript to
the language model. Pure and thread-safe after construction.

Commands tolerate speech-recognition errors: number words become digits
("five minutes" -> "5 minutes"), and a word that is not in the command
vocabulary is replaced by the closest one (difflib), so "timmer" and
"cansel" still match. Patterns match the *whole* utterance (after polite
filler such as "please" or "can you"), so a question that merely contains a
command word ("how do I stop a dog barking") goes to the LLM.

Intent names and slots:

================= ====================================================
``time``          -
``date``          -
``timer.set``     ``seconds`` (int, 0 when no length was heard),
                  ``label`` (str, may be empty)
``timer.list``    -
``timer.cancel``  ``all`` (bool), ``label`` (str: a name, or a duration
                  such as "5 minute", may be empty)
``stop``          -  (stop, cancel, be quiet)
``repeat``        -
``volume.up``     -
``volume.down``   -
``volume.set``    ``percent`` (int, 0 to `MAX_VOLUME_PERCENT`)
``reset``         -  (forget the conversation)
``identity``      -  (which model and voice are in use)
``device.set``    ``device`` (str, a declared name), ``action`` (str),
                  ``allowed`` (dict: declared name -> the actions the
                  words ask for; the only calls a tool call may make)
``device.query``  the same slots; ``action`` and ``allowed`` only read
``device.unknown`` ``device`` (str: the object of "turn on the heater"
                  when no declared device has that name)
================= ====================================================

A device named without an action word ("I bought a new lamp") is no intent:
a mere mention never moves a pin. An utterance of more than
`MAX_COMMAND_WORDS` words is never an intent: it goes to the LLM.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant.skills.devices import ToolSpec
from assistant.skills.lang import UNIT_WORDS, Language, recognised
from assistant.skills.words import DUR, UNIT, halves, normalize, numbers_to_digits, parse_duration

FUZZY_CUTOFF = 0.8
"""difflib similarity a misheard word needs to count as a command word."""
FUZZY_MIN_LEN = 4
"""Shorter words are never corrected: too many short words look alike."""
DEVICE_CUTOFF = 0.75
"""difflib similarity for a misheard device name: "lamb" for "lamp" is 0.75."""
MAX_COMMAND_WORDS = 40
"""Longer utterances are never commands (the longest is about 20 words). So a
pasted essay goes straight to the LLM, and recognition, which compares every
word with difflib, stays a matter of milliseconds whatever the input."""
MAX_VOLUME_PERCENT = 400
"""The highest ``percent`` slot, as `config`'s highest ``tts.volume`` (4.0);
"volume 5000" asks for as loud as it goes."""


@dataclass(frozen=True)
class Intent:
    name: str
    slots: dict[str, object] = field(default_factory=dict)
    language: str = "en"
    """Language of the pattern that matched (the profile's for device intents)."""


class Recogniser:
    """Recognises the commands of one language profile and the declared devices.

    ``devices`` are the declared tools (none: every device command is
    ``device.unknown``, so it can be refused without the LLM).
    """

    def __init__(self, language: str = "en", devices: Sequence[ToolSpec] = ()) -> None:
        self.language = language
        self.languages = recognised(language)
        self.devices = tuple(devices)
        self._compiled = [(lang.code, _compile(lang)) for lang in self.languages]
        self._vocab = sorted(set().union(*(_vocabulary(lang) for lang in self.languages)))
        self._vocab_set = set(self._vocab)
        self._strip = [
            (
                re.compile(rf"^(?:(?:{lang.filler}) )+"),
                re.compile(rf"(?: (?:{lang.trailer}))+$"),
            )
            for lang in self.languages
        ]
        langs = self.languages
        self._device_commands = [re.compile(p) for lang in langs for p in lang.device_commands]
        self._action_words: dict[str, set[str]] = {}
        for lang in langs:
            for action, verbs in lang.action_words.items():
                self._action_words.setdefault(action, set()).update(verbs)
        self._status_start = set().union(*(lang.status_start for lang in langs))
        self._status_anywhere = set().union(*(lang.status_anywhere for lang in langs))
        self._leading_filler = set().union(*(lang.leading_filler for lang in langs))
        self._pronouns = set().union(*(lang.pronouns for lang in langs))

    def recognise(self, transcript: str) -> Intent | None:
        """The intent of ``transcript``, or None when it is none (ask the LLM)."""
        text = normalize(transcript)
        if not text or text.count(" ") >= MAX_COMMAND_WORDS:
            return None
        return self._command(text) or self._device(text, transcript.rstrip().endswith("?"))

    # -- appliance commands --------------------------------------------------

    def command_words(self, text: str) -> list[str]:
        """The words of normalised ``text`` spelling-corrected to the command
        vocabulary, with numbers as digits."""
        words = []
        for word in text.split():
            if word in self._vocab_set or word.isdigit() or len(word) < FUZZY_MIN_LEN:
                words.append(word)
                continue
            close = difflib.get_close_matches(word, self._vocab, n=1, cutoff=FUZZY_CUTOFF)
            words.append(close[0] if close else word)
        joined = " ".join(words)
        for lang in self.languages:
            for phrase, replacement in lang.rewrites:
                joined = re.sub(rf"\b{phrase}\b", replacement, joined)
        digits = " ".join(numbers_to_digits(joined.split(), self.languages))
        return halves(digits, self.languages).split()

    def _command(self, text: str) -> Intent | None:
        text = " ".join(self.command_words(text))
        if not text:
            return None
        for lang, (code, compiled), (head, tail) in zip(
            self.languages, self._compiled, self._strip, strict=True
        ):
            core = tail.sub("", head.sub("", text)) or text
            for candidate in dict.fromkeys((core, text)):
                for name, pattern in compiled:
                    found = pattern.fullmatch(candidate)
                    if found:
                        return Intent(name, _slots(name, found, lang), code)
        return None

    # -- device commands -----------------------------------------------------

    def _device(self, text: str, question_mark: bool) -> Intent | None:
        obj = self._command_object(text)
        if obj is not None and not self._named(obj):
            return Intent("device.unknown", {"device": obj}, self.language)
        named = self._named(text)
        if not named:
            return None
        # A 135M model cannot be trusted to tell "on" from "off" (measured: it
        # said "on" for "turn off the lamp"), so the words decide which calls
        # the grammar offers and the model only decides call or text.
        ordered = text.split()
        words = set(ordered)
        lead = next((w for w in ordered if w not in self._leading_filler), "")
        question = (
            question_mark or lead in self._status_start or bool(words & self._status_anywhere)
        )
        if question:
            wanted = {"status"}
        else:
            wanted = {action for action, verbs in self._action_words.items() if words & verbs}
        allowed = {}
        for spec in named:
            actions = tuple(a for a in spec.actions if a in wanted)
            if actions:
                allowed[spec.name] = actions
        if not allowed:
            return None
        device, actions = next(iter(allowed.items()))
        name = "device.query" if question else "device.set"
        slots = {"device": device, "action": actions[0], "allowed": allowed}
        return Intent(name, slots, self.language)

    def _command_object(self, text: str) -> str | None:
        """The object of a device command ("turn on the heater" -> "heater"),
        or None when ``text`` is not one or its object is a pronoun ("turn it off")."""
        for pattern in self._device_commands:
            found = pattern.fullmatch(text)
            if found and found.group("obj").split()[0] not in self._pronouns:
                return found.group("obj")
        return None

    def _named(self, text: str) -> list[ToolSpec]:
        """The declared devices ``text`` names, in declaration order: whole
        words, with difflib tolerance for misheard words of four letters or
        more, so "turn on the lamb" still finds the lamp."""
        padded = f" {text} "
        words = text.split()
        found = []
        for spec in self.devices:
            for word in (spec.spoken, *spec.synonyms):
                fuzzy = len(word) >= 4 and " " not in word
                if f" {word} " in padded or (
                    fuzzy and difflib.get_close_matches(word, words, n=1, cutoff=DEVICE_CUTOFF)
                ):
                    found.append(spec)
                    break
        return found


def _compile(lang: Language) -> list[tuple[str, re.Pattern[str]]]:
    compiled = []
    for name, patterns in lang.patterns.items():
        for pattern in patterns:
            text = pattern.replace("DUR", DUR).replace("UNIT", UNIT)
            compiled.append((name, re.compile(text.replace("TIMER", lang.timer_word))))
    return compiled


def _vocabulary(lang: Language) -> set[str]:
    """Every literal word of the language's patterns and number words."""
    words: set[str] = set()
    for patterns in lang.patterns.values():
        for pattern in patterns:
            literal = re.sub(r"\?P<\w+>|\\[a-z]|\[[^\]]*\]", " ", pattern)
            words.update(re.findall(r"[a-z]+", literal))
    words.discard("timer")  # the timer word comes from the language's own list
    words.update(UNIT_WORDS, lang.half_words)
    words.update(re.findall(r"[a-z]+", lang.timer_word))
    words.update(lang.numbers["ones"], lang.numbers["tens"], lang.numbers["hundred"])
    return {w for w in words if len(w) >= 2}


def _slots(name: str, found: re.Match[str], lang: Language) -> dict[str, object]:
    groups = {k: v for k, v in found.groupdict().items() if v}
    if name == "timer.set":
        return {"seconds": parse_duration(groups.get("dur", "")), "label": groups.get("label", "")}
    if name == "timer.cancel":
        label = groups.get("label", "").strip()
        first, _, rest = label.partition(" ")
        if rest and first in lang.label_articles:
            label = rest
        return {"all": "all" in groups or label in lang.all_words, "label": label}
    if name == "volume.set":
        if "max" in groups:
            return {"percent": 100}
        digits = groups["pct"].lstrip("0") or "0"
        # A huge number is as loud as it goes; it must not reach int(),
        # which refuses more than 4300 digits.
        percent = int(digits) if len(digits) <= 4 else MAX_VOLUME_PERCENT
        # ASR rarely hears "%": "volume 7" means seven out of ten.
        if percent <= 10 and "percent" not in found.group(0):
            percent *= 10
        return {"percent": min(percent, MAX_VOLUME_PERCENT)}
    return {}
