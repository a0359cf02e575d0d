"""The text console: a line-editing REPL on the real LLM, optionally spoken.

The reply is printed as tokens arrive. With speech on, the same overlapped
`ReplyStreamer` that the voice turn uses speaks it. Everything runs on the
calling (main) thread; Ctrl-C during a reply cancels it like a barge-in. The
console closes nothing: the caller opens the sink and closes the engines.

A typed line is mended at the edge (`repair_text`): bytes that are not
UTF-8 become U+FFFD, and a line with nothing to answer is ignored. A sink
that fails mid-reply turns speech off; the printed reply is never cut.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import statistics
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from assistant.core.errors import AssistantError
from assistant.core.inputs import REPLACEMENT, has_words, repair_text, replaced_bytes
from assistant.pipeline.memory import Conversation
from assistant.pipeline.reply import ReplyResult, ReplyStreamer, answer, say
from assistant.skills import Skills
from assistant.stages.audio.base import AudioSink
from assistant.stages.llm.base import LanguageModel
from assistant.stages.tts.base import TextToSpeech

profile_log = logging.getLogger("assistant.profile")

HELP = """commands:
  /help          this text
  /reset         forget the conversation
  /speak on|off  speak replies (to the speaker, or to WAV files without one)
  /stats         median timings of this session
  /tools         declared GPIO tools and their state
  /quit          leave (Ctrl-D works too)"""


def ask(
    llm: LanguageModel,
    conversation: Conversation,
    question: str,
    *,
    tts: TextToSpeech | None = None,
    sink: AudioSink | None = None,
    on_token: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    skills: Skills | None = None,
) -> ReplyResult:
    """One text turn (see `reply.answer`); the sink must already be open.

    Timings include ``total`` in ms, and ``path`` says which path answered.
    "Repeat that" repeats `Conversation.last_reply`.
    """
    streamer = ReplyStreamer(tts, sink if tts else None, on_token=on_token)
    started = streamer.clock()
    result = answer(streamer, llm, conversation, question, shortcuts=skills, cancel=cancel)
    result.timings_ms["total"] = round((streamer.clock() - started) * 1000, 1)
    return result


def format_stats(result: ReplyResult) -> str:
    t = result.timings_ms
    if result.path == "llm":
        parts = [f"first token {t.get('llm_first_token', 0):.0f} ms"]
        parts.append(f"{result.tokens_per_s:.1f} tokens/s")
    else:
        parts = [f"answered by {result.path}, no LLM"]
    if "tts_first_audio" in t:
        parts.append(f"first audio {t['tts_first_audio']:.0f} ms")
    return "[" + " · ".join(parts) + "]"


class Console:
    """The REPL. Input and output are injected so tests can drive it."""

    def __init__(
        self,
        llm: LanguageModel,
        conversation: Conversation,
        *,
        tts: TextToSpeech | None,
        sink: AudioSink | None,
        speak: bool,
        skills: Skills | None = None,
        read_line: Callable[[str], str] = input,
        out: TextIO | None = None,
    ) -> None:
        self.llm = llm
        self.conversation = conversation
        self.tts = tts
        self.sink = _SpeechOffOnFailure(sink) if sink is not None else None
        self.speak = speak and tts is not None and sink is not None
        self.skills = skills
        self.read_line = read_line
        self.out = out or sys.stdout
        self.history: list[ReplyResult] = []

    def run(self) -> int:
        _enable_line_editing()
        self._say(f"assistant console on {self.llm.name}; /help for commands, /quit to leave")
        while True:
            self._ring_timers()
            try:
                typed = self.read_line("you> ")
            except EOFError:
                self._say("")
                return 0
            line = repair_text(typed).strip()
            if not has_words(line):
                continue
            if replaced_bytes(typed, line):
                self._say(f"[bytes that are not UTF-8 were read as {REPLACEMENT}]")
            if line.startswith("/"):
                if self._command(line) == "quit":
                    return 0
                continue
            self._turn(line)

    def _turn(self, question: str) -> None:
        self.out.write("assistant> ")
        self.out.flush()

        def show(token: str) -> None:
            self.out.write(token)
            self.out.flush()

        cancel = threading.Event()
        try:
            with _ctrl_c_cancels(cancel, self.sink):
                result = ask(
                    self.llm,
                    self.conversation,
                    question,
                    tts=self.tts if self.speak else None,
                    sink=self.sink,
                    on_token=show,
                    cancel=cancel,
                    skills=self.skills,
                )
        except AssistantError as exc:
            self._say(f"\n[error] {exc}")
            self._report_sink_failure()
            return
        if result.interrupted:
            self._say("\n[interrupted]")
        self.history.append(result)
        profile_log.info("turn path=%s timings_ms=%s", result.path, result.timings_ms)
        self._say("\n" + format_stats(result))
        if self._report_sink_failure():
            return
        if self.speak and self.sink.paths:
            # No sound card: say where the spoken reply went.
            self._say(f"[spoken reply saved to {self.sink.paths[-1]}]")

    def _report_sink_failure(self) -> bool:
        """After a reply: if the sink failed during it, say so once and turn
        speech off (``/speak on`` tries again). True if it had failed."""
        if self.sink is None or self.sink.error is None:
            return False
        self._say(f"[speech off: {self.sink.error}]")
        self.speak = False
        self.sink.error = None
        return True

    def _ring_timers(self) -> None:
        """Timers that came due while the user was typing ring before the prompt."""
        if self.skills is None:
            return
        for alert in self.skills.due_alerts():
            self._say(f"[timer] {alert}")
            # Spoken or not, the alert is what was said last ("repeat that").
            streamer = ReplyStreamer(self.tts, self.sink) if self.speak else ReplyStreamer()
            say(streamer, self.conversation, alert)
            self._report_sink_failure()

    def _command(self, line: str) -> str | None:
        name, _, arg = line.partition(" ")
        arg = arg.strip().lower()
        if name in ("/quit", "/exit"):
            return "quit"
        if name == "/help":
            self._say(HELP)
        elif name == "/reset":
            self.conversation.reset()
            self._say("[conversation forgotten]")
        elif name == "/speak":
            if arg not in ("on", "off"):
                self._say("usage: /speak on|off")
            elif arg == "on" and (self.tts is None or self.sink is None):
                self._say("[speech is not available: no voice loaded]")
            else:
                self.speak = arg == "on"
                self._say(f"[speech {arg}]")
        elif name == "/stats":
            self._say(self._stats())
        elif name == "/tools":
            self._say(self.skills.describe_tools() if self.skills else "[no tools declared]")
        else:
            self._say(f"unknown command {name}; /help lists the commands")
        return None

    def _stats(self) -> str:
        if not self.history:
            return "[no turns yet]"

        # Skills answer instantly; counting them would flatter the LLM figures.
        llm_turns = [r for r in self.history if r.path == "llm"] or self.history

        def median(key: str) -> str:
            values = [r.timings_ms[key] for r in llm_turns if key in r.timings_ms]
            return f"{statistics.median(values):.0f} ms" if values else "n/a"

        rate = statistics.median(r.tokens_per_s for r in llm_turns)
        return (
            f"[{len(self.history)} turns · median first token {median('llm_first_token')} · "
            f"{rate:.1f} tokens/s · first audio {median('tts_first_audio')} · "
            f"total {median('total')}]"
        )

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


class _SpeechOffOnFailure:
    """The console's sink, made safe to fail: the first `AudioError` (a
    read-only replies folder, a full disk, a speaker unplugged) is kept in
    `error` and later audio is dropped, so the reply streams on as text.
    The console reads `error` after the turn and turns speech off. Same
    threads as the wrapped sink; closes nothing it did not open."""

    def __init__(self, sink: AudioSink) -> None:
        self._sink = sink
        self.error: AssistantError | None = None

    @property
    def paths(self) -> list:
        return self._sink.paths

    def open(self, rate_hz: int) -> None:
        self._sink.open(rate_hz)

    def write(self, chunk, cancel: threading.Event | None = None) -> None:
        if self.error is None:
            self._guard(self._sink.write, chunk, cancel)

    def played_frames(self) -> int:
        return self._sink.played_frames()

    def drain(self, timeout_s: float) -> bool:
        return self._guard(self._sink.drain, timeout_s) if self.error is None else True

    def stop(self) -> None:
        self._guard(self._sink.stop)

    def close(self) -> None:
        self._sink.close()

    def _guard(self, call, *args):
        try:
            return call(*args)
        except AssistantError as exc:
            if self.error is None:
                self.error = exc
            return True


def _enable_line_editing() -> None:
    # Importing readline turns on line editing and history for input().
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401


@contextlib.contextmanager
def _ctrl_c_cancels(cancel: threading.Event, sink: AudioSink | None):
    """During a reply, Ctrl-C stops it like a barge-in: playback is cut, and
    the reply returns with what was said, so memory stays right."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame) -> None:
        cancel.set()
        if sink is not None:
            sink.stop()

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
