"""Split streamed LLM text into pieces that can be spoken one at a time.

Pure Python, no I/O. A `SentenceSplitter` belongs to one reply on one thread
(the LLM worker feeds it tokens); it is not thread-safe. `pacing` decides
its `short_first`; `spoken_pieces` cuts a text known whole.

Rules, in order of precedence:

* A piece ends at a newline, or after ``.``, ``!``, ``?`` or ``…`` (with any
  closing quotes or brackets) followed by whitespace.
* A full stop does not end a piece after an abbreviation (``Mr.``, ``Dr.``,
  ``St.``, ``etc.``, ...), a dotted token (``e.g.``, ``i.e.``, ``U.S.``), a
  single capital (an initial, ``J. R. R.``) or a leading list number (``1.``).
  A decimal point (``3.14``) is never followed by whitespace, so it never ends
  one.
* An ellipsis ends a piece only when the next word is capitalised, so
  "wait... what?" stays whole.
* Fenced code blocks (```` ``` ```` or ``~~~``) are dropped; text before a
  fence is its own piece; an unterminated fence drops the rest of the reply.
* Only the FIRST piece of a reply may end early, so speech starts before the
  first sentence is complete: at a clause boundary (``,`` ``;`` ``:``
  followed by whitespace, or a dash) after at least two words, or, when no
  boundary has come, after ``first_words`` words (up to three more while the
  word is one a phrase cannot end on: an article, a preposition, a
  conjunction, an abbreviation, a number). With `short_first` (the reply
  comes fast enough to keep the speaker fed, `keeps_speaker_fed`), it may
  end sooner, after 2-4 words, where a new phrase begins: before a verb
  that follows its subject, or a subordinate clause (`PHRASE_STARTERS`:
  "A spider | has eight legs."), or once it holds a verb, before a
  preposition or conjunction (`LINK_WORDS`: "I'm sorry | for any
  confusion."). Either way at least
  ``min_clause_chars`` long, and only when two more words follow in the same
  sentence, so neither side is a one-word fragment. Later pieces wait for
  whole sentences, which sound more natural; by then audio is already
  playing, so waiting costs no latency.
* A piece that would exceed ``max_chars`` is cut at its last clause boundary
  in the second half of the window, else at its last space, else hard.
* Pieces are stripped and never empty; pieces with no letter or digit (a
  lone "---" or emoji) are dropped.

Every decision depends only on the text (and on `short_first` as it was
when the first piece was cut), never on how it was chunked: feeding a reply
token by token yields the same pieces as feeding it at once.
"""

from __future__ import annotations

import re
import sys

from assistant.stages.tts.words import (
    ABBREVIATIONS,
    CLOSERS,
    FUNCTION_WORDS,
    LINK_WORDS,
    OPENERS,
    PHRASE_STARTERS,
    has_verb,
)

_TERMINATORS = ".!?…"
_CLAUSE_MARKS = ",;:"
_DASHES = "—–"
_FENCES = ("```", "~~~")
_DOTTED = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # e.g, i.e, U.S, a.m (the final stop is outside)
_WORD_CUT_SLACK = 3
"""Words past ``first_words`` an early cut may wait for a word it can end on."""

SHORT_FIRST_WORDS = (2, 4)
"""Fewest and most words of a short first piece."""
_WAIT = None  # the decision needs text that has not arrived yet


