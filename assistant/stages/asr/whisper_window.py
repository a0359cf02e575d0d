"""Whisper decodes on an encoder window cut to the audio ("audio context").

faster-whisper always runs the encoder on 30 s of features, padded with
silence, which costs most of a short utterance's decode. CTranslate2's
Whisper encoder also takes fewer frames: `ShortWindowDecoder` hands it the
utterance's features plus a margin, then decodes greedily like
``WhisperModel.transcribe(beam_size=1, without_timestamps=True)``. A window
shorter than the audio makes Whisper loop, so the window is never shorter
than the audio, and an output that looks like a loop (`degenerate_reason`)
is decoded again the usual way, on the full 30 s window.

A short window is not free of errors, so a short decode can be held to a
confidence floor (``min_logprob``, on its average token log-probability):
below it, the utterance is decoded again on the full window, as for a loop.
The floor comes from 126 clips (30 real recordings, 32 piper questions,
their 8 kHz copies, 32 espeak-ng ones; ``benchmarks/whisper_floor.py``):
the short window's words differed from the 30 s window's on 19. 30 s was
better on 5 below -0.6 (espeak garbles, "Romeo, O' and Juliet") and by a
word or two on 5 above it, the short window on 6 above it; and real
short commands ("rear right", "ten of clubs") sit at -0.3 to -0.84 with
the same or better words than 30 s. A floor of -0.6 gave WER 0.045 with 8
decodes of 30 s; the former -0.3 and a 30 s decode of all 8 kHz audio gave
0.045 with 66. A short
window's "no speech" is checked on the full window too, but only when the
endpointer heard `MIN_VOICED_S` of speech: noise pays no 30 s decode.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.core.errors import SpeechToTextError
from assistant.stages.asr.endpoint import SilenceEndpointer
from assistant.stages.asr.hypotheses import degenerate_reason
from assistant.stages.audio.pcm import ASR_RATE_HZ

log = logging.getLogger(__name__)

FULL_WINDOW_S = 30
"""Whisper's own window: longer audio is always decoded the usual way."""
MAX_TOKENS_PER_S = 10.0
"""Fast speech is about 6 tokens a second; more than this is a loop."""
SLACK_TOKENS = 10
SILENCE_AFTER_S = 0.3
"""Digital silence put after the audio of a short-window decode: with the
last word right at the end of the audio, the short window can misread it
("capital of friends"). Over the 64 clips it took the word error rate from
0.057 to 0.053, and from 0.074 to 0.070 with no silence around the speech."""
NARROW_BAND_HZ = 4000
NARROW_BAND_SHARE = 1e-4
"""Audio with less than this share of its power above `NARROW_BAND_HZ` was
recorded at 8 kHz (a telephone, a Bluetooth headset's hands-free mic) and
resampled: about 1e-8 for speech and 2e-5 for white noise here, against
9e-4 or more for the 64 test clips. Such audio used to get the 30 s window
always. With the floor instead, 32 8 kHz piper copies read WER 0.021
(0.025 all on 30 s), and 13 real 8 kHz recordings 0.013 (0.007: one word,
"say" for "save"), for 30 s decodes on 2 clips of 45 instead of 45; so
`narrow_band` only sorts clips for the benchmarks now."""
# faster-whisper's thresholds, so a short-window decode reads silence as it does.
NO_SPEECH_PROB = 0.6
LOG_PROB_THRESHOLD = -1.0
MIN_VOICED_S = 0.3
"""A short window's "no speech" verdict on audio with at least this much
speech in it (to the energy endpointer, `voiced_s`) is checked on the full
window; on less (a click, a cough, steady noise) it stands, so noise costs
no 30 s decode."""


@contextlib.contextmanager
def _failing_as_stt(samples: np.ndarray) -> Iterator[None]:
    """CTranslate2 raises untyped errors; the turn reports a stage error."""
    try:
        yield
    except Exception as exc:
        raise SpeechToTextError(f"Whisper failed to decode {len(samples)} samples: {exc}") from None


@dataclass(frozen=True)
class Decoded:
    """One decode of a whole utterance."""

    text: str
    """The transcript, stripped."""
    audio_s: float
    """Length of the audio decoded, in seconds."""
    window_s: int
    """Encoder window in seconds (`FULL_WINDOW_S` for the usual decode)."""
    elapsed_s: float
    """Wall time of the decode, in seconds."""
    fallback: str = ""
    """Why the window's output looked wrong (a loop, or below the confidence
    floor), or why the usual decode was used; "" if neither."""
    logprob: float = 0.0
    """Average log-probability of the short window's tokens; 0.0 for the usual
    decode and for silence, where faster-whisper applies its own thresholds."""
    no_speech: bool = False
    """The short window judged the audio silent (faster-whisper's thresholds)
    and ``text`` is ""; with `MIN_VOICED_S` of voiced audio that verdict is
    a `fallback` reason, not a transcript."""
    tokens: tuple[int, ...] = ()
    """The text's token ids, where the engine can take them back as the
    next decode's draft (Moonshine); () otherwise."""


