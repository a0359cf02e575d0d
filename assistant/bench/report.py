"""Summaries, targets and the printed table of `assistant bench`.

Pure functions over the raw measurements that `bench.run` collects, so the
report can be checked without running a model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

MIB = 1024 * 1024


@dataclass(frozen=True)
class Target:
    """One line of the issue's target table, evaluated on this run."""

    name: str
    """Stable key, e.g. ``ttfa_ratio``."""
    label: str
    """What is measured, for the table."""
    value: float | None
    """The measurement (None when it could not be measured)."""
    limit: float
    op: str
    """``"<="`` or ``">="``: how `value` must compare with `limit`."""
    unit: str
    """``"x"`` for ratios, else the unit of `value` and `limit`."""
    detail: str
    """The numbers the value was computed from."""

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value <= self.limit if self.op == "<=" else self.value >= self.limit

    def to_dict(self) -> dict:
        return {**asdict(self), "met": self.met}


def summarize(values: Iterable[float | None]) -> dict:
    """``{"median", "p90", "min", "max", "n"}`` of the values that are not None."""
    data = [float(v) for v in values if v is not None]
    if not data:
        return {"median": None, "p90": None, "min": None, "max": None, "n": 0}
    arr = np.asarray(data)
    return {
        "median": round(float(np.median(arr)), 3),
        "p90": round(float(np.percentile(arr, 90)), 3),
        "min": round(float(arr.min()), 3),
        "max": round(float(arr.max()), 3),
        "n": len(data),
    }


def median(values: Sequence[float | None]) -> float | None:
    return summarize(values)["median"]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def evaluate_targets(stages: dict[str, dict], memory: dict | None) -> list[Target]:
    """The issue's targets from the stage summaries (medians)."""

    def m(key: str) -> float | None:
        return stages.get(key, {}).get("median")

    peak = memory.get("peak_mb") if memory else None
    return [
        Target(
            "ttfa_ratio",
            "ttfa streaming / sequential",
            ratio(m("stream_ttfa_ms"), m("seq_ttfa_ms")),
            0.35,
            "<=",
            "x",
            f"{m('stream_ttfa_ms')} ms vs {m('seq_ttfa_ms')} ms; after the transcript "
            f"{m('stream_reply_ttfa_ms')} vs {m('seq_reply_ttfa_ms')} ms = "
            f"{ratio(m('stream_reply_ttfa_ms'), m('seq_reply_ttfa_ms'))}x",
        ),
        Target(
            "llm_tokens_per_s_ratio",
            "LLM stage / bare llama-cpp tokens/s",
            ratio(m("llm_stage_tokens_per_s"), m("llm_bare_tokens_per_s")),
            0.95,
            ">=",
            "x",
            f"{m('llm_stage_tokens_per_s')} vs {m('llm_bare_tokens_per_s')} tokens/s",
        ),
        Target(
            "tts_rtf_ratio",
            "TTS stage / bare PiperVoice RTF",
            ratio(m("tts_stage_rtf"), m("tts_bare_rtf")),
            1.05,
            "<=",
            "x",
            f"RTF {m('tts_stage_rtf')} vs {m('tts_bare_rtf')}",
        ),
        Target(
            "orchestration_ms",
            "orchestration per turn (stand-in engines)",
            m("orch_turn_ms"),
            30.0,
            "<=",
            "ms",
            f"press to turn finished; end of speech to first audio {m('orch_ttfa_ms')} ms",
        ),
        Target(
            "ttft_second_turn_ratio",
            "TTFT second turn / first (cold) turn",
            ratio(m("ttft_second_ms"), m("ttft_cold_first_ms")),
            0.5,
            "<=",
            "x",
            f"{m('ttft_second_ms')} ms vs {m('ttft_cold_first_ms')} ms cold "
            f"({m('ttft_warm_first_ms')} ms after warm-up)",
        ),
        Target(
            "peak_rss_mb",
            "peak RSS of the appliance's engines",
            peak,
            1024.0,
            "<=",
            "MiB",
            "VmHWM after loading every engine and one voice turn",
        ),
    ]


