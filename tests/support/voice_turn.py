"""The language model and voice that the end-to-end and pipeline tests only
*use*, and the checks that a real voice turn heard and answered right.

Whisper comes from `engines.shared_whisper` (one per test process). The
language model is loaded by a session fixture of each folder that uses it,
which closes it; the steady voice holds no thread or handle, so one per
process is kept here.

A real turn's words change with the CPU, so the checks compare what the code
guarantees: the turn's reply equals what the same model answers to the same
transcript on its own, and the transcript is within a word error bound of
the words said (the anchor that keeps two garbled outputs from agreeing).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from assistant.bench.wer import wer
from assistant.core.config import LlmConfig, TtsConfig
from assistant.pipeline.memory import Conversation
from assistant.stages.llm.llama import LlamaLanguageModel
from assistant.stages.tts.piper import PiperTextToSpeech
from tests.support.engines import MAX_WER_ONE_SENTENCE
from tests.support.models import require

log = logging.getLogger(__name__)

GREEDY = LlmConfig(temperature=0.0, seed=1)
"""The default language model, made deterministic."""


def load_greedy_llm(models_dir: Path) -> LlamaLanguageModel:
    """SmolLM2 with `GREEDY`; the caller closes it."""
    require(Path(models_dir) / GREEDY.model)
    return LlamaLanguageModel.from_config(GREEDY, Path(models_dir))


@functools.lru_cache(maxsize=1)
def steady_voice(models_dir: Path) -> PiperTextToSpeech:
    """The piper voice without its noise, so the same text gives the same
    samples every run (and a reply is transcribed back the same way)."""
    require(Path(models_dir) / "en_US-joe-medium.onnx")
    return PiperTextToSpeech.from_config(
        TtsConfig(noise_scale=0.0, noise_w_scale=0.0), Path(models_dir)
    )


def answer_alone(llm: LlamaLanguageModel, system_prompt: str, transcript: str) -> str:
    """What ``llm`` answers to ``transcript`` as the first turn of a fresh
    conversation, from an empty KV cache, outside any pipeline: the reference
    that a turn's generated reply must equal (the pipeline only adds the
    prefill, streaming and speech around the same call). Leaves the cache empty."""
    llm.reset()
    try:
        messages = Conversation(system_prompt, max_turns=4).messages(transcript)
        return "".join(llm.generate(messages)).strip()
    finally:
        llm.reset()


def assert_heard(said: str, transcript: str, bound: float = MAX_WER_ONE_SENTENCE) -> None:
    """``transcript`` is within ``bound`` word error rate of the words ``said``."""
    error = wer(said, transcript)
    log.debug("WER %.2f: heard %r for %r", error, transcript, said)
    assert error <= bound, f"heard {transcript!r} for {said!r}: WER {error:.2f} > {bound}"
