"""One client connection: Wyoming events in, answers out.

The requests, each answered in the order of the `wyoming` library's
event families:

- ``describe`` -> ``info``; ``ping`` -> ``pong``.
- ``transcribe`` (optional), ``audio-start``, ``audio-chunk``\\*,
  ``audio-stop`` -> ``transcript-start``, ``transcript-chunk``\\* (new words
  as the recognizer's partial result grows; Whisper has none until the end),
  ``transcript`` (the final text), ``transcript-stop``. A client that waits
  for ``transcript`` alone can ignore the others.
- ``synthesize`` -> ``audio-start``, ``audio-chunk``\\*, ``audio-stop`` (mono
  16-bit at the voice's rate). Streaming: ``synthesize-start``,
  ``synthesize-chunk``\\*, ``synthesize-stop`` -> the same three per sentence
  as soon as it is complete, then ``synthesize-stopped``; a ``synthesize``
  sent alongside the stream is ignored, as the library advises.
- ``transcript`` (to the handle service) -> ``handled-start``,
  ``handled-chunk``\\* (the reply as it is generated), the timer events of
  the turn (``timer-started``, ``timer-updated``, ``timer-cancelled``,
  ``timer-finished``: see `timers`), ``handled`` (the whole reply),
  ``handled-stop``; ``not-handled`` when the turn failed. Skills answer
  first, then the language model, with the conversation's memory: the one
  named by the transcript's ``context`` (the hub's id from an earlier
  ``handled``, or the client's own, as Home Assistant sends; see
  `conversations`), else this connection's own.
- ``recognize`` -> ``intent`` (name and slots as entities) or ``not-recognized``.

Unknown event types are ignored, as Wyoming servers do. A request the hub
has no engine for, or an engine failure, is answered with ``error`` and the
connection stays usable (the rest of a failed utterance's audio is
dropped). An event that breaks the protocol (audio without
``audio-start``, a malformed field) gets ``error`` and the connection is
dropped. Runs on the event-loop thread; engine work goes to the lanes.
"""

from __future__ import annotations

import asyncio
import json
import logging

from wyoming.asr import Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.audio import AudioChunk as WireChunk
from wyoming.audio import AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.handle import Handled, HandledChunk, HandledStart, HandledStop, NotHandled
from wyoming.info import Info
from wyoming.intent import Entity, Intent, NotRecognized
from wyoming.ping import Pong
from wyoming.server import AsyncEventHandler
from wyoming.tts import SynthesizeStopped

from assistant.core.errors import AssistantError
from assistant.hub.conversations import CONTEXT_KEY, Conversations, conversation_id
from assistant.hub.frames import FrameError, audio_format, text_field
from assistant.hub.listening import ClientAudio, Utterance
from assistant.hub.services import HubServices
from assistant.hub.timers import TimerReport
from assistant.pipeline.reply import ReplyStreamer, answer
from assistant.stages.audio.pcm import AudioChunk
from assistant.stages.tts.sentences import SentenceSplitter, spoken_pieces

log = logging.getLogger(__name__)

SAMPLES_PER_CHUNK = 1024
"""Synthesized audio goes out in chunks of this many samples (46 ms at
22 kHz), as wyoming-piper sends it: small frames for any client's cap."""


