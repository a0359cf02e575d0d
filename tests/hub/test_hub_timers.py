"""Timers through the hub: a turn the hub answers that sets, moves or
cancels a timer carries Wyoming's timer events before ``handled``; the
satellite that asked runs the countdown and rings it itself. The hub rings
nothing and keeps no connection for it.

The hub is the real one on fakes with the real skills (`fake_services`);
the clocks of the hub's and the satellite's timers are fake, so no test
waits for a timer to run out.
"""

from __future__ import annotations

import pytest
from wyoming.event import Event

import assistant.compose.turns as turns
from assistant.compose.remote import follow_hub_timers
from assistant.core.events import ButtonPressed, ButtonReleased, State, TurnFinished
from assistant.skills.handler import Skills
from assistant.skills.timers import FollowedTimers, Timers
from tests.support.controller import make
from tests.support.fakes import FakeClock, FakeSpeechToText
from tests.support.hub import (
    FakeHubOnlySkills,
    fake_services,
    hub_address,
    running_hub,
    talk,
    texts,
)


def ask(port: int, text: str, context: dict | None = None) -> list[Event]:
    data: dict = {"text": text}
    if context is not None:
        data["context"] = context
    return talk(port, Event("transcript", data), until="handled-stop")


def kinds(events: list[Event]) -> list[str]:
    return [e.type for e in events]


@pytest.fixture
def hub_clock(monkeypatch) -> FakeClock:
    """The clock of every timer the hub's skills keep."""
    clock = FakeClock()
    monkeypatch.setattr(turns, "Timers", lambda: Timers(clock))
    return clock


def test_the_answer_carries_timer_started_before_handled(hub_clock):
    with running_hub(fake_services()) as port:
        events = ask(port, "set a timer for five minutes")
    order = kinds(events)
    assert order.index("timer-started") < order.index("handled") < order.index("handled-stop")
    [started] = [e for e in events if e.type == "timer-started"]
    context = events[0].data["context"]
    assert started.data["id"] == f"{context['conversation_id']}-1"
    assert started.data["total_seconds"] == 300 and started.data["start_minutes"] == 5
    assert "5 minutes" in texts(events, "handled")[0]


def test_a_cancel_through_the_hub_is_timer_cancelled(hub_clock):
    with running_hub(fake_services()) as port:
        first = ask(port, "set a timer for ten minutes")
        context = first[-2].data["context"]
        cancel = ask(port, "cancel the timer", context)
    [started] = [e.data["id"] for e in first if e.type == "timer-started"]
    assert [e.data for e in cancel if e.type == "timer-cancelled"] == [{"id": started}]
    assert "timer-started" not in kinds(cancel)


def test_the_hub_never_rings_a_due_timer_and_reports_it_finished(hub_clock):
    with running_hub(fake_services()) as port:
        first = ask(port, "set a timer for one minute")
        context = first[-2].data["context"]
        hub_clock.advance(61)
        later = ask(port, "list my timers", context)
    [started] = [e.data["id"] for e in first if e.type == "timer-started"]
    assert [e.data for e in later if e.type == "timer-finished"] == [{"id": started}]
    # Its list is true again, and nothing was said of the timer being done:
    # the satellite's countdown rang it.
    [reply] = texts(later, "handled")
    assert "done" not in reply.lower() and "1 minute" not in reply


def test_followed_timers_start_update_pause_cancel_and_finish():
    clock = FakeClock()
    timers = Timers(clock)
    follow = FollowedTimers(timers)
    follow("started", "a-1", 300, "pasta")
    [pasta] = timers.active()
    assert (pasta.duration_s, pasta.label) == (300, "pasta")
    follow("updated", "a-1", 120, "")  # two minutes left now
    [moved] = timers.active()
    assert moved.label == "pasta" and timers.remaining_s(moved) == 120
    follow("paused", "a-1", 120, "")
    assert timers.active() == []
    follow("started", "a-2", 60, "")
    follow("cancelled", "a-2", 0, "")
    assert timers.active() == []
    follow("started", "a-3", 60, "")
    follow("finished", "a-3", 0, "")  # the local countdown rings on its own clock
    assert len(timers.active()) == 1
    follow("cancelled", "unknown", 0, "")  # never started here: nothing happens
    follow("started", "a-4", 0, "")  # not a timer length: not kept, no error
    assert len(timers.active()) == 1


def test_a_satellites_timer_set_through_the_hub_rings_on_that_satellite(hub_clock, stop_later):
    from assistant.stages.llm.wyoming import WyomingLanguageModel

    clock = FakeClock()
    satellite_timers = Timers(clock)
    with running_hub(fake_services()) as port:
        llm = WyomingLanguageModel(hub_address(port))
        follow_hub_timers(llm, satellite_timers)
        skills = FakeHubOnlySkills(Skills(timers=satellite_timers))
        stt = FakeSpeechToText("set a timer for five minutes")
        controller, rec, sink = make(llm=llm, stt=stt, skills=skills, earcons=False)
        stop_later(controller)
        controller.submit(ButtonPressed())
        rec.wait_state(State.LISTENING)
        controller.submit(ButtonReleased())
        answered = rec.wait_for(lambda e: isinstance(e, TurnFinished))
        rec.wait_state(State.IDLE)
    assert "5 minutes" in answered.reply
    [timer] = satellite_timers.active()
    assert timer.duration_s == 300
    clock.advance(300)  # the hub is gone: the satellite rings it alone
    alert = rec.wait_for(lambda e: isinstance(e, TurnFinished) and e is not answered)
    assert alert.transcript == "" and "timer for 5 minutes is done" in alert.reply
    assert satellite_timers.active() == [] and sink.chunks


@pytest.fixture
def stop_later():
    controllers = []
    yield controllers.append
    for controller in controllers:
        controller.stop()
