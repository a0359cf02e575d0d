"""The composition root: the one module that picks concrete backends and devices.

Every front end (``run``, ``console``, ``ask``, ``listen``, ``doctor``, the
bench) asks this module for its engines, devices and controller; everything
below it receives them as arguments, so tests pass fakes (``tests/fakes.py``).

Ownership: the caller of a ``build_*`` function owns what it returns and
closes it. The controller opens and closes its source and sink itself. Stop
the controller before closing the buttons, indicator and skills, and close
the engines only once no worker thread is inside one (`Controller.stop`
returned True).
"""

from __future__ import annotations

import logging
import queue
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from assistant.appliance.gpio import GpioButtons, LedIndicator, gpio_available
from assistant.appliance.keyboard import KeyboardButton
from assistant.catalog.verify import verify_at_load
from assistant.core.config import AsrConfig, Config, TurnConfig
from assistant.core.errors import AssistantError, ConfigError, GpioError
from assistant.core.events import (
    ButtonPressed,
    Event,
    EventBus,
    TurnFailed,
    TurnFinished,
    TurnIgnored,
)
from assistant.pipeline.controller import Controller
from assistant.pipeline.memory import Conversation
from assistant.skills.handler import Skills
from assistant.skills.timers import Timers
from assistant.skills.tools import toolbox_from_config
from assistant.stages.asr.base import SpeechToText
from assistant.stages.audio.base import AudioSink, AudioSource
from assistant.stages.audio.devices import have_output_device
from assistant.stages.audio.mic import SoundDeviceSource
from assistant.stages.audio.speaker import SoundDeviceSink
from assistant.stages.audio.wavfile import WavFileSink, WavFileSource
from assistant.stages.llm.base import LanguageModel
from assistant.stages.llm.llama import MIN_P, REPEAT_PENALTY, TOP_K, TOP_P, LlamaLanguageModel
from assistant.stages.tts.base import TextToSpeech
from assistant.stages.tts.piper import PiperTextToSpeech

log = logging.getLogger(__name__)

LLAMA_SAMPLING = {"top_k": TOP_K, "top_p": TOP_P, "min_p": MIN_P, "repeat_penalty": REPEAT_PENALTY}
"""The llama backend's fixed sampling options (temperature is ``llm.temperature``),
for the bench's bare-engine comparison."""

FILE_TURN_ALIVE_S = 30.0
"""A file turn fails when the controller loop has not run for this long."""


# -- engines -------------------------------------------------------------------


def make_speech_to_text(
    config: AsrConfig, models_dir: Path, silence_s: float = 1.0, *, n_threads: int = 0
) -> SpeechToText:
    """Build the engine named by ``config.engine``; raises `ModelError` (or
    `SpeechToTextError` for a missing extra) at once, before any turn.

    Model names may be absolute paths; otherwise they are looked up in
    ``models_dir``. The model itself is loaded on first ``warm_up``/``start``.
    ``n_threads`` (Whisper's CPU threads; 0 = its default) is ignored by Vosk.
    """
    if config.engine == "vosk":
        from assistant.stages.asr.vosk import VoskSpeechToText

        path = Path(models_dir) / config.vosk_model
        verify_at_load(path, Path(models_dir))
        return VoskSpeechToText(config, path, silence_s)
    if config.engine == "whisper":
        from assistant.stages.asr.whisper import WhisperSpeechToText

        path = Path(models_dir) / config.whisper_model
        verify_at_load(path, Path(models_dir))
        return WhisperSpeechToText(config, path, silence_s, n_threads=n_threads)
    raise ConfigError(
        f"asr.engine = {config.engine!r} is not allowed; expected 'vosk' or 'whisper'"
    )


def build_stt(config: Config, *, n_threads: int = 0) -> SpeechToText:
    """The configured recognizer, not yet warmed up (its model loads on `warm_up`)."""
    return make_speech_to_text(
        config.asr, config.models_dir, config.turn.silence_s, n_threads=n_threads
    )


def build_llm(config: Config) -> LlamaLanguageModel:
    """The configured language model, re-verified if its file changed
    (`verify_at_load`), loaded (seconds) but not warmed up. The caller closes it."""
    path = config.models_dir / Path(config.llm.model).expanduser()
    verify_at_load(path, config.models_dir)
    return LlamaLanguageModel(config.llm, path)


def build_tts(config: Config) -> TextToSpeech:
    """The configured piper voice, re-verified if its files changed
    (`verify_at_load`), loaded but not warmed up."""
    path = config.models_dir / f"{config.tts.voice}.onnx"
    verify_at_load(path, config.models_dir)
    return PiperTextToSpeech(config.tts, path, config.language)


