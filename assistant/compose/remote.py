"""Remote engines: a satellite is the same appliance with engines on the LAN.

``[asr] engine = "wyoming"``, ``[tts] engine = "wyoming"`` and ``[llm]
backend = "openai"`` or ``"wyoming"`` pick them; ``--hub tcp://HOST:PORT``
points all three at one ``assistant serve`` (`hub_overrides`). The button,
LEDs, microphone, speaker, earcons and the skills' fast path stay local, and
so does the echo canceller between microphone and speaker
(`devices.build_live_audio`, as in the standalone appliance).
They talk only to the configured addresses; the standalone appliance opens
no socket at all. ``llm.fallback = "local"`` answers with the local model
when the remote one fails before its first word (`FallbackLanguageModel`).
A timer the hub sets for one of this appliance's questions runs here
(`follow_hub_timers`). A busy hub is retried for ``turn.reply_timeout_s``.

Connections to the hub: one per request (an utterance, a question, a
sentence to speak), so a satellite holds at most 3 at once (a new
utterance while the interrupted answer and its speech are closing), which
``serve.max_clients`` is sized for.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Callable, Generator, Sequence
from pathlib import Path

from assistant.core.config import Config
from assistant.core.errors import ConfigError, LanguageModelError
from assistant.core.inputs import read_small_text
from assistant.core.messages import Message
from assistant.core.uris import Address, parse_address
from assistant.skills.timers import FollowedTimers, Timers
from assistant.stages.asr.base import SpeechToText
from assistant.stages.llm.base import GenerationStats, LanguageModel
from assistant.stages.tts.base import TextToSpeech

log = logging.getLogger(__name__)

MAX_KEY_BYTES = 4096


def hub_overrides(hub: str) -> dict[str, str]:
    """Config overrides that put recognition, answers and speech on the
    ``assistant serve`` at ``hub`` (``tcp://HOST:PORT``)."""
    return {
        "asr.engine": "wyoming",
        "asr.uri": hub,
        "llm.backend": "wyoming",
        "llm.url": hub,
        "tts.engine": "wyoming",
        "tts.uri": hub,
    }


def _address(key: str, value: str, schemes: tuple[str, ...], what: str) -> Address:
    if not value:
        forms = " or ".join(f'"{s}://HOST:PORT"' for s in schemes)
        raise ConfigError(f"{what} needs {key} = {forms}; set it, or pass --hub")
    try:
        return parse_address(value, schemes)
    except ValueError as exc:
        raise ConfigError(f"{what} cannot use {key} = {value!r}: {exc}") from None


def _need_wyoming(what: str) -> None:
    if importlib.util.find_spec("wyoming") is None:
        raise ConfigError(
            f"{what} needs the wyoming package, which is not installed; "
            "install it with `pip install .[hub]`"
        )


def build_wyoming_stt(config: Config) -> SpeechToText:
    """The ``[asr] engine = "wyoming"`` recognizer; connects on `warm_up`/`start`."""
    what = "asr.engine = 'wyoming'"
    address = _address("asr.uri", config.asr.uri, ("tcp",), what)
    _need_wyoming(what)
    from assistant.stages.asr.wyoming import WyomingSpeechToText

    return WyomingSpeechToText(
        address,
        config.asr.language,
        config.turn.silence_s,
        busy_budget_s=config.turn.reply_timeout_s,
    )


def build_wyoming_tts(config: Config) -> TextToSpeech:
    """The ``[tts] engine = "wyoming"`` voice; connects on `warm_up`/`synthesize`."""
    what = "tts.engine = 'wyoming'"
    address = _address("tts.uri", config.tts.uri, ("tcp",), what)
    _need_wyoming(what)
    from assistant.stages.tts.wyoming import WyomingTextToSpeech

    return WyomingTextToSpeech(
        address, config.language, config.tts.volume, busy_budget_s=config.turn.reply_timeout_s
    )


def build_remote_llm(config: Config, local: Callable[[], LanguageModel]) -> LanguageModel:
    """The ``openai`` or ``wyoming`` language model, wrapped in a
    `FallbackLanguageModel` when ``llm.fallback = "local"`` (``local``
    builds the local model, only when first needed)."""
    llm = config.llm
    what = f"llm.backend = {llm.backend!r}"
    remote: LanguageModel
    if llm.backend == "openai":
        from assistant.stages.llm.openai import OpenAILanguageModel

        address = _address("llm.url", llm.url, ("http", "https"), what)
        model = llm.remote_model or Path(llm.model).stem
        remote = OpenAILanguageModel(llm, address, model, api_key=_api_key(config))
    elif llm.backend == "wyoming":
        address = _address("llm.url", llm.url, ("tcp",), what)
        _need_wyoming(what)
        from assistant.stages.llm.wyoming import WyomingLanguageModel

        remote = WyomingLanguageModel(
            address, config.asr.language, busy_budget_s=config.turn.reply_timeout_s
        )
    else:
        raise ConfigError(f"{what} is not a remote backend; expected 'openai' or 'wyoming'")
    return FallbackLanguageModel(remote, local) if llm.fallback == "local" else remote


def follow_hub_timers(llm: LanguageModel | None, timers: Timers) -> None:
    """Let the timers that the hub sets for this appliance's questions run
    in ``timers`` (`FollowedTimers`), when ``llm`` is the hub's (``[llm]
    backend = "wyoming"``, with or without the local fallback)."""
    remote = llm.remote if isinstance(llm, FallbackLanguageModel) else llm
    if remote is not None and hasattr(remote, "on_timer"):
        remote.on_timer = FollowedTimers(timers)


def _api_key(config: Config) -> str:
    """The key in ``llm.api_key_file``, read once here; "" when unset."""
    if not config.llm.api_key_file:
        return ""
    text = read_small_text(
        Path(config.llm.api_key_file).expanduser(),
        "llm.api_key_file",
        max_bytes=MAX_KEY_BYTES,
        error=ConfigError,
        if_missing="create it with the server's key, or unset llm.api_key_file",
    )
    key = (text or "").strip()
    if not key or any(c.isspace() or not c.isprintable() for c in key):
        raise ConfigError(
            f"llm.api_key_file {config.llm.api_key_file}: expected one key on one line"
        )
    return key


class FallbackLanguageModel:
    """The remote model, and the local one when the remote fails before its
    first piece (down, refusing, or erring): that reply comes from the local
    model instead, with one warning. The local model is built on first need
    (seconds) and kept. Same thread rules as `base.LanguageModel`.
    """

    def __init__(self, remote: LanguageModel, local: Callable[[], LanguageModel]) -> None:
        self.remote = remote
        self.name = f"{remote.name} (local fallback)"
        self._make_local = local
        self._local: LanguageModel | None = None
        self._last: LanguageModel = remote

    @property
    def last_stats(self) -> GenerationStats:
        return self._last.last_stats

    def _fallback(self, exc: LanguageModelError) -> LanguageModel:
        if self._local is None:
            log.warning("%s; answering with the local model", exc)
            self._local = self._make_local()
        else:
            log.warning("%s; the local model answers", exc)
        return self._local

    def _either(
        self, call: Callable[[LanguageModel], Generator[str, None, None]]
    ) -> Generator[str, None, None]:
        self._last = self.remote
        try:
            pieces = call(self.remote)
            first = next(pieces)
        except StopIteration:
            return
        except LanguageModelError as exc:
            self._last = self._fallback(exc)
            yield from call(self._last)
            return
        try:
            yield first
            yield from pieces
        finally:
            pieces.close()  # a caller that stops early closes the remote stream

    def generate(
        self, messages: Sequence[Message], cancel: threading.Event | None = None
    ) -> Generator[str, None, None]:
        return self._either(lambda llm: llm.generate(messages, cancel))

    def generate_with_grammar(
        self,
        messages: Sequence[Message],
        gbnf: str,
        cancel: threading.Event | None = None,
        *,
        max_tokens: int = 64,
    ) -> Generator[str, None, None]:
        return self._either(
            lambda llm: llm.generate_with_grammar(messages, gbnf, cancel, max_tokens=max_tokens)
        )

    def prefill(self, messages: Sequence[Message], cancel: threading.Event | None = None) -> int:
        return 0

    def fits(self, messages: Sequence[Message]) -> bool:
        return self.remote.fits(messages)

    def warm_up(self) -> None:
        """Warm the remote model; if it does not answer, the local one."""
        try:
            self.remote.warm_up()
        except LanguageModelError as exc:
            self._fallback(exc).warm_up()

    def close(self) -> None:
        local, self._local = self._local, None
        if local is not None:
            local.close()
