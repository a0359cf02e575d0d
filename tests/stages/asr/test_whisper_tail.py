"""Whisper's tail-only final pass: at the release, only the audio after the
last pause decode is decoded, prompted with that decode's text. With fake
decoders (which audio each gets, and the fallback on doubt), then with the
real whisper-base model on a long utterance with a clear pause (slow)."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.bench.wer import normalize
from assistant.stages.asr.endpoint import SilenceEndpointer
from assistant.stages.asr.whisper_stream import DecodeWorker, StreamingTranscriber
from assistant.stages.asr.whisper_window import Decoded
from assistant.stages.audio.pcm import ASR_RATE_HZ as RATE

WAIT_S = 120.0
"""Generous: decodes share two cores with the rest of the suite."""
NO_PARTIALS_S = 600.0
"""An ``interval_s`` no test reaches: only pause decodes and finals run."""


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), np.int16)


def noise(seconds: float, seed: int) -> np.ndarray:
    """Loud noise: speech to the energy endpointer."""
    return np.random.default_rng(seed).normal(0, 3000, round(seconds * RATE)).astype(np.int16)


def feed(transcriber: StreamingTranscriber, samples: np.ndarray, block_ms: int = 30) -> None:
    step = RATE * block_ms // 1000
    for start in range(0, len(samples), step):
        transcriber.accept(samples[start : start + step])


class FakeDecode:
    """A fake decoder: returns ``text`` (flagged with ``fallback``) and
    records the length of the audio and the prompt of each call."""

    def __init__(self, text: str, fallback: str = "") -> None:
        self.text, self.fallback = text, fallback
        self.calls: list[tuple[int, str]] = []

    def __call__(self, samples: np.ndarray, prompt: str = "") -> Decoded:
        self.calls.append((len(samples), prompt))
        return Decoded(self.text, len(samples) / RATE, 10, 0.0, self.fallback)


def _paused_utterance(
    tail: FakeDecode, pause_doubt: str = ""
) -> tuple[str, FakeDecode, FakeDecode, int]:
    """Speech, a pause the transcriber decodes, more speech, release: the
    final text, the final decoder, the tail decoder, and where the pause
    decode's audio ended."""
    final = FakeDecode("at the pause", pause_doubt)
    worker = DecodeWorker()
    transcriber = StreamingTranscriber(
        FakeDecode("partial"),
        final,
        worker,
        SilenceEndpointer(1.0),
        interval_s=NO_PARTIALS_S,
        decode_tail=tail,
    )
    first = np.concatenate([silence(0.1), noise(1.0, 1), silence(0.6)])
    rest = noise(0.8, 2)
    try:
        feed(transcriber, first)
        assert transcriber.wait_idle(WAIT_S)
        assert len(final.calls) == 1, "no decode at the pause"
        final.text, final.fallback = "whole", ""
        feed(transcriber, rest)
        text = transcriber.finish()
    finally:
        worker.close()
    cut, _ = final.calls[0]
    return text, final, tail, cut


def test_the_release_decodes_only_the_audio_after_the_pause() -> None:
    text, final, tail, cut = _paused_utterance(FakeDecode("after it"))
    assert len(final.calls) == 1, "the whole utterance was decoded again"
    total = round(1.7 * RATE) + round(0.8 * RATE)
    assert tail.calls == [(total - cut, "at the pause")]
    assert round(1.35 * RATE) <= cut <= round(1.7 * RATE), "the cut is not in the pause"
    assert text == "at the pause after it"


def test_a_tail_in_doubt_is_dropped_for_a_whole_decode() -> None:
    text, final, tail, cut = _paused_utterance(FakeDecode("after it", fallback="in doubt"))
    assert len(tail.calls) == 1
    assert [n for n, _ in final.calls] == [cut, round(1.7 * RATE) + round(0.8 * RATE)]
    assert text == "whole"