@dataclass
class Engines:
    """The engines one front end uses; a role not asked for is None.

    `close` frees them (today only the language model holds native memory);
    call it only once no worker thread is inside an engine. A ``with`` block
    closes them on the way out.
    """

    stt: SpeechToText | None = None
    llm: LanguageModel | None = None
    tts: TextToSpeech | None = None
    load_s: dict[str, float] = field(default_factory=dict)
    """Seconds each engine took to load and warm up, by role: asr, llm, tts."""

    def close(self) -> None:
        """Free the engines; safe to call twice."""
        llm, self.llm = self.llm, None
        if llm is not None:
            llm.close()

    def abandon(self) -> None:
        """Forget the engines without closing them: a worker thread that did
        not stop may still be inside one, and freeing the model under it
        would crash the process. The process is expected to exit soon."""
        if self.llm is not None:
            log.error("a worker did not stop; leaving %s loaded", self.llm.name)
        self.stt = self.llm = self.tts = None

    def __enter__(self) -> Engines:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def build_engines(
    config: Config,
    *,
    stt: bool = True,
    llm: bool = True,
    tts: bool = True,
    warm: bool = True,
    on_loaded: Callable[[str], None] | None = None,
) -> Engines:
    """Load the engines asked for, in the appliance's order (recognizer,
    language model, voice), each warmed up unless ``warm`` is False, and log
    how long each took. ``on_loaded(role)`` runs after each one is ready (the
    bench's memory probe measures there).

    Blocks for seconds per engine, on the calling thread. Raises the stage's
    `AssistantError` (for example `ModelError`) after closing whatever was
    already loaded.
    """
    engines = Engines()

    def ready(role: str, engine: SpeechToText | LanguageModel | TextToSpeech, started: float):
        if warm:
            engine.warm_up()
        engines.load_s[role] = round(time.monotonic() - started, 3)
        log.info("%s %s ready in %.2f s", role, engine.name, engines.load_s[role])
        if on_loaded is not None:
            on_loaded(role)

    try:
        if stt:
            started = time.monotonic()
            engines.stt = build_stt(config)
            ready("asr", engines.stt, started)
        if llm:
            started = time.monotonic()
            engines.llm = build_llm(config)
            ready("llm", engines.llm, started)
        if tts:
            started = time.monotonic()
            engines.tts = build_tts(config)
            ready("tts", engines.tts, started)
    except BaseException:
        engines.close()
        raise
    return engines


# -- devices -------------------------------------------------------------------


def build_source(config: Config, wav: Path | None = None) -> AudioSource:
    """The microphone, or the WAV file ``wav`` played as one (read at `open`)."""
    if wav is not None:
        return WavFileSource(wav, block_ms=config.audio.block_ms)
    return SoundDeviceSource(config.audio)


def build_speaker(config: Config) -> AudioSink:
    """The sound card's output (``audio.output_device``), opened by the controller."""
    return SoundDeviceSink(config.audio)


def build_sink(config: Config, wav: Path | None = None, wav_dir: Path | None = None) -> AudioSink:
    """The speaker, or WAV files: ``wav`` (one file, each reply overwrites it),
    ``wav_dir`` or ``./replies`` with no sound card (numbered, the newest
    ``audio.keep_replies`` kept). `AudioError` now if a WAV target cannot be
    written, so a caller that builds the sink first fails before loading models."""
    if wav is not None:
        sink = WavFileSink(wav)
    elif wav_dir is None and have_output_device():
        return build_speaker(config)
    else:
        target = wav_dir or Path.cwd() / "replies"
        log.info("no sound card: spoken replies go to %s", target)
        sink = WavFileSink(target, numbered=True, keep=config.audio.keep_replies)
    sink.check_writable()
    return sink


def use_gpio(config: Config, *, keyboard: bool = False, stdin: TextIO | None = None) -> bool:
    """Whether the appliance's buttons and LEDs are on GPIO; False means
    Enter on ``stdin`` is the button. Raises `GpioError` when neither works
    (no usable GPIO and ``stdin`` is not a terminal, unless ``keyboard``)."""
    if keyboard:
        return False
    reason = gpio_available(config.gpio) if config.gpio.enabled else None
    if config.gpio.enabled and reason is None:
        return True
    if not (stdin or sys.stdin).isatty():
        raise GpioError(
            f"no push-to-talk input: {reason or 'GPIO is disabled in the config'}, "
            "and stdin is not a terminal; enable [gpio] or run `assistant run` in one"
        )
    if reason:
        log.warning("%s", reason)
    return False


