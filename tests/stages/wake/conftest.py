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
def said(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., np.ndarray]:
    """``said(voice, text, wpm=175)``: ``text`` spoken by piper (``voice``
    "piper", at its own pace) or by the espeak-ng voice ``voice`` at ``wpm``
    words a minute, mono int16 at 16 kHz, made once."""
    folder = tmp_path_factory.mktemp("said")
    clips: dict[tuple[str, str, int], np.ndarray] = {}

    def said(voice: str, text: str, wpm: int = 175) -> np.ndarray:
        if (voice, text, wpm) not in clips:
            path = folder / f"{len(clips)}.wav"
            if voice == "piper":
                piper_wav(text, models_dir, path)
            else:
                espeak_wav(text, voice, path, wpm)
            clips[voice, text, wpm] = load_16k(path)
        return clips[voice, text, wpm].copy()

    return said
