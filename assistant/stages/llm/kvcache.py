"""llama.cpp's KV cache, for `LlamaLanguageModel`: what a prompt reuses, a
speculative prefill, and keeping the chat's cache across a tool call.

Every function takes the llama-cpp-python `Llama` (and its module) and runs
on the caller's thread, which must hold the model's lock: llama.cpp lets one
thread at a time use a context.

`Llama.generate` compares a new prompt with the tokens it evaluated last
(``input_ids[:n_tokens]``) and evaluates only what follows their longest
common prefix. A prefill uses that: it evaluates the start of a prompt early
(the conversation and the words heard so far), so the real prompt later only
pays for the rest.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from assistant.stages.llm.turnstile import Turn, Turnstile

log = logging.getLogger(__name__)

PREFILL_CHUNK = 16
"""Tokens per decode in a prefill. A cancel is checked between chunks (and
llama.cpp's abort callback stops one mid-way), so a prefill delays the real
prompt by at most about one chunk; a partial transcript grows by a few
tokens at a time anyway, so bigger batches would gain little."""


def common_prefix(llama: Any, tokens: Sequence[int]) -> int:
    """How many of ``tokens`` start the tokens ``llama`` evaluated last."""
    evaluated = llama.input_ids[: llama.n_tokens].tolist()
    common = 0
    for old, new in zip(evaluated, tokens, strict=False):
        if old != new:
            break
        common += 1
    return common


def cached_prefix(llama: Any, tokens: Sequence[int]) -> int:
    """Prompt tokens llama.cpp will reuse from its KV cache: the common
    prefix with what it evaluated last, less one it must re-evaluate when
    the whole prompt is cached (it needs fresh logits to sample from)."""
    common = common_prefix(llama, tokens)
    return min(common, len(tokens) - 1) if common else 0


def prefill(llama: Any, tokens: Sequence[int], cancel: threading.Event | None) -> int:
    """Evaluate ``tokens`` into the KV cache after their common prefix with
    what is cached; return how many were newly evaluated.

    Stops between chunks of `PREFILL_CHUNK` once ``cancel`` is set; what
    was evaluated by then stays cached. Tokens already cached (``tokens`` is
    a prefix of the cache) cost nothing and the cache is left as it is.
    Raises what `Llama.eval` raises when not cancelled.
    """
    tokens = list(tokens)
    common = common_prefix(llama, tokens)
    if common == len(tokens):
        return 0
    # Drop the cached tokens after the common prefix: `eval` appends at
    # `n_tokens` and removes the KV cells from there.
    llama.n_tokens = common
    done = 0
    for start in range(common, len(tokens), PREFILL_CHUNK):
        if cancel is not None and cancel.is_set():
            break
        chunk = tokens[start : start + PREFILL_CHUNK]
        try:
            llama.eval(chunk)
        except RuntimeError:
            if cancel is not None and cancel.is_set():
                break  # the abort callback stopped the decode: nothing of it counts
            raise
        done += len(chunk)
    return done


@dataclass
class SavedContext:
    """A copy of the context state (KV cache) and the tokens it holds."""

    n_tokens: int
    input_ids: Any
    state: Any
    size: int


def save_context(llama: Any, llama_cpp: Any) -> SavedContext:
    """Copy the context state: 2-5 ms here for a short chat, 27-33 ms at
    1545 tokens; `Llama.save_state` is 10x slower because it also copies
    the logits of every evaluated token."""
    n = llama.n_tokens
    size = llama_cpp.llama_state_get_size(llama.ctx) if n else 0
    state = (ctypes.c_uint8 * size)()
    if size:
        size = llama_cpp.llama_state_get_data(llama.ctx, state, size)
    return SavedContext(n, llama.input_ids[:n].copy(), state, size)


def restore_context(llama: Any, llama_cpp: Any, saved: SavedContext) -> bool:
    """Put back a `save_context` copy (6-7 ms here): the KV cache and
    ``n_tokens`` as they were. False (and the cache emptied) if llama.cpp
    refused it."""
    if not saved.n_tokens:
        llama.reset()
        return True
    if saved.size and llama_cpp.llama_state_set_data(llama.ctx, saved.state, saved.size) == (
        saved.size
    ):
        llama.input_ids[: saved.n_tokens] = saved.input_ids
        llama.n_tokens = saved.n_tokens
        return True
    llama.reset()
    return False


@contextlib.contextmanager
def context_kept(llama: Any, llama_cpp: Any) -> Iterator[None]:
    """Save the context state (KV cache) now and restore it on exit.

    A tool prompt shares no prefix with the chat, so it would evict the
    chat from the KV cache and the next chat turn would read the whole
    conversation again (2.3 s for 173 tokens on the dev VM).
    """
    saved = save_context(llama, llama_cpp)
    try:
        yield
    finally:
        if restore_context(llama, llama_cpp, saved):
            # One token short: the next prompt re-evaluates its last
            # token for fresh logits instead of sampling the tool's.
            llama.n_tokens = max(0, saved.n_tokens - 1)
        else:
            log.warning("could not restore the chat context after a tool call")


def step_aside(
    llama: Any,
    llama_cpp: Any,
    lock: threading.RLock,
    turns: Turnstile,
    turn: Turn,
    cancel: threading.Event | None,
) -> bool:
    """Let the replies waiting at ``turns`` go first, then go on where this
    one stopped: its context is saved and put back, with its sampler
    (llama-cpp-python keeps the running one on the `Llama`, and the others
    replace it). The caller holds ``lock`` once. False when ``cancel`` was
    set while waiting; `RuntimeError` if llama.cpp refused the context."""
    saved = save_context(llama, llama_cpp)
    sampler = getattr(llama, "_sampler", None)
    lock.release()
    turns.leave()
    turn.inside = False
    try:
        turn.inside = turns.enter(cancel)
    finally:
        lock.acquire()
    if not turn.inside:
        return False
    if not restore_context(llama, llama_cpp, saved):
        raise RuntimeError("llama.cpp refused the saved context")
    if sampler is not None:
        llama._sampler = sampler
    turn.steps += 1
    return True
