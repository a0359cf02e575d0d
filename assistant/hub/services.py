"""What the hub serves with: the shared engines, one lane each, and the
factories for per-connection state. Built by the front end (which loads the
engines through the composition root) and handed to `HubServer`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from assistant.hub.lanes import ASR_THREADS, LLM_TURNS, EngineLane
from assistant.hub.openings import Openings
from assistant.pipeline.memory import Conversation
from assistant.pipeline.shortcuts import Shortcuts
from assistant.stages.asr.base import SpeechToText
from assistant.stages.llm.base import LanguageModel
from assistant.stages.tts.base import TextToSpeech

if TYPE_CHECKING:
    from assistant.hub.timers import TimerBoard


class Recognised(Protocol):
    """A fast-path intent: the skills' `Intent` has this shape."""

    name: str
    slots: dict[str, object]


@dataclass
class Session:
    """One conversation's memory and skills, so two satellites never see
    each other's history. Kept by `conversations.Conversations`, which
    closes the skills when it forgets the conversation."""

    conversation: Conversation
    shortcuts: Shortcuts | None = None
    timers: TimerBoard | None = None
    """The skills' timers, when they keep any: a turn that changes them
    tells its client (`timers.TimerReport`); the hub never rings them."""

    def close(self) -> None:
        if self.shortcuts is not None:
            self.shortcuts.close()


@dataclass
class HubServices:
    """The engines the hub shares between clients; a role left None is not
    offered (``describe`` leaves it out and its requests get an error);
    ``handle`` needs ``llm`` and ``new_session``.

    Each engine is used only on its lane (`lanes`), so at most one request
    is inside it at a time, except a language model that `takes_turns`
    (it serializes its replies itself). ``new_session`` makes a connection's `Session`
    on the event-loop thread and must not block. ``recognise`` is pure and
    thread-safe. The caller closes the engines after `close`.
    """

    stt: SpeechToText | None = None
    llm: LanguageModel | None = None
    tts: TextToSpeech | None = None
    new_session: Callable[[], Session] | None = None
    recognise: Callable[[str], Recognised | None] | None = None
    languages: list[str] = field(default_factory=lambda: ["en"])
    """Languages the recognizer, skills and LLM are set up for, first the main one."""
    asr_model: str = ""
    """The recognizer's model (directory) name, for ``describe``."""
    lanes: dict[str, EngineLane] = field(default_factory=dict)
    openings: Openings = field(default_factory=Openings)
    """The replies whose first piece of speech is still to come (`openings`)."""

    def __post_init__(self) -> None:
        self.openings.language = self.languages[0]
        # A language model that takes turns (`Turnstile`) gets a thread per
        # reply in progress, so the waiting ones can go first at a sentence.
        takes_turns = getattr(self.llm, "takes_turns", False)
        shelf = getattr(self.llm, "_shelf", None)  # `kvcache.ContextShelf`
        if takes_turns and shelf is not None:
            shelf.shared = True  # clients' conversations take turns on it
        threads = {"asr": ASR_THREADS, "llm": LLM_TURNS if takes_turns else 1, "tts": 1}
        for role, n in threads.items():
            self.lanes.setdefault(role, EngineLane(role, threads=n))

    def close(self) -> None:
        """Stop the lanes after the jobs in progress; safe to call twice."""
        for lane in self.lanes.values():
            lane.close()
