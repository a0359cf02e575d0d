"""``assistant bench --threads-sweep``: llama's ``n_threads`` 1 and 2, alone
and while piper synthesizes, and Whisper's CPU threads. Loads one extra
language model (and recognizer) at a time, on the calling thread."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from assistant.bench.bare import clock, llm_stage_tokens_per_s, tts_stage_rtf
from assistant.bench.report import median
from assistant.bench.turns import read_blocks, streaming_turn
from assistant.compose import Engines, build_conversation, build_engines, build_stt
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
    return {"llm": rows, "tts_rtf_alone": median(tts_alone), "asr": asr_rows}


def _decode_ms(stt: SpeechToText, wav: Path, config: Config) -> float:
    """Milliseconds of ``finish`` after every block of ``wav`` was accepted."""
    transcriber = stt.start()
    for block in read_blocks(config, wav):
        transcriber.accept(block)
    started = clock()
    transcriber.finish()
    return round((clock() - started) * 1000, 1)
