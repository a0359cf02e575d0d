"""Replies that share one llama.cpp context take turns at sentences
(`Turnstile`): the gate's order, and the real model picking a reply up
exactly where it stepped aside."""

from __future__ import annotations

import threading

from assistant.core.messages import Message
from assistant.stages.llm.llama import LlamaLanguageModel
from assistant.stages.llm.turnstile import Turnstile

WAIT_S = 30.0
LONG = [Message("user", "Describe the moon in four sentences.")]
OTHER = [Message("user", "Name three fruits and say why they are healthy.")]


def test_the_longest_waiter_goes_first_and_a_cancelled_one_leaves_the_queue():
    gate, order = Turnstile(), []
    assert gate.enter()
    cancel = threading.Event()
    outcome = {}

    def wait(name: str, event: threading.Event | None = None) -> None:
        outcome[name] = gate.enter(event)
        if outcome[name]:
            order.append(name)
            gate.leave()

    threads = [threading.Thread(target=wait, args=("first",))]
    threads.append(threading.Thread(target=wait, args=("cancelled", cancel)))
    threads.append(threading.Thread(target=wait, args=("second",)))
    for n, thread in enumerate(threads, 1):
        thread.start()
        assert gate.wait_for_waiting(n, WAIT_S)
    cancel.set()
    threads[1].join(WAIT_S)
    assert outcome == {"cancelled": False} and gate.waiting == 2
    gate.leave()
    for thread in threads:
        thread.join(WAIT_S)
    assert order == ["first", "second"] and gate.waiting == 0


def test_a_reply_that_steps_aside_goes_on_exactly_where_it_stopped(small: LlamaLanguageModel):
    # Greedy, from an empty cache both times: the reply's own prompt is read
    # the same way, so any difference can only come from taking its context
    # back after the other reply used the model.
    model = small  # 32 tokens a reply at most: enough to step aside
    alone = "".join(model.generate(LONG))
    model.reset()
    other: list[str] = []
    replies = model.generate(LONG)
    pieces = [next(replies)]  # inside the turnstile now, holding the model

    def ask_too() -> None:
        for piece in model.generate(OTHER):
            other.append(piece)

    thread = threading.Thread(target=ask_too)
    entries = model._turns.entries
    thread.start()
    assert model._turns.wait_for_waiting(1, WAIT_S)
    pieces.extend(replies)
    thread.join(WAIT_S)
    assert "".join(pieces) == alone
    assert other, "the other reply got no answer"
    # The other reply enters once; it can step aside only for a waiting
    # reply, so a third turn means the first one stepped aside for it.
    assert model._turns.entries - entries >= 3, "the reply never stepped aside"


def test_a_conversation_that_ended_while_others_waited_gets_its_context_back(
    small: LlamaLanguageModel,
):
    # A hub's clients take turns on one context: without the shelf, each
    # reply would read its client's whole history again after another's.
    model = small
    first = model.generate(LONG)
    pieces = [next(first)]
    thread = threading.Thread(target=lambda: list(model.generate(OTHER)))
    thread.start()
    assert model._turns.wait_for_waiting(1, WAIT_S)
    pieces.extend(first)  # ends while the other reply waits, or after it stepped aside
    thread.join(WAIT_S)
    history = [*LONG, Message("assistant", "".join(pieces))]
    follow_up = [*history, Message("user", "And the sun?")]
    list(model.generate(follow_up))
    # The other reply used the model last; the follow-up still found its own
    # question and answer cached, not only the prompt the two share.
    assert model.last_stats.cached_tokens >= len(model.tokenize(LONG))


def test_a_reply_alone_shelves_nothing(small: LlamaLanguageModel):
    list(small.generate(LONG))
    assert small._shelf.saved == []
