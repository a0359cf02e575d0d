"""The turnstile: its order between new replies and replies back for a
later sentence, and where a reply steps aside (threads and events, no
model); a new reply reaching it while another holds the real model."""

from __future__ import annotations

import threading

from assistant.core.messages import Message
from assistant.stages.llm.turnstile import Turn, Turnstile
from assistant.stages.tts.sentences import SentenceSplitter

WAIT_S = 10.0


def test_a_new_reply_goes_before_replies_back_for_a_later_sentence():
    gate, order = Turnstile(), []
    assert gate.enter()  # a reply holds the model

    def wait(name: str, opening: bool) -> None:
        if gate.enter(opening=opening):
            order.append(name)
            gate.leave()

    # Queued in this order: two replies that stepped aside after their first
    # sentence, then two new ones, which still owe their clients a first word.
    arrivals = [("later-1", False), ("later-2", False), ("new-1", True), ("new-2", True)]
    threads = []
    for n, (name, opening) in enumerate(arrivals, 1):
        threads.append(threading.Thread(target=wait, args=(name, opening)))
        threads[-1].start()
        assert gate.wait_for_waiting(n, WAIT_S)
    gate.leave()
    for thread in threads:
        thread.join(WAIT_S)
    assert order == ["new-1", "new-2", "later-1", "later-2"]


def test_a_reply_steps_aside_after_the_token_that_follows_a_sentence_end():
    # The full stop alone does not tell a client's splitter that the
    # sentence is whole; and a reply that ends there must not wait for it.
    turn = Turn()
    pieces = ["The", " capital", " is", " Paris", ".", " It", " is", " big", "."]
    due = [turn.due(piece, waiting=1) for piece in pieces]
    assert due == [False, False, False, False, False, True, False, False, False]


def test_with_new_replies_waiting_a_reply_steps_aside_at_its_clients_first_piece():
    # Eight satellites' first audio waited for seven whole first sentences
    # where seven first pieces would do.
    pieces = [" The", " moon", " is", " about", " two", " hundred", " thousand", " miles", "."]
    turn = Turn()
    due = [turn.due(piece, waiting=1, openings=1) for piece in pieces]
    at = due.index(True)
    assert at < len(pieces) - 1  # before the sentence ends
    # Fed the same text, the client's splitter has its first piece then, not before.
    assert client_cuts("".join(pieces[: at + 1]))
    assert not client_cuts("".join(pieces[:at]))
    assert due[at + 1 :] == [True] * (len(pieces) - at - 1)  # past it: at once


def client_cuts(text: str) -> bool:
    client = SentenceSplitter()
    client.short_first = True  # tokens as fast as a test's keep its speaker fed
    return bool(client.feed(text))


def test_replies_back_for_more_do_not_cut_a_first_piece_short():
    pieces = [" The", " moon", " is", " about", " two", " hundred", " thousand", " miles", "."]
    turn = Turn()
    assert not any(turn.due(piece, waiting=2, openings=0) for piece in pieces)


def test_the_turnstile_counts_the_new_replies_among_its_waiters():
    gate = Turnstile()
    assert gate.enter()

    def pass_through(opening: bool) -> None:
        if gate.enter(opening=opening):
            gate.leave()

    threads = []
    for n, opening in enumerate([False, True, True], 1):
        threads.append(threading.Thread(target=pass_through, args=(opening,), daemon=True))
        threads[-1].start()
        assert gate.wait_for_waiting(n, WAIT_S)
    assert gate.queued == (3, 2)
    gate.leave()
    for thread in threads:
        thread.join(WAIT_S)
    assert gate.queued == (0, 0)


def test_alone_a_reply_never_steps_aside():
    turn = Turn()
    assert not any(turn.due(piece, waiting=0) for piece in ["Hi", ".", " Yes", ".", " Ok"])


def test_a_new_reply_sizes_its_prompt_while_another_holds_the_model(small):
    # A hub's next reply trims its memory to fit (`fits`) before it reaches
    # the turnstile; waiting there for the running reply to end, it could
    # never queue and make that reply step aside.
    model = small
    running = model.generate([Message("user", "Describe the moon in four sentences.")])
    next(running)  # inside the turnstile, holding the model's lock
    sized = threading.Event()

    def size_a_prompt() -> None:
        model.fits([Message("user", "Name three fruits.")])
        sized.set()

    thread = threading.Thread(target=size_a_prompt)
    thread.start()
    try:
        assert sized.wait(WAIT_S), "fits waited for the running reply to end"
    finally:
        running.close()
        thread.join(WAIT_S)