def build_buttons(
    config: Config, controller: Controller, *, gpio: bool, stdin: TextIO | None = None
) -> GpioButtons | KeyboardButton:
    """The push-to-talk input feeding ``controller``: GPIO buttons, or Enter
    on ``stdin`` (started here). The caller closes it after the controller
    has stopped."""
    if gpio:
        return GpioButtons(config.gpio, controller.submit)
    button = KeyboardButton(
        controller.submit, lambda: controller.state, mode=config.turn.mode, stream=stdin
    )
    button.start()
    log.info("press Enter to start talking, Enter again to stop")
    return button


def build_indicator(config: Config, *, gpio: bool) -> LedIndicator:
    """The status LEDs; dark (touching no pin) when the buttons are not on
    GPIO. Subscribe its ``on_event`` to the bus; the caller closes it."""
    gpio_config = config.gpio if gpio else replace(config.gpio, led_kind="none")
    return LedIndicator(gpio_config)


# -- the pipeline --------------------------------------------------------------


def build_conversation(config: Config) -> Conversation:
    return Conversation(config.llm.system_prompt, config.llm.max_turns)


def build_skills(
    config: Config,
    llm: LanguageModel | None,
    tts: TextToSpeech | None,
    conversation: Conversation,
    *,
    pin_factory: object = None,
) -> Skills:
    """Intents, timers and the declared GPIO tools (when GPIO is usable).
    The caller closes it after the controller (or console) has stopped."""
    tools = None
    if config.tools.outputs or config.tools.inputs:
        reason = None if pin_factory is not None else gpio_available(config.gpio)
        if reason:
            log.warning("declared tools are disabled: %s", reason)
        else:
            tools = toolbox_from_config(config, pin_factory=pin_factory)
    return Skills(
        language=config.language,
        llm=llm,
        tools=tools,
        timers=Timers(),
        model_name=llm.name if llm is not None else config.llm.model,
        voice_name=config.tts.voice,
        volume=config.tts.volume,
        on_volume=tts.set_volume if tts is not None else None,
        on_reset=conversation.reset,
    )


def build_controller(
    config: Config,
    engines: Engines,
    source: AudioSource,
    sink: AudioSink,
    bus: EventBus,
    turn: TurnConfig,
    *,
    earcons: bool,
) -> Controller:
    """A controller on ``engines`` with a fresh conversation and skills. The
    controller opens and closes ``sink``; the caller closes ``source`` never
    (the controller opens and closes it per turn) and ``controller.skills``
    after `Controller.stop`."""
    if engines.stt is None or engines.llm is None:
        raise AssistantError("a voice turn needs a recognizer and a language model")
    conversation = build_conversation(config)
    return Controller(
        stt=engines.stt,
        llm=engines.llm,
        tts=engines.tts,
        source=source,
        sink=sink,
        conversation=conversation,
        turn=turn,
        bus=bus,
        earcons=earcons,
        skills=build_skills(config, engines.llm, engines.tts, conversation),
    )


def run_file_turn(
    engines: Engines,
    config: Config,
    wav: Path,
    sink: AudioSink,
    *,
    max_listen_s: float,
    observers: Iterable[Callable[[Event], None]] = (),
) -> TurnFinished:
    """One whole voice turn from a WAV file through the real `Controller`,
    as the appliance runs it (skills included, no earcons): the file is the
    utterance and its end is the button release.

    ``max_listen_s`` caps how much of the file is heard. Each observer gets
    every event, on the controller thread. Blocks until the turn ends. Raises
    `AssistantError` when the turn failed, heard nothing, or the controller
    stopped responding; if a worker then does not stop, the engines are
    abandoned (see `Engines.abandon`) so the caller cannot free them under it.
    """
    bus = EventBus()
    for observer in observers:
        bus.subscribe(observer)
    ended: queue.Queue[Event] = queue.Queue()
    bus.subscribe(
        lambda e: ended.put(e) if isinstance(e, TurnFinished | TurnFailed | TurnIgnored) else None
    )
    turn = TurnConfig(
        mode="hold",
        min_press_s=0.0,
        max_listen_s=max_listen_s,
        reply_timeout_s=config.turn.reply_timeout_s,
    )
    source = build_source(config, wav=wav)
    controller = build_controller(config, engines, source, sink, bus, turn, earcons=False)
    controller.start()
    try:
        controller.submit(ButtonPressed())
        while True:
            try:
                event = ended.get(timeout=0.5)
                break
            except queue.Empty:
                if not controller.alive(within_s=FILE_TURN_ALIVE_S):
                    raise AssistantError("the voice turn stopped responding; see the log") from None
    finally:
        if not controller.stop():
            engines.abandon()
        controller.skills.close()
    if isinstance(event, TurnFailed):
        raise AssistantError(f"{event.stage}: {event.message}")
    if isinstance(event, TurnIgnored):
        raise AssistantError(f"no speech recognized in {wav}; check the file and --engine")
    return event
