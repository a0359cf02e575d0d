"""The language-model stage's contract: chat messages in, streamed text out.

`LanguageModel` is what the pipeline and the skills use; the llama.cpp backend
is `assistant.stages.llm.llama`, and only the composition root picks it.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Protocol

from assistant.core.messages import Message


@dataclass(frozen=True)
class GenerationStats:
    """What one `LanguageModel.generate` or `generate_with_grammar` call cost."""

    prompt_tokens: int = 0
    """Tokens in the formatted prompt."""
    cached_tokens: int = 0
    """Prompt tokens reused from the KV cache, so not evaluated again."""
    generated_tokens: int = 0
    """Tokens sampled, including an end token that was not yielded."""
    first_token_s: float = 0.0
    """Seconds from the call to the first sampled token (prompt evaluation)."""
    total_s: float = 0.0
    """Seconds from the call to the end of generation."""
    stop: str = ""
    """Why it stopped: ``"end"`` (end token), ``"max_tokens"``, ``"cancelled"``
    (the cancel event), ``"closed"`` (the caller closed the iterator early) or
    ``"error"``."""

    @property
    def tokens_per_s(self) -> float:
        """Generation speed after the first token, in tokens per second."""
        span = self.total_s - self.first_token_s
        return (self.generated_tokens - 1) / span if self.generated_tokens > 1 and span > 0 else 0.0


class LanguageModel(Protocol):
    """A chat model that streams its reply.

    Implementations must provide every member below. The model is used by one
    thread at a time (llama.cpp's rule): the controller's LLM worker calls
    `generate`, `generate_with_grammar`, `fits` and `warm_up`; whoever
    created the model calls `close` once that worker has stopped.
    """

    name: str
    """Model file name, for display."""
    last_stats: GenerationStats
    """What the last `generate` or `generate_with_grammar` call cost; read it
    on the LLM worker thread after the iterator ends."""

    def generate(
        self, messages: Sequence[Message], cancel: threading.Event | None = None
    ) -> Generator[str, None, None]:
        """Yield the reply as text pieces, one per token, as they are sampled.

        Blocks the calling worker thread while computing each token. Stops at
        the model's end token (never yielded), at ``max_tokens``, before the
        next token once ``cancel`` is set (a prompt evaluation in progress
        stops too), or when the caller closes the generator. Oldest exchanges
        are dropped if the messages do not fit. Raises `LanguageModelError`
        when the model fails.
        """
        ...

    def generate_with_grammar(
        self,
        messages: Sequence[Message],
        gbnf: str,
        cancel: threading.Event | None = None,
        *,
        max_tokens: int = 64,
    ) -> Generator[str, None, None]:
        """Yield a greedy reply that llama.cpp's GBNF grammar ``gbnf`` allows.

        For tool calls: the model can only emit what the grammar allows. Same
        thread rule, cancellation and errors as `generate`, and it sets
        `last_stats` too. The chat's KV cache survives the call.
        """
        ...

    def prefill(self, messages: Sequence[Message], cancel: threading.Event | None = None) -> int:
        """Evaluate the start of the prompt ``messages`` would make into the
        KV cache now, so a later `generate` whose prompt begins the same way
        only evaluates the rest; return the tokens newly evaluated (0 when a
        model cannot, or they were cached already).

        For a speculative prefill while the user still speaks: ``messages``
        ends with the words heard so far. It evaluates up to the end of the
        last message's content, never the assistant's header, and never
        changes what `generate` answers. Blocks the calling thread; stops
        soon after ``cancel`` is set (keeping what it evaluated). Waits for
        a running `generate` to end first (one thread at a time). Raises
        `LanguageModelError` when the model fails.
        """
        ...

    def fits(self, messages: Sequence[Message]) -> bool:
        """Whether the prompt plus a full ``max_tokens`` reply fit the context."""
        ...

    def warm_up(self) -> None:
        """Evaluate the system prompt now so the first turn starts faster."""
        ...

    def close(self) -> None:
        """Free the model; safe to call twice."""
        ...
