"""Turn LLM text into text a speech synthesizer reads well.

`clean_for_speech` is a pure function: markdown syntax, code blocks and emoji
go, numbers become words ("$5" -> "five dollars"), whitespace collapses. It
runs on the TTS worker thread once per reply piece; it never raises.

Numbers are spelled out in English only. For other languages they stay
digits, which espeak-ng (piper's phonemizer) reads in the voice's language.
"""

from __future__ import annotations

import re
import unicodedata

_ONES = (  # noqa: SIM905 - word lists read better as one string
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_MAX_WORDS = 10**15  # bigger integers are read digit by digit
_MAX_WORD_DIGITS = len(str(_MAX_WORDS)) - 1  # longer digit strings never go through int()
_ORDINAL_IRREGULAR = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
_CURRENCIES = {"$": ("dollar", "cent"), "£": ("pound", "penny"), "€": ("euro", "cent")}
_YEAR_CONTEXT = (  # noqa: SIM905
    "in since from by until till year years of before after around circa during "
    "january february march april may june july august september october november "
    "december"
).split()


def number_words(n: int) -> str:
    """Cardinal words for an integer: 42 -> "forty-two", -3 -> "minus three"."""
    if n < 0:
        return "minus " + number_words(-n)
    if n >= _MAX_WORDS:
        return _digits(_decimal_string(n))
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {number_words(rest)}" if rest else "")
    for value, name in _SCALES:
        if n >= value:
            high, rest = divmod(n, value)
            return f"{number_words(high)} {name}" + (f" {number_words(rest)}" if rest else "")
    raise AssertionError(n)  # pragma: no cover - the scales cover every n >= 1000


def ordinal_words(n: int) -> str:
    """Ordinal words: 1 -> "first", 21 -> "twenty-first", 100 -> "one hundredth"."""
    words = number_words(n)
    head, sep, last = max(words.rpartition(" "), words.rpartition("-"), key=lambda p: len(p[0]))
    if last in _ORDINAL_IRREGULAR:
        last = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


def year_words(n: int) -> str:
    """A year as people say it: 1999 -> "nineteen ninety-nine", 2005 -> "two thousand five"."""
    if n < 1000 or n > 9999 or 2000 <= n < 2010:
        return number_words(n)
    high, low = divmod(n, 100)
    if low == 0:
        return f"{number_words(high)} hundred"
    if low < 10:
        return f"{number_words(high)} oh {_ONES[low]}"
    return f"{number_words(high)} {number_words(low)}"


def _decimal_string(n: int) -> str:
    """``str(n)`` for any size: Python refuses to convert more than 4300
    digits at once (``sys.get_int_max_str_digits``)."""
    if n.bit_length() < 10_000:
        return str(n)
    high, low = divmod(n, 10**1000)
    return _decimal_string(high) + str(low).zfill(1000)


def _digits(digits: str) -> str:
    return " ".join(_ONES[int(d)] for d in digits)


def _plural(words: str) -> str:
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def _amount(text: str) -> int:
    """The value of digits with optional thousands commas, saturated: what
    matters of a long amount is that it is not 0 or 1 (and `int` refuses
    strings of more than 4300 digits)."""
    digits = text.replace(",", "").lstrip("0") or "0"
    return int(digits) if len(digits) <= _MAX_WORD_DIGITS else _MAX_WORDS


def _cardinal_text(text: str) -> str:
    """Words for an integer written with optional thousands commas."""
    digits = text.replace(",", "")
    if len(digits) > 1 and digits.startswith("0") or len(digits) > _MAX_WORD_DIGITS:
        return _digits(digits)  # "007", zip codes, huge numbers: digit by digit
    return number_words(int(digits))


def _ordinal_text(digits: str) -> str:
    if len(digits) > _MAX_WORD_DIGITS:  # digit by digit, the last one an ordinal
        return f"{_digits(digits[:-1])} {ordinal_words(int(digits[-1]))}"
    return ordinal_words(int(digits))


def _decimal_text(whole: str, fraction: str) -> str:
    return f"{_cardinal_text(whole)} point {_digits(fraction)}"


# --- markdown ---------------------------------------------------------------

_FENCE = re.compile(r"(```|~~~).*?(?:\1|\Z)", re.DOTALL)
_HEADER = re.compile(r"^\s{0,3}#{1,6}\s+(.*)$")  # closing #s are stripped in Python:
# a lazy "(.*?)\s*#*\s*$" backtracks cubically over a long run of spaces.
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_QUOTE = re.compile(r"^\s*(>\s?)+")
_BULLET = re.compile(r"^\s*[-*+•]\s+")
# "(?:\|\s*)?" and not "\|?\s*": two \s* in a row split a run of spaces in
# quadratically many ways before failing.
_TABLE_SEPARATOR = re.compile(r"^\s*(?:\|\s*)?:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*(?:\|\s*)?$")
# Links, images and bold stop at the next opening mark, so a run of unclosed
# openers ("[[[[", "[a](" * 1000, "**a " * 1000) costs linear time, not quadratic.
_TARGET = r"\((?:[^()]|\([^()]*\))*\)"  # one level of parentheses: wiki/Foo_(bar)
_IMAGE = re.compile(rf"!\[([^\[\]]*)\]{_TARGET}")
_LINK = re.compile(rf"\[([^\[\]]+)\]{_TARGET}")
_CODE = re.compile(r"`+([^`]*)`+")
_BOLD = re.compile(r"(\*\*|__)(?=\S)((?:(?!\1).)+?)(?<=\S)\1")
_ITALIC_STAR = re.compile(r"\*(?=\S)([^*]+?)(?<=\S)\*")
_ITALIC_UNDERSCORE = re.compile(r"(?<!\w)_(?=\S)([^_]+?)(?<=\S)_(?!\w)")
_STRIKE = re.compile(r"~~(.+?)~~")
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_URL = re.compile(r"https?://\S+")
_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"  # emoticons, pictographs, transport, flags, ...
    "\u2600-\u27bf"  # misc symbols and dingbats
    "\u2b00-\u2bff"  # stars, arrows
    "\u2300-\u23ff"  # watch, hourglass, ...
    "\u2190-\u21ff"  # arrows
    "\u25a0-\u25ff\u2934\u2935"  # geometric shapes (play buttons, squares), curved arrows
    "\u203c\u2049\u24c2\u3030\u303d\u3297\u3299"  # the other emoji-style symbols
    "\ufe0e\ufe0f\u200d\u20e3"  # variation selectors, zero-width joiner, keycap
    "\U000e0020-\U000e007f"  # tag characters in flag sequences
    "]+"
)
_END_PUNCTUATION = tuple(".!?…,;:")
_NUMBER_MARKER = re.compile(r"^\s*(\d{1,3})([.)])\s+")
_TIMES = re.compile(r"(?<=\d)\s*[*×x]\s*(?=\d)")
_EQUALS = re.compile(r"(?<=\d)\s*=\s*(?=[-−]?\d)")

