"""Which speech request is the first of a reply (its opening).

A satellite asks for a reply's speech piece by piece, each on a connection
of its own, with nothing that ties a piece to its reply. The hub's TTS lane
serves a reply's first piece before the others' later ones (`lanes`): until
it is spoken, that client hears nothing. `Openings` tells them apart by
their text: the hub wrote every reply it is generating, so a request whose
text starts a reply whose opening was not asked for yet is that opening.
Text is compared as speech (`clean_for_speech`, then letters and digits
only), since that is what a satellite sends. A client that sends the whole
reply at once (Home Assistant) matches too: it is the reply's first audio.
Used on the event-loop thread only.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from assistant.stages.tts.text import clean_for_speech

MATCH_CHARS = 24
"""Letters and digits of a request compared with a reply's start: enough to
tell eight replies apart, few enough that the speech cleaner's choices far
into a piece do not matter."""
MIN_CHARS = 2
"""Fewer letters and digits than this match nothing ("Ok" does)."""
KEEP_CHARS = 200
"""A reply's text kept for matching: its first piece ends well before."""
MAX_REPLIES = 32
"""Replies kept waiting for their opening; the oldest is forgotten first."""
KEEP_S = 60.0
"""How long after its last token a reply's opening may still be asked for."""


def _letters(text: str, language: str) -> str:
    return "".join(c for c in clean_for_speech(text, language).lower() if c.isalnum())


class Openings:
    """Replies whose first piece of speech has not been asked for."""

    def __init__(
        self, language: str = "en", *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.language = language
        self._clock = clock
        self._replies: OrderedDict[int, tuple[str, float]] = OrderedDict()
        self._next = 0

    def begin(self) -> int:
        """A reply starts; returns its key for `grew` and `end`."""
        self._next += 1
        self._replies[self._next] = ("", self._clock())
        while len(self._replies) > MAX_REPLIES:
            self._replies.popitem(last=False)
        return self._next

    def grew(self, key: int, text: str) -> None:
        """Reply ``key`` went on with ``text``."""
        if key in self._replies:
            so_far, _ = self._replies[key]
            self._replies[key] = ((so_far + text)[:KEEP_CHARS], self._clock())

    def claim(self, text: str) -> bool:
        """Whether ``text`` (a speech request) opens a reply; a reply is
        claimed once, so its later pieces are not openings."""
        now = self._clock()
        for key, (_, at) in list(self._replies.items()):
            if now - at > KEEP_S:
                del self._replies[key]
        wanted = _letters(text, self.language)[:MATCH_CHARS]
        if len(wanted) < MIN_CHARS:
            return False
        for key, (reply, _) in self._replies.items():
            if _letters(reply, self.language).startswith(wanted):
                del self._replies[key]
                return True
        return False

    def __len__(self) -> int:
        return len(self._replies)
