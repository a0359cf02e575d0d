"""Session fixtures of the engines a whole voice turn only *uses*: Whisper,
SmolLM2 greedy and the noise-free voice. A folder's conftest.py imports
them (``from tests.support.turn_engines import llm, voice, whisper``);
tests whose subject is loading load their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.stages.asr.whisper import WhisperSpeechToText
from assistant.stages.llm.llama import LlamaLanguageModel
from assistant.stages.tts.piper import PiperTextToSpeech
from tests.support.engines import shared_whisper
from tests.support.voice_turn import load_greedy_llm, steady_voice


@pytest.fixture(scope="session")
def whisper(models_dir: Path) -> WhisperSpeechToText:
    """Whisper base, English, warmed up; shared with other folders' tests."""
    return shared_whisper(models_dir)


@pytest.fixture(scope="session")
def llm(models_dir: Path) -> Iterator[LlamaLanguageModel]:
    """SmolLM2, greedy; tests that compare answers `reset` its cache first."""
    with load_greedy_llm(models_dir) as model:
        yield model


@pytest.fixture(scope="session")
def voice(models_dir: Path) -> PiperTextToSpeech:
    """The piper voice without noise."""
    return steady_voice(models_dir)
