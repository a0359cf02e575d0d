"""Fixtures of the audio tests: the shared Whisper engine for the tests that
check what a recognizer hears of audio files."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.stages.asr.whisper import WhisperSpeechToText
from tests.support.engines import shared_whisper


@pytest.fixture(scope="session")
def whisper(models_dir: Path) -> WhisperSpeechToText:
    """Whisper base with the default settings, the same engine the ASR tests use."""
    return shared_whisper(models_dir)
