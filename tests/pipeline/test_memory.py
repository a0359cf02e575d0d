"""Conversation memory: plain calls, no model."""

from __future__ import annotations

import pytest

from assistant.core.messages import Message
from assistant.pipeline.memory import Conversation


def chars_fit(limit: int):
    """A stand-in for `LanguageModel.fits` that counts characters."""

    def fits(messages: list[Message]) -> bool:
        return sum(len(m.content) for m in messages) <= limit

    return fits


def test_messages_are_system_history_then_user() -> None:
    conv = Conversation("be brief", max_turns=4)
    conv.add("hi", "hello")
    assert conv.messages("how are you") == [
        Message("system", "be brief"),
        Message("user", "hi"),
        Message("assistant", "hello"),
        Message("user", "how are you"),
    ]
    assert conv.messages()[-1] == Message("assistant", "hello")


def test_max_turns_bounds_history_and_keeps_the_newest() -> None:
    conv = Conversation("s", max_turns=3)
    for i in range(10):
        conv.add(f"q{i}", f"a{i}")
        assert 1 <= len(conv) <= 3
        assert conv.messages()[-2:] == [Message("user", f"q{i}"), Message("assistant", f"a{i}")]


def test_overflow_drops_the_oldest_half_at_once() -> None:
    conv = Conversation("s", max_turns=8)
    for i in range(9):
        conv.add(f"q{i}", f"a{i}")
    assert [m.content for m in conv.messages()][1::2] == ["q5", "q6", "q7", "q8"]


def test_max_turns_zero_keeps_no_history() -> None:
    conv = Conversation("s", max_turns=0)
    conv.add("q", "a")
    assert conv.messages("next") == [Message("system", "s"), Message("user", "next")]


def test_negative_max_turns_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_turns"):
        Conversation("s", max_turns=-1)


def test_empty_reply_is_not_recorded() -> None:
    conv = Conversation("s", max_turns=4)
    conv.add("q", "")
    conv.add("q", "   ")
    conv.add("q", "partial repl")
    assert len(conv) == 1


def test_reset_keeps_the_system_prompt() -> None:
    conv = Conversation("s", max_turns=4)
    conv.add("q", "a")
    conv.reset()
    assert len(conv) == 0
    assert conv.messages() == [Message("system", "s")]


def test_trim_drops_oldest_until_it_fits() -> None:
    conv = Conversation("sys", max_turns=10)
    for i in range(5):
        conv.add(f"question {i}", f"answer {i}")  # 10 + 8 chars each
    dropped = conv.trim(chars_fit(3 + 2 * 18 + 4), "next")
    assert dropped == 3
    assert [m.content for m in conv.messages()][1] == "question 3"
    assert chars_fit(43)(conv.messages("next"))


def test_trim_when_everything_fits_drops_nothing() -> None:
    conv = Conversation("sys", max_turns=10)
    conv.add("q", "a")
    assert conv.trim(chars_fit(1000), "next") == 0
    assert len(conv) == 1


def test_trim_drops_at_least_half_so_the_cache_prefix_survives_a_while() -> None:
    conv = Conversation("sys", max_turns=10)
    for i in range(6):
        conv.add(f"question {i}", f"answer {i}")
    limit = 3 + 5 * 18 + 4  # room for five exchanges: one has to go
    assert conv.trim(chars_fit(limit), "next") == 3
    assert [m.content for m in conv.messages()][1] == "question 3"


def test_trim_when_nothing_fits_drops_all_history() -> None:
    conv = Conversation("sys", max_turns=10)
    conv.add("q", "a")
    conv.add("q2", "a2")
    assert conv.trim(chars_fit(0), "next") == 2
    assert conv.messages("next") == [Message("system", "sys"), Message("user", "next")]


def test_last_reply_is_what_was_said_last_and_is_not_history() -> None:
    conv = Conversation("s", max_turns=4)
    assert conv.last_reply == ""
    conv.note_reply("Paris.")
    conv.note_reply("   ")  # a "stop", or a reply cancelled before a word: kept
    assert conv.last_reply == "Paris."
    assert len(conv) == 0, "noting a reply records no exchange"
    conv.reset()
    assert conv.last_reply == ""
