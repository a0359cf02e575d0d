"""``assistant doctor``: check this machine, the models and the config, one line each.

Every check is a small function taking the `Config` and returning a `Check`
(or a list of them); the probes they use (the audio source, GPIO, /proc,
/sys, ``vcgencmd``) are keyword arguments so tests can swap them. A ``fail``
means ``assistant run`` cannot work; ``warn`` does not block it. Everything
here blocks and runs on the CLI thread; the microphone level test takes ~1 s.
"""

from __future__ import annotations

import importlib.metadata
import logging
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

from assistant.catalog.catalogue import Catalog, ModelEntry, load_catalog
from assistant.core.config import Config
from assistant.core.errors import AssistantError

log = logging.getLogger(__name__)

Status = Literal["ok", "warn", "fail", "info"]
MARKS = {"ok": "✓", "warn": "!", "fail": "✗", "info": "-"}
THERMAL_ROOT = Path("/sys/class/thermal")
HOT_C = 80.0
"""The Pi firmware starts throttling the CPU at 80 °C."""
SILENT_DBFS = -60.0
NO_MIC_FIX = (
    "plug in a USB microphone, check `arecord -l`, and that the user is in the `audio` group"
)
NO_SPEAKER_FIX = (
    "plug in a speaker (USB, HDMI or the 3.5 mm jack), check `aplay -l`, "
    "and that the user is in the `audio` group"
)
THROTTLE_FLAGS = ("under-voltage", "frequency capped", "throttled", "soft temperature limit")
"""``vcgencmd get_throttled`` bits 0-3 (happening now) and 16-19 (since boot)."""


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""
    """One line telling the user what to do; expected for ``fail`` and ``warn``."""


def check_python(config: Config, *, version: tuple[int, ...] = sys.version_info[:3]) -> Check:
    text = ".".join(map(str, version))
    if version < (3, 11):
        return Check("python", "fail", text, "install Python 3.11 or newer (Raspberry Pi OS 12+)")
    return Check("python", "ok", text)


def check_packages(
    config: Config, *, version: Callable[[str], str] = importlib.metadata.version
) -> Check:
    """The run-time packages; the recognizer not configured is informational."""
    required = ["numpy", "llama-cpp-python", "piper-tts", "sounddevice", "soxr", "gpiozero"]
    asr = {"vosk": "vosk", "whisper": "faster-whisper"}
    required.append(asr[config.asr.engine])
    optional = [p for e, p in asr.items() if e != config.asr.engine]
    found, missing = [], []
    for name in required + optional:
        try:
            found.append(f"{name} {version(name)}")
        except importlib.metadata.PackageNotFoundError:
            (missing if name in required else found).append(f"{name} (not installed)")
    if missing:
        fix = "reinstall the assistant (`pip install .`, `.[whisper]` for faster-whisper)"
        return Check("packages", "fail", ", ".join(missing), fix)
    return Check("packages", "ok", ", ".join(found))


def _device(config: Config, kind: Literal["input", "output"]) -> Check:
    from assistant.stages.audio.devices import device_info
    from assistant.stages.audio.soundcard import find_device, have_input_device, have_output_device

    name, have, fix = ("microphone", have_input_device, NO_MIC_FIX)
    if kind == "output":
        name, have, fix = ("speaker", have_output_device, NO_SPEAKER_FIX)
    spec = getattr(config.audio, f"{kind}_device")
    try:
        index = find_device(spec, kind)
        if index is None and not have():
            return Check(name, "fail", f"no {kind} device found", fix)
        info = device_info(index, kind)
    except AssistantError as exc:  # the message names the device and lists the others
        return Check(name, "fail", str(exc), fix)
    which = f"{spec!r} ->" if spec else "default:"
    rate = int(info.get("default_samplerate", 0))
    return Check(name, "ok", f"{which} {info.get('name')} (#{info.get('index')}, {rate} Hz)")


def check_microphone(config: Config) -> Check:
    return _device(config, "input")


def check_speaker(config: Config) -> Check:
    return _device(config, "output")


