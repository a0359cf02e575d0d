"""onnxruntime's CPU memory arena for piper (``tts.arena``), and the heap.

``kept``: the arena keeps the buffers of one run for the next, so a run
finds them instead of fresh pages: the stage is as fast as bare piper
(benchmarks/README.md, "The stages against their bare engines"). The voice
empties it once a reply is done (`piper.REST_AFTER_S`), so memory does not
keep what replies left: kept from reply to reply it levelled off 100 MiB
above an emptied arena (the voice alone; 155 MiB in the appliance's soak),
bounded only because no run is longer than `piper.MAX_RUN_CHARS`.

``per-run`` (`ShrinkingSession`): emptied at the end of every run, and the
heap trimmed after it. Within a run the arena still reuses what the decoder
frees (bare piper, 80 characters: 89-92 MiB above the resident set against
145-166 on the heap), and nothing is kept between runs. The hub uses it: with
the arena kept under 8 clients its RSS crept by 0.5-1.4 MB a turn over 24
turns, where emptied it stayed flat.
"""

from __future__ import annotations

import ctypes
import platform
from pathlib import Path
from typing import Any

import numpy as np

WARM_TEXT = "Sure, the answer is this."
"""A typical first piece (2-5 words): after emptying a kept arena, its
buffers are allocated again, so the next reply's first piece finds them
warm (about 20 % faster than from an empty arena, `benchmarks/README.md`)."""


def load_session(model_path: Path, n_threads: int, keep: bool) -> Any:
    """piper's onnxruntime session on its CPU arena, kept between runs or
    (not ``keep``) a `ShrinkingSession`; without memory patterns (planned
    for one input shape, and every sentence has its own)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.enable_cpu_mem_arena = True
    options.enable_mem_pattern = False
    options.intra_op_num_threads = n_threads
    options.inter_op_num_threads = 1
    # With more than one thread (the hub), they wait without spinning, so
    # the LLM generating beside them keeps its core.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session: Any = onnxruntime.InferenceSession(
        str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return session if keep else ShrinkingSession(session)


class ShrinkingSession:
    """An onnxruntime session whose runs end by giving every free arena
    chunk back to the heap (``per-run``); the rest is the session's."""

    def __init__(self, session: Any) -> None:
        import onnxruntime

        self._session = session
        self._options = onnxruntime.RunOptions()
        self._options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(self, output_names: Any, input_feed: dict, run_options: Any = None) -> Any:
        return self._session.run(output_names, input_feed, run_options or self._options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def shrink_arena(voice: Any) -> None:
    """Run ``voice``'s session once on three phonemes with onnxruntime's
    arena shrinkage on: at the end of that run every free arena chunk goes
    back to the heap (milliseconds)."""
    inputs = {
        "input": np.array([[1, 2, 3]], dtype=np.int64),
        "input_lengths": np.array([3], dtype=np.int64),
        "scales": np.array([0.667, 1.0, 0.8], dtype=np.float32),
    }
    if voice.config.num_speakers > 1:
        inputs["sid"] = np.array([voice.config.default_speaker_id or 0], dtype=np.int64)
    ShrinkingSession(voice.session).run(None, inputs)


def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None on another C library (musl, macOS)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _malloc_trim()


def trim_heap() -> None:
    """Give the heap's free pages back to the system: a run frees tens of
    MiB of tensors, which glibc would otherwise keep (and fragment) in its
    per-thread arenas. Milliseconds; a no-op off glibc."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
