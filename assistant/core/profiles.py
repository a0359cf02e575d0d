"""Language profiles: ``language = "pt"`` in the config picks a matching speech
recognizer, voice and system prompt in one go.

`apply_profile` is called by the config loader on the raw TOML tables, before
validation, and only fills keys the user did not set, so an explicit
``[tts] voice`` still wins. Each profile's models form the catalogue set of the
same name: ``assistant models fetch pt`` installs them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful voice assistant running offline on a Raspberry Pi. "
    "Answer in one or two short spoken sentences. Do not use lists, markdown or emoji."
)


@dataclass(frozen=True)
class Profile:
    language: str
    """Config value of ``language`` and code passed to the recognizer (``asr.language``)."""
    vosk_model: str
    """Vosk model directory (catalogue id) for ``asr.vosk_model``."""
    voice: str
    """Piper voice (catalogue id) for ``tts.voice``."""
    system_prompt: str
    """``llm.system_prompt``, written in the profile's language."""
    suggested_llm: str
    """Catalogue id of a language model that speaks the language; advisory only
    (``llm.model`` is not changed: the embedded default is English-only)."""


PROFILES: dict[str, Profile] = {
    "en": Profile(
        language="en",
        vosk_model="vosk-model-small-en-us-0.15",
        voice="en_US-joe-medium",
        system_prompt=DEFAULT_SYSTEM_PROMPT,
        suggested_llm="smollm2-135m",
    ),
    "pt": Profile(
        language="pt",
        vosk_model="vosk-model-small-pt-0.3",
        voice="pt_BR-faber-medium",
        system_prompt=(
            "Você é um assistente de voz prestativo que funciona offline num Raspberry Pi. "
            "Responda em português, em uma ou duas frases curtas para serem faladas. "
            "Não use listas, markdown nem emojis."
        ),
        suggested_llm="qwen2.5-0.5b",
    ),
    "es": Profile(
        language="es",
        vosk_model="vosk-model-small-es-0.42",
        voice="es_ES-davefx-medium",
        system_prompt=(
            "Eres un asistente de voz útil que funciona sin conexión en una Raspberry Pi. "
            "Responde en español, en una o dos frases cortas para ser habladas. "
            "No uses listas, markdown ni emojis."
        ),
        suggested_llm="qwen2.5-0.5b",
    ),
}


def profile_defaults(language: str) -> dict[str, dict[str, str]]:
    """The config keys a profile sets, as TOML-shaped tables."""
    p = PROFILES[language]
    return {
        "asr": {"vosk_model": p.vosk_model, "language": p.language},
        "tts": {"voice": p.voice},
        "llm": {"system_prompt": p.system_prompt},
    }


def apply_profile(language: str, data: dict[str, Any]) -> dict[str, Any]:
    """A copy of the raw config tables ``data`` with the profile's keys added
    where the user did not set them. ``data``'s values are not validated here;
    tables that are not dicts are left for the loader to reject."""
    merged = copy.deepcopy(data)
    for section, values in profile_defaults(language).items():
        table = merged.setdefault(section, {})
        if isinstance(table, dict):
            for key, value in values.items():
                table.setdefault(key, value)
    return merged