# Words the cleaner itself inserts, per language.
_WORDS = {
    "en": {"link": "a link", "number": "number ", "about": "about ", "times": " times ",
           "equals": " equals "},
    "pt": {"link": "um link", "number": "número ", "about": "cerca de ", "times": " vezes ",
           "equals": " igual a "},
    "es": {"link": "un enlace", "number": "número ", "about": "unos ", "times": " por ",
           "equals": " igual a "},
}  # fmt: skip


_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")


def _drop_unspeakable(text: str) -> str:
    """Drop control, format (zero-width joiners, direction marks, soft
    hyphens), surrogate, private-use and unassigned characters: a synthesizer
    cannot say them, and a lone surrogate cannot even be encoded. Whitespace
    controls (tab, form feed) stay, to collapse into spaces later."""
    if text.isascii():
        return _ASCII_CONTROL.sub("", text)
    return "".join(c if c.isspace() or unicodedata.category(c)[0] != "C" else "" for c in text)


def _is_numbered_list(lines: list[str]) -> bool:
    """Whether two marker lines ("1.", "2)") count up by one; a lone "42. That
    is the answer." is a sentence, not a list item."""
    numbers = [int(m.group(1)) for m in map(_NUMBER_MARKER.match, lines) if m]
    return any(b == a + 1 for a, b in zip(numbers, numbers[1:], strict=False))


