"""Skills: intent answers, timers, volume and reset callbacks, and the choice
of path. Tool calls here use a fake grammar model; the real SmolLM2 tool
calls are in test_tools.py."""

from __future__ import annotations

import datetime
import logging
import threading

import pytest

from assistant.pipeline.reply import ReplyStreamer
from assistant.skills.handler import FixedReply, SkillReply, Skills
from assistant.skills.timers import Timers
from assistant.skills.tools import ToolBox, parse_tool_specs
from tests.fakes import FakeClock, FakeGrammarModel

NOW = datetime.datetime(2025, 5, 5, 15, 7, 0)  # a Monday


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(50.0)


def make(clock, language="en", **kwargs) -> Skills:
    kwargs.setdefault("now", lambda: NOW)
    return Skills(language=language, timers=Timers(clock), **kwargs)


def test_time_and_date_come_from_the_injected_clock(clock) -> None:
    skills = make(clock)
    assert skills.handle("what time is it") == SkillReply("It's 3:07 PM.", "intent", "time")
    assert skills.handle("what's the date").text == "Today is Monday, May 5, 2025."
    pt = make(clock, "pt")
    assert pt.handle("que horas são").text == "São 15:07."
    assert pt.handle("que dia é hoje").text == "Hoje é segunda-feira, 5 de maio de 2025."
    assert make(clock, "es").handle("qué hora es").text == "Son las 15:07."


def test_a_timer_is_set_listed_and_announced_when_due(clock) -> None:
    skills = make(clock)
    reply = skills.handle("set a timmer for five minutes")
    assert reply == SkillReply("Timer set for 5 minutes.", "intent", "timer.set")
    clock.advance(90)
    assert (
        skills.handle("how much time is left").text == "One timer: 3 minutes and 30 seconds left."
    )
    assert skills.due_alerts() == []
    clock.advance(210)
    assert skills.due_alerts() == ["Your timer for 5 minutes is done."]
    assert skills.due_alerts() == []
    assert skills.handle("what timers do I have").text == "You have no timers."


def test_labelled_timers_are_cancelled_by_name_or_length(clock) -> None:
    skills = make(clock)
    skills.handle("set a pasta timer for ten minutes")
    skills.handle("set a timer for an hour")
    reply = skills.handle("cancel the timer")
    assert "2 timers" in reply.text and "pasta" in reply.text  # asks which one
    assert len(skills.timers.active()) == 2
    assert skills.handle("cancel the pasta timer").text == "Timer cancelled."
    assert skills.handle("cancel the one hour timer").text == "Timer cancelled."
    assert skills.handle("cancel all timers").text == "You have no timers."


def test_cancel_all_timers_in_portuguese(clock) -> None:
    skills = make(clock, "pt")
    skills.handle("define um temporizador de dois minutos")
    skills.handle("coloca um temporizador de cinco minutos")
    reply = skills.handle("cancela todos os temporizadores")
    assert reply.text == "2 temporizadores cancelados."
    clock.advance(1000)
    assert skills.due_alerts() == []


def test_a_pt_alert_names_the_duration(clock) -> None:
    skills = make(clock, "pt")
    skills.handle("temporizador de um minuto")
    clock.advance(60)
    assert skills.due_alerts() == ["O temporizador de 1 minuto terminou."]


def test_volume_commands_change_the_playback_gain(clock) -> None:
    gains: list[float] = []
    skills = make(clock, volume=1.0, on_volume=gains.append)
    assert skills.handle("louder") == SkillReply("Volume 125 percent.", "intent", "volume.up")
    assert skills.handle("volume down").text == "Volume 100 percent."
    assert skills.handle("set the volume to thirty percent").text == "Volume 30 percent."
    assert skills.handle("volume to nine hundred percent").text == "Volume 200 percent."
    assert gains == [1.25, 1.0, 0.3, 2.0]


def test_reset_stop_repeat_and_identity(clock) -> None:
    resets: list[bool] = []
    skills = make(
        clock,
        llm=FakeGrammarModel(""),
        voice_name="piper:en_US-joe-medium",
        on_reset=lambda: resets.append(True),
    )
    assert skills.handle("reset the conversation").action == "reset"
    assert resets == [True]
    assert skills.handle("be quiet") == SkillReply("", "intent", "stop")
    assert skills.handle("repeat that", last_reply="Paris.").text == "Paris."
    identity = skills.handle("what model are you using").text
    assert identity == (
        "I'm running the SmolLM2 135M Instruct language model with the joe medium voice."
    )
    assert skills.handle("say that again").text == identity  # its own last answer


def test_repeat_with_nothing_said_yet(clock) -> None:
    assert make(clock).handle("repeat").text == "I haven't said anything yet."