def check_input_level(
    config: Config, *, seconds: float = 1.0, source_factory: Callable | None = None
) -> Check:
    """Record ``seconds`` from the microphone and report the level in dBFS."""
    from assistant.stages.audio.pcm import rms_dbfs
    from assistant.stages.audio.soundcard import SoundDeviceSource

    name = "microphone level"
    if check_microphone(config).status == "fail":
        return Check(name, "info", "skipped: no microphone")
    source = (source_factory or SoundDeviceSource)(config.audio)
    blocks, got = [], 0
    try:
        source.open()
        while got < seconds * source.sample_rate_hz:
            block = source.read(timeout_s=3.0)
            if block is None:
                return Check(name, "fail", f"no audio for 3 s after {got} samples", NO_MIC_FIX)
            blocks.append(block)
            got += len(block)
    except AssistantError as exc:
        return Check(name, "fail", str(exc), NO_MIC_FIX)
    finally:
        source.close()
    import numpy as np

    level = rms_dbfs(np.concatenate(blocks))
    detail = f"{level:.1f} dBFS over {got / source.sample_rate_hz:.1f} s"
    if level < SILENT_DBFS:
        fix = "microphone is silent: check the mute switch / alsamixer capture level"
        return Check(name, "warn", detail, fix)
    return Check(name, "ok", detail)


def check_gpio(config: Config, *, available: Callable | None = None) -> Check:
    """The pin factory; without one `run` falls back to keyboard push-to-talk."""
    from assistant.appliance.gpio import gpio_available

    reason = (available or gpio_available)(config.gpio)
    if reason is None:
        from gpiozero import Device

        return Check("gpio", "ok", f"pin factory {type(Device.pin_factory).__name__}")
    if not config.gpio.enabled:
        return Check("gpio", "info", reason)
    fix = "on a Pi: `pip install 'pi-voice-assistant[pi]'` (lgpio) and add the user to `gpio`"
    return Check("gpio", "warn", reason, fix)


def check_pins(config: Config) -> Check:
    """The configured pins: every role its own pin, tools off the [gpio] pins."""
    from assistant.skills.tools import parse_tool_specs, reserved_pins

    g = config.gpio
    roles = {"button_pin": g.button_pin}
    if g.cancel_pin >= 0:
        roles["cancel_pin"] = g.cancel_pin
    if g.led_kind != "none":
        roles |= {"listening_pin": g.listening_pin, "thinking_pin": g.thinking_pin}
        roles["speaking_pin"] = g.speaking_pin
    listed = ", ".join(f"{k.removesuffix('_pin')} GPIO{v}" for k, v in roles.items())
    by_pin: dict[int, list[str]] = {}
    for key, pin in roles.items():
        by_pin.setdefault(pin, []).append(f"gpio.{key}")
    shared = [f"GPIO{p} is {' and '.join(keys)}" for p, keys in by_pin.items() if len(keys) > 1]
    if shared:
        fix = "give each role its own pin in [gpio]"
        return Check("gpio pins", "fail", f"{listed}; " + "; ".join(shared), fix)
    try:
        tools = parse_tool_specs(config.tools.outputs, config.tools.inputs, reserved_pins(g))
    except AssistantError as exc:
        return Check("gpio pins", "fail", str(exc), "fix [tools] in the config")
    listed += "".join(f", {t.name} GPIO{t.pin}" for t in tools)
    return Check("gpio pins", "ok", listed)


def configured_models(
    config: Config, catalog: Catalog
) -> list[tuple[str, Path, ModelEntry | None]]:
    """(role, path, catalogue entry or None) for the LLM, recognizer and voice in use."""
    d = config.models_dir
    asr = config.asr.vosk_model if config.asr.engine == "vosk" else config.asr.whisper_model
    wanted = [
        ("language model", "llm", d / config.llm.model),
        (f"{config.asr.engine} model", "asr", d / asr),
        ("voice", "tts", d / f"{config.tts.voice}.onnx"),
    ]
    engines = {"llm": "llama.cpp", "asr": config.asr.engine, "tts": "piper"}
    found = []
    for role, kind, path in wanted:
        same = [
            e
            for e in catalog.entries.values()
            if e.kind == kind and e.engine == engines[kind] and d / e.root == path
        ]
        found.append((role, path, same[0] if same else None))
    return found


