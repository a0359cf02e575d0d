"""The streaming reply: text pieces -> sentences -> speech -> speaker, overlapped.

Three stages run at once so the first sentence is spoken while the rest is
still being generated:

    caller thread:   text pieces -> SentenceSplitter -> sentence queue
    "tts" thread:    sentence queue -> TextToSpeech -> audio queue
    "playback":      audio queue -> AudioSink.write

The pieces are an LLM's tokens (``llm.generate(messages, cancel)``) or the
words of a fixed answer (`words`); the streamer knows no model. Queues are
bounded, so a slow speaker back-pressures synthesis and generation instead
of buffering a whole reply. One `threading.Event` cancels all three; each
stage checks it between pieces or chunks.

`answer` is one turn's reply (the shortcuts, else the LLM with memory) and
`say` speaks a fixed text such as a timer alert. Both run on the caller's
worker thread, which is also the LLM's thread (llama.cpp's one-thread rule),
and both keep `Conversation.last_reply` up to date.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from assistant.core.errors import (
    AssistantError,
    AudioError,
    LanguageModelError,
    SkillError,
    TextToSpeechError,
)
from assistant.pipeline.memory import Conversation
from assistant.pipeline.shortcuts import Shortcuts
from assistant.stages.audio.base import AudioSink
from assistant.stages.llm.base import LanguageModel
from assistant.stages.tts.base import TextToSpeech
from assistant.stages.tts.pacing import PacedSplitter

log = logging.getLogger(__name__)

_END = object()
_QUEUE_POLL_S = 0.05


@dataclass
class ReplyResult:
    generated: str
    """Every piece of the reply (everything the LLM produced)."""
    spoken: str
    """The part the listener heard; equals `generated` unless interrupted."""
    interrupted: bool
    tokens: int
    """How many pieces (LLM tokens, or words of a fixed answer) there were."""
    timings_ms: dict[str, float] = field(default_factory=dict)
    """``llm_first_token`` and ``llm_total`` (the first and the last piece,
    also for a fixed answer), ``tts_first_audio`` and ``first_audio_played``,
    each in ms since the reply started."""
    path: str = "llm"
    """Which path answered: ``llm``, ``intent`` or ``tool``."""
    prompt_tokens_read: int = 0
    """Prompt tokens the LLM evaluated for this reply, after the transcript
    was final: what the KV cache (and a prefill) did not already hold."""
    prefill_tokens: int = 0
    """Prompt tokens a speculative prefill evaluated while the user spoke."""

    @property
    def tokens_per_s(self) -> float:
        """LLM generation speed after the first token, in tokens per second;
        0.0 for a reply that did not come from the LLM (a fixed answer's
        words arrive all at once, so a speed would be meaningless)."""
        if self.path != "llm":
            return 0.0
        gen_ms = self.timings_ms.get("llm_total", 0.0) - self.timings_ms.get("llm_first_token", 0.0)
        if self.tokens < 2 or gen_ms <= 0:
            return 0.0
        return (self.tokens - 1) / (gen_ms / 1000.0)


@dataclass
class _Spoken:
    """A sentence and where its audio sits in the sink's frame count."""

    text: str
    start_frame: int = -1
    end_frame: int = -1


