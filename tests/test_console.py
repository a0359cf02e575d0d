"""The text console's REPL, driven with scripted input and fake engines."""

from __future__ import annotations

import io

from assistant.frontends.console import Console
from assistant.pipeline.memory import Conversation
from tests.fakes import FakeAudioSink, FakeLanguageModel, FakeTextToSpeech


def run_console(lines: list[str], *, speak: bool = True, tokens=("Hello", " there.")):
    script = iter(lines)

    def read_line(prompt: str) -> str:
        try:
            return next(script)
        except StopIteration:
            raise EOFError from None

    out = io.StringIO()
    llm = FakeLanguageModel(list(tokens))
    sink = FakeAudioSink()
    conversation = Conversation("system", 4)
    console = Console(
        llm,
        conversation,
        tts=FakeTextToSpeech(),
        sink=sink,
        speak=speak,
        read_line=read_line,
        out=out,
    )
    code = console.run()
    return code, out.getvalue(), conversation, sink, llm


def test_a_turn_prints_the_streamed_reply_and_its_timings():
    code, out, conversation, sink, _ = run_console(["hi"])
    assert code == 0
    assert "assistant> Hello there." in out
    assert "first token" in out and "tokens/s" in out and "first audio" in out
    assert conversation.messages()[-1].content == "Hello there."
    assert sink.chunks, "the reply was spoken"


def test_speak_off_skips_synthesis():
    _, out, _, sink, _ = run_console(["/speak off", "hi"])
    assert "[speech off]" in out
    assert sink.chunks == []
    assert "first audio" not in out


def test_reset_forgets_the_conversation():
    _, out, conversation, _, llm = run_console(["hi", "/reset", "again"])
    assert "[conversation forgotten]" in out
    # The second question was asked with no memory of the first.
    assert [m.role for m in llm.calls[1]] == ["system", "user"]


def test_stats_help_unknown_and_quit():
    code, out, _, _, llm = run_console(["/stats", "hi", "/stats", "/help", "/bogus", "/quit", "x"])
    assert code == 0
    assert "[no turns yet]" in out
    assert "[1 turns" in out
    assert "/speak on|off" in out
    assert "unknown command /bogus" in out
    assert len(llm.calls) == 1, "nothing after /quit was asked"


def test_bad_speak_argument_gets_usage():
    _, out, _, _, _ = run_console(["/speak loud"])
    assert "usage: /speak on|off" in out


def test_an_intent_answers_without_the_llm_and_stats_count_only_llm_turns():
    from assistant.skills.handler import Skills
    from assistant.skills.timers import Timers

    lines = iter(["what time is it", "hi", "/stats"])

    def read_line(prompt: str) -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    out = io.StringIO()
    llm = FakeLanguageModel(["Hello."])
    conversation = Conversation("system", 4)
    skills = Skills(language="en", llm=None, tools=None, timers=Timers())
    console = Console(
        llm,
        conversation,
        tts=None,
        sink=None,
        speak=False,
        skills=skills,
        read_line=read_line,
        out=out,
    )
    console.run()
    text = out.getvalue()
    assert "[answered by intent, no LLM]" in text
    assert len(llm.calls) == 1, "only 'hi' reached the LLM"
    assert "[2 turns" in text
    assert "tokens/s" in text.split("[2 turns")[1]


def scripted(lines: list[str]):
    script = iter(lines)

    def read_line(prompt: str) -> str:
        try:
            return next(script)
        except StopIteration:
            raise EOFError from None

    return read_line


def test_repeat_that_gets_the_last_reply_and_a_timer_alert_counts_as_said():
    from tests.fakes import FakeShortcuts

    out = io.StringIO()
    skills = FakeShortcuts()
    conversation = Conversation("system", 4)
    tts, sink = FakeTextToSpeech(), FakeAudioSink()
    console = Console(
        FakeLanguageModel(["Hello", " there."]),
        conversation,
        tts=tts,
        sink=sink,
        speak=True,
        skills=skills,
        read_line=scripted(["hi", "repeat that"]),
        out=out,
    )
    console.run()
    text = out.getvalue()
    assert text.count("assistant> Hello there.") == 2
    assert skills.calls == [("hi", ""), ("repeat that", "Hello there.")]

    skills.alerts = ["The timer is done."]
    console.read_line = scripted(["repeat that"])
    console.run()
    assert "[timer] The timer is done." in out.getvalue()
    assert "The timer is done." in tts.sentences, "the alert was spoken"
    assert skills.calls[-1] == ("repeat that", "The timer is done.")
    assert conversation.last_reply == "The timer is done."


def test_with_no_sound_card_the_console_says_where_the_reply_went(tmp_path):
    sink = FakeAudioSink()
    sink.paths.append(tmp_path / "reply-001.wav")
    out = io.StringIO()
    console = Console(
        FakeLanguageModel(["Hi."]),
        Conversation("system", 4),
        tts=FakeTextToSpeech(),
        sink=sink,
        speak=True,
        read_line=scripted(["hello"]),
        out=out,
    )
    console.run()
    assert f"[spoken reply saved to {tmp_path / 'reply-001.wav'}]" in out.getvalue()
