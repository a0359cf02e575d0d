"""Timers on a fake clock: time moves only when the test says so."""

from __future__ import annotations

import pytest

from assistant.skills.timers import MAX_TIMERS, Timers
from tests.support.fakes import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_timer_is_due_only_once_its_time_has_come(clock: FakeClock) -> None:
    timers = Timers(clock)
    timer = timers.add(300, "pasta")
    assert timers.due() == []
    clock.advance(299.5)
    assert timers.due() == []
    assert timers.remaining_s(timer) == pytest.approx(0.5)
    clock.advance(0.5)
    assert timers.due() == [timer]
    assert timers.due() == []  # rings once
    assert timers.active() == []


def test_due_timers_come_soonest_first(clock: FakeClock) -> None:
    timers = Timers(clock)
    long = timers.add(120)
    short = timers.add(60)
    assert timers.active() == [short, long]
    assert timers.next_due_in_s() == 60
    clock.advance(500)
    assert timers.due() == [short, long]
    assert timers.next_due_in_s() is None


def test_cancel_removes_only_the_given_running_timers(clock: FakeClock) -> None:
    timers = Timers(clock)
    a, b = timers.add(10), timers.add(20)
    assert timers.cancel([a]) == [a]
    assert timers.cancel([a]) == []
    clock.advance(30)
    assert timers.due() == [b]


@pytest.mark.parametrize("seconds", [0, -5, 24 * 3600 + 1])
def test_lengths_outside_one_second_to_a_day_are_refused(clock: FakeClock, seconds) -> None:
    with pytest.raises(ValueError, match="1 s to 24 hours"):
        Timers(clock).add(seconds)


def test_at_most_max_timers_run(clock: FakeClock) -> None:
    timers = Timers(clock)
    for _ in range(MAX_TIMERS):
        timers.add(60)
    with pytest.raises(ValueError, match="cancel one first"):
        timers.add(60)