def narrow_band(samples: np.ndarray) -> bool:
    """Whether 16 kHz ``samples`` hold next to no power above 4 kHz
    (`NARROW_BAND_SHARE`); False for digital silence."""
    power = np.abs(np.fft.rfft(samples.astype(np.float32))) ** 2
    total = float(power.sum())
    cut = round(len(power) * NARROW_BAND_HZ * 2 / ASR_RATE_HZ)
    return total > 0.0 and float(power[cut:].sum()) < NARROW_BAND_SHARE * total


def voiced_s(samples: np.ndarray) -> float:
    """Seconds of speech in ``samples`` to the endpointer the transcribers
    use (`SilenceEndpointer`: levels on fixed frames, so the same audio
    gives the same span however it was fed)."""
    endpointer = SilenceEndpointer()
    endpointer.update(samples)
    return endpointer.speech_s


def window_s(audio_s: float, margin_s: float, min_window_s: int) -> int:
    """Encoder window for ``audio_s`` of audio: the audio plus ``margin_s``,
    rounded up to whole seconds, at least ``min_window_s``, at most 30."""
    return max(min_window_s, min(FULL_WINDOW_S, math.ceil(audio_s + margin_s)))


def transcribe_full(model: Any, samples: np.ndarray, language: str | None, prompt: str = "") -> str:
    """The usual faster-whisper decode (30 s windows, any length), continuing
    ``prompt`` (text said before ``samples``) if given."""
    audio = samples.astype(np.float32) / 32768.0
    segments, _info = model.transcribe(
        audio,
        language=language,
        beam_size=1,
        vad_filter=False,
        condition_on_previous_text=False,
        initial_prompt=prompt or None,
        # Past 30 s, timestamps are what lets faster-whisper move on at a
        # segment's end; without them it jumps a whole window and, on dense
        # speech, drops sentences or loops through its temperature fallbacks.
        without_timestamps=len(samples) <= FULL_WINDOW_S * ASR_RATE_HZ,
    )
    # transcribe() is lazy: the decode happens while iterating.
    return "".join(segment.text for segment in segments).strip()


def _unheard(window: int, voiced: float) -> str:
    """Why a short window's "no speech" is not to be trusted, or ""."""
    if voiced < MIN_VOICED_S:
        return ""
    return f"no speech on the {window} s window, yet {voiced:.2f} s voiced"


def _doubt(logprob: float, min_logprob: float) -> str:
    """Why a short window's transcript is not to be trusted, or ""."""
    if logprob < min_logprob:
        return f"average log-probability {logprob:.2f} < {min_logprob}"
    return ""


