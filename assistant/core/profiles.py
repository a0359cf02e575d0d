"""Profiles: ``language = "pt"`` picks the four stages of that language in one
go, and ``board = "512mb"`` shrinks them to fit a 512 MB board.

A language profile sets the language model, the recognizer and its model
(English: Moonshine; pt and es: Vosk), the voice, the system prompt and the
recognizer's language (which Whisper also gets, so it never guesses). A
board profile sets the smallest models of the catalogue and sizes the
context and buffers to fit; it applies on top of the language
profile. `apply_profile` is called by the config loader on the raw TOML
tables, before validation, and only fills keys the user did not set, so an
explicit ``[llm] model`` still wins.

Each language profile's models form the catalogue set of the same name
(``assistant models fetch pt``); a board profile's form ``<board>-<language>``
(``512mb-pt``). This module is below the catalogue, so it names models by file
as the config does, and by catalogue id for the messages; tests check that
both agree with ``catalog.toml``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful voice assistant running offline on a Raspberry Pi. "
    "Answer in one or two short spoken sentences. Do not use lists, markdown or emoji."
)


@dataclass(frozen=True)
class Models:
    """One model per stage, by catalogue id and by the config value that loads it."""

    llm_id: str
    """Catalogue id of the language model."""
    llm_file: str
    """``llm.model``: the GGUF file of ``llm_id``."""
    asr_engine: str
    """``asr.engine``: ``moonshine`` or ``vosk``."""
    asr_model: str
    """``asr.<engine>_model``: the recognizer's model directory, which is also
    its catalogue id."""
    voice: str
    """``tts.voice``: a Piper voice, which is also its catalogue id."""

    @property
    def ids(self) -> tuple[str, str, str]:
        """The catalogue ids: language model, recognizer, voice."""
        return (self.llm_id, self.asr_model, self.voice)


@dataclass(frozen=True)
class Profile:
    language: str
    """Config value of ``language`` and code passed to the recognizer (``asr.language``)."""
    models: Models
    """The four stages' models on a board with 1 GB or more."""
    system_prompt: str
    """``llm.system_prompt``, written in the profile's language."""


@dataclass(frozen=True)
class BoardProfile:
    name: str
    """Config value of ``board``."""
    models: dict[str, Models]
    """The smallest models of the catalogue, by language."""
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Other keys it sets, as TOML-shaped tables."""


SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"
QWEN_05B = "qwen2.5-0.5b-instruct-q4_k_m.gguf"
GEMMA_270M = "gemma-3-270m-it-Q8_0.gguf"
# English: Moonshine, measured on 30 real recordings against Whisper base
# (benchmarks/README.md, "Moonshine against Whisper"): WER 0.029 against
# 0.025, and its release-to-transcript 0.14-0.19x Whisper's.
MOONSHINE_EN = ("moonshine", "moonshine-base-en")
VOSK_EN = ("vosk", "vosk-model-small-en-us-0.15")
VOSK_PT = ("vosk", "vosk-model-small-pt-0.3")
VOSK_ES = ("vosk", "vosk-model-small-es-0.42")

PROFILES: dict[str, Profile] = {
    "en": Profile(
        language="en",
        models=Models("smollm2-135m", SMOLLM2, *MOONSHINE_EN, "en_US-joe-medium"),
        system_prompt=DEFAULT_SYSTEM_PROMPT,
    ),
    # Qwen2.5-0.5B: the smallest catalogue model that answers well in
    # Portuguese and Spanish, and at ~490 MB twice as fast as the 1B models
    # (memory bandwidth bound: ~22 tokens/s on a Pi 5, ~10 on a Pi 4).
    "pt": Profile(
        language="pt",
        models=Models("qwen2.5-0.5b", QWEN_05B, *VOSK_PT, "pt_BR-faber-medium"),
        system_prompt=(
            "Você é um assistente de voz prestativo que funciona offline num Raspberry Pi. "
            "Responda em português, em uma ou duas frases curtas para serem faladas. "
            "Não use listas, markdown nem emojis."
        ),
    ),
    "es": Profile(
        language="es",
        models=Models("qwen2.5-0.5b", QWEN_05B, *VOSK_ES, "es_ES-davefx-medium"),
        system_prompt=(
            "Eres un asistente de voz útil que funciona sin conexión en una Raspberry Pi. "
            "Responde en español, en una o dos frases cortas para ser habladas. "
            "No uses listas, markdown ni emojis."
        ),
    ),
}

BOARDS: dict[str, BoardProfile] = {
    # A Pi Zero 2 W or 3 A+: about 420 MB free for Linux and the assistant.
    # The smallest models; a short context (its KV cache and llama.cpp's
    # compute buffers scale with n_ctx), two remembered exchanges, short
    # replies, and few reply WAVs kept. Gemma 3 270M is mapped, not read in:
    # its pages are clean page cache the kernel may drop under pressure.
    # English keeps Vosk here: Moonshine's ~320 MB (against Vosk's ~150)
    # would not fit even with zram (`models recommend`).
    "512mb": BoardProfile(
        name="512mb",
        models={
            "en": Models("smollm2-135m", SMOLLM2, *VOSK_EN, "en_US-lessac-low"),
            "pt": Models("gemma-3-270m", GEMMA_270M, *VOSK_PT, "pt_BR-faber-medium"),
            "es": Models("gemma-3-270m", GEMMA_270M, *VOSK_ES, "es_ES-davefx-medium"),
        },
        keys={
            "llm": {"n_ctx": 512, "max_tokens": 96, "max_turns": 2, "mmap": True},
            "audio": {"keep_replies": 10},
        },
    ),
}


def profile_models(language: str, board: str = "default") -> Models:
    """The models a language (and board) profile selects."""
    if board in BOARDS:
        return BOARDS[board].models[language]
    return PROFILES[language].models


def set_name(language: str, board: str = "default") -> str:
    """The catalogue set holding a profile's models: ``pt``, ``512mb-pt``."""
    return f"{board}-{language}" if board in BOARDS else language


def profile_defaults(language: str, board: str = "default") -> dict[str, dict[str, Any]]:
    """Every config key a profile sets, as TOML-shaped tables."""
    p = PROFILES[language]
    m = profile_models(language, board)
    tables: dict[str, dict[str, Any]] = {
        "asr": {
            "engine": m.asr_engine,
            f"{m.asr_engine}_model": m.asr_model,
            "language": p.language,
        },
        "tts": {"voice": m.voice},
        "llm": {"model": m.llm_file, "system_prompt": p.system_prompt},
    }
    for section, values in (BOARDS[board].keys if board in BOARDS else {}).items():
        tables.setdefault(section, {}).update(values)
    return tables


def apply_profile(language: str, data: dict[str, Any], board: str = "default") -> dict[str, Any]:
    """A copy of the raw config tables ``data`` with the profile's keys added
    where the user did not set them. ``data``'s values are not validated here;
    tables that are not dicts are left for the loader to reject."""
    merged = copy.deepcopy(data)
    for section, values in profile_defaults(language, board).items():
        table = merged.setdefault(section, {})
        if isinstance(table, dict):
            for key, value in values.items():
                table.setdefault(key, value)
    return merged
