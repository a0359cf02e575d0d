"""Each stage against its raw engine, and time to first token.

`BareLlama` and `BarePiper` are the libraries alone (llama-cpp-python's
``Llama``, piper's ``PiperVoice``), built from the stage's own file and
options, so a stage's ratio to its bare engine is the cost of the stage's
wrapping. The bench measures the llama backend: the ``llm`` passed here is
the `LlamaLanguageModel` that `compose.build_llm` returns (it needs
``path``, ``config``, ``n_threads``, ``tokenize`` and ``reset`` besides the
`LanguageModel` protocol). Everything blocks on the calling thread.
"""

from __future__ import annotations

import time
from typing import Any

from assistant.compose import LLAMA_SAMPLING, build_conversation
from assistant.core.config import Config
from assistant.core.messages import Message
from assistant.stages.llm.threads import batch_threads
from assistant.stages.tts.base import TextToSpeech

clock = time.perf_counter


class BareLlama:
    """A bare llama-cpp-python ``Llama`` on the stage's model file, threads
    and sampling (``llm.temperature`` and ``llm.seed`` too): the raw engine
    the LLM stage is compared with. The caller closes it."""

    def __init__(self, llm: Any) -> None:
        import llama_cpp

        self._llama_cpp = llama_cpp
        self.llama = llama_cpp.Llama(
            model_path=str(llm.path),
            n_ctx=llm.config.n_ctx,
            n_threads=llm.n_threads,
            n_threads_batch=batch_threads(llm.n_threads),
            verbose=False,
        )
        if llm.config.seed >= 0:
            self.llama.set_seed(llm.config.seed)
        self.temperature = llm.config.temperature
        self.vocab = llama_cpp.llama_model_get_vocab(self.llama.model)

    def tokens_per_s(self, prefix: list[int], prompt: list[int], limit: int) -> tuple[float, int]:
        """Evaluate ``prefix`` (as the stage's warm-up does), then sample at
        most ``limit`` tokens of ``prompt``'s reply, like the stage: tokens/s
        after the first token, and the tokens sampled (end token included)."""
        self.llama.reset()
        self.llama.eval(prefix)
        started = clock()
        first = 0.0
        n = 0
        for token in self.llama.generate(prompt, temp=self.temperature, **LLAMA_SAMPLING):
            n += 1
            if n == 1:
                first = clock() - started
            if n >= limit or self._llama_cpp.llama_vocab_is_eog(self.vocab, token):
                break
        span = clock() - started - first
        return ((n - 1) / span if n > 1 and span > 0 else 0.0), n

    def close(self) -> None:
        self.llama.close()


class BarePiper:
    """A bare ``PiperVoice`` on the stage's voice file, synthesis options and
    onnxruntime threads (``n_threads``; 0 is onnxruntime's own choice), so
    the comparison measures the stage, not the thread cap (the sweep does)."""

    def __init__(self, config: Config, n_threads: int = 0) -> None:
        import onnxruntime
        from piper import PiperVoice, SynthesisConfig

        path = config.models_dir / f"{config.tts.voice}.onnx"
        self.voice = PiperVoice.load(path, config_path=f"{path}.json")
        if n_threads:
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = n_threads
            self.voice.session = onnxruntime.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        self.syn_config = SynthesisConfig(
            length_scale=self.voice.config.length_scale * config.tts.length_scale,
            volume=config.tts.volume,
        )

    def rtf(self, text: str) -> float | None:
        """Real-time factor of synthesizing ``text``: seconds of compute per
        second of audio; None when there is no audio."""
        started = clock()
        samples = sum(
            len(c.audio_int16_array)
            for c in self.voice.synthesize(text, syn_config=self.syn_config)
        )
        audio_s = samples / self.voice.config.sample_rate
        return (clock() - started) / audio_s if audio_s else None


def llm_stage_tokens_per_s(llm: Any, messages: list[Message]) -> tuple[float, int]:
    """Tokens/s of ``llm.generate`` from the warm-up cache state, and the
    number of tokens it sampled."""
    llm.warm_up()
    for _ in llm.generate(messages):
        pass
    stats = llm.last_stats
    return stats.tokens_per_s, stats.generated_tokens


def tts_stage_rtf(tts: TextToSpeech, text: str) -> float | None:
    """Real-time factor of the TTS stage on ``text``; None when silent."""
    started = clock()
    audio_s = sum(c.duration_s for c in tts.synthesize(text))
    return (clock() - started) / audio_s if audio_s else None


def ttft_pair(llm: Any, config: Config, first: str, second: str) -> dict:
    """Time to first token of a two-turn conversation from an empty KV cache,
    and of the same first turn after warm-up, in ms."""
    llm.reset()
    conversation = build_conversation(config)
    reply = "".join(llm.generate(conversation.messages(first)))
    cold = llm.last_stats
    conversation.add(first, reply)
    for _ in llm.generate(conversation.messages(second)):
        pass
    follow = llm.last_stats
    llm.warm_up()
    one_turn = build_conversation(config)
    for _ in llm.generate(one_turn.messages(first)):
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
