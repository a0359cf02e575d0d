"""``assistant echo``, and ``--reference`` on ``wake --wav`` and ``listen
--wav``: the real canceller on simulated rooms (tests/support/rooms.py),
and one clear line for each bad input."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest

from assistant.core.events import TurnFinished
from assistant.frontends import listen
from assistant.frontends.cli import main
from assistant.frontends.echo import cancel_files, format_result
from assistant.stages.audio.pcm import AudioChunk, resample
from assistant.stages.audio.wavfile import read_wav, write_wav
from tests.support import rooms

RATE = 16000


def _wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    write_wav(path, AudioChunk(np.asarray(samples, np.int16), rate))
    return path


def _noise_room(tmp_path: Path) -> tuple[Path, Path]:
    """A mic hearing 2 s of played noise 100 ms late, quieter (no model needed)."""
    rng = np.random.default_rng(3)
    played = rng.normal(0, 3000, 2 * RATE).astype(np.int16)
    heard = np.concatenate([np.zeros(1600), played[:-1600] * 0.3]) + rng.normal(0, 30, 2 * RATE)
    return _wav(tmp_path / "mic.wav", heard), _wav(tmp_path / "played.wav", played)


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("assistant: "), err
    return err


@pytest.mark.slow
def test_echo_writes_the_cleaned_audio_and_prints_its_delay_and_erle(reply, tmp_path, capsys):
    room = rooms.ROOMS[0]
    mix = rooms.mix(room, np.concatenate([reply, reply]))
    mic = _wav(tmp_path / "mic.wav", mix.mic)
    # What was played, at the voice's own rate: read and resampled like any file.
    played = _wav(tmp_path / "played.wav", resample(mix.reference, RATE, 22050), 22050)
    out = tmp_path / "clean.wav"
    assert (
        main(["echo", "--mic", str(mic), "--reference", str(played), "--out", str(out), "--json"])
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    expected_ms = (room.delay_s + rooms.direct_s(room.rt60_s)) * 1000
    assert abs(result["delay_ms"] - expected_ms) < 2.0, result
    assert result["erle_db"] > 10 and result["frames"] > 0
    cleaned = read_wav(out)
    assert cleaned.rate_hz == RATE and len(cleaned.samples) == len(mix.mic)
    assert rooms.erle_db(mix.mic, cleaned.samples, len(reply) / RATE) > 10
    line = format_result(result)
    assert "ERLE" in line and "ms" in line and "\n" not in line


@pytest.fixture
def reply(models_dir: Path) -> np.ndarray:
    return rooms.voice_clips(models_dir)[0].copy()


@pytest.mark.slow
def test_wake_with_a_reference_is_wake_on_the_cleaned_file(models_dir, tmp_path, capsys):
    reply, wake = rooms.voice_clips(models_dir)
    played = reply
    mix = rooms.mix(rooms.ROOMS[2], played, wake, user_at_s=3.0)
    mic, ref = _wav(tmp_path / "mic.wav", mix.mic), _wav(tmp_path / "played.wav", played)
    clean = tmp_path / "clean.wav"
    assert main(["echo", "--mic", str(mic), "--reference", str(ref), "--out", str(clean)]) == 0
    assert "ERLE" in capsys.readouterr().out

    def detections(*args: str) -> list[dict]:
        assert main(["wake", "--json", *args]) == 0
        return json.loads(capsys.readouterr().out)["detections"]

    with_reference = detections("--wav", str(mic), "--reference", str(ref))
    assert with_reference == detections("--wav", str(clean))
    assert all(d["word"] == "hey_mycroft" and 0 < d["score"] <= 1 for d in with_reference)


def test_listen_with_a_reference_hears_the_cleaned_file(tmp_path, monkeypatch):
    mic, played = _noise_room(tmp_path)
    heard = []

    def fake_file_turn(engines, config, wav, sink, **options):
        """A fake turn: it only keeps what it was given to hear."""
        heard.append(read_wav(wav).samples)
        return TurnFinished(transcript="fake", reply="fake", timings_ms={})

    monkeypatch.setattr(listen, "build_engines", lambda config: contextlib.nullcontext(None))
    monkeypatch.setattr(listen, "build_sink", lambda config, wav=None: None)
    monkeypatch.setattr(listen, "run_file_turn", fake_file_turn)
    from assistant.core.config import load_config

    result = listen.listen_once(load_config(None, {}), mic, None, reference=played)
    assert result["transcript"] == "fake"
    assert np.array_equal(heard[0], cancel_files(mic, played)[0])
    assert not np.array_equal(heard[0], read_wav(mic).samples)


def test_bad_files_are_one_line_each(tmp_path, capsys):
    mic, played = _noise_room(tmp_path)
    out = str(tmp_path / "out.wav")
    empty = _wav(tmp_path / "empty.wav", np.zeros(0, np.int16))
    silent = _wav(tmp_path / "silent.wav", np.zeros(RATE, np.int16))
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n" * 20)
    cases = [
        (["--mic", str(tmp_path / "nope.wav"), "--reference", str(played)], "nope.wav"),
        (["--mic", str(mic), "--reference", str(empty)], "empty.wav"),
        (["--mic", str(mic), "--reference", str(silent)], "silence"),
        (["--mic", str(text), "--reference", str(played)], "notes.wav"),
    ]
    for args, named in cases:
        assert main(["echo", *args, "--out", out]) == 2, args
        assert named in _one_line(capsys)
    assert (
        main(["echo", "--mic", str(mic), "--reference", str(played), "--out", str(tmp_path)]) == 2
    )
    assert "folder" in _one_line(capsys)
    # The other commands refuse a bad reference before loading any model.
    missing = str(tmp_path / "gone.wav")
    assert main(["wake", "--wav", str(mic), "--reference", missing]) == 2
    assert "gone.wav" in _one_line(capsys)
    assert main(["listen", "--wav", str(mic), "--reference", missing]) == 2
    assert "gone.wav" in _one_line(capsys)
