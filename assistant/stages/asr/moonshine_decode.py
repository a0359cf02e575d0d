"""One Moonshine decode of a whole utterance, and the guards on its output.

Moonshine's encoder reads the raw 16 kHz waveform, so its cost follows the
audio's length (Whisper's always covers a 30 s window). Its merged decoder
takes its own key/value cache: the first step (``use_cache_branch`` false)
reads the encoder's output and returns the cross-attention cache too; every
later step feeds one token and the cache back. Decoding is greedy.

A draft makes it cheaper without changing it: the token ids of an earlier
decode of the same utterance (the audio so far, a moment ago) go through
the first step together, and the decoder keeps each one its own prediction
agrees with, up to the first it does not. So a final decode runs the
decoder a few times for the last words, not once per token: most of a
decode's time was those steps (a 6.8 s sentence: 58 ms encoding, 333 ms
for 30 steps).

Moonshine fails in three ways, each caught by a guard (`guard`):
- it runs on, so the tokens are capped in proportion to the audio
  (`TOKENS_PER_S`); reaching the cap means a loop;
- it repeats itself ("what time is it what time is it"): the repetition is
  cut (`cut_repetition`) and flagged;
- it says nothing on audio the endpointer calls speech.
A decode that fails one has `Decoded.fallback` set to the reason.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np

from assistant.stages.asr.hypotheses import PHRASE_WORDS, SHORT_REPEATS, repeated_ngram
from assistant.stages.asr.moonshine_tokens import END_ID, START_ID, MoonshineTokenizer
from assistant.stages.asr.whisper_window import MIN_VOICED_S, Decoded, voiced_s
from assistant.stages.audio.pcm import ASR_RATE_HZ

log = logging.getLogger(__name__)

TOKENS_PER_S = 6.5
"""Most tokens a second of speech holds: fast speech is about 4 (Moonshine's
own reference caps at 6 a second)."""
SLACK_TOKENS = 6
"""Added to the cap, so a one-word answer ("yes.") fits."""
MIN_AUDIO_S = 0.5
"""Shorter audio is padded with silence to this: the encoder's convolutions
need some input."""
LAYERS, HEADS, HEAD_DIM = 8, 8, 52
"""The base model's decoder: its cache inputs' shape."""


def token_limit(audio_s: float) -> int:
    """The most tokens ``audio_s`` seconds of audio may decode to."""
    return math.ceil(audio_s * TOKENS_PER_S) + SLACK_TOKENS


def cut_repetition(words: list[str]) -> tuple[list[str], str]:
    """``words`` up to the first loop (`hypotheses.repeated_ngram`: a word
    or pair three times running, a phrase of three words or more twice),
    keeping one copy of it, and the repeated words; (``words``, "") when
    there is none."""
    for end in range(2, len(words) + 1):
        gram = repeated_ngram(words[:end])
        if gram:
            n = len(gram.split())
            times = SHORT_REPEATS if n < PHRASE_WORDS else 2
            return words[: end - n * (times - 1)], gram
    return words, ""


def guard(text: str, n_tokens: int, ended: bool, samples: np.ndarray) -> tuple[str, str]:
    """(``text``, cut at a repetition; why it is not to be trusted, or "")."""
    audio_s = len(samples) / ASR_RATE_HZ
    words, gram = cut_repetition(text.split())
    if gram:
        return " ".join(words), f"{gram!r} repeated"
    if not ended:
        return text, f"{n_tokens} tokens reached the limit for {audio_s:.1f} s of audio"
    if not text:
        voiced = voiced_s(samples)
        if voiced >= MIN_VOICED_S:
            return text, f"no text from {voiced:.2f} s of speech"
    return text, ""


class MoonshineDecoder:
    """Greedy decodes with an encoder and a merged decoder (onnxruntime
    ``InferenceSession``s) and a `MoonshineTokenizer`. Calls may come from
    any thread but must not overlap (the engine holds a lock)."""

    def __init__(self, encoder: Any, decoder: Any, tokenizer: MoonshineTokenizer) -> None:
        self.encoder = encoder
        self.decoder = decoder
        self.tokenizer = tokenizer

    def decode(
        self,
        samples: np.ndarray,
        *,
        max_tokens: int | None = None,
        draft: tuple[int, ...] = (),
    ) -> Decoded:
        """Transcribe mono int16 ``samples`` at 16 kHz, with the guards;
        ``draft`` is an earlier decode's `Decoded.tokens` (see the module);
        ``max_tokens`` overrides `token_limit` (tests)."""
        started = time.perf_counter()
        audio_s = len(samples) / ASR_RATE_HZ
        limit = token_limit(audio_s) if max_tokens is None else max_tokens
        ids, logprob, ended = self.generate(samples, limit, draft)
        text, reason = guard(self.tokenizer.decode(ids), len(ids), ended, samples)
        elapsed = time.perf_counter() - started
        log.debug(
            "Moonshine decoded %.2f s of audio into %d tokens in %.0f ms%s",
            audio_s,
            len(ids),
            elapsed * 1000,
            f" ({reason})" if reason else "",
        )
        return Decoded(text, audio_s, 0, elapsed, reason, logprob, tokens=tuple(ids))

    def generate(
        self, samples: np.ndarray, limit: int, draft: tuple[int, ...] = ()
    ) -> tuple[list[int], float, bool]:
        """(token ids without the start and end ones, their average
        log-probability, whether the decoder ended before ``limit``)."""
        audio = samples.astype(np.float32) / 32768.0
        short = round(MIN_AUDIO_S * ASR_RATE_HZ) - len(audio)
        if short > 0:
            audio = np.concatenate([audio, np.zeros(short, np.float32)])
        hidden = self.encoder.run(None, {"input_values": audio[np.newaxis]})[0]
        empty = np.zeros((1, HEADS, 0, HEAD_DIM), np.float32)
        feeds: dict[str, Any] = {"encoder_hidden_states": hidden}
        for layer in range(LAYERS):
            for part in ("decoder", "encoder"):
                for kv in ("key", "value"):
                    feeds[f"past_key_values.{layer}.{part}.{kv}"] = empty
        ids: list[int] = []
        total, cached = 0.0, 0
        pending = [START_ID, *draft[:limit]]
        names = [o.name for o in self.decoder.get_outputs()]
        while True:
            feeds["input_ids"] = np.array([pending], np.int64)
            feeds["use_cache_branch"] = np.array([cached > 0])
            outputs = dict(zip(names, self.decoder.run(None, feeds), strict=True))
            kept = len(pending)
            for at, row in enumerate(outputs["logits"][0]):
                logits = row.astype(np.float64)
                token = int(np.argmax(logits))
                top = logits[token]
                total += float(top - (top + np.log(np.sum(np.exp(logits - top)))))
                if token == END_ID:
                    return ids, total / (len(ids) + 1), True
                if len(ids) == limit:
                    return ids, total / max(1, len(ids)), False
                ids.append(token)
                if at + 1 == kept or pending[at + 1] != token:
                    kept = at + 1  # the draft's later positions are not this decode's
                    break
            for layer in range(LAYERS):
                for kv in ("key", "value"):
                    present = outputs[f"present.{layer}.decoder.{kv}"]
                    feeds[f"past_key_values.{layer}.decoder.{kv}"] = np.ascontiguousarray(
                        present[:, :, : cached + kept]
                    )
                    if cached == 0:  # the cross-attention cache, computed once
                        past = f"past_key_values.{layer}.encoder.{kv}"
                        feeds[past] = outputs[f"present.{layer}.encoder.{kv}"]
            cached += kept
            pending = [ids[-1]]