class ShortWindowDecoder:
    """Decodes whole utterances of mono int16 at 16 kHz with ``model`` (a
    faster-whisper ``WhisperModel``).

    ``language`` None detects it on each decode. ``margin_s`` and
    ``min_window_s`` size the window (`window_s`); 0 for ``margin_s`` would be
    too tight: Whisper wants some silence after the last word. Calls may come
    from any thread but must not overlap; `SpeechToTextError` if the engine
    fails.
    """

    def __init__(
        self, model: Any, language: str | None, *, margin_s: float = 2.0, min_window_s: int = 5
    ) -> None:
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self.model = model
        self.language = language
        self.margin_s = margin_s
        self.min_window_s = min_window_s
        self._tokenizers: dict[str | None, Any] = {}
        self._tokenizer_class = Tokenizer
        self._suppressed = get_suppressed_tokens

    def decode(
        self,
        samples: np.ndarray,
        min_window_s: int | None = None,
        *,
        fall_back: bool = True,
        min_logprob: float | None = None,
        prompt: str = "",
    ) -> Decoded:
        """Transcribe ``samples``: on a window of `window_s` (``min_window_s``
        overrides the decoder's) when they fit in 30 s, else the usual way.
        An output that looks like a loop is decoded again the usual way, or
        with ``fall_back`` False returned as is, with `Decoded.fallback` set.
        With ``min_logprob``, so is an output of a window shorter than 30 s
        with an average log-probability below it.
        A short window's "no speech" stands for audio with less than
        `MIN_VOICED_S` of speech in it; with more, it is a fallback too.
        ``prompt`` is text said just before ``samples`` (faster-whisper's
        ``initial_prompt``): a tail decode continues it."""
        started = time.perf_counter()
        audio_s = len(samples) / ASR_RATE_HZ
        minimum = self.min_window_s if min_window_s is None else min_window_s
        logprob, silent = 0.0, False
        with _failing_as_stt(samples):
            if audio_s > FULL_WINDOW_S:
                text, window = self._full(samples, prompt), FULL_WINDOW_S
                fallback = "longer than 30 s"
            else:
                window = window_s(audio_s, self.margin_s, minimum)
                text, fallback, logprob, silent = self._short(samples, window, prompt)
                if silent and window < FULL_WINDOW_S:
                    fallback = _unheard(window, voiced_s(samples))
                if not fallback and min_logprob is not None and window < FULL_WINDOW_S:
                    fallback = _doubt(logprob, min_logprob)
                if fallback and fall_back:
                    log.debug("Whisper %d s window output dropped: %s", window, fallback)
                    text, window = self._full(samples, prompt), FULL_WINDOW_S
                    logprob, silent = 0.0, False
        elapsed = time.perf_counter() - started
        log.debug(
            "Whisper decoded %.2f s of audio on a %d s window in %.0f ms%s",
            audio_s,
            window,
            elapsed * 1000,
            f" ({fallback})" if fallback else "",
        )
        return Decoded(text, audio_s, window, elapsed, fallback, logprob, silent)

    def decode_full(self, samples: np.ndarray, reason: str) -> Decoded:
        """The usual decode of ``samples`` (Whisper's 30 s window), as `decode`
        falls back to, for audio whose short window is known to be in doubt
        (``reason``, kept in `Decoded.fallback`)."""
        started = time.perf_counter()
        with _failing_as_stt(samples):
            text = self._full(samples)
        elapsed = time.perf_counter() - started
        log.debug(
            "Whisper decoded %.2f s on 30 s in %.0f ms (%s)",
            len(samples) / ASR_RATE_HZ,
            elapsed * 1000,
            reason,
        )
        return Decoded(text, len(samples) / ASR_RATE_HZ, FULL_WINDOW_S, elapsed, reason)

    def _full(self, samples: np.ndarray, prompt: str = "") -> str:
        if prompt:
            return transcribe_full(self.model, samples, self.language, prompt)
        return transcribe_full(self.model, samples, self.language)

    def _tokenizer(self, language: str) -> Any:
        if language not in self._tokenizers:
            self._tokenizers[language] = self._tokenizer_class(
                self.model.hf_tokenizer,
                self.model.model.is_multilingual,
                task="transcribe",
                language=language,
            )
        return self._tokenizers[language]

    def _short(
        self, samples: np.ndarray, window: int, prompt_text: str = ""
    ) -> tuple[str, str, float, bool]:
        """(text, why it looks degenerate or "", average log-probability,
        whether faster-whisper's thresholds call it silence: then "", "", 0.0)."""
        import ctranslate2

        model = self.model
        extractor = model.feature_extractor
        audio = samples.astype(np.float32) / 32768.0
        audio = np.concatenate([audio, np.zeros(round(SILENCE_AFTER_S * ASR_RATE_HZ), np.float32)])
        features = extractor(audio)
        frames = window * extractor.sampling_rate // extractor.hop_length
        # Padded with zero features, as faster-whisper pads to its 30 s.
        features = features[:, :frames]
        features = np.pad(features, ((0, 0), (0, frames - features.shape[1])))
        encoded = model.model.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features[np.newaxis])),
            to_cpu=False,
        )
        tokenizer = self._tokenizer(self._language(encoded))
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        if prompt_text:
            # As faster-whisper's initial_prompt: previous text, then the task.
            previous = tokenizer.encode(" " + prompt_text.strip())
            prompt = [tokenizer.sot_prev, *previous[-(model.max_length // 2 - 1) :], *prompt]
        audio_s = len(samples) / ASR_RATE_HZ
        token_limit = min(
            math.ceil(audio_s * MAX_TOKENS_PER_S) + SLACK_TOKENS, model.max_length - len(prompt)
        )
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=1,
            max_length=len(prompt) + token_limit,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppressed(tokenizer, [-1]),
        )[0]
        tokens = result.sequences_ids[0]
        text = tokenizer.decode(tokens).strip()
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        if result.no_speech_prob > NO_SPEECH_PROB and avg_logprob < LOG_PROB_THRESHOLD:
            return "", "", 0.0, True
        return text, degenerate_reason(text, len(tokens), token_limit), avg_logprob, False

    def _language(self, encoded: Any) -> str:
        if self.language:
            return self.language
        if not self.model.model.is_multilingual:
            return "en"
        token, _probability = self.model.model.detect_language(encoded)[0][0]
        return token[2:-2]
