"""`FairQueue`'s classes: an opening job before the other final ones, and
final ones before partial ones (plain values as jobs, no threads)."""

from __future__ import annotations

from assistant.core.fairqueue import FairQueue


def drain(queue: FairQueue[str]) -> list[str]:
    return [queue.get(0) for _ in range(len(queue))]


def test_an_opening_job_goes_before_the_final_jobs_queued_ahead_of_it():
    queue: FairQueue[str] = FairQueue()
    queue.put("a-partial", "a", final=False)
    queue.put("b-later", "b", final=True)
    queue.put("c-later", "c", final=True)
    queue.put("d-opening", "d", final=True, opening=True)
    queue.put("e-opening", "e", final=True, opening=True)
    assert drain(queue) == ["d-opening", "e-opening", "b-later", "c-later", "a-partial"]


def test_opening_means_nothing_for_a_partial_job():
    queue: FairQueue[str] = FairQueue()
    queue.put("a-final", "a", final=True)
    queue.put("b-partial", "b", final=False, opening=True)
    assert drain(queue) == ["a-final", "b-partial"]


def test_a_client_that_went_away_loses_its_opening_jobs_too():
    queue: FairQueue[str] = FairQueue()
    queue.put("a-opening", "a", final=True, opening=True)
    queue.put("a-later", "a", final=True)
    assert queue.discard("a") == ["a-opening", "a-later"]
    assert len(queue) == 0