def stage_summaries(raw: dict, orch: list[dict]) -> dict[str, dict]:
    """Summaries (see `summarize`) of every stage over the raw rows `bench.collect` gathers."""
    s, q = raw["streaming"], raw["sequential"]

    def of(rows: list[dict], key: str) -> dict:
        return summarize(r[key] for r in rows)

    return {
        "stream_asr_ms": of(s, "asr_ms"),
        "stream_llm_first_token_ms": of(s, "llm_first_token_ms"),
        "stream_tts_first_audio_ms": of(s, "tts_first_audio_ms"),
        "stream_ttfa_ms": of(s, "ttfa_ms"),
        "stream_voiced_to_audio_ms": of(s, "voiced_to_audio_ms"),
        "stream_ready_fraction": of(s, "ready_fraction"),
        "stream_reply_ttfa_ms": of(s, "reply_ttfa_ms"),
        "stream_llm_done_ms": of(s, "llm_done_ms"),
        "stream_done_ms": of(s, "done_ms"),
        "stream_stall_ms": of(s, "stall_ms"),
        "stream_tokens_per_s": of(s, "tokens_per_s"),
        "seq_asr_ms": of(q, "asr_ms"),
        "seq_llm_first_token_ms": of(q, "llm_first_token_ms"),
        "seq_llm_ms": of(q, "llm_ms"),
        "seq_tts_ms": of(q, "tts_ms"),
        "seq_ttfa_ms": of(q, "ttfa_ms"),
        "seq_voiced_to_audio_ms": of(q, "voiced_to_audio_ms"),
        "seq_reply_ttfa_ms": of(q, "reply_ttfa_ms"),
        "seq_done_ms": of(q, "done_ms"),
        "reply_tokens": of(q, "reply_tokens"),
        "reply_sentences": of(q, "sentences"),
        "reply_audio_s": of(q, "audio_s"),
        "llm_stage_tokens_per_s": of(raw["llm"], "stage"),
        "llm_bare_tokens_per_s": of(raw["llm"], "bare"),
        "tts_stage_rtf": of(raw["tts"], "stage"),
        "tts_bare_rtf": of(raw["tts"], "bare"),
        "ttft_cold_first_ms": of(raw["ttft"], "cold_first_ms"),
        "ttft_warm_first_ms": of(raw["ttft"], "warm_first_ms"),
        "ttft_second_ms": of(raw["ttft"], "second_ms"),
        "orch_turn_ms": of(orch, "turn_ms"),
        "orch_ttfa_ms": of(orch, "ttfa_ms"),
    }


def _spans(row: dict, stages: list[tuple[str, str, str]]) -> list[dict]:
    """``{stage, start_ms, end_ms}`` for each (stage, start key, end key) of
    ``row`` whose two times were measured."""
    spans = []
    for stage, start, end in stages:
        if row.get(start) is not None and row.get(end) is not None:
            spans.append({"stage": stage, "start_ms": row[start], "end_ms": row[end]})
    return spans


_STREAMING_SPANS = [
    ("speech", "speech_start_ms", "speech_end_ms"),
    ("asr", "listen_start_ms", "asr_ms"),
    ("llm", "asr_ms", "llm_done_ms"),
    ("tts", "llm_first_token_ms", "tts_first_audio_ms"),
    ("playback", "ttfa_ms", "done_ms"),
    ("wait", "speech_end_ms", "ttfa_ms"),
]
_SEQUENTIAL_SPANS = [
    ("speech", "speech_start_ms", "speech_end_ms"),
    ("asr", "listen_start_ms", "asr_ms"),
    ("llm", "asr_ms", "llm_ms"),
    ("tts", "llm_ms", "tts_ms"),
    ("playback", "ttfa_ms", "done_ms"),
    ("wait", "speech_end_ms", "ttfa_ms"),
]


