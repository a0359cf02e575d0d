"""Fixtures of the recognizer tests: the shared Whisper engine, synthesized
questions, and each question's non-streamed transcript, made once per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest

from assistant.stages.asr.whisper import WhisperSpeechToText
from assistant.stages.asr.whisper_window import Decoded, transcribe_full
from assistant.stages.audio.pcm import ASR_RATE_HZ
from tests.support.engines import shared_whisper
from tests.support.models import require
from tests.support.speech import load_16k, piper_wav

T = TypeVar("T")
PRE_ROLL_S = 0.3
"""Silence before the speech, as when the button is pressed just before speaking."""


@pytest.fixture(scope="session")
def whisper(models_dir: Path) -> WhisperSpeechToText:
    """Whisper base with the default settings, for tests that only decode with it."""
    return shared_whisper(models_dir)


@pytest.fixture(scope="session")
def speak(
    models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], np.ndarray]:
    """``text`` spoken by piper after `PRE_ROLL_S` of silence, mono int16 at
    16 kHz; each text is synthesized once per session."""
    require(models_dir / "en_US-joe-medium.onnx")
    folder = tmp_path_factory.mktemp("speech")
    clips: dict[str, np.ndarray] = {}

    def speak(text: str) -> np.ndarray:
        if text not in clips:
            path = piper_wav(text, models_dir, folder / f"{len(clips)}.wav")
            pre_roll = np.zeros(round(PRE_ROLL_S * ASR_RATE_HZ), np.int16)
            clips[text] = np.concatenate([pre_roll, load_16k(path)])
        return clips[text].copy()

    return speak


def _once(
    decode: Callable[[np.ndarray], T], speak: Callable[[str], np.ndarray]
) -> Callable[[str], T]:
    """``decode(speak(text))`` by text, each computed once."""
    done: dict[str, T] = {}

    def cached(text: str) -> T:
        if text not in done:
            done[text] = decode(speak(text))
        return done[text]

    return cached


@pytest.fixture(scope="session")
def heard(whisper: WhisperSpeechToText, speak) -> Callable[[str], Decoded]:
    """The non-streamed final decode (`WhisperSpeechToText.decode`) of
    ``speak(text)``, once per text and session."""
    return _once(whisper.decode, speak)


@pytest.fixture(scope="session")
def heard_short(whisper: WhisperSpeechToText, speak) -> Callable[[str], Decoded]:
    """The short-window decode (`WhisperSpeechToText.decode_partial`) of
    ``speak(text)``, once per text and session."""
    return _once(whisper.decode_partial, speak)


@pytest.fixture(scope="session")
def heard_full(whisper: WhisperSpeechToText, speak) -> Callable[[str], str]:
    """Whisper's own 30 s window (`transcribe_full`) on ``speak(text)``, once
    per text and session."""
    return _once(lambda samples: transcribe_full(whisper._loaded_model(), samples, "en"), speak)
