"""Fixtures of the voice tests: the piper voice's files, and one loaded voice
for the tests that only synthesize with the default settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.core.config import TtsConfig
from assistant.stages.tts.piper import PiperTextToSpeech
from tests.support.models import require

VOICE = "en_US-joe-medium"


@pytest.fixture(scope="session")
def voice_path(models_dir: Path) -> Path:
    require(models_dir / f"{VOICE}.onnx.json")
    return require(models_dir / f"{VOICE}.onnx")


@pytest.fixture(scope="session")
def tts(voice_path: Path) -> PiperTextToSpeech:
    """The voice with the default settings; tests must not change its volume."""
    return PiperTextToSpeech.from_config(TtsConfig(voice=VOICE), voice_path.parent)
