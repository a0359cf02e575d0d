"""The anchor for a real language model's answer: what any CPU's answer must
be, whatever its exact words.

Greedy output changes with the CPU, the thread count and the build, so a test
never asserts a model's words. It asserts a relation the code guarantees
(streamed == non-streamed, before == after, with == without prefill) and,
beside it, this anchor, so that two empty or garbled answers cannot compare
equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assistant.core.messages import Message

SPECIAL_TOKENS = (
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
    "<s>",
    "</s>",
    "<|eot_id|>",
    "<|start_header_id|>",
    "<start_of_turn>",
    "<end_of_turn>",
)
"""Chat markers and end tokens of the catalogue's model families: none may
reach a reply as text."""

MIN_ASCII_SHARE = 0.9
"""English is written in ASCII letters; an accent or two (a name such as
"L'Étoile") is allowed, another script is not."""


def assert_plain_answer(text: str, *, english: bool = True) -> None:
    """``text`` is a real answer: not blank, free of special tokens and of
    broken UTF-8 (U+FFFD), and made of letters. With ``english`` (the
    question was asked in English) at least `MIN_ASCII_SHARE` of its letters
    are ASCII; otherwise they only have to be Latin letters (Portuguese,
    Spanish)."""
    assert text.strip(), f"the answer is blank: {text!r}"
    found = [token for token in SPECIAL_TOKENS if token in text]
    assert not found, f"special tokens {found} in the answer {text!r}"
    assert "\ufffd" not in text, f"broken UTF-8 in the answer {text!r}"
    letters = [c for c in text if c.isalpha()]
    assert letters, f"no letters in the answer {text!r}"
    if english:
        share = sum(c.isascii() for c in letters) / len(letters)
    else:
        share = sum(c.isascii() or "\u00c0" <= c <= "\u024f" for c in letters) / len(letters)
    assert share >= MIN_ASCII_SHARE, (
        f"{share:.0%} of the letters are {'ASCII' if english else 'Latin'}: {text!r}"
    )


def non_streamed(llm: Any, messages: Sequence[Message]) -> str:
    """``llm``'s answer to ``messages`` through llama-cpp-python's own
    non-streamed completion (``Llama.create_completion``) on the same loaded
    model, with the backend's sampling and reply budget: the reference that
    `LlamaLanguageModel.generate` (its own sampling loop, stops and UTF-8
    joining) must equal under greedy sampling. Both start from an empty KV
    cache, so the prompt is read in the same batches; the cache is left
    empty."""
    from assistant.compose import LLAMA_SAMPLING

    return complete(llm, llm.tokenize(messages), **LLAMA_SAMPLING)


def complete(llm: Any, tokens: list[int], **sampling: Any) -> str:
    """The greedy completion of the prompt ``tokens`` by ``llm``'s loaded
    ``Llama``, in one non-streamed call, from an empty KV cache (left empty)."""
    llm.reset()
    try:
        result = llm._llama.create_completion(
            tokens, max_tokens=llm.config.max_tokens, temperature=0.0, stream=False, **sampling
        )
    finally:
        llm.reset()
    return result["choices"][0]["text"]
