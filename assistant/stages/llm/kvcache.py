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
import mmap
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.stages.llm.turnstile import Turn, Turnstile

log = logging.getLogger(__name__)

PREFILL_CHUNK = 16
"""Tokens per decode in a prefill. A cancel is checked between chunks (and
llama.cpp's abort callback stops one mid-way), so a prefill delays the real
prompt by at most about one chunk; a partial transcript grows by a few
tokens at a time anyway, so bigger batches would gain little."""


def common_prefix(llama: Any, tokens: Sequence[int]) -> int:
    """How many of ``tokens`` start the tokens ``llama`` evaluated last."""
    return _shared(llama.input_ids[: llama.n_tokens], tokens)


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


def save_context(llama: Any, llama_cpp: Any, spares: list | None = None) -> SavedContext:
    """Copy the context state: 2-5 ms here for a short chat, 27-33 ms at
    1545 tokens; `Llama.save_state` is 10x slower because it also copies
    the logits of every evaluated token. With ``spares``, the copy goes in
    the smallest spare buffer it fits, or a new one rounded up to
    `SHELF_BLOCK` (`mapped`), so that a shelf's buffers are reused."""
    n = llama.n_tokens
    size = llama_cpp.llama_state_get_size(llama.ctx) if n else 0
    fits = sorted((len(b), i) for i, b in enumerate(spares or []) if len(b) >= size)
    if fits:
        state = spares.pop(fits[0][1])
    elif spares is not None:
        state = mapped(-(-size // SHELF_BLOCK) * SHELF_BLOCK)
    else:
        state = (ctypes.c_uint8 * size)()
    if size:
        size = llama_cpp.llama_state_get_data(llama.ctx, state, size)
    return SavedContext(n, llama.input_ids[:n].copy(), state, size)


def mapped(size: int) -> Any:
    """A ctypes buffer of ``size`` bytes in pages of its own (an anonymous
    mapping): only the pages written become resident, and a dropped buffer
    goes back to the system at once. Taken from the heap, the shelf's
    buffers of several MB made the hub load test's RSS step by 50-70 MB
    between turns with 8 replies at once (2 of 5 runs failed its bound)."""
    return (ctypes.c_uint8 * size).from_buffer(mmap.mmap(-1, max(size, 1)))


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
    shelf: ContextShelf,
) -> bool:
    """Let the replies waiting at ``turns`` go first, then go on where this
    one stopped: its context is saved (in one of the ``shelf``'s spare
    buffers) and put back, with its sampler (llama-cpp-python keeps the
    running one on the `Llama`, and the others replace it). The caller
    holds ``lock`` once. False when ``cancel`` was set while waiting;
    `RuntimeError` if llama.cpp refused the context."""
    saved = save_context(llama, llama_cpp, shelf.spares)
    shelf.aside = True  # the next prompt must not shelve this half reply
    sampler = getattr(llama, "_sampler", None)
    lock.release()
    turns.leave()
    turn.inside = False
    try:
        turn.inside = turns.enter(cancel, opening=False)  # behind every new reply
    finally:
        lock.acquire()
    if not turn.inside:
        shelf.spare(saved)
        return False
    restored = restore_context(llama, llama_cpp, saved)
    shelf.spare(saved)
    if not restored:
        raise RuntimeError("llama.cpp refused the saved context")
    if sampler is not None:
        llama._sampler = sampler
    turn.steps += 1
    return True


SHELF_SIZE = 8
"""Conversations kept (a hub's `LLM_TURNS`): 23 KB a token for SmolLM2, so
a few MB each."""
SHELF_BLOCK = 4 << 20
"""Shelf buffers grow in steps of this many bytes, so one outgrows its
buffer only every ~180 tokens of SmolLM2; the pages never written cost
no memory (`mapped`)."""
SHELF_SPARES = 2
"""Empty buffers kept for the next copies: enough for a step aside and a
shelving in a row. Each holds the pages of the largest context it held, so
more would only keep memory that no conversation uses."""
SHELF_MIN_GAIN = 16
"""Prompt tokens a shelved context must spare beyond what the KV cache
holds already to be worth putting back (6-30 ms; 16 tokens take ~120 ms to
read on 2 idle cores here, several times that under load). At 32, a
satellite's first exchange (a question and a one-sentence answer, ~25
tokens) was never shelved, and eight replies read theirs again."""


@dataclass
class ContextShelf:
    """The contexts of the last ``size`` conversations that left the KV
    cache. A hub's clients take turns on one context, so each reply would
    otherwise read its whole conversation again after another client's
    (8 clients with 300-token histories: seconds of prefill before the
    last one's first word). A new prompt gets back the shelved context it
    shares the longest prefix with. Used under the model's lock.

    A ``shared`` shelf (the hub's: `HubServices` sets it) also shelves a
    conversation that a prompt is about to overwrite, so clients who only
    ever speak one after another keep their contexts too. An appliance's
    (one user, whose memory drops its oldest exchange turn after turn)
    never does."""

    size: int
    saved: list[SavedContext] = field(default_factory=list)
    shared: bool = False
    """Several clients' conversations take turns on the model (a hub)."""
    aside: bool = False
    """The cache holds a reply that stepped aside (`step_aside` saved it):
    shelving it too would push a waiting client's context off the shelf."""
    spares: list = field(default_factory=list)
    """Buffers of contexts put back or dropped, for the next ones."""

    def shelve(self, llama: Any, llama_cpp: Any) -> None:
        """Keep the context as it is now, in place of any it extends."""
        if not self.size or not llama.n_tokens:
            return
        now = save_context(llama, llama_cpp, self.spares)
        kept = [s for s in self.saved if _shared(s.input_ids, now.input_ids) < s.n_tokens]
        kept.append(now)
        kept_ids = {id(s) for s in kept}
        for dropped in [s for s in self.saved if id(s) not in kept_ids] + kept[: -self.size]:
            self.spare(dropped)
        self.saved = kept[-self.size :]

    def spare(self, saved: SavedContext) -> None:
        """Keep ``saved``'s buffer for a later copy (the largest few)."""
        self.spares = sorted([*self.spares, saved.state], key=len)[-SHELF_SPARES:]

    def reuse(self, llama: Any, llama_cpp: Any, tokens: Sequence[int]) -> None:
        """Put back the shelved context that spares ``tokens`` the most
        evaluation, when it spares `SHELF_MIN_GAIN` more than the cache;
        first, on a shared model, shelve the cache when ``tokens`` would
        overwrite `SHELF_MIN_GAIN` of it and no shelved context holds it."""
        n = llama.n_tokens
        aside, self.aside = self.aside, False
        if (
            self.shared
            and not aside
            and n - common_prefix(llama, tokens) >= SHELF_MIN_GAIN
            and not any(_shared(s.input_ids, llama.input_ids[:n]) >= n for s in self.saved)
        ):
            self.shelve(llama, llama_cpp)
        if not self.saved:
            return
        gains = [_shared(s.input_ids, tokens) for s in self.saved]
        best = max(range(len(gains)), key=gains.__getitem__)
        if gains[best] >= common_prefix(llama, tokens) + SHELF_MIN_GAIN:
            saved = self.saved.pop(best)
            restore_context(llama, llama_cpp, saved)
            self.spare(saved)


def _shared(ids: Any, tokens: Sequence[int]) -> int:
    n = min(len(ids), len(tokens))
    if not n:
        return 0
    differ = ids[:n] != np.asarray(tokens[:n], dtype=ids.dtype)
    return int(differ.argmax()) if differ.any() else n
