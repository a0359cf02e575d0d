"""`Openings`: which speech request opens a reply (pure, on a fake clock);
and the hub's services marking the model's context shelf as shared."""

from __future__ import annotations

from assistant.hub.openings import KEEP_S, MAX_REPLIES, Openings
from assistant.hub.services import HubServices
from assistant.stages.llm.kvcache import SHELF_SIZE, ContextShelf


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def reply(openings: Openings, *tokens: str) -> int:
    key = openings.begin()
    for token in tokens:
        openings.grew(key, token)
    return key


def test_a_replys_first_piece_is_its_opening_and_its_later_pieces_are_not():
    openings = Openings()
    reply(openings, "The capital", " of France is Paris.", " It is", " a big city.")
    reply(openings, "Bees make", " honey.")
    assert not openings.claim("It is a big city.")  # a later piece: no reply starts so
    assert openings.claim("The capital of France")  # cut early, before the sentence ended
    assert not openings.claim("The capital of France")  # claimed once
    assert openings.claim("Bees make honey.")
    assert len(openings) == 0


def test_a_piece_is_compared_as_the_satellite_speaks_it():
    openings = Openings()
    reply(openings, "A spider has **8**", " legs.")
    assert openings.claim("A spider has eight legs.")  # the satellite cleaned it for speech


def test_text_nobody_generated_and_a_lone_letter_open_nothing():
    openings = Openings()
    reply(openings, "Okay, the timer is set.")
    assert not openings.claim("It is five past ten.")  # a satellite's own skill
    assert not openings.claim("O")
    assert len(openings) == 1


def test_old_and_surplus_replies_are_forgotten():
    clock = FakeClock()
    openings = Openings(clock=clock)
    reply(openings, "Grass is green.")
    clock.now += KEEP_S + 1
    assert not openings.claim("Grass is green.")
    for i in range(MAX_REPLIES + 5):
        reply(openings, f"Reply number {i}.")
    assert len(openings) == MAX_REPLIES
    assert not openings.claim("Reply number 0.")  # the oldest went first
    assert openings.claim(f"Reply number {MAX_REPLIES + 4}.")


class FakeTurnTakingModel:
    """A fake language model that takes turns and has a context shelf."""

    takes_turns = True

    def __init__(self) -> None:
        self._shelf = ContextShelf(SHELF_SIZE)


def test_the_hub_shares_its_models_shelf_between_clients():
    llm = FakeTurnTakingModel()
    services = HubServices(llm=llm)
    try:
        assert llm._shelf.shared  # clients who never overlap keep their contexts
    finally:
        services.close()
