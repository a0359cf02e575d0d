"""``assistant bench --threads-sweep``: llama's ``n_threads`` 1 and 2, alone
and while piper synthesizes; piper's onnxruntime threads (``tts.n_threads``)
1 and 2, alone and while llama generates; Whisper's CPU threads; and voice
turns with the speculative prefill off and on. Loads one extra language
model, voice (or recognizer) at a time, on the calling thread."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from assistant.bench.bare import clock, llm_stage_tokens_per_s, tts_stage_rtf
from assistant.bench.report import median
from assistant.bench.turns import MAX_LISTEN_S, TimingSink, read_blocks, streaming_turn
from assistant.compose import (
    Engines,
    build_conversation,
    build_engines,
    build_stt,
    build_tts,
    run_file_turn,
)
from assistant.core.config import Config
from assistant.stages.asr.base import SpeechToText
from assistant.stages.llm.threads import batch_threads
from assistant.stages.tts.base import TextToSpeech

JOIN_TIMEOUT_S = 300.0
THREADS = (1, 2)


def _tts_load(tts: TextToSpeech, text: str, stop: threading.Event, out: list) -> None:
    """Synthesize ``text`` over and over until ``stop``; append (wall, audio) s."""
    while not stop.is_set():
        started = clock()
        audio_s = sum(c.duration_s for c in tts.synthesize(text, stop))
        if audio_s:
            out.append((clock() - started, audio_s))


def _llm_row(
    engines: Engines,
    config: Config,
    questions: Sequence[str],
    wavs: Sequence[Path],
    text: str,
    n: int,
) -> dict:
    llm_config = dataclasses.replace(config.llm, n_threads=n)
    swept = dataclasses.replace(config, llm=llm_config)
    with build_engines(swept, stt=False, tts=False, warm=False) as alone:
        llm = alone.llm
        messages = [build_conversation(config).messages(q) for q in questions]
        tokens_alone = [llm_stage_tokens_per_s(llm, m)[0] for m in messages]
        stop = threading.Event()
        synth: list = []
        worker = threading.Thread(
            target=_tts_load, args=(engines.tts, text, stop, synth), daemon=True
        )
        worker.start()
        try:
            tokens_busy = [llm_stage_tokens_per_s(llm, m)[0] for m in messages]
        finally:
            stop.set()
            worker.join(JOIN_TIMEOUT_S)
        wall = sum(w for w, _ in synth)
        audio = sum(a for _, a in synth)
        swapped = Engines(engines.stt, llm, engines.tts)
        ttfa = [streaming_turn(swapped, swept, w)["ttfa_ms"] for w in wavs]
    return {
        "n_threads": n,
        "n_threads_batch": batch_threads(n),
        "tokens_per_s_alone": median(tokens_alone),
        "tokens_per_s_with_tts": median(tokens_busy),
        "tts_rtf_with_llm": round(wall / audio, 3) if audio else None,
        "ttfa_ms": median(ttfa),
    }


def threads_sweep(
    engines: Engines,
    config: Config,
    questions: Sequence[str],
    wavs: Sequence[Path],
    texts: Sequence[str],
    progress: Callable[[str], None],
) -> dict:
    """llama n_threads 1 and 2: tokens/s alone and while piper synthesizes
    (and piper's RTF meanwhile), streaming TTFA; Whisper cpu_threads 1 and 2."""
    tts_alone = [tts_stage_rtf(engines.tts, t) for t in texts]
    rows = []
    for n in THREADS:
        progress(f"threads sweep: llama {n} thread(s)")
        rows.append(_llm_row(engines, config, questions, wavs, " ".join(texts), n))
    asr_rows = []
    if config.asr.engine == "whisper":
        for n in THREADS:
            progress(f"threads sweep: whisper {n} thread(s)")
            stt = build_stt(config, n_threads=n)
            stt.warm_up()
            decode = [_decode_ms(stt, w, config) for w in wavs]
            asr_rows.append({"cpu_threads": n, "decode_ms": median(decode)})
    tts_rows = []
    for n in THREADS:
        progress(f"threads sweep: piper {n} thread(s)")
        tts_rows.append(_tts_row(engines, config, questions, wavs, " ".join(texts), n))
    prefill_rows = []
    for on in (False, True):
        progress(f"threads sweep: prefill {'on' if on else 'off'}")
        prefill_rows.append(_prefill_row(engines, config, wavs, on))
    return {
        "llm": rows,
        "tts_rtf_alone": median(tts_alone),
        "asr": asr_rows,
        "tts": tts_rows,
        "prefill": prefill_rows,
    }


def _tts_row(
    engines: Engines,
    config: Config,
    questions: Sequence[str],
    wavs: Sequence[Path],
    text: str,
    n: int,
) -> dict:
    """piper with ``n`` onnxruntime threads: RTF alone and while the LLM
    (at its configured threads) generates, the LLM's tokens/s meanwhile,
    and streaming TTFA."""
    swept = dataclasses.replace(config, tts=dataclasses.replace(config.tts, n_threads=n))
    tts = build_tts(swept)
    tts.warm_up()
    rtf_alone = [tts_stage_rtf(tts, text) for _ in range(3)]
    messages = [build_conversation(config).messages(q) for q in questions]
    stop = threading.Event()
    synth: list = []
    worker = threading.Thread(target=_tts_load, args=(tts, text, stop, synth), daemon=True)
    worker.start()
    try:
        tokens_busy = [llm_stage_tokens_per_s(engines.llm, m)[0] for m in messages]
    finally:
        stop.set()
        worker.join(JOIN_TIMEOUT_S)
    wall = sum(w for w, _ in synth)
    audio = sum(a for _, a in synth)
    swapped = Engines(engines.stt, engines.llm, tts)
    ttfa = [streaming_turn(swapped, swept, w)["ttfa_ms"] for w in wavs]
    return {
        "n_threads": n,
        "tts_rtf_alone": median([r for r in rtf_alone if r is not None]),
        "tts_rtf_with_llm": round(wall / audio, 3) if audio else None,
        "llm_tokens_per_s_with_tts": median(tokens_busy),
        "ttfa_ms": median(ttfa),
    }


def _prefill_row(engines: Engines, config: Config, wavs: Sequence[Path], on: bool) -> dict:
    """Paced voice turns with ``llm.prefill`` off or on: prompt tokens read
    while the user spoke and after, the first token and TTFA (ms after the
    release). The answers are the same either way; only the wait differs."""
    swept = dataclasses.replace(config, llm=dataclasses.replace(config.llm, prefill=on))
    first_token, ttfa, prefilled, read = [], [], [], []
    for wav in wavs:
        engines.llm.warm_up()  # the same KV cache state for every turn
        event = run_file_turn(
            engines, swept, wav, TimingSink(), max_listen_s=MAX_LISTEN_S, realtime=True
        )
        t = event.timings_ms
        if "ttfa" in t:
            ttfa.append(t["ttfa"])
            first_token.append(t["ttfa"] - t["first_audio_played"] + t["llm_first_token"])
        prefilled.append(event.prefill_tokens)
        read.append(event.prompt_tokens_read)
    return {
        "prefill": on,
        "prefill_tokens": median(prefilled),
        "prompt_tokens_read": median(read),
        "llm_first_token_ms": median(first_token) if first_token else None,
        "ttfa_ms": median(ttfa) if ttfa else None,
    }


def _decode_ms(stt: SpeechToText, wav: Path, config: Config) -> float:
    """Milliseconds of ``finish`` after every block of ``wav`` was accepted."""
    transcriber = stt.start()
    for block in read_blocks(config, wav):
        transcriber.accept(block)
    started = clock()
    transcriber.finish()
    return round((clock() - started) * 1000, 1)
