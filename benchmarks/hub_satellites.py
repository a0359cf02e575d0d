"""Eight satellites speaking at once through one hub, against one alone.

Starts `assistant serve` (this checkout's test models: Whisper base or
``--engine``, SmolLM2, the joe voice) on a loopback port. Each satellite is
the satellite's own code path, `compose.run_file_turn` on engines built
for ``--hub`` (remote recognition, answer and voice, the satellite's own
fast-path skills), speaking a different piper-made question at real-time
pace and released on its last sample, as ``assistant listen --hub --wav
--realtime`` does. The satellites run as threads of this process (they
only wait on the network), so all of them start speaking at one barrier.

Rounds alternate, in one run, so the machine's load falls on both alike:

* **alone**: each question once, one satellite at a time;
* **together**: all satellites at once.

Prints turns answered, median and p95 of ``ttfa`` (the release to the
first audio of the answer) for both, and together ÷ alone.

Run from a checkout after ``./setup.sh --test``::

    .venv/bin/python benchmarks/hub_satellites.py [--satellites 8] [--rounds 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.compose import build_engines, build_sink, run_file_turn  # noqa: E402
from assistant.compose.remote import hub_overrides  # noqa: E402
from assistant.core.config import load_config, resolve_models_dir  # noqa: E402
from assistant.core.errors import AssistantError  # noqa: E402
from tests.support.remote_servers import assistant_serve, free_port, running  # noqa: E402
from tests.support.speech import piper_wav  # noqa: E402

QUESTIONS = (
    "What is the capital of France?",
    "How many legs does a spider have?",
    "Why is the sky blue?",
    "Name a fruit that is yellow.",
    "What is the largest ocean on earth?",
    "Who wrote the play Romeo and Juliet?",
    "How far away is the moon?",
    "Tell me a fact about cats.",
    "What colour is grass?",
    "What do bees make?",
)
"""LLM questions only: a satellite answers time and timer questions itself."""
MAX_LISTEN_S = 30.0


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


class Satellite:
    """One satellite: its engines (built once, as a satellite keeps them)
    and its question."""

    def __init__(self, config, question: Path, out: Path) -> None:
        self.config = config
        self.question = question
        self.out = out
        self._engines = build_engines(config)
        self.engines = self._engines.__enter__()

    def turn(self, barrier: threading.Barrier | None) -> dict:
        if barrier is not None:
            barrier.wait()
        started = time.time()
        try:
            event = run_file_turn(
                self.engines,
                self.config,
                self.question,
                build_sink(self.config, wav=self.out),
                max_listen_s=MAX_LISTEN_S,
                realtime=True,
            )
        except AssistantError as exc:
            return {"ok": False, "error": str(exc)}
        return {
            "ok": bool(event.reply.strip()),
            "ttfa_ms": event.timings_ms.get("ttfa"),
            "asr_final_ms": event.timings_ms.get("asr_final"),
            "transcript": event.transcript,
            "started_at": round(started, 3),
        }

    def close(self) -> None:
        self._engines.__exit__(None, None, None)


def serve(config: Path, *, debug: bool):
    """The hub; with ``debug``, its debug log (per lane job) kept in ``lines``."""
    if not debug:
        return assistant_serve(config)
    port = free_port()
    argv = [sys.executable, "-m", "assistant", "-v", "--config", str(config), "serve"]
    return running([*argv, "--uri", f"tcp://127.0.0.1:{port}"], "serving Wyoming on", port)


def cpu_s(pid: int | None = None) -> float:
    """CPU seconds used so far by process ``pid`` (Linux's /proc), or by this one."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Meter:
    """CPU seconds of the hub and of the satellites (this process), and wall
    seconds, summed over the rounds of one arm."""

    def __init__(self, hub_pid: int) -> None:
        self.hub_pid = hub_pid
        self.totals = {"hub_cpu_s": 0.0, "satellites_cpu_s": 0.0, "wall_s": 0.0}

    def measure(self, run):
        before = (cpu_s(self.hub_pid), cpu_s(), time.monotonic())
        result = run()
        after = (cpu_s(self.hub_pid), cpu_s(), time.monotonic())
        for key, b, a in zip(self.totals, before, after, strict=True):
            self.totals[key] += a - b
        return result

    def report(self) -> dict:
        return {key: round(value, 1) for key, value in self.totals.items()}


def summary(turns: list[dict]) -> dict:
    times = [t["ttfa_ms"] for t in turns if t["ok"] and t["ttfa_ms"] is not None]
    finals = [t["asr_final_ms"] for t in turns if t["ok"] and t["asr_final_ms"] is not None]
    return {
        "turns": len(turns),
        "answered": len(times),
        "ttfa_median_ms": round(statistics.median(times)) if times else None,
        "ttfa_p95_ms": round(p95(times)) if times else None,
        "asr_final_median_ms": round(statistics.median(finals)) if finals else None,
        "errors": [t["error"] for t in turns if not t["ok"] and "error" in t],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--satellites", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--engine", default="whisper", help="the hub's asr.engine")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--log", type=Path, help="write the hub's debug log here (per lane job)")
    args = parser.parse_args()
    if not 1 <= args.satellites <= len(QUESTIONS):
        parser.error(f"--satellites must be 1 to {len(QUESTIONS)}")
    load_at_start = os.getloadavg()
    models = resolve_models_dir("")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        hub_config = tmp_path / "hub.toml"
        hub_config.write_text(
            f'[paths]\nmodels_dir = "{models}"\n[asr]\nengine = "{args.engine}"\n'
        )
        clips = [
            piper_wav(q, models, tmp_path / f"q{i}.wav")
            for i, q in enumerate(QUESTIONS[: args.satellites])
        ]
        alone: list[dict] = []
        together: list[dict] = []
        with serve(hub_config, debug=args.log is not None) as hub:
            config = load_config(
                str(hub_config), {"paths.models_dir": str(models), **hub_overrides(hub.uri)}
            )
            satellites = [
                Satellite(config, clip, tmp_path / f"reply{i}.wav") for i, clip in enumerate(clips)
            ]
            try:
                satellites[0].turn(None)  # the hub's first turn loads and warms its engines
                alone_cpu, together_cpu = Meter(hub.process.pid), Meter(hub.process.pid)
                with ThreadPoolExecutor(len(satellites)) as pool:
                    for round_ in range(args.rounds):
                        for sat in satellites:
                            alone.append(alone_cpu.measure(lambda sat=sat: sat.turn(None)))
                        barrier = threading.Barrier(len(satellites))
                        done = together_cpu.measure(
                            lambda barrier=barrier: list(
                                pool.map(Satellite.turn, satellites, [barrier] * len(satellites))
                            )
                        )
                        together.extend(done)
                        print(
                            f"round {round_ + 1}: alone {summary(alone)['ttfa_median_ms']} ms, "
                            f"together {summary(done)}",
                            file=sys.stderr,
                        )
            finally:
                for sat in satellites:
                    sat.close()
                if args.log:
                    args.log.write_text("\n".join(hub.lines) + "\n")
    result = {
        "satellites": args.satellites,
        "rounds": args.rounds,
        "engine": args.engine,
        "alone": {**summary(alone), **alone_cpu.report()},
        "together": {**summary(together), **together_cpu.report()},
        "load_average": {
            "start": [round(x, 1) for x in load_at_start],
            "end": [round(x, 1) for x in os.getloadavg()],
        },
    }
    a, t = result["alone"], result["together"]
    if a["ttfa_median_ms"] and t["ttfa_p95_ms"]:
        result["p95_together_over_median_alone"] = round(t["ttfa_p95_ms"] / a["ttfa_median_ms"], 2)
        result["p95_together_over_p95_alone"] = round(t["ttfa_p95_ms"] / a["ttfa_p95_ms"], 2)
    print(json.dumps(result, indent=2))
    if args.json:
        result["rows"] = {"alone": alone, "together": together}
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
