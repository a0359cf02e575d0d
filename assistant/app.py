"""The composition root: the only module that picks concrete backends.

Everything else receives engines and devices as arguments, so tests can pass
real ones or fakes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from .asr import SpeechToText, make_speech_to_text
from .audio import AudioSink, SoundDeviceSink, WavFileSink, have_output_device
from .config import Config
from .llm import LanguageModel, LlamaLanguageModel
from .memory import Conversation
from .skills import Skills
from .timers import Timers
from .tools import toolbox_from_config
from .tts import PiperTextToSpeech, TextToSpeech

log = logging.getLogger(__name__)


def _timed(what: str, load: Callable[[], object]) -> object:
    started = time.monotonic()
    engine = load()
    log.info("%s loaded in %.2f s", what, time.monotonic() - started)
    return engine


def build_llm(config: Config) -> LanguageModel:
    return _timed(
        "language model", lambda: LlamaLanguageModel.from_config(config.llm, config.models_dir)
    )


def build_tts(config: Config) -> TextToSpeech:
    return _timed(
        "voice",
        lambda: PiperTextToSpeech.from_config(config.tts, config.models_dir, config.language),
    )


def build_stt(config: Config) -> SpeechToText:
    return _timed(
        f"{config.asr.engine} recognizer",
        lambda: make_speech_to_text(config.asr, config.models_dir, config.turn.silence_s),
    )


def build_conversation(config: Config) -> Conversation:
    return Conversation(config.llm.system_prompt, config.llm.max_turns)


def build_sink(config: Config, wav: Path | None = None, wav_dir: Path | None = None) -> AudioSink:
    """The speaker, or WAV files when asked for or when there is no sound card."""
    if wav is not None:
        return WavFileSink(wav)
    if wav_dir is None and have_output_device():
        return SoundDeviceSink(config.audio)
    target = wav_dir or Path.cwd() / "replies"
    log.info("no sound card: spoken replies go to %s", target)
    return WavFileSink(target, numbered=True)


def build_skills(
    config: Config,
    llm: LanguageModel | None,
    tts: TextToSpeech | None,
    conversation: Conversation,
    *,
    pin_factory: object = None,
) -> Skills:
    """Intents, timers and the declared GPIO tools (when GPIO is usable)."""
    from .gpio import gpio_available

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
        model_name=getattr(llm, "name", config.llm.model),
        voice_name=config.tts.voice,
        volume=config.tts.volume,
        on_volume=getattr(tts, "set_volume", None),
        on_reset=conversation.reset,
    )