class ReplyStreamer:
    """Speaks one reply through the overlapped stages.

    `tts` and `sink` may be None for a text-only reply; the caller opens and
    closes the sink. The first spoken piece is cut short (2-4 words, see
    `SentenceSplitter.short_first`, `PacedSplitter`) when the pieces come fast
    enough to keep the speaker fed (`keeps_speaker_fed`): at the rate measured on this
    reply's pieces once three have come, before that at ``tokens_per_s``
    (the engine's known rate, None if unknown). `on_token` is called on the caller's thread,
    `on_first_audio` and `on_sentence_spoken` on the playback thread; none
    may block.
    """

    def __init__(
        self,
        tts: TextToSpeech | None = None,
        sink: AudioSink | None = None,
        *,
        on_token: Callable[[str], None] | None = None,
        on_first_audio: Callable[[], None] | None = None,
        on_sentence_spoken: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        tokens_per_s: float | None = None,
    ) -> None:
        self.tts = tts
        self.sink = sink
        self.on_token = on_token
        self.on_first_audio = on_first_audio
        self.on_sentence_spoken = on_sentence_spoken
        self.clock = clock
        self.tokens_per_s = tokens_per_s
        self._cancel = threading.Event()
        self._played_at_interrupt: int | None = None

    def interrupt(self) -> None:
        """Barge-in, from any thread: cut playback now and cancel the rest.

        The frames played so far are read at this moment, so audio written to
        the sink afterwards (an earcon) is not mistaken for spoken reply.
        """
        # Cancel first, so the playback thread queues nothing after the stop.
        self._cancel.set()
        if self.sink is not None:
            self.sink.stop()
            self._played_at_interrupt = self.sink.played_frames()

    def run(self, pieces: Iterable[str], cancel: threading.Event | None = None) -> ReplyResult:
        """Speak ``pieces`` as they come and return the reply. Blocks until
        playback ends or `cancel` is set (or `interrupt` is called); raises
        the first stage error: an unexpected exception from ``pieces`` (the
        LLM) as `LanguageModelError`, from synthesis as `TextToSpeechError`,
        from playback as `AudioError`. Call once per streamer; ``pieces`` is
        consumed on the calling thread."""
        if cancel is not None:
            self._cancel = cancel
        cancel = self._cancel
        t0 = self.clock()
        timings: dict[str, float] = {}
        speaking = self.tts is not None
        sentences: queue.Queue = queue.Queue(maxsize=4)
        audio: queue.Queue = queue.Queue(maxsize=8)
        spoken: list[_Spoken] = []
        errors: list[BaseException] = []
        base_frame = self.sink.played_frames() if self.sink else 0

        def ms() -> float:
            return round((self.clock() - t0) * 1000.0, 1)

        def fail(exc: BaseException) -> None:
            errors.append(exc)
            cancel.set()

        threads = []
        if speaking:
            threads.append(
                threading.Thread(
                    target=self._synthesize_loop,
                    args=(sentences, audio, spoken, cancel, timings, ms, fail),
                    name="tts",
                    daemon=True,
                )
            )
            threads.append(
                threading.Thread(
                    target=self._playback_loop,
                    args=(audio, spoken, cancel, timings, ms, fail, base_frame),
                    name="playback",
                    daemon=True,
                )
            )
        for thread in threads:
            thread.start()

        received: list[str] = []
        splitter = PacedSplitter(self.clock, self.tokens_per_s)
        try:
            for piece in pieces:
                if not received:
                    timings["llm_first_token"] = ms()
                received.append(piece)
                done = splitter.feed(piece) if speaking else []
                if self.on_token:
                    self.on_token(piece)
                for sentence in done:
                    _put(sentences, sentence, cancel)
            timings["llm_total"] = ms()
            if speaking:
                for sentence in splitter.flush():
                    _put(sentences, sentence, cancel)
        except AssistantError as exc:
            fail(exc)
        except Exception as exc:
            fail(LanguageModelError(f"the reply failed: {type(exc).__name__}: {exc}"))
        except BaseException as exc:  # Ctrl-C must still stop the other stages
            fail(exc)
        finally:
            if speaking:
                _put(sentences, _END, cancel, force=True)
            for thread in threads:
                thread.join()

        if errors:
            raise errors[0]
        generated = "".join(received).strip()
        interrupted = cancel.is_set()
        # Text-only replies were shown in full, so all of it counts as said.
        said = self._spoken_text(spoken, base_frame, interrupted) if speaking else generated
        return ReplyResult(generated, said, interrupted, len(received), timings)

    def _synthesize_loop(self, sentences, audio, spoken, cancel, timings, ms, fail) -> None:
        try:
            while True:
                sentence = _get(sentences, cancel)
                if sentence is _END or sentence is None:
                    break
                record = _Spoken(sentence)
                spoken.append(record)
                for chunk in self.tts.synthesize(sentence, cancel):
                    timings.setdefault("tts_first_audio", ms())
                    if not _put(audio, (record, chunk), cancel):
                        return
        except TextToSpeechError as exc:
            fail(exc)
        except Exception as exc:  # even an `AssistantError` (a voice file gone) is this stage's
            fail(TextToSpeechError(f"speech synthesis failed: {exc}"))
        finally:
            _put(audio, _END, cancel, force=True)

    def _playback_loop(self, audio, spoken, cancel, timings, ms, fail, base_frame) -> None:
        sink = self.sink
        written = base_frame
        current: _Spoken | None = None
        try:
            while True:
                item = _get(audio, cancel)
                if item is _END or item is None:
                    break
                record, chunk = item
                if record is not current:
                    self._finish_sentence(current)
                    current = record
                    record.start_frame = written
                if "first_audio_played" not in timings:
                    timings["first_audio_played"] = ms()
                    if self.on_first_audio:
                        self.on_first_audio()
                if sink is not None:
                    sink.write(chunk, cancel)
                # The sink is opened at the voice's rate, so frames count 1:1.
                written += len(chunk.samples)
                record.end_frame = written
            if sink is not None and not cancel.is_set():
                sink.drain(timeout_s=max(5.0, (written - base_frame) / 8000.0 + 5.0))
            if not cancel.is_set():
                self._finish_sentence(current)
        except AudioError as exc:
            fail(exc)
        except Exception as exc:
            fail(AudioError(f"playback failed: {type(exc).__name__}: {exc}"))

    def _finish_sentence(self, record: _Spoken | None) -> None:
        if record is not None and self.on_sentence_spoken:
            self.on_sentence_spoken(record.text)

    def _spoken_text(self, spoken: list[_Spoken], base_frame: int, interrupted: bool) -> str:
        if not interrupted:
            return " ".join(s.text for s in spoken).strip()
        played = self._played_at_interrupt
        if played is None:
            played = self.sink.played_frames() if self.sink else base_frame
        said = []
        for record in spoken:
            if record.start_frame < 0 or record.start_frame >= played:
                break
            if record.end_frame <= played:
                said.append(record.text)
                continue
            # Keep the words heard so far, in proportion to the audio played.
            fraction = (played - record.start_frame) / max(1, record.end_frame - record.start_frame)
            words = record.text.split()
            heard = words[: int(len(words) * fraction)]
            if heard:
                said.append(" ".join(heard) + "…")
            break
        return " ".join(said).strip()


