"""How the hub soak's clients pick their questions (`bench.soak_hub`)."""

from __future__ import annotations

import asyncio
import collections
import itertools

from assistant.bench import soak_hub


def test_each_client_asks_every_question_in_turn():
    for client in range(4):
        asked = [soak_hub.question_index(client, turn, 8) for turn in range(16)]
        assert sorted(asked) == sorted(list(range(8)) * 2)
        assert asked[0] == 2 * client
    firsts = {soak_hub.question_index(client, 0, 8) for client in range(4)}
    assert len(firsts) == 4


def test_quick_and_slow_turns_soak_every_question_alike(monkeypatch):
    """A fake hub turn: skill questions (odd) end at once, language-model
    ones (even) yield to the loop 20 times first, as a reply takes longer.
    Picked by the hub's overall turn count, the quick ones crowded out the
    slow ones."""
    audio = [[index] for index in range(8)]
    asked: collections.Counter[int] = collections.Counter()
    conversations: dict[str, list[int]] = collections.defaultdict(list)

    async def fake_turn(port, question, conversation_id):
        for _ in range(0 if question[0] % 2 else 20):
            await asyncio.sleep(0)
        asked[question[0]] += 1
        conversations[conversation_id].append(question[0])
        return {"ok": True}

    monkeypatch.setattr(soak_hub, "one_turn", fake_turn)
    rows: list[dict] = []
    asyncio.run(soak_hub._clients(0, 400, 4, audio, rows.append))
    assert len(rows) == 400
    assert max(asked.values()) - min(asked.values()) <= 4, asked
    for sequence in conversations.values():
        assert all((b - a) % 8 == 1 for a, b in itertools.pairwise(sequence)), sequence