def test_ordinary_questions_go_to_the_llm_without_a_tool_call(clock, factory, caplog) -> None:
    llm = FakeGrammarModel('{"tool": "lamp", "args": {"action": "on"}}')
    tools = ToolBox(parse_tool_specs(["lamp=5"], []), pin_factory=factory)
    skills = make(clock, llm=llm, tools=tools)
    with caplog.at_level(logging.INFO, logger="assistant.skills.handler"):
        assert skills.handle("What is the capital of France?") is None
    assert llm.calls == []
    assert factory.pin(5).state == 0
    assert "path llm" in caplog.text
    skills.close()


def test_a_mentioned_tool_takes_the_tool_path(clock, factory, caplog) -> None:
    llm = FakeGrammarModel('{"tool": "lamp", "args": {"action": "on"}}')
    tools = ToolBox(parse_tool_specs(["lamp=5:light"], ["door=6"]), pin_factory=factory)
    skills = make(clock, llm=llm, tools=tools)
    with caplog.at_level(logging.INFO, logger="assistant.skills.handler"):
        reply = skills.handle("switch on the light")
    assert reply == SkillReply("The lamp is on.", "tool", "tool.lamp.on")
    assert factory.pin(5).state == 1
    assert llm.calls == ["switch on the light"]
    assert "path tool (tool.lamp.on)" in caplog.text
    assert skills.describe_tools().splitlines() == [
        "lamp: output on GPIO5, actions on/off/toggle/status (also: light) - The lamp is on.",
        "door: input on GPIO6, actions status - The door is not active.",
    ]
    skills.close()
    skills.close()


def test_intents_win_over_the_tool_path(clock, factory) -> None:
    llm = FakeGrammarModel('{"tool": "timer", "args": {"action": "on"}}')
    tools = ToolBox(parse_tool_specs(["timer=5"], []), pin_factory=factory)
    skills = make(clock, llm=llm, tools=tools)
    assert skills.handle("set a timer for one minute").path == "intent"
    assert llm.calls == []
    skills.close()


def test_an_undeclared_device_is_refused_without_the_llm(clock, factory) -> None:
    llm = FakeGrammarModel('{"tool": "lamp", "args": {"action": "on"}}')
    tools = ToolBox(parse_tool_specs(["lamp=5"], []), pin_factory=factory)
    skills = make(clock, llm=llm, tools=tools)
    reply = skills.handle("turn on the heater")
    assert reply == SkillReply(
        "I can't do that: there is no device called heater. I can use: lamp.",
        "tool",
        "tool.refused",
    )
    assert llm.calls == []
    assert factory.pin(5).state == 0
    skills.close()


def test_without_tools_describe_says_how_to_declare_them(clock) -> None:
    assert "[tools]" in make(clock).describe_tools()


def test_fixed_reply_streams_through_the_reply_streamer() -> None:
    tokens: list[str] = []
    result = ReplyStreamer(FixedReply("Timer set for 5 minutes."), on_token=tokens.append).run(
        [], threading.Event()
    )
    assert result.generated == "Timer set for 5 minutes."
    assert "".join(tokens) == "Timer set for 5 minutes."
    assert len(tokens) == 5


def test_half_hour_timers_are_set_not_left_to_the_llm(clock) -> None:
    skills = make(clock)
    reply = skills.handle("set a timer for an hour and a half")
    assert reply == SkillReply("Timer set for 1 hour and 30 minutes.", "intent", "timer.set")
    assert skills.handle("set a timer for a minute and a half").text == (
        "Timer set for 1 minute and 30 seconds."
    )
    assert make(clock, "pt").handle("temporizador de uma hora e meia").text == (
        "Temporizador de 1 hora e 30 minutos iniciado."
    )


def test_a_timer_without_a_duration_asks_how_long(clock) -> None:
    skills = make(clock)
    assert skills.handle("set a timer for a while") == SkillReply(
        "How long should the timer be?", "intent", "timer.set"
    )
    assert skills.timers.active() == []
    assert make(clock, "es").handle("pon un temporizador").text == (
        "¿De cuánto tiempo es el temporizador?"
    )


@pytest.mark.parametrize(
    ("language", "said", "start"),
    [
        ("en", "turn on the heater", "I have no devices to control."),
        ("en", "switch the kitchen light off", "I have no devices to control."),
        ("pt", "liga o aquecedor", "Não tenho dispositivos para controlar."),
        ("es", "enciende la calefacción", "No tengo dispositivos que controlar."),
    ],
)
def test_device_commands_without_tools_are_refused(clock, language, said, start) -> None:
    llm = FakeGrammarModel('{"tool": "heater", "args": {"action": "on"}}')
    reply = make(clock, language, llm=llm).handle(said)
    assert reply is not None
    assert (reply.path, reply.action) == ("tool", "tool.refused")
    assert reply.text.startswith(start) and "[tools]" in reply.text
    assert llm.calls == []


def test_without_tools_other_questions_still_go_to_the_llm(clock) -> None:
    assert make(clock).handle("what is the capital of France") is None
    assert make(clock).handle("turn it off") is None  # no device named
