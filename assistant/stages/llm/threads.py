"""How many CPU threads llama.cpp gets: pure functions of this process's
CPU affinity, for `LlamaLanguageModel` and the bench."""

from __future__ import annotations

import os


def default_threads() -> int:
    """Generation threads when ``llm.n_threads`` is 0: half the cores, 1 to 4.

    Token generation is bound by memory bandwidth: on a Pi 5 it stops getting
    faster at about 2 threads, and more threads only spin and steal cores
    from the TTS, which speaks the reply while it is still being generated.
    Speed past real time buys little: speech needs about 4 tokens/s, and
    even 1 thread on the 2-core x86 dev VM makes 54 tokens/s (2 threads: 83,
    but then none is left for TTS). Prompt evaluation is compute-bound and
    runs before TTS starts, so it gets more threads (`batch_threads`).
    """
    return max(1, min(4, _cpu_count() // 2))


def batch_threads(n_threads: int) -> int:
    """Prompt-evaluation threads: every core but one, and no fewer than
    ``n_threads``. Using every core looks faster alone, but ggml's threads
    meet at a barrier after each layer, so one thread preempted by another
    process (ASR finishing, the controller, a log burst) stalls them all:
    on the busy 2-core dev VM, 40 prompt tokens took 7.7 s instead of 0.3 s
    with 2 threads, and 1 thread only halved in speed."""
    return max(n_threads, _cpu_count() - 1, 1)


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
