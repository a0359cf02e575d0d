"""PiperTextToSpeech with the real en_US-joe-medium voice. Tests that load
the voice are marked slow; the file checks before loading are not."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from assistant.core.config import TtsConfig
from assistant.core.errors import ModelError
from assistant.stages.audio.pcm import AudioChunk, rms_dbfs
from assistant.stages.tts.base import TextToSpeech
from assistant.stages.tts.piper import PiperTextToSpeech

VOICE = "en_US-joe-medium"
# Plausible speaking rates: very slow to very fast speech, in words per second.
SLOWEST_WPS = 1.25
FASTEST_WPS = 6.5
SILENCE_DBFS = -50.0


def _duration_s(chunks: list[AudioChunk]) -> float:
    return sum(c.duration_s for c in chunks)


@pytest.mark.slow
def test_implements_the_protocol(tts: PiperTextToSpeech) -> None:
    engine: TextToSpeech = tts
    assert VOICE in engine.name
    declared = set(vars(TextToSpeech)) | set(TextToSpeech.__annotations__)
    members = {name for name in declared if not name.startswith("_")}
    assert {"name", "set_volume", "synthesize"} <= members
    assert not {name for name in members if not hasattr(tts, name)}


@pytest.mark.slow
def test_sample_rate_is_the_voices(tts: PiperTextToSpeech, voice_path: Path) -> None:
    voice_config = json.loads(Path(f"{voice_path}.json").read_text())
    assert tts.sample_rate_hz == voice_config["audio"]["sample_rate"] == 22050
    chunks = list(tts.synthesize("Testing the rate."))
    assert chunks and all(c.rate_hz == tts.sample_rate_hz for c in chunks)
    assert all(c.samples.dtype == np.int16 and c.samples.ndim == 1 for c in chunks)


@pytest.mark.slow
def test_duration_is_plausible_for_the_word_count(tts: PiperTextToSpeech) -> None:
    text = "The quick brown fox jumps over the lazy sleeping dog."
    words = len(text.split())
    assert words == 10
    duration = _duration_s(list(tts.synthesize(text)))
    assert words / FASTEST_WPS <= duration <= words / SLOWEST_WPS


@pytest.mark.slow
def test_audio_is_not_silent(tts: PiperTextToSpeech) -> None:
    (chunk,) = tts.synthesize("This should be clearly audible speech.")
    assert rms_dbfs(chunk.samples) > SILENCE_DBFS


@pytest.mark.slow
def test_one_chunk_per_sentence(tts: PiperTextToSpeech) -> None:
    # "Dr." makes espeak split internally; it must still come out as one chunk.
    text = "Hello there. Dr. Smith is in the office today! Are you coming too?"
    chunks = list(tts.synthesize(text))
    assert len(chunks) == 3
    assert all(rms_dbfs(c.samples) > SILENCE_DBFS for c in chunks)


@pytest.mark.slow
def test_cancel_after_the_first_chunk_stops_synthesis(tts: PiperTextToSpeech) -> None:
    cancel = threading.Event()
    stream = tts.synthesize("One sentence here. Another sentence there. A third one.", cancel)
    first = next(stream)
    assert first.duration_s > 0
    cancel.set()
    assert list(stream) == []


@pytest.mark.slow
def test_a_cancel_set_before_starting_yields_nothing(tts: PiperTextToSpeech) -> None:
    cancel = threading.Event()
    cancel.set()
    assert list(tts.synthesize("Nothing should be said.", cancel)) == []


@pytest.mark.slow
@pytest.mark.parametrize("text", ["", "   ", "😀🎉", "```\nprint(1)\n```", "***"])
def test_unspeakable_text_yields_nothing(tts: PiperTextToSpeech, text: str) -> None:
    assert list(tts.synthesize(text)) == []


# Raw piper reads each of these several times longer than "Hello" (measured: 3.9x to 8x).
@pytest.mark.slow
@pytest.mark.parametrize(
    "decorated", ["**Hello**", "Hello 😀🎉", "[Hello](https://example.com/page)"]
)
def test_markup_and_emoji_are_not_spoken(tts: PiperTextToSpeech, decorated: str) -> None:
    plain = _duration_s(list(tts.synthesize("Hello")))
    marked = _duration_s(list(tts.synthesize(decorated)))
    # The margin only absorbs piper's random duration noise (about 10%).
    assert 0.7 * plain <= marked <= 1.4 * plain


@pytest.mark.slow
def test_length_scale_and_volume_are_applied(tts: PiperTextToSpeech, voice_path: Path) -> None:
    slow_quiet = PiperTextToSpeech(
        TtsConfig(voice=VOICE, length_scale=2.0, volume=0.25), voice_path
    )
    text = "Speaking slowly and quietly now."
    (normal,) = tts.synthesize(text)
    (slow,) = slow_quiet.synthesize(text)
    assert slow.duration_s > 1.5 * normal.duration_s
    # piper normalises each sentence to full scale before the gain.
    assert np.abs(slow.samples).max() <= 0.26 * 32767
    assert np.abs(normal.samples).max() > 0.9 * 32767


def test_missing_voice_is_a_model_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"nope\.onnx is missing.*assistant models fetch"):
        PiperTextToSpeech.from_config(TtsConfig(voice="nope"), tmp_path)


def test_missing_voice_config_is_a_model_error(tmp_path: Path, voice_path: Path) -> None:
    shutil.copy(voice_path, tmp_path / "v.onnx")
    with pytest.raises(ModelError, match=r"v\.onnx\.json is missing"):
        PiperTextToSpeech(TtsConfig(), tmp_path / "v.onnx")


def test_corrupt_voice_config_is_a_model_error(tmp_path: Path, voice_path: Path) -> None:
    shutil.copy(voice_path, tmp_path / "v.onnx")
    (tmp_path / "v.onnx.json").write_text("{not json")
    with pytest.raises(ModelError, match=r"v\.onnx\.json is corrupt"):
        PiperTextToSpeech(TtsConfig(), tmp_path / "v.onnx")


@pytest.mark.slow
def test_corrupt_voice_model_is_a_model_error(tmp_path: Path, voice_path: Path) -> None:
    (tmp_path / "v.onnx").write_bytes(b"\x00garbage" * 100)
    shutil.copy(f"{voice_path}.json", tmp_path / "v.onnx.json")
    with pytest.raises(ModelError, match=r"v\.onnx failed to load.*corrupt"):
        PiperTextToSpeech(TtsConfig(), tmp_path / "v.onnx")


@pytest.mark.slow
def test_the_language_decides_how_numbers_are_cleaned(voice_path: Path, monkeypatch) -> None:
    pt = PiperTextToSpeech.from_config(TtsConfig(voice=VOICE), voice_path.parent, language="pt")
    assert pt.language == "pt"
    spoken: list[str] = []

    def record(sentence: str, cancel: threading.Event | None = None) -> np.ndarray:
        spoken.append(sentence)
        return np.zeros(10, dtype=np.int16)

    monkeypatch.setattr(pt, "_synthesize_sentence", record)
    assert len(list(pt.synthesize("Tenho **42** anos."))) == 1
    assert spoken == ["Tenho 42 anos."]  # espeak-ng reads the digits in Portuguese
    assert PiperTextToSpeech(TtsConfig(voice=VOICE), voice_path).language == "en"


@pytest.mark.slow
def test_zero_noise_makes_the_voice_repeatable(voice_path: Path) -> None:
    steady = PiperTextToSpeech(TtsConfig(noise_scale=0.0, noise_w_scale=0.0), voice_path)
    text = "The capital of France is Paris."
    first = np.concatenate([c.samples for c in steady.synthesize(text)])
    second = np.concatenate([c.samples for c in steady.synthesize(text)])
    assert len(first) == len(second)
    assert np.array_equal(first, second)


@pytest.mark.slow
def test_set_volume_changes_the_level_of_later_sentences(voice_path: Path) -> None:
    tts = PiperTextToSpeech(TtsConfig(noise_scale=0.0, noise_w_scale=0.0), voice_path)
    text = "The volume changes now."
    (loud,) = tts.synthesize(text)
    tts.set_volume(0.25)
    (quiet,) = tts.synthesize(text)
    assert len(quiet.samples) == len(loud.samples)
    assert np.abs(quiet.samples).max() <= 0.26 * 32767 < np.abs(loud.samples).max()


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux's /proc")
def test_the_memory_arena_is_emptied_once_the_voice_is_idle(voice_path, monkeypatch) -> None:
    # The arena keeps its runs' buffers (tens of MiB for this sentence)
    # until the voice has been idle `REST_AFTER_S` (5 s; 0.2 here).
    monkeypatch.setattr("assistant.stages.tts.piper.REST_AFTER_S", 0.2)
    tts = PiperTextToSpeech.from_config(TtsConfig(voice=VOICE), voice_path.parent)
    text = (
        "Water boils at one hundred degrees at sea level, and at higher altitudes it boils "
        "at a lower temperature, because the air pressure up there is lower than below."
    )
    assert len(list(tts.synthesize(text))) == 1
    timer = tts._rest_timer
    assert timer is not None, "no rest scheduled after the reply"
    grown = _rss_mib()
    timer.join(timeout=30)
    assert not timer.is_alive()
    assert _rss_mib() < grown - 20


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux's /proc")
def test_the_kept_arena_stops_growing_once_a_run_was_as_long_as_any(tts) -> None:
    # Runs are at most `MAX_RUN_CHARS`, so ever longer sentences, kept
    # between replies (no rest), need no more than the first long one.
    def say(words: int) -> None:
        assert list(tts.synthesize(" ".join(["mountain"] * words) + "."))

    tts.cancel_rest()
    say(25)  # runs of 80 characters
    before = _rss_mib()
    for words in (40, 55, 80, 120):
        say(words)
    grown = _rss_mib() - before
    assert grown < 15, f"the kept arena grew {grown:.0f} MiB past the first long sentence"


LONG_SENTENCE = (
    "When sunlight enters the air, the short blue waves are scattered in every direction "
    "by its molecules, while the longer red waves pass straight through, so we see blue "
    "light from all over."
)


def _spy_on_runs(tts: PiperTextToSpeech, monkeypatch, after_run=None) -> list[str]:
    """Record the text of each run of the real voice (a spy: the model still runs)."""
    runs: list[str] = []
    real = tts._voice.synthesize

    def spy(text: str, **kwargs):
        runs.append(text)
        yield from real(text, **kwargs)
        if after_run is not None:
            after_run()

    monkeypatch.setattr(tts._voice, "synthesize", spy)
    return runs


@pytest.mark.slow
def test_a_long_sentence_is_synthesized_in_parts_cut_at_its_commas(tts, monkeypatch) -> None:
    # piper's peak memory grows with one run's audio: a 200-character
    # sentence in one run took up to 409 MiB (`piper.MAX_RUN_CHARS`).
    from assistant.stages.tts.piper import MAX_RUN_CHARS

    assert 2 * MAX_RUN_CHARS < len(LONG_SENTENCE) <= 200  # one piece of a reply
    runs = _spy_on_runs(tts, monkeypatch)
    chunks = list(tts.synthesize(LONG_SENTENCE))
    assert len(chunks) == 1  # still one chunk per sentence
    assert len(runs) > 1 and all(len(run) <= MAX_RUN_CHARS for run in runs)
    assert all(run.endswith(",") for run in runs[:-1])
    assert " ".join(runs) == LONG_SENTENCE
    words = len(LONG_SENTENCE.split())
    assert words / FASTEST_WPS <= chunks[0].duration_s <= words / SLOWEST_WPS


@pytest.mark.slow
def test_a_cancel_during_a_long_sentence_stops_before_its_next_part(tts, monkeypatch) -> None:
    cancel = threading.Event()
    runs = _spy_on_runs(tts, monkeypatch, after_run=cancel.set)
    assert list(tts.synthesize(LONG_SENTENCE, cancel)) == []
    assert len(runs) == 1


class _FakeSession:
    """A fake onnxruntime session: records each run's options."""

    def __init__(self) -> None:
        self.options: list = []
        self.marker = "the session's own attribute"

    def run(self, output_names, input_feed, run_options=None):
        self.options.append(run_options)
        return []


@pytest.mark.slow
def test_a_per_run_arena_is_emptied_at_the_end_of_every_run(voice_path) -> None:
    # ``tts.arena = "per-run"`` (the hub's): within a run the arena reuses
    # what the decoder frees (a run's peak about halves); emptied at its
    # end, it keeps nothing between runs.
    import onnxruntime

    from assistant.stages.tts.arena import ShrinkingSession

    config = TtsConfig(voice=VOICE, arena="per-run")
    voice = PiperTextToSpeech.from_config(config, voice_path.parent)
    assert isinstance(voice._voice.session, ShrinkingSession)
    assert list(voice.synthesize("A short one."))
    assert voice._rest_timer is None  # nothing kept, so nothing to empty later
    fake = _FakeSession()
    session = ShrinkingSession(fake)
    session.run(None, {})
    (options,) = fake.options
    assert options.get_run_config_entry("memory.enable_memory_arena_shrinkage") == "cpu:0"
    own = onnxruntime.RunOptions()
    session.run(None, {}, own)
    assert fake.options[-1] is own
    assert session.marker == fake.marker
