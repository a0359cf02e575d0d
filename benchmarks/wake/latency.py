"""Wake to listening: from the wake word's detection to the LED and the earcon.

    python benchmarks/wake/latency.py [--wakes 30] [--out benchmarks/wake/results.json]

Piper says "Hey Mycroft." ``--wakes`` times, with silence between, into a
file played at a microphone's pace (`PacedWavSource`, 30 ms blocks). The
appliance's own pieces hear it: the real microWakeWord detector on the
`WakeListener`'s thread, the `Controller` on the real engines (Whisper, the
LLM, piper; nothing follows the wake word, so each turn ends unheard after
``wake_wait_s``), the real `LedIndicator` on gpiozero's mock pins, and a sink
that stamps each write. For every wake it records, on `time.monotonic`:

- ``fed``: the block that completed the wake word is handed to the detector;
- ``detected``: the detector returns it (the `WakeDetected` is made then);
- ``led``: the listening LED's pin goes high;
- ``earcon``: the "wake" earcon's first samples reach the sink's ``write``.

and, in audio time, from the last voiced sample of each "Hey Mycroft." to
the detection (`WakeDetected.t_s`): the model's own lag, which comes first.

It prints the median and p90 of each step as JSON and stores them under
``wake_to_listening`` in ``--out`` (other keys are kept). Run it on a quiet
machine: the figures are scheduling delays of a few milliseconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import wave
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

RATE = 16000
KEY = "wake_to_listening"


@dataclass
class Stamps:
    """Monotonic times, in seconds, gathered by the probes during a run."""

    fed: list[float] = field(default_factory=list)
    """When each block that produced a detection was given to the detector."""
    detected: list[float] = field(default_factory=list)
    """When the detector returned each detection."""
    led: list[float] = field(default_factory=list)
    """When the listening LED's pin went high."""
    earcon: list[float] = field(default_factory=list)
    """When a "wake" earcon was written to the sink."""


def first_after(times: list[float], start: float, end: float) -> float | None:
    """The first of ``times`` in [``start``, ``end``), or None."""
    return next((t for t in sorted(times) if start <= t < end), None)


def per_wake(stamps: Stamps) -> list[dict[str, float]]:
    """For each detection, the delay in ms from the block being fed to the
    detection, the LED and the earcon (each looked for before the next
    detection), and from the detection to the LED and the earcon. A step
    that never happened is left out of that wake's row."""
    rows = []
    ends = [*stamps.fed[1:], float("inf")]
    for fed, detected, end in zip(stamps.fed, stamps.detected, ends, strict=False):
        row = {"detect_ms": (detected - fed) * 1000}
        for name, times in (("led", stamps.led), ("earcon", stamps.earcon)):
            at = first_after(times, fed, end)
            if at is not None:
                row[f"fed_to_{name}_ms"] = (at - fed) * 1000
                row[f"detected_to_{name}_ms"] = (at - detected) * 1000
        rows.append(row)
    return rows


def word_lag_ms(detections_s: list[float], voiced_ends_s: list[float]) -> list[float]:
    """For each detection (stream seconds), the ms since the nearest end of
    a said wake word, if one ended within a second of it."""
    lags = []
    for t in detections_s:
        nearest = min(voiced_ends_s, key=lambda end: abs(t - end), default=None)
        if nearest is not None and abs(t - nearest) <= 1.0:
            lags.append((t - nearest) * 1000)
    return lags