class SentenceSplitter:
    """Incremental: LLM tokens in, speakable pieces out.

    ``feed`` returns the pieces completed by the new text; ``flush`` returns
    the pieces left when the reply ends and resets the splitter for the next
    reply. ``min_clause_chars`` above ``max_chars`` disables the early first
    piece. The owner sets `short_first` as it learns how fast the reply
    comes; it matters only until the first piece is cut.
    """

    def __init__(
        self, min_clause_chars: int = 0, max_chars: int = 200, first_words: int = 5
    ) -> None:
        if max_chars < 10:
            raise ValueError(f"max_chars={max_chars} is too small; use 10 or more")
        if first_words < 2:
            raise ValueError(f"first_words={first_words} is too small; use 2 or more")
        self.min_clause_chars = min_clause_chars
        self.max_chars = max_chars
        self.first_words = first_words
        self.short_first = False
        """The first piece may end after 2-4 words where a phrase begins."""
        self.cut_before_phrase = False
        """The first piece's word cut (after ``first_words``) also needs the
        next word to begin a phrase: a function word or `PHRASE_STARTERS`
        ("the boiling point | of water", never "the boiling | point")."""
        self._buf = ""
        self._emitted = 0

    def feed(self, text: str) -> list[str]:
        """Add streamed text; return the pieces it completed (may be empty)."""
        self._buf += text
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """End the reply: return the remaining pieces (none if nothing speakable
        is left), each within ``max_chars``, and reset for the next reply."""
        pieces = self._drain(final=True)
        self._buf = ""
        self._emitted = 0
        return pieces

    def _drain(self, final: bool) -> list[str]:
        pieces = []
        while self._buf:
            step = self._next_piece(final)
            if step is _WAIT:
                break
            piece, consumed = step
            self._buf = self._buf[consumed:]
            if piece and any(c.isalnum() for c in piece):
                pieces.append(piece.strip())
                self._emitted += 1
        return pieces

    def _next_piece(self, final: bool) -> tuple[str | None, int] | None:
        """The first piece of the buffer and how many characters it used, or _WAIT."""
        buf, n = self._buf, len(self._buf)
        start = len(buf) - len(buf.lstrip())
        if start == n:
            return None, n
        early = self._emitted == 0 and self.min_clause_chars <= self.max_chars
        words = 0
        i = start
        while i < n:
            if i - start >= self.max_chars:
                return self._cut(start)
            c = buf[i]
            if c == "\n":
                return buf[start:i], i + 1
            if early and c.isspace() and not buf[i - 1].isspace():
                words += 1
                low, high = SHORT_FIRST_WORDS
                if self.short_first and low <= words <= high:
                    cut = self._phrase_cut(start, i, final)
                    if cut is not False:
                        return cut
                if self.first_words <= words <= self.first_words + _WORD_CUT_SLACK:
                    cut = self._word_cut(start, i, final)
                    if cut is not False:
                        return cut
            if c in "`~":
                fence = buf[i : i + 3]
                if fence in _FENCES:
                    if i > start:
                        return buf[start:i], i
                    close = buf.find(fence, i + 3)
                    if close < 0:
                        return (None, n) if final else _WAIT
                    return None, close + 3
                if not final and n - i < 3 and any(f.startswith(buf[i:]) for f in _FENCES):
                    return _WAIT
            if c in _TERMINATORS:
                run_end = i
                while run_end < n and buf[run_end] in _TERMINATORS:
                    run_end += 1
                end = run_end
                while end < n and buf[end] in CLOSERS:
                    end += 1
                if end == n:
                    return self._rest(start, final)
                if buf[end].isspace():
                    ends = self._ends_sentence(start, i, run_end, end, final)
                    if ends is _WAIT:
                        return _WAIT
                    if ends and end - start <= self.max_chars:
                        return buf[start:end], end
                i = end
                continue
            if early:
                clause_end = self._clause_end(i)
                if clause_end is not None:
                    piece = buf[start:clause_end]
                    if len(piece.strip()) >= self.min_clause_chars and len(piece.split()) >= 2:
                        if clause_end > n:
                            return self._rest(start, final)
                        follows = self._two_words_follow(clause_end, final)
                        if follows is _WAIT:
                            return _WAIT
                        if follows:
                            return piece, clause_end
            i += 1
        return self._rest(start, final)

    def _rest(self, start: int, final: bool) -> tuple[str, int] | None:
        """The rest of the buffer as the last piece (cut if too long), or
        _WAIT while the reply may still go on."""
        if not final:
            return _WAIT
        if len(self._buf) - start > self.max_chars:
            return self._cut(start)
        return self._buf[start:], len(self._buf)

    def _ends_sentence(
        self, start: int, i: int, run_end: int, end: int, final: bool
    ) -> bool | None:
        """Whether the terminators at ``buf[i:run_end]`` (whitespace at ``end``) end a sentence."""
        buf = self._buf
        word_start = end
        while word_start < len(buf) and buf[word_start].isspace():
            word_start += 1
        if "\n" in buf[end:word_start]:
            return True
        run = buf[i:run_end]
        if "…" in run or ".." in run:
            if word_start == len(buf):
                return True if final else _WAIT
            return buf[word_start].isupper()
        if run != ".":
            return True
        before = buf[start:i]
        token = before.rsplit(None, 1)[-1].lstrip(OPENERS) if before.strip() else ""
        if token.lower() in ABBREVIATIONS or _DOTTED.fullmatch(token):
            return False
        if len(token) == 1 and token.isupper():
            return False
        return not (token.isdigit() and before.strip() == token)

    def _word_cut(self, start: int, i: int, final: bool) -> tuple[str, int] | bool | None:
        """The early first piece ``buf[start:i]`` that ends at the word
        before the space at ``i``, False when it may not end there, or _WAIT."""
        piece = self._buf[start:i]
        word = piece.rsplit(None, 1)[-1].strip(OPENERS + CLOSERS)
        bare = word.rstrip(_CLAUSE_MARKS).lower()
        if (
            len(piece.strip()) < self.min_clause_chars
            or any(c.isdigit() for c in word)  # "3 000", "5 minutes", "1.5 kg"
            or word.endswith(".")  # an abbreviation or an initial: no sentence end
            or bare in FUNCTION_WORDS
            or bare in ABBREVIATIONS
            or word[-1:] in _TERMINATORS
        ):
            return False
        follows = self._two_words_follow(i, final)
        if follows is _WAIT:
            return _WAIT
        if follows and self.cut_before_phrase:
            after = self._buf[i:].split(None, 1)[0].strip(OPENERS + CLOSERS).lower()
            follows = after in FUNCTION_WORDS or after in PHRASE_STARTERS
        return (piece, i) if follows else False

    def _phrase_cut(self, start: int, i: int, final: bool) -> tuple[str, int] | bool | None:
        """A short first piece ``buf[start:i]``, when the word after the space
        at ``i`` begins a new phrase (`PHRASE_STARTERS`) and `_word_cut`
        allows a cut there; False when not, or _WAIT."""
        buf, n = self._buf, len(self._buf)
        word_start = i
        while word_start < n and buf[word_start].isspace():
            word_start += 1
        word_end = word_start
        while word_end < n and not buf[word_end].isspace():
            word_end += 1
        if word_end == n and not final:
            return _WAIT
        after = buf[word_start:word_end].strip(OPENERS + CLOSERS).lower()
        if after not in PHRASE_STARTERS and not (after in LINK_WORDS and has_verb(buf[start:i])):
            return False
        return self._word_cut(start, i, final)

    def _two_words_follow(self, pos: int, final: bool) -> bool | None:
        """Whether the sentence goes on for two more words after ``pos``: the
        next word is whole and neither it nor a newline ends the sentence
        (so what follows an early cut is never one word); _WAIT until known."""
        buf, n = self._buf, len(self._buf)
        word_start = pos
        while word_start < n and buf[word_start].isspace():
            if buf[word_start] == "\n":
                return False
            word_start += 1
        word_end = word_start
        while word_end < n and not buf[word_end].isspace():
            word_end += 1
        if word_end == n:
            return False if final else _WAIT
        word = buf[word_start:word_end].rstrip(CLOSERS)
        return buf[word_end] != "\n" and word[-1:] not in _TERMINATORS and "`" not in word

    def _clause_end(self, i: int) -> int | None:
        """End of a clause boundary at ``i``; past the buffer end if the next char is needed."""
        buf, c = self._buf, self._buf[i]
        if c in _DASHES:
            return i + 1
        if c in _CLAUSE_MARKS or (c == "-" and i > 0 and buf[i - 1] == " "):
            if i + 1 >= len(buf):
                return i + 2  # undecided until the next character arrives
            return i + 1 if buf[i + 1].isspace() else None
        return None

    def _cut(self, start: int) -> tuple[str, int]:
        """Break an over-long piece at a clause boundary in its second half, else a space."""
        window = self._buf[start : start + self.max_chars]
        for p in range(len(window) - 1, len(window) // 2, -1):
            c = window[p]
            after = window[p + 1] if p + 1 < len(window) else ""
            spaced_hyphen = c == "-" and window[p - 1] == " " and after == " "
            if c in _DASHES or spaced_hyphen or (c in _CLAUSE_MARKS and after.isspace()):
                return window[: p + 1], start + p + 1
        space = window.rfind(" ")
        if space > 0:
            return window[:space], start + space + 1
        return window, start + len(window)


_NO_EARLY_CLAUSE = sys.maxsize


def split_sentences(text: str) -> list[str]:
    """Split a whole text into sentences by the same rules, without the early clause."""
    splitter = SentenceSplitter(min_clause_chars=_NO_EARLY_CLAUSE)
    splitter._buf = text
    return splitter._drain(final=True)


WHOLE_TEXT_FIRST_WORDS = 4
"""``first_words`` for `spoken_pieces`: with every word at hand, the first
piece may end on the fourth word when no phrase begins sooner ("What is the
capital | of France?")."""


def spoken_pieces(text: str) -> list[str]:
    """The pieces to speak of a text known whole up front (a Wyoming
    ``synthesize`` request), by the splitter's rules: the first piece cut
    short (`short_first`: the rest of the text is already here, so the
    speaker stays fed; else after `WHOLE_TEXT_FIRST_WORDS` or more words,
    before a phrase: `cut_before_phrase`), then sentences.
    Its first audio then costs a few words' synthesis, not a sentence's."""
    splitter = SentenceSplitter(first_words=WHOLE_TEXT_FIRST_WORDS)
    splitter.short_first = True
    splitter.cut_before_phrase = True
    return splitter.feed(text) + splitter.flush()
