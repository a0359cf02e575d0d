"""The bench's two arms of a voice turn on the same engines and WAV file:
`streaming_turn` (the appliance's own turn, `compose.run_file_turn`, with
the file spoken into it at its own pace as a microphone delivers it) and
`sequential_turn` (each stage finishes before the next starts, the first
when the last sample has arrived), both timed from the release (the file's
last sample) into `TimingSink`, a speaker that never blocks. Both rows also
time what a person feels: from the last voiced sample to the first audio
(``voiced_to_audio_ms``), and how much of the transcript was ready at the
release (``ready_fraction``; 0 for the sequential arm by construction).

Every engine runs on the caller's thread or the controller's workers; both
functions block until the reply has been handed to the sink.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.compose import Engines, build_conversation, run_file_turn
from assistant.compose.devices import build_paced_source
from assistant.core.config import Config
from assistant.stages.audio.pcm import ASR_RATE_HZ, AudioChunk
from assistant.stages.audio.wavfile import write_wav
from assistant.stages.tts.base import TextToSpeech

clock = time.perf_counter

MAX_LISTEN_S = 300.0
"""A bench question is heard whole, up to this long."""


class TimingSink:
    """A speaker with an unbounded buffer that records when each chunk
    arrives (``time.perf_counter`` seconds). Writes never block; `playback`
    simulates real-time playback from the arrival times. Reset by `open`.
    Any thread may write; the owner reads `arrivals` once the turn is over."""

    def __init__(self) -> None:
        self.rate_hz = 0
        self.arrivals: list[tuple[float, float]] = []
        """(arrival time in s, chunk duration in s) per write."""
        self.paths: list[Path] = []
        """Always empty: nothing is written to a file."""
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


def speak_questions(tts: TextToSpeech, questions: Sequence[str], directory: Path) -> list[Path]:
    """Each question as a WAV file in ``directory``, with 0.2 s of quiet around it."""
    paths = []
    for i, question in enumerate(questions):
        chunks = [c.samples for c in tts.synthesize(question)]
        quiet = np.zeros(tts.sample_rate_hz // 5, dtype=np.int16)
        path = directory / f"question-{i + 1}.wav"
        write_wav(path, AudioChunk(np.concatenate([quiet, *chunks, quiet]), tts.sample_rate_hz))
        paths.append(path)
    return paths


def speech_timing(config: Config, wav: Path, paced: bool = True) -> dict:
    """Where the speech of ``wav`` is, in ms relative to the release (so
    negative): ``listen_start_ms`` (the first sample; 0 when not ``paced``:
    the whole file arrives at once), ``speech_start_ms``, ``speech_end_ms``
    (the delivery of the last voiced sample), and ``clip_ms``."""
    source = build_paced_source(config, wav, max_s=MAX_LISTEN_S)
    voiced, tail = source.voiced_s, source.quiet_tail_s
    clip_ms = source.duration_s * 1000
    return {
        "clip_ms": round(clip_ms, 1),
        "listen_start_ms": round(-clip_ms, 1) if paced else 0.0,
        "speech_start_ms": round(voiced[0] * 1000 - clip_ms, 1) if voiced else None,
        "speech_end_ms": round(-tail * 1000, 1) if tail is not None else None,
    }


def streaming_turn(engines: Engines, config: Config, wav: Path, paced: bool = True) -> dict:
    """One voice turn as ``assistant listen --realtime`` runs it (without
    ``paced``: as plain ``listen``, the whole file at once), from the same KV
    cache state as every other bench run; times in ms since the release (the
    file's last sample). Raises `AssistantError` if the turn does not finish."""
    sink = TimingSink()
    engines.llm.warm_up()
    event = run_file_turn(engines, config, wav, sink, max_listen_s=MAX_LISTEN_S, realtime=paced)
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
        "voiced_to_audio_ms": t.get("voiced_to_audio"),
        "ready_fraction": event.ready_fraction,
        "done_ms": round(ttfa + (end - first) * 1000, 1),
        "stall_ms": round(stall * 1000, 1),
        "tokens_per_s": event.tokens_per_s,
        "audio_s": round(sum(d for _, d in sink.arrivals), 3),
        **speech_timing(config, wav, paced),
    }


def read_blocks(config: Config, wav: Path) -> list[np.ndarray]:
    """Every block the paced microphone (`build_paced_source` on ``wav``)
    delivers, all at once: the same samples the streaming arm hears."""
    samples = build_paced_source(config, wav, max_s=MAX_LISTEN_S).samples
    block = max(1, ASR_RATE_HZ * config.audio.block_ms // 1000)
    return [samples[i : i + block] for i in range(0, len(samples), block)]


def sequential_turn(engines: Engines, config: Config, wav: Path) -> dict:
    """The baseline: transcribe everything, then generate everything, then
    synthesize everything, then play; times in ms since the release."""
    engines.llm.warm_up()
    blocks = read_blocks(config, wav)
    # The clock starts when the last sample has arrived, without waiting out
    # the clip: a sequential recognizer starts there, so a streaming one's
    # decoding (Vosk decodes in accept) is counted after the release too.
    t0 = clock()

    def ms() -> float:
        return round((clock() - t0) * 1000, 1)

    transcriber = engines.stt.start()
    for block in blocks:
        transcriber.accept(block)
    text = transcriber.finish().strip()
    asr_ms = ms()
    messages = build_conversation(config).messages(text)
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
    speech = speech_timing(config, wav)
    speech["listen_start_ms"] = 0.0
    tail_ms = speech["speech_end_ms"]
    return {
        "transcript": text,
        "reply": reply,
        "asr_ms": asr_ms,
        "llm_first_token_ms": first_token_ms,
        "llm_ms": llm_ms,
        "tts_ms": tts_ms,
        "ttfa_ms": ttfa,
        "voiced_to_audio_ms": (
            round(ttfa - tail_ms, 1) if ttfa is not None and tail_ms is not None else None
        ),
        "ready_fraction": 0.0,
        "done_ms": round(ttfa + audio_s * 1000, 1) if ttfa is not None else None,
        "reply_tokens": engines.llm.last_stats.generated_tokens,
        "sentences": len(chunks),
        "audio_s": round(audio_s, 3),
        **speech,
    }
