"""Peak memory of the appliance's engines, measured in a fresh Python
process so that none of the bench's extra engines count."""

from __future__ import annotations

import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from assistant.bench.turns import speak_questions, streaming_turn
from assistant.compose import build_engines
from assistant.core.config import Config
from assistant.core.errors import AssistantError

PROBE_TIMEOUT_S = 600.0


def memory_mb() -> dict:
    """This process's memory now, in MiB: VmRSS (resident now), VmHWM (peak
    of this process image) and ru_maxrss (peak as getrusage reports it,
    which Linux carries over from the parent across fork and exec)."""
    out = {
        "vm_rss_mb": None,
        "vm_hwm_mb": None,
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return out
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[f"{key.lower()[:2]}_{key[2:].lower()}_mb"] = round(int(value.split()[0]) / 1024, 1)
    return out


def memory_probe() -> None:
    """Child-process entry: read (config, question) pickled on stdin, load
    and warm the engines one by one as ``assistant run`` does, speak the
    question, run one voice turn, and print the memory after each step as
    one JSON object on stdout."""
    config, question = pickle.load(sys.stdin.buffer)
    rows: list[dict] = []

    def record(stage: str) -> None:
        now = memory_mb()
        previous = rows[-1]["vm_rss_mb"] if rows else 0.0
        delta = now["vm_rss_mb"] - previous if now["vm_rss_mb"] is not None else None
        rows.append({"stage": stage, **now, "delta_mb": delta and round(delta, 1)})

    labels = {
        "asr": f"asr {config.asr.engine} loaded",
        "llm": f"llm {Path(config.llm.model).name} loaded",
        "tts": f"tts {config.tts.voice} loaded",
    }
    record("python + assistant imports")
    with build_engines(config, on_loaded=lambda role: record(labels[role])) as engines:
        with tempfile.TemporaryDirectory(prefix="assistant-bench-") as tmp:
            wav = speak_questions(engines.tts, [question], Path(tmp))[0]
            streaming_turn(engines, config, wav)
        record("after one voice turn")
    last = rows[-1]
    peak = last["vm_hwm_mb"] if last["vm_hwm_mb"] is not None else last["max_rss_mb"]
    json.dump({"stages": rows, "peak_mb": peak}, sys.stdout)


def measure_memory(config: Config, question: str) -> dict:
    """Run `memory_probe` in a fresh Python and return its result. Call it
    before this process loads any model: the child inherits this process's
    ru_maxrss. Blocks up to `PROBE_TIMEOUT_S`; raises `AssistantError` when
    the probe fails."""
    package_parent = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", "from assistant.bench.memory import memory_probe; memory_probe()"],
        input=pickle.dumps((config, question)),
        capture_output=True,
        env=env,
        timeout=PROBE_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        raise AssistantError(f"bench: the memory probe failed: {' '.join(tail) or proc.returncode}")
    return json.loads(proc.stdout)