def _put(q: queue.Queue, item, cancel: threading.Event, force: bool = False) -> bool:
    """Put with back-pressure; give up when cancelled (unless `force`, used
    for the end marker, which drops stale items to make room)."""
    while True:
        if cancel.is_set() and not force:
            return False
        try:
            q.put(item, timeout=_QUEUE_POLL_S)
            return True
        except queue.Full:
            if force and cancel.is_set():
                with contextlib.suppress(queue.Empty):
                    q.get_nowait()


def _get(q: queue.Queue, cancel: threading.Event):
    """Get the next item, or None once cancelled (the end marker still wins)."""
    while True:
        try:
            item = q.get(timeout=_QUEUE_POLL_S)
        except queue.Empty:
            if cancel.is_set():
                return None
            continue
        if cancel.is_set() and item is not _END:
            continue
        return item


def words(text: str) -> Iterator[str]:
    """``text`` as pieces of one word each (with the space before it), so a
    fixed answer streams to ``on_token`` like an LLM reply."""
    for i, word in enumerate(text.split(" ") if text else []):
        yield word if i == 0 else " " + word


def say(
    streamer: ReplyStreamer,
    conversation: Conversation,
    text: str,
    *,
    path: str = "intent",
    cancel: threading.Event | None = None,
) -> ReplyResult:
    """Speak the fixed ``text`` (a shortcut's answer or a timer alert) and
    note it as `Conversation.last_reply`; it is not conversation memory.
    Blocks the calling worker."""
    result = streamer.run(words(text), cancel)
    result.path = path
    conversation.note_reply(result.spoken)
    return result


def answer(
    streamer: ReplyStreamer,
    llm: LanguageModel,
    conversation: Conversation,
    text: str,
    *,
    shortcuts: Shortcuts | None = None,
    cancel: threading.Event | None = None,
) -> ReplyResult:
    """One turn's reply to the transcript ``text``: the shortcuts' answer
    when they have one, else the LLM with memory.

    The shortcuts get ``text`` once, with `Conversation.last_reply`. For the
    LLM, the memory is trimmed to fit, the reply streams through
    ``streamer``, and what was actually said is remembered; shortcut answers
    are not conversation memory. Either way `last_reply` is updated. Blocks
    the calling worker, which must be the LLM's thread. An unexpected
    exception from the shortcuts is raised as `SkillError`.
    """
    shortcut = None
    if shortcuts is not None:
        try:
            shortcut = shortcuts.answer(text, conversation.last_reply, cancel)
        except AssistantError:
            raise
        except Exception as exc:
            log.exception("the shortcuts failed on %r", text)
            raise SkillError(f"answering {text!r} failed: {type(exc).__name__}: {exc}") from exc
    if shortcut is not None:
        return say(streamer, conversation, shortcut.text, path=shortcut.path, cancel=cancel)
    conversation.trim(llm.fits, text)
    result = streamer.run(llm.generate(conversation.messages(text), cancel), cancel)
    stats = llm.last_stats
    result.prompt_tokens_read = max(0, stats.prompt_tokens - stats.cached_tokens)
    conversation.add(text, result.spoken)
    conversation.note_reply(result.spoken)
    return result
