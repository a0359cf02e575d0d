"""A hub's model keeps each conversation's context even when its clients
never overlap (the real small model, replies from two threads), and does
not shelve a reply that stepped aside (fakes of llama-cpp-python)."""

from __future__ import annotations

import threading

import numpy as np

from assistant.core.messages import Message
from assistant.stages.llm.kvcache import SHELF_SIZE, ContextShelf
from assistant.stages.llm.llama import LlamaLanguageModel

WAIT_S = 60.0
MOON = [Message("user", "Describe the moon in four sentences.")]
FRUIT = [Message("user", "Name three fruits and say why they are healthy.")]


def reply_on_a_thread(model: LlamaLanguageModel, messages: list[Message]) -> str:
    pieces: list[str] = []
    thread = threading.Thread(target=lambda: pieces.extend(model.generate(messages)))
    thread.start()
    thread.join(WAIT_S)
    assert not thread.is_alive(), "the reply did not end"
    return "".join(pieces)


def test_clients_taking_turns_one_after_another_keep_their_contexts(small):
    # Two satellites speaking one after the other on a hub: each reply runs
    # on a lane thread, and the other client's prompt overwrote the cache.
    model = small
    model._shelf.shared = True  # as `HubServices` sets it
    try:
        moon = reply_on_a_thread(model, MOON)
        reply_on_a_thread(model, FRUIT)
        follow_up = [*MOON, Message("assistant", moon), Message("user", "And the sun?")]
        list(model.generate(follow_up))  # a third thread: this one
        assert model.last_stats.cached_tokens >= len(model.tokenize(MOON))
    finally:
        model._shelf.shared = False  # the session's model is an appliance's again


def test_an_appliances_model_never_shelves(small):
    model = small
    list(model.generate(MOON))
    list(model.generate(FRUIT))  # overwrites the moon's context
    assert model._shelf.saved == []


class FakeLlama:
    """The parts of a llama-cpp-python `Llama` the shelf touches: the
    tokens in the cache (a fake: no model)."""

    def __init__(self, tokens: list[int]) -> None:
        self.input_ids = np.array(tokens, dtype=np.intc)
        self.n_tokens = len(tokens)
        self.ctx = object()


class FakeLlamaCpp:
    """llama.cpp's state calls, as a fake: a state of 64 bytes."""

    @staticmethod
    def llama_state_get_size(ctx: object) -> int:
        return 64

    @staticmethod
    def llama_state_get_data(ctx: object, buffer: object, size: int) -> int:
        return size


def test_a_half_reply_that_stepped_aside_is_not_shelved_by_the_next_prompt():
    # Its own step aside saved it; a second copy on the shelf pushed a
    # waiting client's context off it.
    shelf = ContextShelf(SHELF_SIZE, shared=True)
    half_reply = FakeLlama(list(range(100)))
    other_prompt = list(range(10)) + [999] * 20
    shelf.aside = True
    shelf.reuse(half_reply, FakeLlamaCpp, other_prompt)
    assert shelf.saved == []
    shelf.reuse(half_reply, FakeLlamaCpp, other_prompt)  # a finished reply: kept
    assert len(shelf.saved) == 1