def summarise(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Median, p90 and max (ms, rounded to 0.01) and count of each column."""
    out: dict[str, dict[str, float]] = {}
    for name in sorted({k for row in rows for k in row}):
        values = np.array([row[name] for row in rows if name in row])
        out[name] = {
            "n": int(len(values)),
            "median_ms": round(float(np.median(values)), 2),
            "p90_ms": round(float(np.percentile(values, 90)), 2),
            "max_ms": round(float(values.max()), 2),
        }
    return out


def store(path: Path, key: str, value: object) -> None:
    """Set ``key`` in the JSON object at ``path``, keeping its other keys."""
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = value
    path.write_text(json.dumps(data, indent=1) + "\n")


class TimedDetector:
    """The real detector, stamping the block that completes a detection."""

    def __init__(self, detector, stamps: Stamps) -> None:
        self._detector = detector
        self._stamps = stamps
        self.name, self.words = detector.name, detector.words
        self.sample_rate_hz = detector.sample_rate_hz

    def process(self, samples, threshold=None):
        fed = time.monotonic()
        found = self._detector.process(samples, threshold)
        if found:
            self._stamps.fed.append(fed)
            self._stamps.detected.append(time.monotonic())
        return found

    def reset(self) -> None:
        self._detector.reset()

    def close(self) -> None:
        self._detector.close()


class StampingSink:
    """An `AudioSink` that plays nothing and stamps each "wake" earcon."""

    def __init__(self, stamps: Stamps) -> None:
        from assistant.stages.audio.earcons import earcon

        self._stamps = stamps
        self._earcon = earcon
        self.rate_hz = 0
        self.paths: list[Path] = []

    def open(self, rate_hz: int) -> None:
        self.rate_hz = rate_hz

    def write(self, chunk, cancel=None) -> None:
        at = time.monotonic()
        wake = self._earcon("wake", chunk.rate_hz).samples
        if np.array_equal(chunk.samples, wake):
            self._stamps.earcon.append(at)

    def played_frames(self) -> int:
        return 0

    def drain(self, timeout_s: float) -> bool:
        return True

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


def stamped_pin_class(stamps: Stamps, pin_number: int):
    """gpiozero's mock PWM pin, stamping when pin ``pin_number`` goes high."""
    from gpiozero.pins.mock import MockPWMPin

    class StampedPin(MockPWMPin):
        def _change_state(self, value):
            changed = super()._change_state(value)
            if changed and value and self.info.name == f"GPIO{pin_number}":
                stamps.led.append(time.monotonic())
            return changed

    return StampedPin


def speech_file(folder: Path, wakes: int, gap_s: float) -> tuple[Path, list[float]]:
    """``wakes`` times "Hey Mycroft." with ``gap_s`` of silence after each,
    after one second of it; and where each ends (its last voiced sample),
    in seconds from the start."""
    import corpus

    from assistant.core.config import resolve_models_dir
    from assistant.stages.audio.paced import voiced_span

    said = corpus.Piper(resolve_models_dir("")).say("Hey Mycroft.")
    gap = np.zeros(int(gap_s * RATE), np.int16)
    audio = np.concatenate([gap[:RATE], *[np.concatenate([said, gap]) for _ in range(wakes)]])
    end = voiced_span(said, RATE)[1]
    ends = [(RATE + i * (len(said) + len(gap)) + end) / RATE for i in range(wakes)]
    path = folder / "wakes.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(audio.astype(np.int16).tobytes())
    return path, ends


def run(wakes: int, gap_s: float) -> tuple[Stamps, list[float], list[float]]:
    """Play the wakes through the appliance's pieces; the stamps, the
    detections the controller acted on and where the said words ended
    (both in stream seconds)."""
    from gpiozero.pins.mock import MockFactory

    from assistant.appliance.gpio import LedIndicator
    from assistant.compose.devices import build_source
    from assistant.compose.engines import build_engines
    from assistant.compose.handsfree import build_detector, build_endpointer
    from assistant.compose.turns import build_controller
    from assistant.core.config import AsrConfig, Config, WakeConfig
    from assistant.core.events import EventBus, WakeDetected
    from assistant.pipeline.wake import HandsFree, WakeListener

    config = Config(asr=AsrConfig(engine="whisper"), wake=WakeConfig(enabled=True))
    stamps = Stamps()
    acted: list[WakeDetected] = []
    stopping = threading.Event()
    factory = MockFactory(pin_class=stamped_pin_class(stamps, config.gpio.listening_pin))
    with tempfile.TemporaryDirectory(prefix="wake-latency-") as tmp:
        wav, ends = speech_file(Path(tmp), wakes, gap_s)
        with build_engines(config) as engines:
            bus = EventBus()
            indicator = LedIndicator(config.gpio, pin_factory=factory)
            bus.subscribe(indicator.on_event)
            bus.subscribe(lambda e: acted.append(e) if isinstance(e, WakeDetected) else None)
            source = build_source(config, wav=wav, realtime=True)
            listener = WakeListener(source, TimedDetector(build_detector(config), stamps), bus)
            turn = replace(config.turn, mode="toggle")
            controller = build_controller(
                config,
                engines,
                listener.tap,
                StampingSink(stamps),
                bus,
                turn,
                earcons=True,
                hands_free=HandsFree(build_endpointer(turn.silence_s), wake_wait_s=1.0),
            )
            controller.start()
            listener.start(controller.submit)
            try:
                # The file ends after its last gap; a stuck run ends at twice its length.
                deadline = time.monotonic() + 2 * source.duration_s + 30
                while not listener.finished and time.monotonic() < deadline:
                    stopping.wait(0.5)
            finally:
                controller.stop()
                listener.stop()
                controller.skills.close()
                indicator.close()
                factory.close()
    return stamps, [e.t_s for e in acted], ends


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wakes", type=int, default=30, help="wake words to say (default 30)")
    parser.add_argument(
        "--gap-s", type=float, default=3.0, help="silence after each, seconds (default 3)"
    )
    parser.add_argument("--out", type=Path, default=None, help="results.json to update")
    args = parser.parse_args()
    if args.wakes < 1 or args.gap_s < 2.0:
        parser.error("--wakes must be at least 1 and --gap-s at least 2 (a turn must end first)")
    stamps, acted, ends = run(args.wakes, args.gap_s)
    lags = [{"word_end_to_detected_ms": lag} for lag in word_lag_ms(acted, ends)]
    result = {
        "wakes_said": args.wakes,
        "detected": len(stamps.detected),
        "turns_started": len(acted),
        "steps": summarise(per_wake(stamps)),
        "audio": summarise(lags),
    }
    print(json.dumps(result, indent=1))
    if args.out is not None:
        store(args.out, KEY, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
