"""The turn state machine.

One controller thread owns the state and handles events in the order they
arrive: button events from GPIO, the keyboard or tests, and what its own
worker threads post back (`Heard`, `WorkerFailed`, a reply's progress and
result). Workers never change state.

    IDLE --press--> LISTENING --release--> THINKING --first audio--> SPEAKING
      ^                |  (short press / no speech)                     |
      +----------------+-----------------<--- reply done ---------------+
    Any failure goes to ERROR, which returns to IDLE at once.
    A press while THINKING or SPEAKING is a barge-in: the reply stops and
    a new turn starts listening.

A `VoiceTurn` listens on a ``listen-N`` thread (`listener.Listening`) while
a ``prefill-N`` thread (`prefill.Prefill`) reads the words heard so far into
the model, then replies on a ``reply-N`` thread (`reply.answer`). An `AlertTurn` (a due
timer) starts while idle and only speaks, on a ``reply-N`` thread (`reply.say`).

Threads: the listeners run one after another (they share the microphone),
and so do the replies and prefills (llama.cpp allows one thread at a time;
see `workers`). A cancelled
worker ends at its next block, token or chunk: a prompt evaluation stops
through llama.cpp's abort callback. `stop` joins the controller thread and
then every worker before it closes the speaker.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from assistant.core.config import TurnConfig
from assistant.core.errors import AudioError
from assistant.core.events import (
    ButtonPressed,
    ButtonReleased,
    CancelPressed,
    EndpointReached,
    Event,
    EventBus,
    PartialTranscript,
    ReplyToken,
    SentenceSpoken,
    State,
    StateChanged,
    TranscriptReady,
    TurnFailed,
    TurnIgnored,
    WakeDetected,
)
from assistant.pipeline.failure import WorkerFailed, spoken_failure
from assistant.pipeline.listener import Heard, Listening
from assistant.pipeline.memory import Conversation
from assistant.pipeline.reply import ReplyStreamer
from assistant.pipeline.shortcuts import Shortcuts
from assistant.pipeline.speaker import Speaker
from assistant.pipeline.turns import (
    AlertTurn,
    Replied,
    SpeechStarted,
    StopRequested,
    Turn,
    VoiceTurn,
)
from assistant.pipeline.wake import HandsFree, HandsFreeListen
from assistant.pipeline.workers import Workers
from assistant.stages.asr.base import SpeechToText
from assistant.stages.audio.base import AudioSink, AudioSource
from assistant.stages.llm.base import LanguageModel
from assistant.stages.tts.base import TextToSpeech

log = logging.getLogger(__name__)

_IDLE_CHECK_S = 0.5
"""How often, with no event, the loop checks for a stalled reply and due timers."""
_JOIN_TIMEOUT_S = 30.0


class Controller:
    """Owns the pipeline state; everything else subscribes to `bus`.

    Engines and devices are injected. `submit` may be called from any thread
    and never blocks. `start` runs the controller thread; `stop` cancels the
    current turn and joins every thread. With a ``tts``, the controller
    opens ``sink`` in `start` (and reopens it after an audio failure) and
    closes it in `stop`; without one the sink is not used. It closes nothing
    else it was given. ``skills`` answers before the LLM and rings timers.
    With ``prefill``, a voice turn prefills the LLM from its partial
    transcripts while the user speaks.
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
        skills: Shortcuts | None = None,
        prefill: bool = True,
        clock: Callable[[], float] = time.monotonic,
        hands_free: HandsFree | None = None,
    ) -> None:
        self.stt = stt
        self.hands_free = hands_free  # wake turns, follow-ups, the toggle-mode endpointer
        self.llm = llm
        self.tts = tts
        self.source = source
        speaking = sink is not None and tts is not None
        self.speaker = Speaker(sink, tts.sample_rate_hz) if speaking else None
        self.conversation = conversation
        self.turn_config = turn
        self.bus = bus or EventBus()
        self.earcons = earcons and self.speaker is not None
        self.skills = skills
        self.prefill = prefill
        self.clock = clock
        self._inbox: queue.Queue[Event] = queue.Queue()
        self._state = State.IDLE
        self._turn: Turn | None = None
        self._workers = Workers()
        self._next_id = 0
        self._say_next: str | None = None  # a failure to say aloud once idle
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
        if self.speaker is not None:
            self.speaker.open()
        self._thread = threading.Thread(target=self._loop, name="controller", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = _JOIN_TIMEOUT_S) -> bool:
        """Cancel any turn, wait for the controller thread and then for every
        worker, and close the speaker; safe to call twice.

        Returns False if a thread is still busy after ``timeout_s`` seconds
        in all (a hung device or engine call): the caller must then not close
        the engines under it.
        """
        if self._thread is None:
            return True
        deadline = time.monotonic() + timeout_s
        thread, self._thread = self._thread, None
        self.submit(StopRequested())
        thread.join(timeout_s)
        stopped = not thread.is_alive()
        if stopped:
            # The controller thread has ended, so no worker starts any more.
            stopped = self._workers.join(deadline)
        if self.speaker is not None:
            self.speaker.close()
        return stopped

    def alive(self, within_s: float) -> bool:
        """True when the controller loop ran in the last `within_s` seconds."""
        return self._thread is not None and self.clock() - self.last_loop_s < within_s

    # -- the controller thread -------------------------------------------

    def _loop(self) -> None:
        while True:
            self.last_loop_s = self.clock()
            try:
                event = self._inbox.get(timeout=_IDLE_CHECK_S)
            except queue.Empty:
                event = None
            if isinstance(event, StopRequested):
                self._abandon(State.IDLE)
                return
            try:
                if event is None:
                    self._check_timeout()
                    self._check_alerts()
                else:
                    self._handle(event)
            except Exception as exc:  # a bug here must not wedge the appliance
                log.exception("controller failed on %s", type(event).__name__)
                self._fail("controller", f"{type(exc).__name__}: {exc}")

    def _handle(self, event: Event) -> None:
        state, turn, mode = self._state, self._turn, self.turn_config.mode
        if isinstance(event, ButtonPressed):
            if state is State.IDLE or state is State.ERROR:
                self._start_listening(event.at_s)
            elif state is State.LISTENING and mode == "toggle":
                turn.listening.stop()
            elif state in (State.THINKING, State.SPEAKING):
                log.info("barge-in: stopping the reply and listening")
                self._abandon(None)
                self._start_listening(event.at_s)
        elif isinstance(event, ButtonReleased):
            if state is State.LISTENING and mode == "hold" and not turn.listening.hands_free:
                if event.at_s - turn.pressed_s < self.turn_config.min_press_s:
                    self._ignore("short-press")
                else:
                    turn.listening.stop(released_s=event.at_s)
        elif isinstance(event, WakeDetected):
            self._woken(event, state)
        elif isinstance(event, CancelPressed):
            if state is not State.IDLE:
                log.info("cancelled in state %s", state.value)
                self._abandon(State.IDLE)
        elif isinstance(event, Heard):
            if turn is not None and event.turn == turn.id and state is State.LISTENING:
                self._heard(turn, event)
        elif isinstance(event, SpeechStarted):
            if turn is not None and event.turn == turn.id and state is State.THINKING:
                self._set_state(State.SPEAKING)
        elif isinstance(event, Replied):
            self._replied(event)
        elif isinstance(event, WorkerFailed):
            if turn is not None and event.turn == turn.id:
                self._fail(event.stage, event.message)
            else:
                log.info("an abandoned turn failed in %s: %s", event.stage, event.message)

    def _set_state(self, new: State) -> None:
        old, self._state = self._state, new
        if old is not new:
            log.info("state %s -> %s", old.value, new.value)
            self.bus.publish(StateChanged(old, new))

    def _woken(self, event: WakeDetected, state: State) -> None:
        """A press needing no release; while it thinks or speaks, a barge-in."""
        if self.hands_free is not None and state is not State.LISTENING:
            self.bus.publish(event)
            self._abandon(None)
            self._start_listening(event.at_s, self.hands_free.after_wake())

    def _start_listening(self, pressed_s: float, hands_free: HandsFreeListen | None = None) -> None:
        self._next_id += 1
        turn = VoiceTurn(id=self._next_id, pressed_s=pressed_s)
        self._turn = turn
        self._set_state(State.LISTENING)
        if self.speaker is not None:
            self.speaker.try_reopen()
        self._earcon("wake" if hands_free and hands_free.keep_queued else "listening")
        if self.prefill:
            self._workers.start_prefill(turn, self.llm, self.conversation)
        turn.listening = Listening(
            turn.id,
            stt=self.stt,
            source=self.source,
            turn_config=self.turn_config,
            post=self.submit,
            on_partial=lambda text: self._partial(turn, text),
            cancel=turn.cancel,
            previous=self._workers.last_listener,
            clock=self.clock,
            endpointer=self.hands_free and self.hands_free.toggle(self.turn_config.mode),
            hands_free=hands_free,
        )
        self._workers.last_listener = turn.listening.thread
        self._workers.start(turn.listening.thread)

    def _partial(self, turn: VoiceTurn, text: str) -> None:
        """From the listen thread: publish a partial transcript and hand it
        to the prefill; neither blocks."""
        self.bus.publish(PartialTranscript(text))
        if turn.prefill is not None:
            turn.prefill.offer(text)

    def _heard(self, turn: VoiceTurn, event: Heard) -> None:
        turn.transcript = event.text
        turn.asr_final_ms = event.asr_final_ms
        turn.transcript_doubt = event.doubt
        turn.started_s = event.end_of_speech_s
        turn.end_prefill()  # the reply worker joins it
        if event.endpoint_ms is not None:
            self.bus.publish(EndpointReached(event.endpoint_ms))
        self._earcon("stopped")
        if not event.text.strip():
            self._ignore("no-speech")
            return
        self.bus.publish(TranscriptReady(event.text))
        self._start_reply(turn)

    def _start_reply(self, turn: Turn) -> None:
        self._set_state(State.THINKING)
        turn.reply_started_s = self.clock()
        if self.speaker is not None:
            try:
                self.speaker.ensure_open()
            except AudioError as exc:
                self._fail("audio", str(exc))
                return
        turn.streamer = ReplyStreamer(
            self.tts if self.speaker is not None else None,
            self.speaker.sink if self.speaker is not None else None,
            on_token=lambda text: self._progress(turn, ReplyToken(text)),
            on_first_audio=lambda: self.submit(SpeechStarted(turn.id)),
            on_sentence_spoken=lambda text: self._progress(turn, SentenceSpoken(text)),
            clock=self.clock,
        )
        self._workers.start_reply(turn, self.llm, self.conversation, self.skills, self.submit)

    def _replied(self, event: Replied) -> None:
        turn = event.turn
        self.bus.publish(turn.finished(event.result, self.clock()))
        if turn is self._turn and self._state in (State.THINKING, State.SPEAKING):
            self._turn = None
            follow_up = (
                self.hands_free and isinstance(turn, VoiceTurn) and self.hands_free.follow_up()
            )
            if follow_up:
                self._start_listening(self.clock(), follow_up)
            else:
                self._set_state(State.IDLE)

    def _ignore(self, reason: str) -> None:
        log.info("turn ignored: %s", reason)
        turn, self._turn = self._turn, None
        # Nothing is playing but the earcons, which are left to finish.
        if isinstance(turn, VoiceTurn):
            turn.stop_listening()
            turn.cancel.set()
        self._earcon("ignored")
        self.bus.publish(TurnIgnored(reason))
        self._set_state(State.IDLE)

    def _fail(self, stage: str, message: str) -> None:
        turn_id = self._turn.id if self._turn is not None else 0
        log.error("turn %d failed in %s: %s", turn_id, stage, message)
        if stage == "audio" and self.speaker is not None:
            self.speaker.fail()
        self._abandon(None)
        self._set_state(State.ERROR)
        self.bus.publish(TurnFailed(stage, message))
        self._earcon("error")
        self._say_next = spoken_failure(stage, message)
        self._set_state(State.IDLE)

    def _abandon(self, then: State | None) -> None:
        """Cancel the current turn's workers without waiting for them."""
        turn, self._turn = self._turn, None
        if turn is not None:
            if isinstance(turn, VoiceTurn):
                turn.stop_listening()
            if turn.streamer is not None:
                turn.streamer.interrupt()
            elif self.speaker is not None:
                self.speaker.stop()
            turn.cancel.set()
        if then is not None:
            self._set_state(then)

    def _progress(self, turn: Turn, event: Event) -> None:
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
        limit_s = self.turn_config.reply_timeout_s
        if quiet_s > limit_s:
            stage = "llm" if self._state is State.THINKING else "audio"
            self._fail(stage, f"no progress for {limit_s:g} s")

    def _check_alerts(self) -> None:
        """Speak due timer alerts and a failure to say, only while idle so
        no turn is disturbed."""
        if self._state is not State.IDLE or self._turn is not None:
            return
        alerts = self.skills.due_alerts() if self.skills is not None else []
        if self._say_next is not None:
            alerts, self._say_next = [self._say_next, *alerts], None
        if alerts:
            self._next_id += 1
            turn = AlertTurn(id=self._next_id, started_s=self.clock(), text=" ".join(alerts))
            self._turn = turn
            self._start_reply(turn)

    def _earcon(self, name: str) -> None:
        if self.earcons:
            self.speaker.play_earcon(name)
