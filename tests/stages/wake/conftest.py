"""Fixtures of the wake-word tests: one real detector, and synthesized
clips, each made once per session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.stages.wake.micro import MicroWakeWordDetector
from tests.support.speech import espeak_wav, load_16k, piper_wav


@pytest.fixture(scope="session")
def mycroft() -> Iterator[MicroWakeWordDetector]:
    """The detector for hey_mycroft and hey_jarvis; tests `reset` it before use."""
    detector = MicroWakeWordDetector(["hey_mycroft", "hey_jarvis"])
    yield detector
    detector.close()


@pytest.fixture(scope="session")
def said(
    models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str, str], np.ndarray]:
    """``said(voice, text)``: ``text`` spoken by piper (``voice`` "piper") or
    by the espeak-ng voice ``voice``, mono int16 at 16 kHz, made once."""
    folder = tmp_path_factory.mktemp("said")
    clips: dict[tuple[str, str], np.ndarray] = {}

    def said(voice: str, text: str) -> np.ndarray:
        if (voice, text) not in clips:
            path = folder / f"{len(clips)}.wav"
            if voice == "piper":
                piper_wav(text, models_dir, path)
            else:
                espeak_wav(text, voice, path)
            clips[voice, text] = load_16k(path)
        return clips[voice, text].copy()

    return said
