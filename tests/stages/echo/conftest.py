"""Fixtures of the echo tests: the project's voice saying a reply and the
wake word (made once per session), and one real wake detector."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.stages.wake.micro import MicroWakeWordDetector
from tests.support.rooms import voice_clips


@pytest.fixture(scope="session")
def reply(models_dir: Path) -> np.ndarray:
    """About seven seconds of the assistant speaking (piper, 16 kHz)."""
    return voice_clips(models_dir)[0].copy()


@pytest.fixture(scope="session")
def wake_clip(models_dir: Path) -> np.ndarray:
    """ "Hey Mycroft." in the same voice (16 kHz)."""
    return voice_clips(models_dir)[1].copy()


@pytest.fixture(scope="session")
def hey_mycroft() -> Iterator[MicroWakeWordDetector]:
    """The real detector; tests `reset` it before use."""
    detector = MicroWakeWordDetector(["hey_mycroft"])
    yield detector
    detector.close()
