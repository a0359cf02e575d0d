"""Cut a long sentence into the parts piper synthesizes one run at a time.

Pure Python, no I/O. piper's peak memory grows with the audio of one run:
its decoder holds several activations per output sample at once, and the
heap keeps what it frees until the run ends. That came to 20-45 MiB per
second of audio (about 2 MiB a character while the language model
generates beside it; about half that on an arena emptied after each run,
`piper.SHRINK_EACH_RUN`), so one 200-character sentence took up to 409 MiB
above the resident set (benchmarks/README.md, "Peak memory of long
replies"). Cutting a long sentence at its commas bounds that peak, and a
comma is where the voice pauses anyway.

A part ends where a cut costs least (`_CLAUSE_CUT`, `_PHRASE_CUT`,
`_SPACE_CUT`: the fewest and best places first, then the fewest parts, then
the most even ones):

* after a clause mark (``,`` ``;`` ``:``, with any closing quote or
  bracket) or at a dash;
* before a word a phrase begins with (an article, a preposition, a
  conjunction: `FUNCTION_WORDS`; a verb after its subject or a subordinate
  clause: `PHRASE_STARTERS`), unless the word before is one too;
* at any other space; a single word longer than the limit is cut inside.

A one-word part costs as much as a cut mid-phrase, so "Well, | ..." is
never a part of its own while another cut fits. A sentence within the limit
is never cut.
"""

from __future__ import annotations

from assistant.stages.tts.words import CLOSERS, FUNCTION_WORDS, OPENERS, PHRASE_STARTERS

_CLAUSE_ENDS = ",;:—–"
_MIN_WORDS = 2
"""Words a part has unless nothing else fits (`_LONE_WORD`)."""


def clause_parts(sentence: str, max_chars: int) -> list[str]:
    """``sentence`` cut into parts of at most ``max_chars`` characters, by
    the rules above; a sentence within the limit is one part. Joined with
    single spaces, the parts are the sentence with its runs of whitespace
    made single spaces (and a space inside each word cut for its length).
    No empty part; ``max_chars`` must be 1 or more."""
    if max_chars < 1:
        raise ValueError(f"max_chars={max_chars} is too small; use 1 or more")
    words = [piece for word in sentence.split() for piece in _hard_cut(word, max_chars)]
    if len(" ".join(words)) <= max_chars:
        return [" ".join(words)] if words else []
    starts = [0]  # starts[i]: offset of words[i] in the words joined with spaces
    for word in words:
        starts.append(starts[-1] + len(word) + 1)
    n = len(words)
    # best[i]: the cheapest cost of words[:i] ending in a cut before word i,
    # and where its last part starts. A cost is (cuts' penalties, parts,
    # sum of squared part lengths): the best places first, then the fewest
    # parts, then the most even.
    best: list[tuple[tuple[int, int, int], int] | None] = [None] * (n + 1)
    best[0] = ((0, 0, 0), 0)
    for stop in range(1, n + 1):
        for start in range(stop - 1, -1, -1):
            length = starts[stop] - starts[start] - 1
            if length > max_chars:
                break
            previous = best[start]
            if previous is None:
                continue
            (penalty, parts, squares), _ = previous
            penalty += _penalty(words, start) + (_LONE_WORD if stop - start < _MIN_WORDS else 0)
            cost = (penalty, parts + 1, squares + length * length)
            if best[stop] is None or cost < best[stop][0]:
                best[stop] = (cost, start)
    cuts = [n]
    while cuts[-1] > 0:
        cuts.append(best[cuts[-1]][1])
    cuts.reverse()
    return [" ".join(words[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]


def _hard_cut(word: str, max_chars: int) -> list[str]:
    return [word[i : i + max_chars] for i in range(0, len(word), max_chars)]


_CLAUSE_CUT, _PHRASE_CUT, _SPACE_CUT = 1, 3, 9
"""What a cut costs at each kind of place: two cuts at commas are better
than one before a phrase, two before phrases better than one mid-phrase."""
_LONE_WORD = _SPACE_CUT
"""What a one-word part costs on top of its cut."""


def _penalty(words: list[str], cut: int) -> int:
    """What a cut before ``words[cut]`` costs (0 for the sentence's start)."""
    if cut == 0:
        return 0
    before = words[cut - 1].rstrip(CLOSERS)
    after = words[cut].lstrip(OPENERS)
    if (before and before[-1] in _CLAUSE_ENDS) or before == "-" or after.startswith(("—", "–")):
        return _CLAUSE_CUT
    first = after.strip(CLOSERS).lower()
    if (
        first in FUNCTION_WORDS or first in PHRASE_STARTERS
    ) and before.lower() not in FUNCTION_WORDS:
        return _PHRASE_CUT
    return _SPACE_CUT