def waterfall(streaming: list[dict], sequential: list[dict]) -> dict:
    """The stage spans of a typical turn, in ms since the release (the last
    sample; what came before is negative): the streaming turn whose TTFA is
    nearest the median, and the sequential turn on the same question in the
    same round. ``speech`` is the voiced part of the question; ``asr`` runs
    from the first sample the recognizer gets (during the speech when paced,
    at the release in the sequential arm) to the final transcript; in the
    streaming arm ``tts`` runs from the first token to the first audio (the
    first sentence is generated and then synthesized within it); ``wait``
    is what the person waits: from the delivery of their last voiced sample
    to the first audio (``voiced_to_audio_ms``)."""
    rows = [r for r in streaming if r.get("ttfa_ms") is not None]
    s = q = None
    if rows:
        mid = float(np.median([r["ttfa_ms"] for r in rows]))
        s = min(rows, key=lambda r: abs(r["ttfa_ms"] - mid))
        key = (s.get("question"), s.get("round"))
        q = next(
            (r for r in sequential if (r.get("question"), r.get("round")) == key),
            sequential[0] if sequential else None,
        )
    out: dict[str, list] = {"streaming": [], "sequential": []}
    if s:
        out["streaming"] = _spans({"listen_start_ms": 0.0, **s}, _STREAMING_SPANS)
    if q and q.get("ttfa_ms") is not None:
        out["sequential"] = _spans({"listen_start_ms": 0.0, **q}, _SEQUENTIAL_SPANS)
    return out


STAGE_LABELS = {
    "stream_asr_ms": "streaming: release -> transcript (ms)",
    "stream_llm_first_token_ms": "streaming: -> first LLM token (ms)",
    "stream_tts_first_audio_ms": "streaming: -> first TTS audio (ms)",
    "stream_ttfa_ms": "streaming: -> first sample at the sink = TTFA (ms)",
    "stream_voiced_to_audio_ms": "streaming: last voiced sample -> first sample (ms)",
    "stream_ready_fraction": "streaming: transcript ready at the release (0-1)",
    "stream_reply_ttfa_ms": "streaming: transcript -> first sample (ms)",
    "stream_llm_done_ms": "streaming: -> LLM done (ms)",
    "stream_done_ms": "streaming: -> end of playback (ms)",
    "stream_stall_ms": "streaming: playback stalls mid-reply (ms)",
    "stream_tokens_per_s": "streaming: LLM tokens/s while speaking",
    "seq_asr_ms": "sequential: transcribe (ms)",
    "seq_llm_first_token_ms": "sequential: first LLM token (ms)",
    "seq_llm_ms": "sequential: generate everything (ms)",
    "seq_tts_ms": "sequential: synthesize everything (ms)",
    "seq_ttfa_ms": "sequential: TTFA (ms)",
    "seq_voiced_to_audio_ms": "sequential: last voiced sample -> first sample (ms)",
    "seq_reply_ttfa_ms": "sequential: transcript -> first sample (ms)",
    "seq_done_ms": "sequential: -> end of playback (ms)",
    "reply_tokens": "reply length (tokens)",
    "reply_sentences": "reply length (sentences)",
    "reply_audio_s": "reply length (s of speech)",
    "llm_stage_tokens_per_s": "LLM stage tokens/s",
    "llm_bare_tokens_per_s": "bare llama-cpp-python tokens/s",
    "tts_stage_rtf": "TTS stage real-time factor",
    "tts_bare_rtf": "bare PiperVoice.synthesize RTF",
    "ttft_cold_first_ms": "TTFT first turn, empty KV cache (ms)",
    "ttft_warm_first_ms": "TTFT first turn after warm-up (ms)",
    "ttft_second_ms": "TTFT second turn (ms)",
    "orch_turn_ms": "stand-in engines: press -> turn finished (ms)",
    "orch_ttfa_ms": "stand-in engines: end of speech -> first audio (ms)",
}


BREAKDOWN = (
    ("transcript", "asr_ms"),
    ("1st token", "llm_first_token_ms"),
    ("1st audio", "ttfa_ms"),
    ("voiced->audio", "voiced_to_audio_ms"),
)


