"""The streaming reply on its own: pieces in, sentences spoken, memory kept (fakes only)."""

from __future__ import annotations

import pytest

from assistant.core.errors import LanguageModelError, SkillError
from assistant.pipeline.memory import Conversation
from assistant.pipeline.reply import ReplyResult, ReplyStreamer, answer, say, words
from assistant.pipeline.shortcuts import Answer
from tests.support.fakes import FakeAudioSink, FakeLanguageModel, FakeShortcuts, FakeTextToSpeech


def test_a_fixed_text_streams_word_by_word_is_spoken_and_becomes_the_last_reply():
    tokens: list[str] = []
    tts, sink = FakeTextToSpeech(), FakeAudioSink()
    conversation = Conversation("s", 4)
    result = say(
        ReplyStreamer(tts, sink, on_token=tokens.append),
        conversation,
        "Timer set for 5 minutes. Enjoy.",
    )
    assert tokens == ["Timer", " set", " for", " 5", " minutes.", " Enjoy."]
    assert tts.sentences == ["Timer set for 5 minutes.", "Enjoy."]
    assert (result.spoken, result.path, result.tokens) == (
        "Timer set for 5 minutes. Enjoy.",
        "intent",
        6,
    )
    assert conversation.last_reply == result.spoken
    assert len(conversation) == 0
    assert list(words("")) == []


def test_answer_asks_the_shortcuts_once_then_the_llm_with_memory():
    llm = FakeLanguageModel(["Paris", "."])
    shortcuts = FakeShortcuts({"hello": Answer("Hi.", "intent", "greet")})
    conversation = Conversation("s", 4)
    first = answer(ReplyStreamer(), llm, conversation, "capital of france?", shortcuts=shortcuts)
    second = answer(ReplyStreamer(), llm, conversation, "hello", shortcuts=shortcuts)
    assert (first.path, first.spoken, second.path, second.spoken) == (
        "llm",
        "Paris.",
        "intent",
        "Hi.",
    )
    assert shortcuts.calls == [("capital of france?", ""), ("hello", "Paris.")]
    assert len(llm.calls) == 1 and [m.role for m in llm.calls[0]] == ["system", "user"]
    assert len(conversation) == 1 and conversation.last_reply == "Hi."


def test_a_crashing_skill_is_a_skill_error_and_a_crashing_model_an_llm_error():
    class Crashing(FakeShortcuts):
        def answer(self, transcript, last_reply, cancel=None):
            raise ZeroDivisionError("oops")

    with pytest.raises(SkillError, match="ZeroDivisionError"):
        answer(
            ReplyStreamer(), FakeLanguageModel([]), Conversation("s", 4), "x", shortcuts=Crashing()
        )

    def pieces():
        yield "Half"
        raise KeyError("kv cache")

    with pytest.raises(LanguageModelError, match="KeyError"):
        ReplyStreamer(FakeTextToSpeech(), FakeAudioSink()).run(pieces())


def test_only_an_llm_reply_reports_a_generation_speed():
    timings = {"llm_first_token": 10.0, "llm_total": 10.05}
    fixed = ReplyResult("Timer set.", "Timer set.", False, 8, dict(timings), path="intent")
    tool = ReplyResult("Done.", "Done.", False, 8, dict(timings), path="tool")
    llm = ReplyResult("Paris.", "Paris.", False, 8, {"llm_first_token": 10.0, "llm_total": 710.0})
    assert fixed.tokens_per_s == 0.0 and tool.tokens_per_s == 0.0
    assert llm.tokens_per_s == pytest.approx(10.0)
    spoken = say(ReplyStreamer(FakeTextToSpeech(), FakeAudioSink()), Conversation("s", 4), "a b c")
    assert spoken.path == "intent" and spoken.tokens == 3 and spoken.tokens_per_s == 0.0
