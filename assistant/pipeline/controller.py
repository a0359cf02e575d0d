"""The turn state machine.

One controller thread owns the state and handles events in the order they
arrive: button events from GPIO, the keyboard or tests, and the results of
its own worker threads. Workers never change state; they post events back.

    IDLE --press--> LISTENING --release--> THINKING --first audio--> SPEAKING
      ^                |  (short press / no speech)                     |
      +----------------+-----------------<--- reply done ---------------+
    Any failure goes to ERROR, which returns to IDLE at once.
    A press while THINKING or SPEAKING is a barge-in: the reply stops and
    a new turn starts listening.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.core.config import TurnConfig
from assistant.core.errors import AssistantError
from assistant.core.events import (
    ButtonPressed,
    ButtonReleased,
    CancelPressed,
    Event,
    EventBus,
    PartialTranscript,
    ReplyToken,
    SentenceSpoken,
    State,
    StateChanged,
    TranscriptReady,
    TurnFailed,
    TurnFinished,
    TurnIgnored,
)
from assistant.pipeline.memory import Conversation
from assistant.pipeline.reply import ReplyResult, ReplyStreamer, answer
from assistant.skills.handler import FixedReply, Skills
from assistant.stages.asr.base import SpeechToText
from assistant.stages.audio.base import AudioSink, AudioSource
from assistant.stages.audio.earcons import earcon
from assistant.stages.llm.base import LanguageModel
from assistant.stages.tts.base import TextToSpeech

log = logging.getLogger(__name__)

_PARTIAL_EVERY_S = 0.2
_READ_TIMEOUT_S = 0.1
_JOIN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class _Listened(Event):
    turn: int
    text: str
    asr_final_ms: float
    end_of_speech_s: float


@dataclass(frozen=True)
class _SpeechStarted(Event):
    turn: int


@dataclass(frozen=True)
class _Replied(Event):
    turn: int
    result: ReplyResult


@dataclass(frozen=True)
class _Failed(Event):
    turn: int
    stage: str
    message: str


@dataclass(frozen=True)
class _Stop(Event):
    pass


@dataclass
class _Turn:
    id: int
    pressed_s: float
    stop_listening: threading.Event = field(default_factory=threading.Event)
    cancel: threading.Event = field(default_factory=threading.Event)
    transcript: str = ""
    end_of_speech_s: float = 0.0
    asr_final_ms: float = 0.0
    reply_started_s: float = 0.0
    alert: str = ""
    """Text of a due timer alert; such a turn has no listening."""
    progress_s: float = 0.0
    """When the reply last produced a token or finished a sentence."""
    listener: threading.Thread | None = None
    replier: threading.Thread | None = None
    streamer: ReplyStreamer | None = None


class Controller:
    """Owns the pipeline state; everything else subscribes to `bus`.

    Engines and devices are injected. `submit` may be called from any thread
    and never blocks. `start` runs the controller thread; `stop` cancels the
    current turn and joins every thread. The controller opens the sink in
    `start` (and reopens it after an audio failure) and closes it in `stop`;
    it closes nothing else it was given.
    """

    def __init__(
        self,
        *,
        stt: SpeechToText,
        llm: LanguageModel,
        tts: TextToSpeech | None,
        source: AudioSource,
        sink: AudioSink | None,
        conversation: Conversation,
        turn: TurnConfig,
        bus: EventBus | None = None,
        earcons: bool = True,
        skills: Skills | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stt = stt
        self.llm = llm
        self.tts = tts
        self.source = source
        self.sink = sink
        self.conversation = conversation
        self.config = turn
        self.bus = bus or EventBus()
        self.earcons = earcons and sink is not None and tts is not None
        self.skills = skills
        self.clock = clock
        self._last_reply = ""
        self._inbox: queue.Queue[Event] = queue.Queue()
        self._state = State.IDLE
        self._turn: _Turn | None = None
        self._last_replier: threading.Thread | None = None
        self._last_listener: threading.Thread | None = None
        self._workers: list[threading.Thread] = []
        self._reopen_sink = False
        self._stop_deadline = 0.0
        self._next_id = 0
        self._thread: threading.Thread | None = None
        self.last_loop_s = clock()
        """When the controller loop last ran; a watchdog reads it."""

    @property
    def state(self) -> State:
        return self._state

    def submit(self, event: Event) -> None:
        self._inbox.put_nowait(event)

    def start(self) -> None:
        if self._thread is not None:
            return
        if self.sink is not None and self.tts is not None:
            self.sink.open(self.tts.sample_rate_hz)
        self._thread = threading.Thread(target=self._loop, name="controller", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = _JOIN_TIMEOUT_S) -> bool:
        """Cancel any turn and wait for every thread; safe to call twice.

        Returns False if a worker is still busy after `timeout_s` (a prompt
        evaluation cannot be interrupted): the caller must then not close
        the engines under it.
        """
        if self._thread is None:
            return True
        self._stop_deadline = self.clock() + timeout_s
        self.submit(_Stop())
        self._thread.join(timeout_s)
        stopped = not self._thread.is_alive()
        self._thread = None
        if self.sink is not None:
            self.sink.close()
        return stopped

    def alive(self, within_s: float) -> bool:
        """True when the controller loop ran in the last `within_s` seconds."""
        return self._thread is not None and self.clock() - self.last_loop_s < within_s

    # -- the controller thread -------------------------------------------

    def _loop(self) -> None:
        while True:
            self.last_loop_s = self.clock()
            try:
                event = self._inbox.get(timeout=0.5)
            except queue.Empty:
                event = None
            if isinstance(event, _Stop):
                self._abandon(State.IDLE)
                self._join_workers()
                return
            try:
                if event is None:
                    self._check_timeout()
                    self._check_alerts()
                else:
                    self._handle(event)
            except Exception as exc:  # a bug here must not wedge the appliance
                log.exception("controller failed on %s", type(event).__name__)
                self._fail(self._turn.id if self._turn else -1, "controller", str(exc))

    def _handle(self, event: Event) -> None:
        state = self._state
        turn = self._turn
        if isinstance(event, ButtonPressed):
            if state is State.IDLE or state is State.ERROR:
                self._start_listening(event.at_s)
            elif state is State.LISTENING and self.config.mode == "toggle":
                turn.stop_listening.set()
            elif state in (State.THINKING, State.SPEAKING):
                log.info("barge-in: stopping the reply and listening")
                self._abandon(None)
                self._start_listening(event.at_s)
        elif isinstance(event, ButtonReleased):
            if state is State.LISTENING and self.config.mode == "hold":
                if event.at_s - turn.pressed_s < self.config.min_press_s:
                    self._ignore("short-press")
                else:
                    turn.end_of_speech_s = event.at_s
                    turn.stop_listening.set()
        elif isinstance(event, CancelPressed):
            if state is not State.IDLE:
                log.info("cancelled in state %s", state.value)
                self._abandon(State.IDLE)
        elif isinstance(event, _Listened):
            if turn is not None and event.turn == turn.id and state is State.LISTENING:
                self._listened(turn, event)
        elif isinstance(event, _SpeechStarted):
            if turn is not None and event.turn == turn.id and state is State.THINKING:
                self._set_state(State.SPEAKING)
        elif isinstance(event, _Replied):
            self._replied(event)
        elif isinstance(event, _Failed):
            if turn is not None and event.turn == turn.id:
                self._fail(event.turn, event.stage, event.message)
            else:
                log.info("an abandoned turn failed in %s: %s", event.stage, event.message)

    def _set_state(self, new: State) -> None:
        old, self._state = self._state, new
        if old is not new:
            log.info("state %s -> %s", old.value, new.value)
            self.bus.publish(StateChanged(old, new))

    def _start_listening(self, pressed_s: float) -> None:
        self._next_id += 1
        turn = _Turn(self._next_id, pressed_s)
        self._turn = turn
        self._set_state(State.LISTENING)
        self._reopen_sink_if_failed()
        self._earcon("listening")
        turn.listener = self._spawn(self._listen, turn, self._last_listener, f"listen-{turn.id}")
        self._last_listener = turn.listener

    def _spawn(self, target, turn: _Turn, previous, name: str) -> threading.Thread:
        self._workers = [t for t in self._workers if t.is_alive()]
        thread = threading.Thread(target=target, args=(turn, previous), name=name, daemon=True)
        self._workers.append(thread)
        thread.start()
        return thread

    def _reopen_sink_if_failed(self) -> None:
        """After an audio failure, reopen the speaker: it may be back."""
        if not self._reopen_sink or self.sink is None or self.tts is None:
            return
        self._reopen_sink = False
        self._stop_deadline = 0.0
        try:
            self.sink.close()
            self.sink.open(self.tts.sample_rate_hz)
            log.info("speaker reopened")
        except AssistantError as exc:
            self._reopen_sink = True
            log.warning("speaker still unavailable: %s", exc)

    def _listened(self, turn: _Turn, event: _Listened) -> None:
        turn.transcript = event.text
        turn.asr_final_ms = event.asr_final_ms
        turn.end_of_speech_s = event.end_of_speech_s
        self._earcon("stopped")
        if not event.text.strip():
            self._ignore("no-speech")
            return
        self.bus.publish(TranscriptReady(event.text))
        self._start_reply(turn)

    def _start_reply(self, turn: _Turn) -> None:
        self._set_state(State.THINKING)
        turn.reply_started_s = self.clock()
        turn.streamer = ReplyStreamer(
            self.llm,
            self.tts,
            self.sink if self.tts is not None else None,
            on_token=lambda text: self._progress(turn, ReplyToken(text)),
            on_first_audio=lambda: self.submit(_SpeechStarted(turn.id)),
            on_sentence_spoken=lambda text: self._progress(turn, SentenceSpoken(text)),
            clock=self.clock,
        )
        self._reopen_sink_if_failed()
        turn.replier = self._spawn(self._reply, turn, self._last_replier, f"reply-{turn.id}")
        self._last_replier = turn.replier

    def _replied(self, event: _Replied) -> None:
        turn = self._turn
        result = event.result
        current = turn is not None and event.turn == turn.id
        timings = dict(result.timings_ms)
        if current:
            timings["asr_final"] = turn.asr_final_ms
            if "first_audio_played" in timings:
                ttfa_s = turn.reply_started_s - turn.end_of_speech_s
                timings["ttfa"] = round(ttfa_s * 1000 + timings["first_audio_played"], 1)
            timings["total"] = round((self.clock() - turn.end_of_speech_s) * 1000, 1)
        self.bus.publish(
            TurnFinished(
                transcript=turn.transcript if current else "",
                reply=result.spoken,
                timings_ms=timings,
                interrupted=result.interrupted,
                tokens_per_s=round(result.tokens_per_s, 2),
                generated=result.generated,
                path=result.path,
            )
        )
        if current and self._state in (State.THINKING, State.SPEAKING):
            self._turn = None
            self._set_state(State.IDLE)

    def _ignore(self, reason: str) -> None:
        log.info("turn ignored: %s", reason)
        if self._turn is not None:
            self._turn.stop_listening.set()
            self._turn.cancel.set()
        self._turn = None
        self._earcon("ignored")
        self.bus.publish(TurnIgnored(reason))
        self._set_state(State.IDLE)

    def _fail(self, turn_id: int, stage: str, message: str) -> None:
        log.error("turn %d failed in %s: %s", turn_id, stage, message)
        if stage == "audio":
            self._reopen_sink = True
        self._abandon(None)
        self._set_state(State.ERROR)
        self.bus.publish(TurnFailed(stage, message))
        self._earcon("error")
        self._set_state(State.IDLE)

    def _abandon(self, then: State | None) -> None:
        """Stop the current turn's workers without waiting for them."""
        turn, self._turn = self._turn, None
        if turn is not None:
            turn.stop_listening.set()
            if turn.streamer is not None:
                turn.streamer.interrupt()
            elif self.sink is not None:
                self.sink.stop()
            turn.cancel.set()
        if then is not None:
            self._set_state(then)

    def _progress(self, turn: _Turn, event: Event) -> None:
        """From a worker: the reply moved on; publish it and note the time."""
        turn.progress_s = self.clock()
        self.bus.publish(event)

    def _check_timeout(self) -> None:
        """A reply that makes no progress (a hung model or a stalled speaker)
        fails, so the appliance and its LEDs never stay stuck."""
        turn = self._turn
        if turn is None or self._state not in (State.THINKING, State.SPEAKING):
            return
        quiet_s = self.clock() - max(turn.reply_started_s, turn.progress_s)
        if quiet_s > self.config.reply_timeout_s:
            stage = "llm" if self._state is State.THINKING else "audio"
            self._fail(turn.id, stage, f"no progress for {self.config.reply_timeout_s:g} s")

    def _check_alerts(self) -> None:
        """Speak due timer alerts, only while idle so no turn is disturbed."""
        if self.skills is None or self._state is not State.IDLE or self._turn is not None:
            return
        alerts = self.skills.due_alerts()
        if alerts:
            self._next_id += 1
            turn = _Turn(self._next_id, self.clock(), alert=" ".join(alerts))
            turn.end_of_speech_s = turn.pressed_s
            self._turn = turn
            self._start_reply(turn)

    def _join_workers(self) -> None:
        for thread in self._workers:
            thread.join(max(0.0, self._stop_deadline - self.clock()))

    def _earcon(self, name: str) -> None:
        if not self.earcons:
            return
        # On its own thread: a stalled speaker must not stall the controller.
        chunk = earcon(name, self.tts.sample_rate_hz)
        threading.Thread(target=self._play_earcon, args=(name, chunk), daemon=True).start()

    def _play_earcon(self, name: str, chunk) -> None:
        try:
            self.sink.write(chunk)
        except AssistantError as exc:
            log.warning("could not play the %s sound: %s", name, exc)

    # -- worker threads ----------------------------------------------------

    def _listen(self, turn: _Turn, previous: threading.Thread | None) -> None:
        """Capture and recognize until released, silent, exhausted or too long."""
        # The microphone is shared: an abandoned listener must close it first.
        if previous is not None:
            previous.join()
        stage = "audio"
        try:
            transcriber = self.stt.start()
            self.source.open()
            # Audio queued while the assistant spoke is its own voice: drop it.
            self.source.discard()
            heard_s = 0.0
            last_partial, partial_at = "", 0.0
            while not turn.stop_listening.is_set():
                stage = "audio"
                block = self.source.read(_READ_TIMEOUT_S)
                if block is None:
                    if getattr(self.source, "exhausted", False):
                        break
                    continue
                stage = "asr"
                transcriber.accept(block)
                heard_s += len(block) / self.stt.sample_rate_hz
                now = self.clock()
                if now - partial_at >= _PARTIAL_EVERY_S:
                    partial_at = now
                    text = transcriber.partial()
                    if text and text != last_partial:
                        last_partial = text
                        self.bus.publish(PartialTranscript(text))
                if self.config.mode == "toggle" and transcriber.endpoint():
                    break
                if heard_s >= self.config.max_listen_s:
                    log.info("listening stopped after %.1f s", heard_s)
                    break
            end_of_speech = turn.end_of_speech_s or self.clock()
            self.source.close()
            if turn.cancel.is_set():
                return
            stage = "asr"
            text = transcriber.finish().strip()
            asr_ms = round((self.clock() - end_of_speech) * 1000, 1)
            self.submit(_Listened(turn.id, text, asr_ms, end_of_speech))
        except AssistantError as exc:
            self.source.close()
            self.submit(_Failed(turn.id, stage, str(exc)))
        except Exception as exc:
            log.exception("listening failed")
            self.source.close()
            self.submit(_Failed(turn.id, stage, f"{type(exc).__name__}: {exc}"))

    def _reply(self, turn: _Turn, previous: threading.Thread | None) -> None:
        # llama.cpp allows one thread at a time: a cancelled reply stops at its
        # next token, or mid prompt evaluation through llama.cpp's abort
        # callback, so waiting for it is short and never skipped.
        if previous is not None:
            previous.join()
        try:
            if turn.alert:
                turn.streamer.llm = FixedReply(turn.alert)
                result = turn.streamer.run([], turn.cancel)
                result.path = "intent"
            else:
                result = answer(
                    turn.streamer,
                    self.conversation,
                    turn.transcript,
                    skills=self.skills,
                    last_reply=self._last_reply,
                    cancel=turn.cancel,
                )
            if result.spoken:
                self._last_reply = result.spoken
            self.submit(_Replied(turn.id, result))
        except AssistantError as exc:
            self.submit(_Failed(turn.id, _stage_of(exc), str(exc)))
        except Exception as exc:
            log.exception("reply failed")
            self.submit(_Failed(turn.id, "llm", f"{type(exc).__name__}: {exc}"))


def _stage_of(exc: AssistantError) -> str:
    from assistant.core.errors import AudioError, LanguageModelError, TextToSpeechError

    for cls, stage in (
        (AudioError, "audio"),
        (TextToSpeechError, "tts"),
        (LanguageModelError, "llm"),
    ):
        if isinstance(exc, cls):
            return stage
    return "llm"
