"""The composition root: the only module that picks concrete backends.

Everything else receives engines and devices as arguments, so tests can pass
real ones or fakes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from assistant.core.config import AsrConfig, Config
from assistant.core.errors import ConfigError
from assistant.pipeline.memory import Conversation
from assistant.skills.handler import Skills
from assistant.skills.timers import Timers
from assistant.skills.tools import toolbox_from_config
from assistant.stages.asr.base import SpeechToText
from assistant.stages.audio.base import AudioSink
from assistant.stages.audio.soundcard import SoundDeviceSink, WavFileSink, have_output_device
from assistant.stages.llm.base import LanguageModel
from assistant.stages.llm.llama import LlamaLanguageModel
from assistant.stages.tts.base import TextToSpeech
from assistant.stages.tts.piper import PiperTextToSpeech

log = logging.getLogger(__name__)


def _timed(what: str, load: Callable[[], object]) -> object:
    started = time.monotonic()
    engine = load()
    log.info("%s loaded in %.2f s", what, time.monotonic() - started)
    return engine


def make_speech_to_text(
    config: AsrConfig, models_dir: Path, silence_s: float = 1.0
) -> SpeechToText:
    """Build the engine named by ``config.engine``; raises `ModelError` (or
    `SpeechToTextError` for a missing extra) at once, before any turn.

    Model names may be absolute paths; otherwise they are looked up in
    ``models_dir``. The model itself is loaded on first ``warm_up``/``start``.
    """
    if config.engine == "vosk":
        from assistant.stages.asr.vosk import VoskSpeechToText

        return VoskSpeechToText(config, Path(models_dir) / config.vosk_model, silence_s)
    if config.engine == "whisper":
        from assistant.stages.asr.whisper import WhisperSpeechToText

        return WhisperSpeechToText(config, Path(models_dir) / config.whisper_model, silence_s)
    raise ConfigError(
        f"asr.engine = {config.engine!r} is not allowed; expected 'vosk' or 'whisper'"
    )


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
    from assistant.appliance.gpio import gpio_available

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
