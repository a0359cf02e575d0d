"""The text console's REPL, driven with scripted input and fake engines."""

from __future__ import annotations

import io

import pytest

from assistant.core.errors import AudioError
from assistant.frontends.console import Console
from assistant.pipeline.memory import Conversation
from tests.support.fakes import FakeAudioSink, FakeLanguageModel, FakeTextToSpeech


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
    from tests.support.fakes import FakeShortcuts

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
    # Spoken, perhaps in two pieces: a fast reply's first piece may end early.
    assert "The timer is done." in " ".join(tts.sentences), "the alert was spoken"
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


def test_bytes_that_are_not_utf8_reach_the_llm_as_replacement_characters():
    # input() hands over an undecodable byte as a lone surrogate (PEP 383),
    # which crashed the real tokenizer's encode("utf-8").
    code, out, conversation, _, llm = run_console(["caf\udce9?", "\udcff\udcfe", "a\ud800b"])
    assert code == 0
    asked = [call[-1].content for call in llm.calls]
    assert asked == ["caf\ufffd?", "a\ufffdb"], "only-bad-bytes line ignored"
    for question in asked:
        question.encode("utf-8")  # would raise on a surrogate
    assert out.count("[bytes that are not UTF-8 were read as \ufffd]") == 2


def test_utf8_that_only_the_terminal_encoding_failed_on_is_recovered_silently():
    # PYTHONIOENCODING=ascii: "café" typed in UTF-8 arrives as two escaped bytes.
    _, out, _, _, llm = run_console(["caf\udcc3\udca9"])
    assert llm.calls[0][-1].content == "café"
    assert "not UTF-8" not in out


@pytest.mark.parametrize(
    "line", ["", "   ", "\t", "\x00", "\x1b[A", "\u200b", "\u200f\u202e", "\r", "\x7f"]
)
def test_a_line_with_nothing_to_answer_is_ignored_silently(line):
    code, out, _, sink, llm = run_console([line])
    assert code == 0
    assert llm.calls == [], f"{line!r} reached the LLM"
    assert "assistant>" not in out
    assert sink.chunks == []


def test_pasted_strange_text_is_asked_whole_with_controls_as_spaces():
    line = "hi\x00there \u202eevil\u202c 😀 " + "word " * 5000
    _, out, _, _, llm = run_console([line])
    asked = llm.calls[0][-1].content
    assert asked.startswith("hi there \u202eevil\u202c 😀 word")
    assert "\x00" not in asked
    assert "assistant> Hello there." in out


class FailingSink(FakeAudioSink):
    """A fake sink whose every write fails, as a read-only replies folder does."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, chunk, cancel=None) -> None:
        self.writes += 1
        raise AudioError("WAV folder /ro/replies: cannot create it (Read-only file system)")


def test_a_failing_sink_turns_speech_off_and_never_cuts_the_printed_reply():
    tokens = ["Hello", " there.", " How", " are", " you", " today?", " Fine."]
    sink = FailingSink()
    out = io.StringIO()
    console = Console(
        FakeLanguageModel(tokens),
        Conversation("system", 4),
        tts=FakeTextToSpeech(),
        sink=sink,
        speak=True,
        read_line=scripted(["hi", "again"]),
        out=out,
    )
    assert console.run() == 0
    text = out.getvalue()
    assert "[error]" not in text
    assert text.count("assistant> Hello there. How are you today? Fine.\n") == 2
    assert text.count("[speech off: WAV folder /ro/replies: cannot create it") == 1
    assert sink.writes == 1, "speech stayed off after the failure"
    assert "first token" in text.split("[speech off")[0], "the stats line still came"


def test_speak_on_after_a_sink_failure_tries_again():
    sink = FailingSink()
    out = io.StringIO()
    console = Console(
        FakeLanguageModel(["Hi."]),
        Conversation("system", 4),
        tts=FakeTextToSpeech(),
        sink=sink,
        speak=True,
        read_line=scripted(["hi", "/speak on", "again"]),
        out=out,
    )
    console.run()
    assert sink.writes == 2
    assert out.getvalue().count("[speech off:") == 2


def test_keep_replies_caps_the_numbered_replies_folder(tmp_path):
    from assistant.compose import build_sink
    from assistant.core.config import config_from_dict

    config = config_from_dict({"audio": {"keep_replies": 3}})
    sink = build_sink(config, wav_dir=tmp_path / "replies")
    tts = FakeTextToSpeech()
    sink.open(tts.sample_rate_hz)
    console = Console(
        FakeLanguageModel(["Hi."]),
        Conversation("system", 4),
        tts=tts,
        sink=sink,
        speak=True,
        read_line=scripted(["one", "two", "three", "four", "five"]),
        out=io.StringIO(),
    )
    try:
        console.run()
    finally:
        sink.close()
    kept = sorted(p.name for p in (tmp_path / "replies").iterdir())
    assert kept == ["reply-003.wav", "reply-004.wav", "reply-005.wav"]
