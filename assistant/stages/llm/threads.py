"""How many CPU threads llama.cpp and piper get: pure functions of this
process's CPU affinity, for `LlamaLanguageModel`, `PiperTextToSpeech` and
the bench."""

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


def tts_threads(n_threads: int = 0) -> int:
    """onnxruntime's intra-op threads for a synthesis: ``n_threads``, or when
    0, the cores the language model's generation (`default_threads`: half of
    them) leaves free, at least 1.

    onnxruntime's default is every core, and its threads spin while they
    wait, so it fights llama.cpp, which generates the rest of the reply
    while piper speaks the first piece. On the busy 2-core dev VM with llama
    at 1 thread (`assistant bench --threads-sweep`): 1 piper thread gave
    RTF 0.49 and 28.5 tokens/s while both ran, and a 3.8 s TTFA; 2 threads
    gave RTF 0.72, 7.7 tokens/s and 4.7 s.
    """
    if n_threads > 0:
        return n_threads
    cores = _cpu_count()
    return max(1, cores - default_threads())


def hub_tts_threads(n_threads: int = 0) -> int:
    """onnxruntime's intra-op threads for the hub's piper: ``n_threads``, or
    when 0, every core. A hub's synthesis is what its client waits for (a
    satellite's first piece, or Home Assistant's whole text), while its
    generation runs for other clients in turns; piper's threads do not spin
    (`stages.tts.piper`), so they give a core back to the LLM between
    operators. Here: first audio 72 ms on 2 threads against 103 on 1, and
    `wyoming-piper` (every core, its arena kept) 92 (benchmarks/README.md)."""
    return n_threads if n_threads > 0 else _cpu_count()


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