def check_models(
    config: Config, *, catalog: Catalog | None = None, verify: Callable | None = None
) -> list[Check]:
    """Re-hash every file of the configured models (seconds for large ones)."""
    from assistant.catalog.manage import verify_models

    catalog = catalog or load_catalog()
    checks = []
    for role, path, entry in configured_models(config, catalog):
        if entry is None:  # not a catalogue model: only its presence can be checked
            fix = "`assistant models list` shows the catalogue's models"
            status, what = (
                ("warn", "not in the catalogue") if path.exists() else ("fail", "missing")
            )
            checks.append(Check(role, status, f"{path} is {what}", fix))
            continue
        results = (verify or verify_models)(config.models_dir, [entry.id], catalog=catalog)
        bad = [r for r in results if not r.ok]
        fix = f"run `assistant models fetch {entry.id}`"
        if bad and all(r.message == "missing" for r in bad):
            checks.append(Check(role, "fail", f"{entry.id} is missing from {path.parent}", fix))
        elif bad:
            problems = "; ".join(f"{r.file}: {r.message}" for r in bad)
            checks.append(Check(role, "fail", f"{entry.id} is corrupt ({problems})", fix))
        else:
            how = "sha256 ok" if entry.verified else "present (no published checksum)"
            checks.append(Check(role, "ok", f"{entry.id}: {how}, {len(results)} file(s)"))
    return checks


def check_memory(
    config: Config,
    *,
    catalog: Catalog | None = None,
    memory: Callable[[], tuple[int, int] | None] | None = None,
) -> Check:
    """MemAvailable against the catalogue's memory_mb of the configured models."""
    from assistant.catalog.manage import MB, fits, memory_info

    catalog = catalog or load_catalog()
    entries = [e for _, _, e in configured_models(config, catalog) if e is not None]
    need_mb = sum(e.memory_mb for e in entries)
    mem = (memory or memory_info)()
    if mem is None:
        return Check("memory", "info", f"models need ~{need_mb} MB; /proc/meminfo unreadable")
    detail = f"{mem[0] / MB:.0f} MB available of {mem[1] / MB:.0f} MB; models need ~{need_mb} MB"
    fit = fits(need_mb, mem)
    if fit == "no":
        fix = "pick smaller models (`assistant models list` shows what fits)"
        return Check("memory", "fail", detail, fix)
    if fit == "tight":
        return Check("memory", "warn", detail, "close other programs or pick smaller models")
    return Check("memory", "ok", detail)


def run_vcgencmd(*args: str) -> str | None:
    """``vcgencmd`` output, or None when it is missing or fails (never via a shell)."""
    exe = shutil.which("vcgencmd")
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.debug("vcgencmd %s failed: %s", args, exc)
        return None
    if proc.returncode != 0:
        log.debug("vcgencmd %s: rc %d: %s", args, proc.returncode, proc.stderr.strip())
        return None
    return proc.stdout.strip()


def parse_throttled(text: str) -> list[str]:
    """Flags of ``vcgencmd get_throttled`` output such as ``throttled=0x50005``."""
    value = int(text.strip().removeprefix("throttled="), 16)
    now = [f"{flag} now" for bit, flag in enumerate(THROTTLE_FLAGS) if value >> bit & 1]
    past = [f"{f} since boot" for bit, f in enumerate(THROTTLE_FLAGS) if value >> (bit + 16) & 1]
    return now + past


def parse_temp(text: str) -> float:
    """Degrees Celsius from ``vcgencmd measure_temp`` output such as ``temp=48.3'C``."""
    return float(text.strip().partition("=")[2].rstrip("'C"))


def thermal_zones(root: Path = THERMAL_ROOT) -> list[tuple[str, float]]:
    """(zone type, degrees Celsius) for each readable ``thermal_zone*/temp``."""
    zones = []
    for zone in sorted(root.glob("thermal_zone*")):
        try:
            milli = int((zone / "temp").read_text().strip())
        except (OSError, ValueError):
            continue
        try:
            kind = (zone / "type").read_text().strip()
        except OSError:
            kind = zone.name
        zones.append((kind, milli / 1000))
    return zones


