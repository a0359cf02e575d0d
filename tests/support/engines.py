"""Real engines that real-model tests only *use*, one of each per test process.

Loading Whisper costs seconds and a few hundred MB; the tests of several
folders (tests/stages/asr, tests/stages/audio) decode with the same engine,
so their session fixtures all hand out the one built here. A test whose
subject is loading, or a setting fixed at construction, builds its own.

The engine is never closed: `WhisperSpeechToText` without `close` leaves only
an idle daemon thread, which ends with the process.
"""

from __future__ import annotations

import functools
from pathlib import Path

from assistant.compose import make_speech_to_text
from assistant.core.config import AsrConfig
from assistant.stages.asr.moonshine import MoonshineSpeechToText
from assistant.stages.asr.whisper import WhisperSpeechToText
from tests.support.models import require

MAX_WER_ONE_SENTENCE = 0.34
"""Word error rate a real recognizer's transcript of one short synthesized
sentence stays within on any CPU (one word in three wrong). It is an anchor,
not a quality measure: it keeps two empty or garbled transcripts from
passing a test that compares them with each other."""
MAX_WER_SEVERAL = 0.1
"""The same over several sentences together (benchmarks/asr_wer.py measures
0.05 over 64 clips)."""


@functools.lru_cache(maxsize=2)
def shared_whisper(models_dir: Path) -> WhisperSpeechToText:
    """Whisper base with the appliance's default settings, English, warmed up."""
    require(Path(models_dir) / "whisper-base" / "model.bin")
    stt = make_speech_to_text(AsrConfig(engine="whisper", language="en"), Path(models_dir))
    assert isinstance(stt, WhisperSpeechToText)
    stt.warm_up()
    return stt


@functools.lru_cache(maxsize=2)
def shared_moonshine(models_dir: Path) -> MoonshineSpeechToText:
    """Moonshine base with the appliance's default settings, English, warmed
    up, and no fallback engine (a test that wants Whisper's passes it)."""
    require(Path(models_dir) / "moonshine-base-en" / "encoder_model.onnx")
    stt = MoonshineSpeechToText(
        AsrConfig(engine="moonshine", language="en"), Path(models_dir) / "moonshine-base-en"
    )
    stt.warm_up()
    return stt
