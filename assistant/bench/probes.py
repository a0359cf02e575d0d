"""The measurements of `assistant bench` (the command and the stand-in
engines are in bench.py): a streaming and a sequential voice turn, the raw
engines, time to first token, the memory probe and the threads sweep.

Each bare engine (`BareLlama`, `BarePiper`) is the library alone, built
from the stage's own file and options, so a stage's ratio to it is the cost
of the stage's wrapping.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import queue
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.config import Config, TurnConfig
from assistant.core.errors import AssistantError
from assistant.core.events import ButtonPressed, EventBus, TurnFailed, TurnFinished, TurnIgnored
from assistant.core.messages import Message
from assistant.pipeline.memory import Conversation
from assistant.stages.asr.base import SpeechToText
from assistant.stages.audio.pcm import AudioChunk, write_wav
from assistant.stages.audio.soundcard import WavFileSource
from assistant.stages.tts.base import TextToSpeech

clock = time.perf_counter
JOIN_TIMEOUT_S = 300.0
TURN_TIMEOUT_S = 300.0


# -- the turns ------------------------------------------------------------------


class TimingSink:
    """A speaker with an unbounded buffer that records when each chunk
    arrives (``time.perf_counter`` seconds). Writes never block; `playback`
    simulates real-time playback from the arrival times. Reset by `open`."""

    def __init__(self) -> None:
        self.rate_hz = 0
        self.arrivals: list[tuple[float, float]] = []
        """(arrival time in s, chunk duration in s) per write."""
        self._frames = 0
        self._lock = threading.Lock()

    def open(self, rate_hz: int) -> None:
        with self._lock:
            self.rate_hz = rate_hz
            self.arrivals = []
            self._frames = 0

    def write(self, chunk: AudioChunk, cancel: threading.Event | None = None) -> None:
        now = clock()
        if cancel is not None and cancel.is_set():
            return
        with self._lock:
            self.arrivals.append((now, chunk.duration_s))
            self._frames += round(
                len(chunk.samples) * (self.rate_hz or chunk.rate_hz) / chunk.rate_hz
            )

    def played_frames(self) -> int:
        return self._frames

    def drain(self, timeout_s: float) -> bool:
        return True

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass

    def playback(self) -> tuple[float, float, float]:
        """(first arrival, end of simulated playback, total stall) in seconds;
        a stall is the speaker waiting for the next chunk mid-reply."""
        if not self.arrivals:
            return 0.0, 0.0, 0.0
        first = self.arrivals[0][0]
        playing_until, stall = first, 0.0
        for arrived, duration in self.arrivals:
            if arrived > playing_until:
                stall += arrived - playing_until
                playing_until = arrived
            playing_until += duration
        return first, playing_until, stall


@dataclasses.dataclass
class Engines:
    stt: SpeechToText
    llm: Any
    """A `LlamaLanguageModel` (bench needs `tokenize`, `last_stats`, `n_threads`)."""
    tts: TextToSpeech


def file_turn(config: Config) -> TurnConfig:
    # The file is the whole utterance: its end is the button release.
    return TurnConfig(
        mode="hold",
        min_press_s=0.0,
        max_listen_s=300.0,
        reply_timeout_s=config.turn.reply_timeout_s,
    )


def speak_questions(tts: TextToSpeech, questions: Sequence[str], directory: Path) -> list[Path]:
    """Each question as a WAV file with 0.2 s of quiet around it."""
    paths = []
    for i, question in enumerate(questions):
        chunks = [c.samples for c in tts.synthesize(question)]
        quiet = np.zeros(tts.sample_rate_hz // 5, dtype=np.int16)
        path = directory / f"question-{i + 1}.wav"
        write_wav(path, AudioChunk(np.concatenate([quiet, *chunks, quiet]), tts.sample_rate_hz))
        paths.append(path)
    return paths


def streaming_turn(engines: Engines, config: Config, wav: Path) -> dict:
    """One voice turn through the real `Controller`; times in ms since the
    end of speech (the file's end)."""
    from assistant.pipeline.controller import Controller

    bus = EventBus()
    done: queue.Queue = queue.Queue()
    bus.subscribe(
        lambda e: done.put(e) if isinstance(e, TurnFinished | TurnFailed | TurnIgnored) else None
    )
    sink = TimingSink()
    controller = Controller(
        stt=engines.stt,
        llm=engines.llm,
        tts=engines.tts,
        source=WavFileSource(wav, block_ms=config.audio.block_ms),
        sink=sink,
        conversation=Conversation(config.llm.system_prompt, config.llm.max_turns),
        turn=file_turn(config),
        bus=bus,
        earcons=False,
    )
    engines.llm.warm_up()
    controller.start()
    try:
        controller.submit(ButtonPressed())
        event = done.get(timeout=TURN_TIMEOUT_S)
    finally:
        controller.stop()
    if not isinstance(event, TurnFinished):
        raise AssistantError(f"bench: the streaming turn on {wav} did not finish: {event}")
    t = event.timings_ms
    first, end, stall = sink.playback()
    ttfa = t["ttfa"]
    reply_start = ttfa - t["first_audio_played"]
    return {
        "transcript": event.transcript,
        "reply": event.reply,
        "asr_ms": t["asr_final"],
        "llm_first_token_ms": round(reply_start + t["llm_first_token"], 1),
        "llm_done_ms": round(reply_start + t["llm_total"], 1),
        "tts_first_audio_ms": round(reply_start + t["tts_first_audio"], 1),
        "ttfa_ms": ttfa,
        "done_ms": round(ttfa + (end - first) * 1000, 1),
        "stall_ms": round(stall * 1000, 1),
        "tokens_per_s": event.tokens_per_s,
        "audio_s": round(sum(d for _, d in sink.arrivals), 3),
    }


def sequential_turn(engines: Engines, config: Config, wav: Path) -> dict:
    """The baseline: transcribe everything, then generate everything, then
    synthesize everything, then play; times in ms since the end of speech."""
    engines.llm.warm_up()
    source = WavFileSource(wav, block_ms=config.audio.block_ms)
    source.open()
    blocks = []
    while (block := source.read(0.1)) is not None:
        blocks.append(block)
    source.close()
    # The whole recording exists before recognition starts: a streaming
    # recognizer's decoding (Vosk decodes in accept) is counted after the end
    # of speech too, as "transcribe everything" means.
    t0 = clock()

    def ms() -> float:
        return round((clock() - t0) * 1000, 1)

    transcriber = engines.stt.start()
    for block in blocks:
        transcriber.accept(block)
    text = transcriber.finish().strip()
    asr_ms = ms()
    messages = Conversation(config.llm.system_prompt, config.llm.max_turns).messages(text)
    pieces: list[str] = []
    first_token_ms = None
    for piece in engines.llm.generate(messages):
        if first_token_ms is None:
            first_token_ms = ms()
        pieces.append(piece)
    llm_ms = ms()
    reply = "".join(pieces).strip()
    chunks = list(engines.tts.synthesize(reply))
    tts_ms = ms()
    sink = TimingSink()
    sink.open(engines.tts.sample_rate_hz)
    for chunk in chunks:
        sink.write(chunk)
    ttfa = round((sink.arrivals[0][0] - t0) * 1000, 1) if chunks else None
    audio_s = sum(c.duration_s for c in chunks)
    return {
        "transcript": text,
        "reply": reply,
        "asr_ms": asr_ms,
        "llm_first_token_ms": first_token_ms,
        "llm_ms": llm_ms,
        "tts_ms": tts_ms,
        "ttfa_ms": ttfa,
        "done_ms": round(ttfa + audio_s * 1000, 1) if ttfa is not None else None,
        "reply_tokens": engines.llm.last_stats.generated_tokens,
        "sentences": len(chunks),
        "audio_s": round(audio_s, 3),
    }


# -- the raw engines -------------------------------------------------------------


class BareLlama:
    """A bare llama-cpp-python ``Llama`` on the stage's model file, threads
    and sampling: the raw engine the LLM stage is compared with."""

    def __init__(self, llm: Any) -> None:
        import llama_cpp

        from assistant.stages.llm.llama import batch_threads

        self._llama_cpp = llama_cpp
        self.llama = llama_cpp.Llama(
            model_path=str(llm.path),
            n_ctx=llm.config.n_ctx,
            n_threads=llm.n_threads,
            n_threads_batch=batch_threads(llm.n_threads),
            verbose=False,
        )
        self.vocab = llama_cpp.llama_model_get_vocab(self.llama.model)

    def tokens_per_s(self, prefix: list[int], prompt: list[int], limit: int) -> tuple[float, int]:
        """Evaluate ``prefix`` (as the stage's warm-up does), then sample at
        most ``limit`` tokens of ``prompt``'s reply, like the stage: tokens/s
        after the first token, and the tokens sampled (end token included)."""
        from assistant.stages.llm.llama import MIN_P, REPEAT_PENALTY, TOP_K, TOP_P

        self.llama.reset()
        self.llama.eval(prefix)
        started = clock()
        first = 0.0
        n = 0
        for token in self.llama.generate(
            prompt, top_k=TOP_K, top_p=TOP_P, min_p=MIN_P, temp=0.0, repeat_penalty=REPEAT_PENALTY
        ):
            n += 1
            if n == 1:
                first = clock() - started
            if n >= limit or self._llama_cpp.llama_vocab_is_eog(self.vocab, token):
                break
        span = clock() - started - first
        return ((n - 1) / span if n > 1 and span > 0 else 0.0), n

    def close(self) -> None:
        self.llama.close()


def llm_stage_tokens_per_s(llm: Any, messages: list[Message]) -> tuple[float, int]:
    """Tokens/s of ``llm.generate`` from the warm-up cache state, and the
    number of tokens it sampled."""
    llm.warm_up()
    for _ in llm.generate(messages):
        pass
    stats = llm.last_stats
    return stats.tokens_per_s, stats.generated_tokens


def tts_stage_rtf(tts: TextToSpeech, text: str) -> float | None:
    started = clock()
    audio_s = sum(c.duration_s for c in tts.synthesize(text))
    return (clock() - started) / audio_s if audio_s else None


class BarePiper:
    """A bare ``PiperVoice`` on the stage's voice file and synthesis options."""

    def __init__(self, config: Config) -> None:
        from piper import PiperVoice, SynthesisConfig

        path = config.models_dir / f"{config.tts.voice}.onnx"
        self.voice = PiperVoice.load(path, config_path=f"{path}.json")
        self.syn_config = SynthesisConfig(
            length_scale=self.voice.config.length_scale * config.tts.length_scale,
            volume=config.tts.volume,
        )

    def rtf(self, text: str) -> float | None:
        started = clock()
        samples = sum(
            len(c.audio_int16_array)
            for c in self.voice.synthesize(text, syn_config=self.syn_config)
        )
        audio_s = samples / self.voice.config.sample_rate
        return (clock() - started) / audio_s if audio_s else None


def ttft_pair(llm: Any, config: Config, first: str, second: str) -> dict:
    """Time to first token of a two-turn conversation from an empty KV cache,
    and of the same first turn after warm-up, in ms."""
    llm.reset()
    conversation = Conversation(config.llm.system_prompt, config.llm.max_turns)
    reply = "".join(llm.generate(conversation.messages(first)))
    cold = llm.last_stats
    conversation.add(first, reply)
    for _ in llm.generate(conversation.messages(second)):
        pass
    follow = llm.last_stats
    llm.warm_up()
    for _ in llm.generate(Conversation(config.llm.system_prompt, 1).messages(first)):
        pass
    warm = llm.last_stats
    return {
        "cold_first_ms": round(cold.first_token_s * 1000, 1),
        "warm_first_ms": round(warm.first_token_s * 1000, 1),
        "second_ms": round(follow.first_token_s * 1000, 1),
        "cold_prompt_tokens": cold.prompt_tokens,
        "warm_cached_tokens": warm.cached_tokens,
        "second_prompt_tokens": follow.prompt_tokens,
        "second_cached_tokens": follow.cached_tokens,
    }


# -- memory, in a fresh process -------------------------------------------------


def _memory_mb() -> dict:
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
    the engines one by one as ``assistant run`` does, speak the question,
    run one voice turn, and print the memory after each step as JSON."""
    config, question = pickle.load(sys.stdin.buffer)
    from assistant.compose import build_llm, build_stt, build_tts

    rows: list[dict] = []

    def record(stage: str) -> None:
        now = _memory_mb()
        previous = rows[-1]["vm_rss_mb"] if rows else 0.0
        delta = now["vm_rss_mb"] - previous if now["vm_rss_mb"] is not None else None
        rows.append({"stage": stage, **now, "delta_mb": delta and round(delta, 1)})

    record("python + assistant imports")
    stt = build_stt(config)
    stt.warm_up()
    record(f"asr {config.asr.engine} loaded")
    llm = build_llm(config)
    llm.warm_up()
    record(f"llm {Path(config.llm.model).name} loaded")
    tts = build_tts(config)
    tts.warm_up()
    record(f"tts {config.tts.voice} loaded")
    with tempfile.TemporaryDirectory(prefix="assistant-bench-") as tmp:
        wav = speak_questions(tts, [question], Path(tmp))[0]
        streaming_turn(Engines(stt, llm, tts), config, wav)
    record("after one voice turn")
    llm.close()
    last = rows[-1]
    peak = last["vm_hwm_mb"] if last["vm_hwm_mb"] is not None else last["max_rss_mb"]
    json.dump({"stages": rows, "peak_mb": peak}, sys.stdout)


def measure_memory(config: Config, question: str) -> dict:
    """Run `memory_probe` in a fresh Python, so none of the bench's extra
    engines count. Call it before this process loads any model: the child
    inherits this process's ru_maxrss. Raises `AssistantError` on failure."""
    package_parent = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", "from assistant.bench.probes import memory_probe; memory_probe()"],
        input=pickle.dumps((config, question)),
        capture_output=True,
        env=env,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        raise AssistantError(f"bench: the memory probe failed: {' '.join(tail) or proc.returncode}")
    return json.loads(proc.stdout)


# -- the threads sweep ------------------------------------------------------------


def _tts_load(tts: TextToSpeech, text: str, stop: threading.Event, out: list) -> None:
    """Synthesize ``text`` over and over until ``stop``; append (wall, audio) s."""
    while not stop.is_set():
        started = clock()
        audio_s = sum(c.duration_s for c in tts.synthesize(text, stop))
        if audio_s:
            out.append((clock() - started, audio_s))


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
    from assistant.stages.llm.llama import LlamaLanguageModel, batch_threads

    text = " ".join(texts)
    tts_alone = [tts_stage_rtf(engines.tts, t) for t in texts]
    rows = []
    for n in (1, 2):
        progress(f"threads sweep: llama {n} thread(s)")
        llm_config = dataclasses.replace(config.llm, n_threads=n)
        llm = LlamaLanguageModel.from_config(llm_config, config.models_dir)
        try:
            messages = [Conversation(config.llm.system_prompt, 1).messages(q) for q in questions]
            alone = [llm_stage_tokens_per_s(llm, m)[0] for m in messages]
            stop = threading.Event()
            synth: list = []
            worker = threading.Thread(
                target=_tts_load, args=(engines.tts, text, stop, synth), daemon=True
            )
            worker.start()
            busy = [llm_stage_tokens_per_s(llm, m)[0] for m in messages]
            stop.set()
            worker.join(JOIN_TIMEOUT_S)
            wall = sum(w for w, _ in synth)
            audio = sum(a for _, a in synth)
            swapped = Engines(engines.stt, llm, engines.tts)
            ttfa = [
                streaming_turn(swapped, dataclasses.replace(config, llm=llm_config), w)["ttfa_ms"]
                for w in wavs
            ]
        finally:
            llm.close()
        rows.append(
            {
                "n_threads": n,
                "n_threads_batch": batch_threads(n),
                "tokens_per_s_alone": _median(alone),
                "tokens_per_s_with_tts": _median(busy),
                "tts_rtf_with_llm": round(wall / audio, 3) if audio else None,
                "ttfa_ms": _median(ttfa),
            }
        )
    asr_rows = []
    if config.asr.engine == "whisper":
        from assistant.stages.asr.whisper import WhisperSpeechToText

        for n in (1, 2):
            progress(f"threads sweep: whisper {n} thread(s)")
            stt = WhisperSpeechToText(
                config.asr, config.models_dir / config.asr.whisper_model, n_threads=n
            )
            stt.warm_up()
            decode = [_decode_ms(stt, w, config) for w in wavs]
            asr_rows.append({"cpu_threads": n, "decode_ms": _median(decode)})
    return {"llm": rows, "tts_rtf_alone": _median(tts_alone), "asr": asr_rows}


def _decode_ms(stt: SpeechToText, wav: Path, config: Config) -> float:
    source = WavFileSource(wav, block_ms=config.audio.block_ms)
    transcriber = stt.start()
    source.open()
    while (block := source.read(0.1)) is not None:
        transcriber.accept(block)
    started = clock()
    transcriber.finish()
    return round((clock() - started) * 1000, 1)


def _median(values: Sequence[float | None]) -> float | None:
    from assistant.bench.report import median

    return median(values)