class HubHandler(AsyncEventHandler):
    """The events of one connection, handled one after another (a client
    waits for each answer before its next request). ``info`` and
    ``conversations`` are the server's, shared by every connection (None
    when the hub has no language model)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        services: HubServices,
        info: Info,
        conversations: Conversations | None,
        *,
        peer: str,
        host: str = "",
        max_audio_s: float,
        write_timeout_s: float,
    ) -> None:
        super().__init__(reader, writer)
        self.services = services
        self.info = info
        self.peer = peer
        self.host = host
        """The peer's host: conversation ids are scoped to it."""
        self.max_audio_s = max_audio_s
        self.write_timeout_s = write_timeout_s
        self.conversations = conversations
        self.conversation_id: str | None = None
        self.utterance: Utterance | None = None
        self.discarding = False
        """After a failed recognizer: the rest of that utterance's audio is
        dropped quietly (the client was told once, with ``error``)."""
        self.splitter: SentenceSplitter | None = None

    async def handle_event(self, event: Event) -> bool:
        """Answer ``event``; False ends the connection. Raises `FrameError`
        for a protocol violation (the server reports it and drops the client)."""
        kind = event.type
        try:
            if kind == "describe":
                await self.write_event(self.info.event())
            elif kind == "ping":
                await self.write_event(Pong(text=text_field(event, required=False)).event())
            elif kind == "transcribe":
                text_field(event, "language", required=False)
            elif kind in ("audio-start", "audio-chunk", "audio-stop"):
                await self._audio(event)
            elif kind == "synthesize":
                if self.splitter is None:
                    await self._speak(text_field(event))
            elif kind in ("synthesize-start", "synthesize-chunk", "synthesize-stop"):
                await self._speak_streaming(event)
            elif kind == "transcript":
                await self._handle(text_field(event), event.data.get("context"))
            elif kind == "recognize":
                await self._recognize(text_field(event))
            else:
                log.debug("%s: ignoring an event of type %r", self.peer, kind)
        except AssistantError as exc:
            log.warning("%s: %s failed: %s", self.peer, kind, exc)
            await self.write_event(Error(text=str(exc), code=exc.stage).event())
        return True

    async def write_event(self, event: Event) -> None:
        """Send ``event``; `TimeoutError` when the client has not read for
        ``write_timeout_s`` (its buffers are full), so a client that stops
        reading cannot hold its connection, or a lane, forever."""
        await asyncio.wait_for(async_write_event(event, self.writer), self.write_timeout_s)

    # -- asr ---------------------------------------------------------------

    async def _audio(self, event: Event) -> None:
        if event.type == "audio-start":
            self.discarding = False
        elif self.discarding:
            self.discarding = event.type != "audio-stop"
            return
        try:
            await self._recognize_audio(event)
        except AssistantError:
            if self.utterance is not None:
                self.utterance.abandon()
            self.utterance, self.discarding = None, event.type != "audio-stop"
            raise

    async def _recognize_audio(self, event: Event) -> None:
        services = self.services
        if event.type == "audio-start":
            rate, _width, _channels = audio_format(event)
            if services.stt is None:
                raise _missing("speech recognizer", "asr")
            if self.utterance is not None:
                self.utterance.abandon()
            audio = ClientAudio(rate, self.max_audio_s)
            lane = services.lanes["asr"]
            self.utterance = Utterance(services.stt, lane, audio, self._words, client=self.peer)
            await self.write_event(TranscriptStart(language=services.languages[0]).event())
            return
        utterance = self.utterance
        if utterance is None:
            raise FrameError(f"{event.type} without audio-start; send audio-start first")
        if event.type == "audio-chunk":
            rate, width, channels = audio_format(event)
            utterance.add(utterance.audio.convert(event.payload or b"", rate, width, channels))
            return
        self.utterance = None
        text = await utterance.finish()
        log.info("%s: transcribed %.1f s: %r", self.peer, utterance.audio.samples / 16000, text)
        await self.write_event(Transcript(text=text, language=services.languages[0]).event())
        await self.write_event(TranscriptStop().event())

    async def _words(self, new: str) -> None:
        await self.write_event(TranscriptChunk(text=new).event())

    async def disconnect(self) -> None:
        if self.utterance is not None:
            self.utterance.abandon()
            self.utterance = None

    # -- tts ---------------------------------------------------------------

    async def _speak(self, text: str, whole: bool = True) -> None:
        """Synthesize ``text``: a whole ``synthesize`` request (its first
        piece cut short, `spoken_pieces`), or one piece of a stream."""
        tts = self.services.tts
        if tts is None:
            raise _missing("voice", "tts")
        started = False

        def work(emit, cancel) -> None:
            for piece in spoken_pieces(text) if whole else [text]:
                for chunk in tts.synthesize(piece, cancel):
                    emit(chunk)

        async def send(chunk: AudioChunk) -> None:
            nonlocal started
            if not started:
                await self.write_event(AudioStart(rate=chunk.rate_hz, width=2, channels=1).event())
                started = True
            data = chunk.to_bytes()
            step = SAMPLES_PER_CHUNK * 2
            for i in range(0, len(data), step):
                wire = WireChunk(rate=chunk.rate_hz, width=2, channels=1, audio=data[i : i + step])
                await self.write_event(wire.event())

        # A reply's first piece goes before the others' later ones: until it
        # is spoken, its client hears nothing.
        opening = self.services.openings.claim(text)
        await self.services.lanes["tts"].stream(work, send, client=self.peer, opening=opening)
        if not started:  # nothing speakable: still a well-formed, empty stream
            await self.write_event(AudioStart(rate=tts.sample_rate_hz, width=2, channels=1).event())
        await self.write_event(AudioStop().event())

    async def _speak_streaming(self, event: Event) -> None:
        if event.type == "synthesize-start":
            self.splitter = SentenceSplitter()
            return
        splitter = self.splitter
        if splitter is None:
            raise FrameError(f"{event.type} without synthesize-start; send synthesize-start first")
        if event.type == "synthesize-chunk":
            for sentence in splitter.feed(text_field(event)):
                await self._speak(sentence, whole=False)
            return
        self.splitter = None
        for sentence in splitter.flush():
            await self._speak(sentence, whole=False)
        await self.write_event(SynthesizeStopped().event())

    # -- handle and intent ---------------------------------------------------

    async def _handle(self, text: str, context: object) -> None:
        services = self.services
        llm = services.llm
        if llm is None or self.conversations is None:
            raise _missing("language model", "handle")
        wanted = conversation_id(context) or self.conversation_id
        self.conversation_id, session = self.conversations.open(wanted, self.host)
        reply_context = {CONTEXT_KEY: self.conversation_id}
        await self.write_event(HandledStart(context=reply_context).event())
        report = TimerReport(session.timers, self.conversation_id)
        openings = services.openings
        reply = openings.begin()

        def work(emit, cancel):
            report.start()
            streamer = ReplyStreamer(on_token=emit)
            result = answer(
                streamer,
                llm,
                session.conversation,
                text,
                shortcuts=session.shortcuts,
                cancel=cancel,
            )
            return result, report.events()

        async def send(token: str) -> None:
            openings.grew(reply, token)
            await self.write_event(HandledChunk(text=token).event())

        try:
            result, timer_events = await services.lanes["llm"].stream(work, send, client=self.peer)
        except AssistantError as exc:
            log.warning("%s: the turn failed: %s", self.peer, exc)
            await self.write_event(NotHandled(text=str(exc), context=reply_context).event())
        else:
            log.info("%s: answered by %s: %r", self.peer, result.path, result.generated[:80])
            for timer_event in timer_events:
                await self.write_event(timer_event)
            await self.write_event(Handled(text=result.generated, context=reply_context).event())
        await self.write_event(HandledStop().event())

    async def _recognize(self, text: str) -> None:
        recognise = self.services.recognise
        if recognise is None:
            raise _missing("intent matcher", "intent")
        intent = recognise(text)
        if intent is None:
            await self.write_event(NotRecognized(text=text).event())
            return
        entities = [Entity(name=k, value=_plain(v)) for k, v in intent.slots.items()]
        await self.write_event(Intent(name=intent.name, entities=entities, text=text).event())


def _missing(what: str, role: str) -> AssistantError:
    why = f"this hub has no {what} ({role})"
    return AssistantError(f"{why}; send {role} requests to a server that has one (see describe)")


def _plain(value: object) -> object:
    """A slot value as JSON can carry it (the device slots hold dicts of sets)."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)
