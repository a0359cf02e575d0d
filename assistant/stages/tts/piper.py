"""`PiperTextToSpeech`: the `TextToSpeech` backend for piper voices.

Concurrency: `synthesize` blocks and runs on the caller's worker thread, one
call at a time per engine. piper serialises espeak-ng phonemization behind a
process-wide lock, so concurrent calls would not run in parallel anyway; the
ONNX inference itself runs on onnxruntime's own thread pool, capped by
``tts.n_threads`` (`tts_threads`) so it leaves the language model, which
generates while piper speaks, its cores. `set_volume`
may come from any thread. The engine holds no device: nothing to close.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.config import TtsConfig
from assistant.core.errors import ModelError, TextToSpeechError
from assistant.stages.audio.pcm import AudioChunk
from assistant.stages.llm.threads import tts_threads
from assistant.stages.tts import arena
from assistant.stages.tts.clauses import clause_parts
from assistant.stages.tts.sentences import split_sentences
from assistant.stages.tts.text import clean_for_speech

log = logging.getLogger(__name__)

_FIX = "run `./setup.sh` or `assistant models fetch`"


REST_AFTER_S = 5.0
"""Idle time after a `synthesize` call after which a kept arena is emptied
(`rest`): longer than the wait for a reply's next piece while the LLM
generates, and about as long as a reply takes to play, so a conversation
at a person's pace rests between turns. Turns back to back (the soak's)
keep the arena and its fragments: RSS levelled off 155 MiB higher there
(905-916 MiB against 749-764; peak 916 against 917). At 1 s it stood
90 MiB higher than emptied after every run, but rests collided with the
next piece: the bench read the stage at 1.10x bare piper (1.00x at 5 s;
benchmarks/README.md)."""
_RESTING: weakref.WeakSet[PiperTextToSpeech] = weakref.WeakSet()
"""Engines that may have a rest timer pending, for `cancel_all_rests`."""


@atexit.register
def cancel_all_rests() -> None:
    """Cancel every voice's pending rest and wait for those in progress: at
    exit, so no onnxruntime run is cut off by the interpreter shutting down,
    and before a memory measurement."""
    for engine in list(_RESTING):
        engine.cancel_rest()


MAX_RUN_CHARS = 80
"""Longest text piper synthesizes in one run: a longer sentence is cut at
its commas (`clause_parts`), its parts synthesized in turn and joined. A
run's peak memory grows with its audio (up to 2 MiB a character while the
LLM generates beside it): one run of a 200-character sentence took up to
409 MiB above the resident set and carried the appliance's soak to 1248
MiB; runs of at most 80 characters (about 4 s of speech) peaked at 193 on
the heap, 86 on the arena (`arena`).
At 80 most cuts fall on commas; at 60 most fell mid-clause, before a
phrase (benchmarks/README.md, "Peak memory of long replies")."""


class PiperTextToSpeech:
    """`TextToSpeech` with a piper voice (``<voice>.onnx`` plus ``<voice>.onnx.json``).

    The voice is loaded once, in the constructor, which is the only place
    that touches files. ``TtsConfig.length_scale`` multiplies the voice's own
    length scale (1.0 keeps the voice's pace); ``volume`` is a gain applied
    after piper's peak normalisation, clipped to full scale. ``language``
    (``Config.language``) is passed to `clean_for_speech`: only English
    numbers are spelled out as words.
    """

    def __init__(self, config: TtsConfig, model_path: Path, language: str = "en") -> None:
        model_path = Path(model_path)
        config_path = Path(f"{model_path}.json")
        for path in (model_path, config_path):
            if not path.is_file():
                raise ModelError(f"piper voice file {path} is missing; {_FIX}")
        try:
            voice_config = json.loads(config_path.read_text(encoding="utf-8"))
            rate = int(voice_config["audio"]["sample_rate"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(
                f"piper voice config {config_path} is corrupt ({type(exc).__name__}: {exc}); "
                f"delete it and {_FIX}"
            ) from None
        try:
            from piper import PiperVoice, SynthesisConfig
            from piper.config import PiperConfig
        except ImportError:
            raise TextToSpeechError(
                "piper-tts is not installed; run `pip install piper-tts` or ./setup.sh"
            ) from None
        self.keeps_arena = config.arena != "per-run"
        """``tts.arena``: "auto" is "kept" here (the hub resolves it first)."""
        started = time.monotonic()
        try:
            self.n_threads = tts_threads(config.n_threads)
            session = arena.load_session(model_path, self.n_threads, self.keeps_arena)
            self._voice = PiperVoice(config=PiperConfig.from_dict(voice_config), session=session)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(
                f"piper voice {model_path} failed to load ({type(exc).__name__}); "
                f"the file may be corrupt: delete it and {_FIX}"
            ) from None
        self._syn_config: Any = SynthesisConfig(
            length_scale=self._voice.config.length_scale * config.length_scale,
            noise_scale=config.noise_scale if config.noise_scale >= 0 else None,
            noise_w_scale=config.noise_w_scale if config.noise_w_scale >= 0 else None,
            volume=config.volume,
        )
        self.sample_rate_hz: int = self._voice.config.sample_rate or rate
        """Rate of every chunk, in Hertz: the voice's."""
        self.language = language
        self._run_lock = threading.Lock()
        """Serializes the session's runs and the emptying of its arena."""
        self._lock = threading.Lock()
        """Guards ``_busy`` and ``_rest_timer``; never held during a run."""
        self._rest_timer: threading.Timer | None = None
        self._busy = 0
        """`synthesize` calls in progress; the arena is emptied only at 0."""
        self.name: str = f"piper:{model_path.name.removesuffix('.onnx')}"
        """``piper:<voice>``, for logs and ``assistant doctor``."""
        log.info(
            "loaded piper voice %s (%d Hz, %d thread(s)) in %.2f s",
            model_path,
            self.sample_rate_hz,
            self.n_threads,
            time.monotonic() - started,
        )

    @classmethod
    def from_config(
        cls, config: TtsConfig, models_dir: Path, language: str = "en"
    ) -> PiperTextToSpeech:
        """Load ``<models_dir>/<config.voice>.onnx``."""
        return cls(config, Path(models_dir) / f"{config.voice}.onnx", language)

    def synthesize(self, text: str, cancel: threading.Event | None = None) -> Iterator[AudioChunk]:
        """See `TextToSpeech.synthesize`.

        Each sentence is synthesized separately, so the first chunk is ready
        after one sentence's work and a cancel takes effect within one
        sentence (within one part of a long one); a sentence longer than
        `MAX_RUN_CHARS` is synthesized in parts cut at its commas, and those
        and piper's own espeak sub-splits are joined back into one chunk per
        sentence. Once the voice has been idle `REST_AFTER_S`, a timer
        thread empties onnxruntime's arena and the heap, then warms the
        buffers of a first piece (`rest`).
        """
        self._hold()
        try:
            for sentence in split_sentences(clean_for_speech(text, self.language)):
                if cancel is not None and cancel.is_set():
                    return
                samples = self._synthesize_sentence(sentence, cancel)
                if cancel is not None and cancel.is_set():
                    return
                if len(samples):
                    yield AudioChunk(samples, self.sample_rate_hz)
        finally:
            self._release_later()

    def _hold(self) -> None:
        with self._lock:
            self._busy += 1
            if self._rest_timer is not None:
                self._rest_timer.cancel()
                self._rest_timer = None

    def _release_later(self) -> None:
        with self._lock:
            self._busy -= 1
            # Emptied after every run, the arena has nothing left to give
            # back: a rest would only run the model once more.
            if self.keeps_arena and self._busy == 0 and self._rest_timer is None:
                self._rest_timer = threading.Timer(REST_AFTER_S, self.rest)
                self._rest_timer.name = "piper-rest"
                self._rest_timer.daemon = True
                self._rest_timer.start()
                _RESTING.add(self)

    def cancel_rest(self, timeout_s: float = 5.0) -> None:
        """Cancel a pending rest and wait up to ``timeout_s`` for one in
        progress; any thread. The next reply schedules one again."""
        with self._lock:
            if self._rest_timer is not None:
                self._rest_timer.cancel()
                self._rest_timer = None
        if self._run_lock.acquire(timeout=timeout_s):
            self._run_lock.release()

    def rest(self) -> None:
        """Empty onnxruntime's arena and give the heap's free pages back, so
        an idle voice does not keep its runs' buffers; then synthesize
        `arena.WARM_TEXT`, so a first piece's buffers are ready. Skipped while
        a `synthesize` call is in progress; a call that starts meanwhile
        waits for it, but not for the warm-up, which it makes needless (the
        warm-up is tens to hundreds of ms of one core). Any thread: the
        rest timer's, or the caller's."""
        with self._lock:
            if self._rest_timer is not None:
                self._rest_timer.cancel()
                self._rest_timer = None
            if self._busy:
                return
        started = time.monotonic()
        with self._run_lock:
            try:
                if self.keeps_arena:  # empty it, then warm a first piece's buffers
                    arena.shrink_arena(self._voice)
                    if not self._busy:  # a piece waiting for the lock warms them itself
                        warm = self._voice.synthesize(arena.WARM_TEXT, syn_config=self._syn_config)
                        for _ in warm:
                            pass
                arena.trim_heap()  # last, so the warm-up's free pages go too
            except Exception as exc:  # only housekeeping: the next reply reports real errors
                log.warning("piper could not empty its memory arena: %s", exc)
                return
        log.debug("emptied piper's arena in %.0f ms", (time.monotonic() - started) * 1000)

    def _synthesize_sentence(
        self, sentence: str, cancel: threading.Event | None = None
    ) -> np.ndarray:
        """One sentence's audio, its parts (`MAX_RUN_CHARS`) joined; what
        was ready when ``cancel`` was set."""
        started = time.monotonic()
        parts = clause_parts(sentence, MAX_RUN_CHARS)
        audio = []
        for part in parts:
            if cancel is not None and cancel.is_set():
                break
            audio.extend(self._run(part))
        samples = np.concatenate(audio) if audio else np.zeros(0, dtype=np.int16)
        log.debug(
            "synthesized %d chars in %d run(s) -> %.2f s audio in %.2f s",
            len(sentence),
            len(parts),
            len(samples) / self.sample_rate_hz,
            time.monotonic() - started,
        )
        return samples.astype(np.int16, copy=False)

    def _run(self, text: str) -> list[np.ndarray]:
        """piper on ``text`` (its espeak sub-splits one run each), then the
        heap's free pages back (`_bound_free_memory`) before the next run."""
        try:
            with self._run_lock:
                audio = [
                    chunk.audio_int16_array
                    for chunk in self._voice.synthesize(text, syn_config=self._syn_config)
                ]
                if not self.keeps_arena:
                    arena.trim_heap()
        except Exception as exc:  # espeak and onnxruntime raise untyped errors
            raise TextToSpeechError(
                f"piper failed on {text[:40]!r} ({type(exc).__name__}: {exc})"
            ) from None
        return audio

    def set_volume(self, gain: float) -> None:
        """Gain for the sentences synthesized from now on (1.0 keeps piper's
        full-scale level); any thread. Voice commands change it."""
        self._syn_config.volume = gain

    def warm_up(self) -> None:
        """Synthesize one word so onnxruntime's lazy setup is done before the first reply."""
        started = time.monotonic()
        for _ in self.synthesize("Ready."):
            pass
        self.rest()
        log.info("warmed up %s in %.2f s", self.name, time.monotonic() - started)
