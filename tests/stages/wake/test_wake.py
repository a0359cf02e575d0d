"""The wake-word stage: the real microWakeWord detector on synthesized
speech (slow), its word checks, the `MicTap` hand-over and ``assistant wake``."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from assistant.core.errors import AudioError, ConfigError, ModelError
from assistant.frontends.cli import main
from assistant.pipeline.mictap import MicTap
from assistant.stages.wake import micro
from assistant.stages.wake.micro import (
    BUNDLED_WORDS,
    MicroWakeWordDetector,
    _Retimer,
    check_words,
)

HUSH = np.zeros(16000, np.int16)


def test_unknown_words_are_refused_with_the_ones_bundled():
    with pytest.raises(ConfigError, match="'hey_bob' is not a bundled wake word.*hey_mycroft"):
        check_words(["hey_mycroft", "hey_bob"])
    with pytest.raises(ConfigError, match="empty"):
        check_words([])
    assert check_words(["alexa", "alexa"]) == ("alexa",)


def test_a_missing_package_names_the_extra(monkeypatch):
    def missing():
        raise ModelError("wake word: the pymicro-wakeword package is not installed; run x")

    monkeypatch.setattr(micro, "_library", missing)
    with pytest.raises(ModelError, match="not installed"):
        MicroWakeWordDetector(["hey_mycroft"])


def test_the_tap_keeps_blocks_only_while_open_or_primed():
    tap = MicTap(16000)
    block = np.ones(320, np.int16)
    tap.put(block)  # nobody listens: dropped
    assert tap.read(0.0) is None
    tap.prime()  # a wake word ended: keep what follows
    tap.put(block * 2)
    tap.open()  # the turn opens it; nothing is lost
    assert tap.read(0.0)[0] == 2
    tap.close()
    tap.put(block)
    assert tap.read(0.0) is None


def test_the_tap_wakes_a_blocked_reader_and_passes_on_a_failure():
    tap = MicTap(16000)
    tap.open()
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.append(tap.read(10.0)))
    reader.start()
    tap.put(np.full(320, 7, np.int16))
    reader.join(5.0)
    assert not reader.is_alive() and got[0][0] == 7
    tap.fail(AudioError("input device 'mic' vanished; plug it back in"))
    with pytest.raises(AudioError, match="vanished"):
        tap.read(1.0)
    tap.finish()
    assert tap.exhausted


def _detect(detector: MicroWakeWordDetector, audio: np.ndarray) -> list:
    found = []
    padded = np.concatenate([HUSH, audio, HUSH])
    for start in range(0, len(padded), 320):  # 20 ms blocks, as from the mic
        found += detector.process(padded[start : start + 320])
    return found


# `mycroft` (the detector) and `said` (synthesized clips, once per session) are
# in conftest.py. A detector's scores change a little with the CPU, as a
# recognizer's words do: what one clip gives is never asserted alone. Its
# quality is a bound over several clips; the rest compares two code paths.
POSITIVE = (
    ("piper", "Hey Mycroft.", "hey_mycroft"),
    ("piper", "Hey Jarvis.", "hey_jarvis"),
    ("en-us", "hey mycroft", "hey_mycroft"),
    ("en", "hey mycroft", "hey_mycroft"),
)
"""(voice: piper or an espeak-ng voice, text, the word it says)."""
MIN_HEARD = 3
"""Of the four `POSITIVE` clips, at least this many must wake the detector."""


@pytest.mark.slow
def test_the_real_detector_hears_the_wake_words_it_is_said(mycroft, said):
    heard = 0
    for voice, text, word in POSITIVE:
        mycroft.reset()
        audio = said(voice, text)
        found = _detect(mycroft, audio)
        # Never the other word, never twice for one saying of it.
        assert [d.word for d in found] in ([], [word]), (voice, text, found)
        if found:
            heard += 1
            assert found[0].score > mycroft.cutoff(word)
            # It ends where the word ends: after the leading second of silence.
            assert 1.0 < found[0].t_s < 1.0 + len(audio) / 16000 + 0.3
    assert heard >= MIN_HEARD


@pytest.mark.slow
def test_the_real_detector_ignores_ordinary_speech(mycroft, said):
    mycroft.reset()
    text = "The weather is mild today. My craft room is a mess. Hey, how are you doing?"
    assert _detect(mycroft, said("piper", text)) == []


@pytest.mark.slow
def test_a_stricter_threshold_and_the_refractory_time(mycroft, said):
    audio = said("piper", "Hey Mycroft.")
    mycroft.reset()
    once = _detect(mycroft, audio)
    assert once != []  # the anchor: without a detection there is nothing to hold back
    mycroft.reset()
    twice = np.concatenate([audio, audio])  # back to back: inside refractory_s
    assert len(_detect(mycroft, twice)) == len(once)
    mycroft.reset()
    never = mycroft.process(np.concatenate([HUSH, audio, HUSH]), threshold=1.0)
    assert never == []


@pytest.mark.slow
def test_assistant_wake_prints_every_detection(mycroft, said, tmp_path, capsys):
    import soundfile

    audio, talk = said("piper", "Hey Mycroft."), said("piper", "Nothing to see here.")
    two = np.concatenate([HUSH, audio, talk, HUSH, audio])
    soundfile.write(tmp_path / "two.wav", two, 16000)
    assert main(["wake", "--wav", str(tmp_path / "two.wav"), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["detections"]
    # The command reports what the detector finds in the same samples, in the
    # same 20 ms blocks: every detection, not only the first.
    mycroft.reset()
    expected = [d for i in range(0, len(two), 320) for d in mycroft.process(two[i : i + 320])]
    assert [(d["word"], d["t_s"]) for d in found] == [(d.word, d.t_s) for d in expected]
    assert len(found) == 2  # the same clip twice, far enough apart: both count
    assert all(0.0 < d["score"] <= 1.0 for d in found)
    assert main(["wake", "--wav", str(tmp_path / "two.wav")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and "hey_mycroft" in lines[0]


def test_the_retimer_plays_feature_frames_faster_without_changing_them():
    ramp = [np.full((1, 1, 40), float(i)) for i in range(30)]
    same = _Retimer(1.0)
    assert [f[0, 0, 0] for r in ramp for f in same.push(r)] == list(range(30))
    faster = _Retimer(1.5)
    out = [f[0, 0, 0] for r in ramp for f in faster.push(r)]
    # 30 frames at 1.5x are 20 frames, each where it falls between two.
    assert out == pytest.approx([1.5 * j for j in range(20)])
    faster.reset()
    assert [f[0, 0, 0] for f in faster.push(ramp[7])] == [7.0]


SLOW_VOICES = ("en-us", "en-us+f3")
"""espeak-ng voices whose slow "hey mycroft" the model alone misses."""


@pytest.mark.slow
def test_slow_speech_is_heard_as_the_same_voice_at_a_normal_pace_is(mycroft, said):
    # The model alone hears these voices at espeak's 175 words a minute but
    # not at 140 or 120: slow speech is too long for it. The detector also
    # hears every word faster, so a slow copy must wake it as the original does.
    def heard(audio):
        mycroft.reset()
        return any(d.word == "hey_mycroft" for d in _detect(mycroft, audio))

    normal = [heard(said(voice, "hey mycroft", 175)) for voice in SLOW_VOICES]
    slow = [heard(said(v, "hey mycroft", wpm)) for v in SLOW_VOICES for wpm in (140, 120)]
    assert all(normal), normal  # the anchor: the originals are heard
    assert sum(slow) >= len(slow) - 1, slow


NOT_WAKE = (
    "What is the capital of France?",
    "Mister Croft called about the heater.",
    "Hey, my friend, how are you?",
    "Hey, microwave the soup for me.",
    "Set a timer for two minutes.",
)


@pytest.mark.slow
def test_hearing_faster_adds_no_false_accept_on_other_speech(mycroft, said):
    # Near words, questions, slow and fast: hearing them 1.45x faster must
    # not turn them into the wake word.
    paces = (("en-us", 140), ("en-us", 175), ("en-gb", 140), ("en-us+f3", 120))
    talk = np.concatenate(
        [np.concatenate([said(v, text, wpm), HUSH[:4000]]) for text in NOT_WAKE for v, wpm in paces]
    )
    mycroft.reset()
    assert _detect(mycroft, talk) == []


def test_bundled_words_match_the_package():
    from importlib.util import find_spec

    if find_spec("pymicro_wakeword") is None:  # the test extra has it: fail, never skip
        pytest.fail("the .[wake] extra is not installed; ./setup.sh --test installs it")
    from pymicro_wakeword import Model

    assert set(BUNDLED_WORDS) == {m.value for m in Model}


def test_doctor_checks_the_wake_model():
    from assistant.core.config import Config, WakeConfig
    from assistant.frontends.checks import check_wake

    assert check_wake(Config()).status == "info"
    on = Config(wake=WakeConfig(enabled=True))

    def missing(config):
        raise ModelError("wake word: the pymicro-wakeword package is not installed; run x")

    failed = check_wake(on, load=missing)
    assert failed.status == "fail" and "not installed" in failed.detail
    assert "enabled = false" in failed.fix
    closed = []

    class Loaded:
        def close(self):
            closed.append(True)

    ok = check_wake(on, load=lambda config: Loaded())
    assert ok.status == "ok" and "hey_mycroft" in ok.detail
    assert closed == [True]