def check_temperature(
    config: Config, *, vcgencmd: Callable = run_vcgencmd, thermal_root: Path = THERMAL_ROOT
) -> Check:
    out = vcgencmd("measure_temp")
    if out and out.startswith("temp="):
        where, temp = "vcgencmd", parse_temp(out)
    else:
        zones = thermal_zones(thermal_root)
        if not zones:
            return Check("cpu temperature", "info", "not available (no vcgencmd, no thermal zone)")
        where, temp = max(zones, key=lambda z: z[1])
    detail = f"{temp:.1f} °C ({where})"
    if temp >= HOT_C:
        fix = f"the Pi throttles from {HOT_C:.0f} °C: add a heatsink or fan, improve airflow"
        return Check("cpu temperature", "warn", detail, fix)
    return Check("cpu temperature", "ok", detail)


def check_throttling(config: Config, *, vcgencmd: Callable = run_vcgencmd) -> Check:
    out = vcgencmd("get_throttled")
    if not out or not out.startswith("throttled="):
        return Check("throttling", "info", "not available (no vcgencmd: not a Raspberry Pi)")
    flags = parse_throttled(out)
    if not flags:
        return Check("throttling", "ok", "none since boot")
    fix = "add a heatsink or fan"
    if any("under-voltage" in f for f in flags):
        fix = "use the official power supply (5.1 V 3 A for a Pi 4, 5 V 5 A for a Pi 5)"
    return Check("throttling", "warn", ", ".join(flags), fix)


def check_config(config: Config, *, catalog: Catalog | None = None) -> list[Check]:
    """The config loaded (or we would not be here); plus cross-checks between keys."""
    checks = [Check("config", "ok", f"loaded from {config.source}")]
    if config.asr.grammar and config.asr.engine == "whisper":
        fix = 'remove asr.grammar, or set asr.engine = "vosk"'
        checks.append(Check("config", "warn", "asr.grammar is ignored by the whisper engine", fix))
    lang = config.asr.language.lower()
    for role, _, entry in configured_models(config, catalog or load_catalog()):
        spoken = entry.language.lower().split("_")[0] if entry else lang
        if entry and entry.kind != "llm" and spoken not in ("multilingual", lang):
            fix = f"set asr.language, or pick a {lang} model (`assistant models list`)"
            detail = f"{role} {entry.id} is {entry.language} but asr.language is {lang!r}"
            checks.append(Check("config", "warn", detail, fix))
    return checks


DEFAULT_CHECKS: tuple[Callable[[Config], Check | list[Check]], ...] = (
    check_config, check_python, check_packages, check_microphone, check_input_level,
    check_speaker, check_gpio, check_pins, check_models, check_memory,
    check_temperature, check_throttling,
)  # fmt: skip


def run_checks(config: Config, checks: Sequence[Callable] = DEFAULT_CHECKS) -> list[Check]:
    """Every check's results in order; a check that crashes becomes a ``fail``."""
    results: list[Check] = []
    for check in checks:
        try:
            got = check(config)
        except Exception as exc:  # a diagnostic tool must report, not crash
            log.debug("check %s crashed", check, exc_info=True)
            name = getattr(check, "__name__", "check").removeprefix("check_")
            got = Check(name, "fail", f"{type(exc).__name__}: {exc}", "run with -v and report it")
        results += got if isinstance(got, list) else [got]
    return results


def format_check(check: Check) -> str:
    line = f"{MARKS[check.status]} {check.name}: {check.detail}"
    if check.fix and check.status in ("fail", "warn"):
        line += f" - fix: {check.fix}"
    return " ".join(line.split())  # always one line


def run_doctor(
    config: Config, *, out: TextIO | None = None, checks: Sequence[Callable] = DEFAULT_CHECKS
) -> int:
    """Print one line per check to ``out`` (stdout); 1 when `run` cannot work, else 0."""
    out = out or sys.stdout
    out.write(f"assistant doctor (config: {config.source})\n")
    results = []
    for check in checks:  # print as we go: the level test and hashing take seconds
        for result in run_checks(config, [check]):
            results.append(result)
            out.write(format_check(result) + "\n")
            out.flush()
    failed = sum(r.status == "fail" for r in results)
    warned = sum(r.status == "warn" for r in results)
    if failed:
        out.write(f"{failed} problem(s) to fix before `assistant run`; {warned} warning(s)\n")
        return 1
    out.write(f"ready for `assistant run`; {warned} warning(s)\n")
    return 0
