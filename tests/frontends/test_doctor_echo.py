"""``assistant doctor --echo`` on fake ALSA devices (tests/support/alsa.py),
whose microphone file holds the test sound as a simulated room returns it
(tests/support/rooms.py), at a known place; and the doctor's one line about
the echo canceller."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from assistant.core.config import Config, EchoConfig, WakeConfig
from assistant.frontends.checks import check_echo
from assistant.frontends.cli import main
from assistant.frontends.doctor_echo import run_echo_check
from assistant.stages.echo import echo_unavailable
from assistant.stages.echo.live import RoomMeasurement, probe_signal
from tests.support.alsa import MIC, SPEAKER, AlsaDevices, portaudio_env, write_raw

RATE = 16000
PLAYED_AT_S = 0.5
"""Where the test sound starts in what the room replays to the microphone."""


def echoed(signal: np.ndarray) -> tuple[np.ndarray, float]:
    """The microphone's file: ``signal`` played at `PLAYED_AT_S` in a
    simulated room (tests/support/rooms.py), and where its echo starts."""
    from tests.support.rooms import ROOMS, direct_s, mix

    room = ROOMS[0]
    played = np.zeros(5 * RATE, np.int16)
    at = int(PLAYED_AT_S * RATE)
    played[at : at + len(signal)] = signal
    return mix(room, played).mic, PLAYED_AT_S + room.delay_s + direct_s(room.rt60_s)


@pytest.mark.skipif(echo_unavailable() is not None, reason=str(echo_unavailable()))
def test_doctor_echo_measures_where_the_echo_is_and_its_erle(tmp_path, capsys):
    heard, echo_at_s = echoed(probe_signal(RATE))
    raw = write_raw(tmp_path / "mic.raw", heard)
    devices = AlsaDevices(tmp_path, raw, tmp_path / "speaker.raw", rate_hz=RATE)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[audio]\ninput_device = "{MIC}"\noutput_device = "{SPEAKER}"\ninput_rate_hz = {RATE}\n'
    )
    with devices, portaudio_env(devices.env):
        rc = main(["--config", str(config), "doctor", "--echo", "--json"])
    out = capsys.readouterr().out
    result = json.loads(out)
    assert result["echo_at_ms"] == pytest.approx(1000 * echo_at_s, abs=2)
    # The fake devices are not in one room: where the speaker's sound lands
    # on the microphone's clock is wherever the timestamps say.
    assert result["delay_ms"] == pytest.approx(result["echo_at_ms"] - result["played_at_ms"], abs=1)
    assert result["erle_db"] > 6
    assert result["noise_dbfs"] < result["echo_dbfs"]
    assert rc == (0 if result["ok"] else 1)
    assert result["verdict"] and "\n" not in result["verdict"]
    # What the speaker played is the test sound.
    played = devices.played()
    assert np.abs(played).max() == np.abs(probe_signal(RATE)).max()


def test_the_text_report_is_two_lines_and_the_exit_status_the_verdict():
    def measured(ok: bool):
        return lambda config: RoomMeasurement(
            echo_at_ms=650.0,
            played_at_ms=590.0,
            delay_ms=60.0,
            erle_db=float("nan") if not ok else 21.5,
            echo_dbfs=-30.0,
            noise_dbfs=-62.0,
            peak=9000,
            ok=ok,
            verdict="the canceller can work here" if ok else "it cannot",
        )

    out = io.StringIO()
    assert run_echo_check(Config(), out=out, measure=measured(True)) == 0
    first, verdict = out.getvalue().splitlines()
    assert "60 ms" in first and "21.5 dB" in first
    assert verdict == "✓ the canceller can work here"
    out = io.StringIO()
    assert run_echo_check(Config(), as_json=True, out=out, measure=measured(False)) == 1
    assert json.loads(out.getvalue())["erle_db"] is None  # NaN is not JSON


def test_doctor_json_without_echo_is_one_line_and_exit_2(capsys):
    assert main(["doctor", "--json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--echo" in err[0]


def test_the_doctor_line_says_whether_the_canceller_runs_and_what_barge_in_does():
    wake = WakeConfig(enabled=True)
    on = check_echo(Config(wake=wake), reason=lambda config: None)
    assert on.status == "ok" and "the wake word stops a reply" in on.detail
    missing = "libspeexdsp is missing: apt install libspeexdsp1"
    off = check_echo(Config(wake=wake), reason=lambda config: missing)
    assert off.status == "warn" and "only the button" in off.detail
    assert off.fix == "apt install libspeexdsp1"
    forced = Config(wake=WakeConfig(enabled=True, barge_in=True))
    assert "the wake word stops" in check_echo(forced, reason=lambda config: missing).detail
    required = Config(echo=EchoConfig(enabled=True))
    assert check_echo(required, reason=lambda config: missing).status == "fail"
    disabled = Config(echo=EchoConfig(enabled=False))
    assert check_echo(disabled).status == "info"
    assert "enabled = false" in check_echo(disabled).detail
