"""The real recordings in ``benchmarks/real_speech/``: listed, in the format
the benchmarks feed, cut tight, and each one's source and licence recorded."""

from __future__ import annotations

import re
import wave

import numpy as np
import pytest

from tests.support.real_speech import FOLDER, real_clips, voiced_span

MAX_LEAD_S = 0.3
"""Most silence before the first word, in seconds."""
MAX_GAP_S = 0.1
"""Most time between the last word and the end of the file, in seconds."""
LICENCES = ("public domain", "CC-BY", "MIT", "BSD", "Apache", "GPL", "CMU ARCTIC")


def read(path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2), path.name
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2"), wav.getframerate()


def tight(samples: np.ndarray, rate_hz: int) -> bool:
    start_s, end_s = voiced_span(samples, rate_hz)
    return start_s <= MAX_LEAD_S and len(samples) / rate_hz - end_s <= MAX_GAP_S


def test_every_clip_is_listed_once_with_its_words():
    clips = real_clips()
    names = [clip.path.name for clip in clips]
    assert len(names) >= 20
    assert len(set(names)) == len(names)
    assert sorted(names) == sorted(p.name for p in FOLDER.glob("*.wav"))
    assert all(len(clip.text.split()) >= 2 for clip in clips)


def test_clips_are_16khz_mono_16bit_cut_tight_and_small():
    loose = []
    for clip in real_clips():
        samples, rate_hz = read(clip.path)
        assert rate_hz == 16000, clip.path.name
        assert 1.0 <= len(samples) / rate_hz <= 11.0, clip.path.name
        if not tight(samples, rate_hz):
            loose.append(clip.path.name)
    assert loose == []
    assert sum(p.stat().st_size for p in FOLDER.iterdir()) < 4_200_000


@pytest.mark.parametrize("pad", ["silence", "noise floor"])
def test_the_tightness_measure_sees_a_late_release(pad):
    """The check above can fail: 0.3 s after the last word is too late,
    whether the pad is digital silence or the clip's own quietest audio."""
    samples, rate_hz = read(FOLDER / "librivox_0880.wav")
    assert tight(samples, rate_hz)
    if pad == "silence":
        tail = np.zeros(round(0.3 * rate_hz), np.int16)
    else:
        # The 0.1 s of the clip's lead (before its first word), three times.
        tail = np.tile(samples[: round(0.1 * rate_hz)], 3)
    assert not tight(np.concatenate([samples, tail]), rate_hz)


def test_sources_name_each_clip_with_its_origin_and_licence():
    text = (FOLDER / "SOURCES.md").read_text("utf-8")
    rows = {
        m.group(1): m.group(2).split(" | ")
        for m in re.finditer(r"^\| `([^`]+\.wav)` \| (.+) \|$", text, re.MULTILINE)
    }
    for clip in real_clips():
        package, path, licence, _speaker, digest, cut = rows[clip.path.name]
        assert package and path and cut, clip.path.name
        assert any(name in licence for name in LICENCES), clip.path.name
        assert re.fullmatch(r"`[0-9a-f]{64}`", digest), clip.path.name