def breakdown(stages: dict[str, dict]) -> list[str]:
    """Where each arm's TTFA goes: the medians of each step after the
    release, then from the last voiced sample, and how much of the
    transcript was ready at the release; so a ratio short of its target can
    be explained."""
    head = "".join(f" {name:>13}" for name, _ in BREAKDOWN)
    lines = [f"{'ttfa breakdown: median ms after the release':<44}{head} {'ready':>6}"]
    for arm, prefix in (("streaming", "stream_"), ("sequential", "seq_")):
        cells = "".join(
            f" {_num(stages.get(prefix + key, {}).get('median')):>13}" for _, key in BREAKDOWN
        )
        ready = (
            0.0 if arm == "sequential" else stages.get("stream_ready_fraction", {}).get("median")
        )
        lines.append(f"{arm:<44}{cells} {_num(ready):>6}")
    return lines


def _num(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def format_table(result: dict) -> str:
    """The human-readable report of one `run_bench` result."""
    setup = result["setup"]
    lines = [
        f"assistant bench: {setup['turns']} turns x {len(setup['questions'])} questions on "
        f"{setup['cpu_count']} CPUs",
        f"  asr {setup['asr_engine']} ({setup['asr_model']}), llm {setup['llm_model']} "
        f"({setup['llm_threads']} threads, batch {setup['llm_batch_threads']}), "
        f"voice {setup['voice']}",
    ]
    if setup.get("paced") is False:
        lines.append("  streaming arm unpaced: the whole file at once (--unpaced)")
    for note in setup.get("notes", []):
        lines.append(f"  note: {note}")
    lines += ["", f"{'stage':<54} {'median':>9} {'p90':>9} {'n':>4}"]
    for key, label in STAGE_LABELS.items():
        s = result["stages"].get(key)
        if s is None:
            continue
        lines.append(f"{label:<54} {_num(s['median']):>9} {_num(s['p90']):>9} {s['n']:>4}")
    lines += ["", *breakdown(result["stages"])]
    lines += ["", f"{'target':<44} {'measured':>9} {'target':>10}  met  detail"]
    for t in result["targets"]:
        value = _num(t["value"], 3 if t["unit"] == "x" else 1)
        unit = "" if t["unit"] == "x" else f" {t['unit']}"
        limit = f"{t['op']} {t['limit']:g}{unit}"
        met = {True: "yes", False: "NO", None: "n/a"}[t["met"]]
        lines.append(f"{t['label']:<44} {value:>9} {limit:>10}  {met:<4} {t['detail']}")
    memory = result.get("memory")
    if memory:
        lines += [
            "",
            f"{'memory, one step at a time (MiB)':<44} {'VmRSS':>7} {'delta':>7} "
            f"{'VmHWM':>7} {'maxrss':>7}",
        ]
        for row in memory["stages"]:
            lines.append(
                f"{row['stage']:<44} {_num(row['vm_rss_mb'], 0):>7} "
                f"{_num(row['delta_mb'], 0):>7} {_num(row['vm_hwm_mb'], 0):>7} "
                f"{_num(row['max_rss_mb'], 0):>7}"
            )
    sweep = result.get("threads_sweep")
    if sweep:
        lines += [
            "",
            f"{'llama threads (batch)':<22} {'tok/s alone':>11} {'tok/s +TTS':>11} "
            f"{'TTS RTF +LLM':>12} {'TTFA ms':>8}",
        ]
        for row in sweep["llm"]:
            lines.append(
                f"{row['n_threads']} ({row['n_threads_batch']})".ljust(22)
                + f" {_num(row['tokens_per_s_alone']):>11} {_num(row['tokens_per_s_with_tts']):>11}"
                f" {_num(row['tts_rtf_with_llm'], 3):>12} {_num(row['ttfa_ms']):>8}"
            )
        lines.append(f"TTS RTF alone: {_num(sweep['tts_rtf_alone'], 3)}")
        for row in sweep["asr"]:
            lines.append(
                f"whisper cpu_threads {row['cpu_threads']}: decode {_num(row['decode_ms'])} ms"
            )
    return "\n".join(lines) + "\n"