@pytest.mark.slow
def test_a_tail_decode_has_the_words_of_a_whole_decode(whisper, speak) -> None:
    first, second = "What is the capital of France?", "How many legs does a spider have?"
    # speak() puts 0.3 s of silence before each: with the end of the first,
    # a clear pause for breath.
    said_first, said_second = speak(first), speak(second)
    samples = np.concatenate([said_first, silence(0.3), said_second, silence(0.1)])
    tails: list[str] = []

    def decode_tail(audio: np.ndarray, prompt: str) -> Decoded:
        decoded = whisper.decode_tail(audio, prompt)
        tails.append(decoded.fallback or decoded.text)
        return decoded

    transcriber = StreamingTranscriber(
        whisper.decode_partial,
        whisper.decode,
        whisper._worker,
        SilenceEndpointer(whisper.silence_s),
        interval_s=NO_PARTIALS_S,
        decode_tail=decode_tail,
    )
    feed(transcriber, samples[: len(said_first) + round(0.3 * RATE)])
    assert transcriber.wait_idle(WAIT_S)
    feed(transcriber, samples[len(said_first) + round(0.3 * RATE) :])
    final = transcriber.finish()
    assert len(tails) == 1, "the release did not decode the tail"
    assert normalize(final) == normalize(whisper.decode(samples).text)
    engine_transcriber = whisper.start()
    engine_transcriber.close()
    assert engine_transcriber._decode_tail is not None, "the engine does not use the tail pass"


def test_no_tail_after_a_pause_decode_in_doubt() -> None:
    # It needed the 30 s window (a loop, low confidence): so would its tail.
    text, final, tail, _ = _paused_utterance(FakeDecode("after it"), pause_doubt="low confidence")
    assert tail.calls == []
    assert len(final.calls) == 2
    assert text == "whole"


# --- A pause decode that returns its doubt (Whisper's decode_pause) ----------


def _doubted_at_a_pause(then: np.ndarray) -> tuple[str, dict[str, FakeDecode], int]:
    """Speech, a pause whose decode is in doubt, then ``then``, release: the
    final text, the fake decoders by role, and the utterance's length."""
    fakes = {
        "pause": FakeDecode("at the pause", "low confidence"),
        "final": FakeDecode("whole"),
        "full": FakeDecode("on 30 s"),
        "tail": FakeDecode("after it"),
    }
    worker = DecodeWorker()
    transcriber = StreamingTranscriber(
        FakeDecode("partial"),
        fakes["final"],
        worker,
        SilenceEndpointer(1.0),
        interval_s=NO_PARTIALS_S,
        may_be_final=lambda decoded: not decoded.fallback,
        decode_tail=fakes["tail"],
        decode_pause=fakes["pause"],
        decode_full=fakes["full"],
    )
    first = np.concatenate([silence(0.1), noise(1.0, 1), silence(0.6)])
    try:
        feed(transcriber, first)
        assert transcriber.wait_idle(WAIT_S)
        # The doubt came back as is: nothing was decoded again during speech.
        assert len(fakes["pause"].calls) == 1
        assert fakes["final"].calls == [] and fakes["full"].calls == []
        feed(transcriber, then)
        text = transcriber.finish()
    finally:
        worker.close()
    return text, fakes, len(first) + len(then)


def test_a_pause_decode_in_doubt_with_only_silence_after_goes_to_30_s() -> None:
    text, fakes, total = _doubted_at_a_pause(silence(0.3))
    assert fakes["full"].calls == [(total, "")]
    assert fakes["final"].calls == [] and fakes["tail"].calls == []
    assert text == "on 30 s"


def test_speech_after_a_pause_decode_in_doubt_gets_the_usual_final_decode() -> None:
    text, fakes, total = _doubted_at_a_pause(noise(0.8, 2))
    assert fakes["final"].calls == [(total, "")]
    assert fakes["full"].calls == [] and fakes["tail"].calls == []
    assert text == "whole"