def _strip_line(line: str, numbered_list: bool = False) -> str:
    """Drop the block syntax of one line; structural lines get a full stop.
    Numeric markers ("1.") go only when ``numbered_list``; otherwise the
    number stays and is read."""
    if _RULE.match(line) or _TABLE_SEPARATOR.match(line):
        return ""
    structural = False
    header = _HEADER.match(line)
    if header:
        line, structural = header.group(1).rstrip().rstrip("#").rstrip(), True
    quote = _QUOTE.match(line)
    if quote:
        line = line[quote.end() :]
    number = _NUMBER_MARKER.match(line)
    if number and not numbered_list:
        line = f"{number.group(1)}. {line[number.end() :]}"
    elif number or _BULLET.match(line):
        line, structural = line[(number or _BULLET.match(line)).end() :], True
    if line.count("|") >= 2 or line.lstrip().startswith("|"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        line, structural = ", ".join(c for c in cells if c), True
    line = line.strip()
    # A pause between list items and after headers, which have no punctuation.
    if structural and line and not line.endswith(_END_PUNCTUATION):
        line += "."
    return line


def _strip_inline(text: str, words: dict[str, str]) -> str:
    # Before the markdown: "5 * 6" would lose its "*" as a leftover mark.
    text = _TIMES.sub(words["times"], text)
    text = _EQUALS.sub(words["equals"], text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub(words["link"], text)
    text = _CODE.sub(r"\1", text)
    text = _BOLD.sub(r"\2", text)
    text = _ITALIC_STAR.sub(r"\1", text)
    text = _ITALIC_UNDERSCORE.sub(r"\1", text)
    text = _STRIKE.sub(r"\1", text)
    text = _HTML_TAG.sub(" ", text)
    text = _EMOJI.sub(" ", text)
    text = re.sub(r"#(?=\d)", words["number"], text)
    text = re.sub(r"~(?=\d)", words["about"], text)
    # Leftover markup characters would be read aloud ("asterisk").
    text = re.sub(r"[*_#`~]+", " ", text)
    # Again: a removed mark can leave "0= 6" or "5x 6" (from "0=*6", "5x*6").
    return _EQUALS.sub(words["equals"], _TIMES.sub(words["times"], text))


# --- numbers ----------------------------------------------------------------

_NUM = r"\d{1,3}(?:,\d{3})+|\d+"
# The same number where more text must follow it ("%", ".5"): it starts only
# at the start of a digit run and never gives digits back, and its comma
# groups are bounded, so a long run of digits or of ",000" groups is scanned
# in linear time, not once from every position in it.
_LEADING_NUM = r"(?<!\d)(?:\d{1,3}(?:,\d{3}){1,5}+|\d++)"
_CURRENCY = re.compile(
    rf"(-|−)?([$£€])\s?({_NUM})(?:\.(\d+))?(?:\s?(thousand|million|billion|trillion)\b)?"
)
_PERCENT = re.compile(rf"(-|−)?({_LEADING_NUM})(?:\.(\d++))?\s?%")
_TIME = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)(?::[0-5]\d)?(?:\s?([AaPp])\.?[Mm]\b)?")
_AM_PM = re.compile(r"\b(\d{1,2})\s?([AaPp])\.?[Mm]\b")
_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")
_DECADE = re.compile(r"(?<![\w'’])(['’]?)(\d|1\d\d|20\d)0s\b")
_YEAR = re.compile(rf"\b((?:{'|'.join(_YEAR_CONTEXT)}),?\s+)(1[1-9]\d\d|20\d\d)\b(?![.,]\d)", re.I)
_RANGE = re.compile(r"(?<![\d.,-])(\d{1,4})[-–](\d{1,4})(?!\d|[.,]\d|[-–])")
_FRACTION = re.compile(r"(?<![\d/.,])(\d{1,3})/(\d{1,3})(?!\d|/|[.,]\d)")
_FRACTION_WORDS = {
    (1, 2): "one half",
    (1, 4): "one quarter",
    (3, 4): "three quarters",
    (1, 3): "one third",
    (2, 3): "two thirds",
}
_NEGATIVE = re.compile(r"(?<![\w.,])[-−](?=\d)")
_DEGREES = re.compile(r"(?<=\d)\s?°(?:\s?([CF])\b)?")
_DECIMAL = re.compile(rf"({_LEADING_NUM})((?:\.\d+)+)")
_INTEGER = re.compile(_NUM)


def _currency(m: re.Match[str]) -> str:
    sign, symbol, whole, cents, scale = m.groups()
    unit, sub_unit = _CURRENCIES[symbol]
    prefix = "minus " if sign else ""
    if scale:
        amount = _decimal_text(whole, cents) if cents else _cardinal_text(whole)
        return f"{prefix}{amount} {scale} {unit}s"
    if cents is not None and len(cents) != 2:
        return f"{prefix}{_decimal_text(whole, cents)} {unit}s"
    parts = []
    if _amount(whole) or not cents or not int(cents):
        parts.append(f"{_cardinal_text(whole)} {unit if _amount(whole) == 1 else unit + 's'}")
    if cents and int(cents):
        plural = "pence" if sub_unit == "penny" else sub_unit + "s"
        parts.append(f"{number_words(int(cents))} {sub_unit if int(cents) == 1 else plural}")
    return prefix + " and ".join(parts)


def _percent(m: re.Match[str]) -> str:
    sign, whole, fraction = m.groups()
    amount = _decimal_text(whole, fraction) if fraction else _cardinal_text(whole)
    return f"{'minus ' if sign else ''}{amount} percent"


def _time(m: re.Match[str]) -> str:
    hour, minute, meridiem = int(m.group(1)), int(m.group(2)), m.group(3)
    if minute == 0:
        spoken = number_words(hour) + ("" if meridiem else " o'clock")
    elif minute < 10:
        spoken = f"{number_words(hour)} oh {_ONES[minute]}"
    else:
        spoken = f"{number_words(hour)} {number_words(minute)}"
    return spoken + (f" {meridiem.upper()} M" if meridiem else "")


def _decade(m: re.Match[str]) -> str:
    apostrophe, stem = m.groups()
    if apostrophe or len(stem) == 1:  # '80s, 80s
        return _plural(number_words(int(stem) * 10))
    return _plural(year_words(int(stem + "0")))


def _degrees(m: re.Match[str]) -> str:
    scale = {"C": " Celsius", "F": " Fahrenheit"}.get(m.group(1) or "", "")
    return " degrees" + scale


def _decimal(m: re.Match[str]) -> str:
    whole, fractions = m.groups()
    return " point ".join([_cardinal_text(whole)] + [_digits(f) for f in fractions[1:].split(".")])


def _fraction(m: re.Match[str]) -> str:
    top, bottom = int(m.group(1)), int(m.group(2))
    named = _FRACTION_WORDS.get((top, bottom))
    return named or f"{number_words(top)} over {number_words(bottom)}"


def _numbers(text: str) -> str:
    text = _CURRENCY.sub(_currency, text)
    text = _PERCENT.sub(_percent, text)
    text = _TIME.sub(_time, text)
    text = _AM_PM.sub(lambda m: f"{number_words(int(m.group(1)))} {m.group(2).upper()} M", text)
    text = _ORDINAL.sub(lambda m: _ordinal_text(m.group(1)), text)
    text = _DECADE.sub(_decade, text)
    text = _YEAR.sub(lambda m: m.group(1) + year_words(int(m.group(2))), text)
    text = _FRACTION.sub(_fraction, text)
    text = _RANGE.sub(r"\1 to \2", text)
    text = _NEGATIVE.sub("minus ", text)
    text = _DEGREES.sub(_degrees, text)
    text = _DECIMAL.sub(_decimal, text)
    # Spaces keep digits glued to letters ("mp3", "5km") from merging into one word.
    return _INTEGER.sub(lambda m: f" {_cardinal_text(m.group())} ", text)


def clean_for_speech(text: str, language: str = "en") -> str:
    """Return ``text`` as plain words for a synthesizer; "" if nothing is speakable.

    Removes fenced code blocks (an unterminated fence drops the rest, which is
    what a half-streamed reply looks like), markdown syntax, URLs, emoji and
    characters with nothing to say (controls, zero-width and direction marks),
    spells numbers out when ``language`` is ``"en"`` (see the module
    docstring), and collapses whitespace to single spaces.
    """
    words = _WORDS.get(language, _WORDS["en"])
    text = _FENCE.sub("\n", _drop_unspeakable(text).replace("\r\n", "\n"))
    lines = text.split("\n")
    numbered = _is_numbered_list(lines)
    text = "\n".join(_strip_line(line, numbered) for line in lines)
    text = _strip_inline(text, words)
    if language == "en":
        text = _numbers(text)
    # Words made above ("<#0>" -> "<number zero>") must not read as a tag next time.
    text = re.sub(r"<(?=[A-Za-z/])", "< ", text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([.,!?;:…%)])", r"\1", text)
    text = re.sub(r"([(])\s+", r"\1", text)
    # Doubled marks left by removals: "Great! ." or "one, ." (an ellipsis stays).
    text = re.sub(r"([!?,;:…])[.,;:]+", r"\1", text)
    text = re.sub(r"\.[,;:]+", ".", text)
    text = text.strip(" ,;:")
    return text if any(c.isalnum() for c in text) else ""
