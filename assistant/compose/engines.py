"""The engines: the only place that picks a concrete recognizer, language
model and voice from the config, loads them and warms them up."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from assistant.catalog.missing import require_installed
from assistant.catalog.verify import verify_at_load
from assistant.compose.remote import build_remote_llm, build_wyoming_stt, build_wyoming_tts
from assistant.core.config import AsrConfig, Config
from assistant.core.errors import ConfigError
from assistant.stages.asr.base import SpeechToText
from assistant.stages.llm.base import LanguageModel
from assistant.stages.llm.llama import MIN_P, REPEAT_PENALTY, TOP_K, TOP_P, LlamaLanguageModel
from assistant.stages.tts.base import TextToSpeech
from assistant.stages.tts.piper import PiperTextToSpeech

log = logging.getLogger(__name__)

LLAMA_SAMPLING = {"top_k": TOP_K, "top_p": TOP_P, "min_p": MIN_P, "repeat_penalty": REPEAT_PENALTY}
"""The llama backend's fixed sampling options (temperature is ``llm.temperature``),
for the bench's bare-engine comparison."""


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
        return WhisperSpeechToText(
            config,
            path,
            silence_s,
            n_threads=n_threads,
            final_window_s=config.whisper_final_window_s,
            min_logprob=config.whisper_min_logprob,
        )
    if config.engine == "moonshine":
        from assistant.stages.asr.moonshine import MoonshineSpeechToText

        path = Path(models_dir) / config.moonshine_model
        verify_at_load(path, Path(models_dir))
        return MoonshineSpeechToText(
            config,
            path,
            silence_s,
            n_threads,
            fallback=_whisper_fallback(config, Path(models_dir), silence_s, n_threads),
        )
    raise ConfigError(
        f"asr.engine = {config.engine!r} is not allowed; expected 'vosk', 'whisper' or 'moonshine'"
    )


def _whisper_fallback(
    config: AsrConfig, models_dir: Path, silence_s: float, n_threads: int
) -> SpeechToText | None:
    """Whisper, to decode what fails Moonshine's guards, when faster-whisper
    and ``asr.whisper_model`` are installed; else None (the transcript is
    then reported as doubtful)."""
    import importlib.util

    path = models_dir / config.whisper_model
    if importlib.util.find_spec("faster_whisper") is None or not (path / "model.bin").is_file():
        log.info("no Whisper to check Moonshine's doubtful transcripts (%s)", path)
        return None
    return make_speech_to_text(
        replace(config, engine="whisper"), models_dir, silence_s, n_threads=n_threads
    )


def build_stt(config: Config, *, n_threads: int = 0) -> SpeechToText:
    """The configured recognizer, not yet warmed up (its model loads on `warm_up`).
    It always gets a language: an empty ``asr.language`` means the profile's,
    because Whisper left to detect it picks the wrong one on short questions."""
    asr = replace(config.asr, language=config.asr.language or config.language)
    if asr.engine == "wyoming":
        return build_wyoming_stt(replace(config, asr=asr))
    _require(config, config.models_dir / asr.model)
    return make_speech_to_text(asr, config.models_dir, config.turn.silence_s, n_threads=n_threads)


def _require(config: Config, path: Path) -> None:
    """One line naming a profile's model that is not installed, and the fetch command."""
    require_installed(config, path)


def build_llm(config: Config) -> LanguageModel:
    """The configured language model, re-verified if its file changed
    (`verify_at_load`), loaded (seconds) but not warmed up. The caller closes it.
    A remote backend (`remote.build_remote_llm`) loads nothing here."""
    if config.llm.backend != "llama":
        local = replace(config, llm=replace(config.llm, backend="llama"))
        return build_remote_llm(config, lambda: build_llm(local))
    path = config.models_dir / Path(config.llm.model).expanduser()
    _require(config, path)
    verify_at_load(path, config.models_dir)
    return LlamaLanguageModel(config.llm, path)


def build_tts(config: Config) -> TextToSpeech:
    """The configured piper voice, re-verified if its files changed
    (`verify_at_load`), loaded but not warmed up; or the remote voice."""
    if config.tts.engine == "wyoming":
        return build_wyoming_tts(config)
    path = config.models_dir / f"{config.tts.voice}.onnx"
    _require(config, path)
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
