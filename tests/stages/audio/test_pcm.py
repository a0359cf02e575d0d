"""Sample conversion: `to_mono_int16` against a reference written with plain
Python float math, for every dtype a device or a file gives and every usual
channel count, plus `resample`. No device, file or model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from assistant.stages.audio.pcm import resample, to_mono_int16
from tests.support.alsa import dominant_hz, sine

CHANNELS = [1, 2, 4, 6, 8]
INT_DTYPES = ["int8", "uint8", "<i2", ">i2", "<i4", ">i4"]
FLOAT_DTYPES = ["<f4", ">f4", "<f8"]


def unit(value: float, dtype: np.dtype) -> float:
    """One sample as a fraction of full scale, from the format's definition."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return 0.0 if math.isnan(value) else max(-1.0, min(1.0, float(value)))
    half = 2 ** (8 * dtype.itemsize - 1)
    return ((int(value) - half) if dtype.kind == "u" else int(value)) / half


def reference(frames: list[list[float]], dtype: np.dtype) -> list[int]:
    """Mean of the channels at full scale 32768, rounded half to even, clipped."""
    out = []
    for frame in frames:
        mean = sum(unit(v, dtype) for v in frame) / len(frame)
        out.append(max(-32768, min(32767, round(mean * 32768))))
    return out


def test_the_reported_stereo_example_keeps_its_values():
    # It became [32767, -32767]: int16 treated as float and clipped.
    stereo = np.array([[1000, 1000], [-2000, -2000]], np.int16)
    np.testing.assert_array_equal(to_mono_int16(stereo), [1000, -2000])


@pytest.mark.parametrize(
    ("dtype", "values", "expected"),
    [
        ("int8", [-128, -1, 0, 1, 127], [-32768, -256, 0, 256, 32512]),
        ("uint8", [0, 1, 128, 255], [-32768, -32512, 0, 32512]),
        ("<i2", [-32768, -1, 0, 1, 32767], [-32768, -1, 0, 1, 32767]),
        (">i2", [-32768, -1, 0, 1, 32767], [-32768, -1, 0, 1, 32767]),
        # 24-bit samples left-justified in int32, as PortAudio and libsndfile give them.
        ("<i4", [(2**23 - 1) << 8, -(2**23) << 8, 1 << 8, 3 << 15], [32767, -32768, 0, 2]),
        ("<i4", [2**31 - 1, -(2**31), 65536, 32768, 98304], [32767, -32768, 1, 0, 2]),
        (
            "<f4",
            [1.0, -1.0, 0.5, -0.25, 1.5, -3.0, np.nan],
            [32767, -32768, 16384, -8192, 32767, -32768, 0],
        ),
        (
            "<f8",
            [1.0, -1.0, 0.5, 2.0, -np.inf, np.inf],
            [32767, -32768, 16384, 32767, -32768, 32767],
        ),
    ],
)
def test_full_scale_and_known_values_of_each_format(dtype, values, expected):
    mono = to_mono_int16(np.array(values, dtype=dtype))
    assert mono.dtype == np.int16 and mono.ndim == 1
    np.testing.assert_array_equal(mono, expected)
    assert reference([[v] for v in values], np.dtype(dtype)) == expected


@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("dtype", INT_DTYPES + FLOAT_DTYPES)
def test_each_format_and_channel_count_matches_the_reference(dtype, channels):
    rng = np.random.default_rng(channels)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        data = rng.uniform(-1.2, 1.2, (300, channels)).astype(dtype)
    else:
        info = np.iinfo(dtype)
        data = rng.integers(info.min, info.max, (300, channels), endpoint=True).astype(dtype)
    expected = reference(data.tolist(), dtype)
    np.testing.assert_array_equal(to_mono_int16(data), expected)


def test_a_quiet_stereo_voice_keeps_its_level():
    voice = (sine(300, 0.1, 16000, amplitude=0.03)).astype(np.int16)
    mono = to_mono_int16(np.stack([voice, voice // 2], axis=1))
    assert 0.7 < np.abs(mono).max() / np.abs(voice).max() < 0.8
    assert np.abs(mono).max() < 1000


def test_mono_int16_comes_back_unchanged():
    samples = np.arange(-5, 5, dtype=np.int16)
    assert to_mono_int16(samples) is samples
    np.testing.assert_array_equal(to_mono_int16(samples[:, None]), samples)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 2, 2), np.int16),
        np.zeros((4, 0), np.int16),
        np.zeros(4, bool),
        np.zeros(4, complex),
        np.array(["a", "b"]),
    ],
)
def test_what_is_not_pcm_is_a_value_error(bad):
    with pytest.raises(ValueError, match="to_mono_int16"):
        to_mono_int16(bad)


def pcm_dtypes() -> st.SearchStrategy[np.dtype]:
    return st.sampled_from([np.dtype(d) for d in INT_DTYPES + FLOAT_DTYPES + ["<f2", "<i8"]])


def pcm_arrays(min_channels: int = 1) -> st.SearchStrategy[np.ndarray]:
    shapes = st.tuples(
        st.integers(0, 40), st.sampled_from([c for c in CHANNELS if c >= min_channels])
    )
    return pcm_dtypes().flatmap(lambda dtype: hnp.arrays(dtype, shapes))


@given(pcm_arrays())
def test_any_pcm_array_gives_mono_int16_matching_the_reference(data):
    mono = to_mono_int16(data)
    assert mono.dtype == np.int16 and mono.shape == (data.shape[0],)
    expected = np.array(reference(data.tolist(), data.dtype), dtype=np.int64)
    if data.dtype.kind in "iu" and data.dtype.itemsize <= 4:
        np.testing.assert_array_equal(mono, expected)  # every sum is exact in float64
    else:
        # numpy may add 8 channels in another order than Python: the last bit may differ.
        assert np.abs(mono.astype(np.int64) - expected).max(initial=0) <= 1


@given(pcm_dtypes().flatmap(lambda d: hnp.arrays(d, st.integers(0, 40))), st.sampled_from(CHANNELS))
def test_identical_channels_give_that_channel(channel, channels):
    stacked = np.repeat(channel[:, None], channels, axis=1)
    np.testing.assert_array_equal(to_mono_int16(stacked), to_mono_int16(channel))
    if channel.dtype == np.int16:
        np.testing.assert_array_equal(to_mono_int16(stacked), channel)


@given(hnp.arrays(np.int16, st.integers(0, 60)))
def test_int16_survives_the_trip_through_float32(samples):
    np.testing.assert_array_equal(to_mono_int16(samples.astype(np.float32) / 32768), samples)
    np.testing.assert_array_equal(to_mono_int16(samples.astype(np.int32) << 16), samples)


def test_resample_keeps_pitch_level_and_dtype():
    tone = sine(440, 1.0, 48000, amplitude=0.5)
    out = resample(tone, 48000, 16000)
    assert out.dtype == np.int16 and abs(len(out) - 16000) <= 1
    assert abs(dominant_hz(out, 16000) - 440) <= 2
    assert abs(np.abs(out[1000:-1000]).max() / np.abs(tone).max() - 1) < 0.01
    same = np.arange(10, dtype=np.int16)
    assert resample(same, 16000, 16000) is same
