"""Skills: intent answers, timers, volume and reset callbacks, and the choice
of path. Tool calls here use a fake grammar model; the real SmolLM2 tool
calls are in test_tools.py."""

from __future__ import annotations

import datetime
import logging
import threading

import pytest
from gpiozero.pins.mock import MockFactory, MockPin

from assistant.core.errors import GpioError
from assistant.pipeline.shortcuts import Answer
from assistant.skills import Skills, intents
from assistant.skills.devices import parse_tool_specs
from assistant.skills.timers import Timers
from assistant.skills.tools import ToolBox
from tests.support.fakes import FakeClock, FakeGrammarModel

NOW = datetime.datetime(2025, 5, 5, 15, 7, 0)  # a Monday


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(50.0)


def make(clock, language="en", **kwargs) -> Skills:
    kwargs.setdefault("now", lambda: NOW)
    return Skills(language=language, timers=Timers(clock), **kwargs)


def test_time_and_date_come_from_the_injected_clock(clock) -> None:
    skills = make(clock)
    assert skills.answer("what time is it", "") == Answer("It's 3:07 PM.", "intent", "time")
    assert skills.answer("what's the date", "").text == "Today is Monday, May 5, 2025."
    pt = make(clock, "pt")
    assert pt.answer("que horas são", "").text == "São 15:07."
    assert pt.answer("que dia é hoje", "").text == "Hoje é segunda-feira, 5 de maio de 2025."
    assert make(clock, "es").answer("qué hora es", "").text == "Son las 15:07."


def test_a_timer_is_set_listed_and_announced_when_due(clock) -> None:
    skills = make(clock)
    reply = skills.answer("set a timmer for five minutes", "")
    assert reply == Answer("Timer set for 5 minutes.", "intent", "timer.set")
    clock.advance(90)
    assert (
        skills.answer("how much time is left", "").text
        == "One timer: 3 minutes and 30 seconds left."
    )
    assert skills.due_alerts() == []
    clock.advance(210)
    assert skills.due_alerts() == ["Your timer for 5 minutes is done."]
    assert skills.due_alerts() == []
    assert skills.answer("what timers do I have", "").text == "You have no timers."


def test_labelled_timers_are_cancelled_by_name_or_length(clock) -> None:
    skills = make(clock)
    skills.answer("set a pasta timer for ten minutes", "")
    skills.answer("set a timer for an hour", "")
    reply = skills.answer("cancel the timer", "")
    assert "2 timers" in reply.text and "pasta" in reply.text  # asks which one
    assert len(skills.timers.active()) == 2
    assert skills.answer("cancel the pasta timer", "").text == "Timer cancelled."
    assert skills.answer("cancel the one hour timer", "").text == "Timer cancelled."
    assert skills.answer("cancel all timers", "").text == "You have no timers."


def test_cancel_all_timers_in_portuguese(clock) -> None:
    skills = make(clock, "pt")
    skills.answer("define um temporizador de dois minutos", "")
    skills.answer("coloca um temporizador de cinco minutos", "")
    reply = skills.answer("cancela todos os temporizadores", "")
    assert reply.text == "2 temporizadores cancelados."
    clock.advance(1000)
    assert skills.due_alerts() == []


def test_a_pt_alert_names_the_duration(clock) -> None:
    skills = make(clock, "pt")
    skills.answer("temporizador de um minuto", "")
    clock.advance(60)
    assert skills.due_alerts() == ["O temporizador de 1 minuto terminou."]


def test_volume_commands_change_the_playback_gain(clock) -> None:
    gains: list[float] = []
    skills = make(clock, volume=1.0, on_volume=gains.append)
    assert skills.answer("louder", "") == Answer("Volume 125 percent.", "intent", "volume.up")
    assert skills.answer("volume down", "").text == "Volume 100 percent."
    assert skills.answer("set the volume to thirty percent", "").text == "Volume 30 percent."
    assert skills.answer("volume to nine hundred percent", "").text == "Volume 200 percent."
    assert gains == [1.25, 1.0, 0.3, 2.0]


def test_reset_stop_repeat_and_identity(clock) -> None:
    resets: list[bool] = []
    skills = make(
        clock,
        llm=FakeGrammarModel(""),
        voice_name="piper:en_US-joe-medium",
        on_reset=lambda: resets.append(True),
    )
    assert skills.answer("reset the conversation", "").action == "reset"
    assert resets == [True]
    assert skills.answer("be quiet", "") == Answer("", "intent", "stop")
    assert skills.answer("repeat that", "Paris.").text == "Paris."
    identity = skills.answer("what model are you using", "").text
    assert identity == (
        "I'm running the SmolLM2 135M Instruct language model with the joe medium voice."
    )
    # The pipeline owns what was said last: the skills keep no copy of it.
    assert skills.answer("say that again", identity).text == identity
    assert skills.answer("say that again", "").text == "I haven't said anything yet."


def test_repeat_with_nothing_said_yet(clock) -> None:
    assert make(clock).answer("repeat", "").text == "I haven't said anything yet."


def test_ordinary_questions_go_to_the_llm_without_a_tool_call(clock, factory, caplog) -> None:
    llm = FakeGrammarModel('{"tool": "lamp", "args": {"action": "on"}}')
    tools = ToolBox(parse_tool_specs(["lamp=5"], []), pin_factory=factory)
    skills = make(clock, llm=llm, tools=tools)
    with caplog.at_level(logging.INFO, logger="assistant.skills.handler"):
        assert skills.answer("What is the capital of France?", "") is None
    assert llm.calls == []
    assert factory.pin(5).state == 0
    assert "path llm" in caplog.text
    skills.close()


def test_a_mentioned_tool_takes_the_tool_path(clock, factory, caplog) -> None:
    llm = FakeGrammarModel('{"tool": "lamp", "args": {"action": "on"}}')
    tools = ToolBox(parse_tool_specs(["lamp=5:light"], ["door=6"]), pin_factory=factory)
    skills = make(clock, llm=llm, tools=tools)
    with caplog.at_level(logging.INFO, logger="assistant.skills.handler"):
        reply = skills.answer("switch on the light", "")
    assert reply == Answer("The lamp is on.", "tool", "tool.lamp.on")
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
    assert skills.answer("set a timer for one minute", "").path == "intent"
    assert llm.calls == []
    skills.close()


def test_an_undeclared_device_is_refused_without_the_llm(clock, factory) -> None:
    llm = FakeGrammarModel('{"tool": "lamp", "args": {"action": "on"}}')
    tools = ToolBox(parse_tool_specs(["lamp=5"], []), pin_factory=factory)
    skills = make(clock, llm=llm, tools=tools)
    reply = skills.answer("turn on the heater", "")
    assert reply == Answer(
        "I can't do that: there is no device called heater. I can use: lamp.",
        "tool",
        "tool.refused",
    )
    assert llm.calls == []
    assert factory.pin(5).state == 0
    skills.close()


def test_without_tools_describe_says_how_to_declare_them(clock) -> None:
    assert "[tools]" in make(clock).describe_tools()


def test_half_hour_timers_are_set_not_left_to_the_llm(clock) -> None:
    skills = make(clock)
    reply = skills.answer("set a timer for an hour and a half", "")
    assert reply == Answer("Timer set for 1 hour and 30 minutes.", "intent", "timer.set")
    assert skills.answer("set a timer for a minute and a half", "").text == (
        "Timer set for 1 minute and 30 seconds."
    )
    assert make(clock, "pt").answer("temporizador de uma hora e meia", "").text == (
        "Temporizador de 1 hora e 30 minutos iniciado."
    )


def test_a_timer_without_a_duration_asks_how_long(clock) -> None:
    skills = make(clock)
    assert skills.answer("set a timer for a while", "") == Answer(
        "How long should the timer be?", "intent", "timer.set"
    )
    assert skills.timers.active() == []
    assert make(clock, "es").answer("pon un temporizador", "").text == (
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
    reply = make(clock, language, llm=llm).answer(said, "")
    assert reply is not None
    assert (reply.path, reply.action) == ("tool", "tool.refused")
    assert reply.text.startswith(start) and "[tools]" in reply.text
    assert llm.calls == []


def test_without_tools_other_questions_still_go_to_the_llm(clock) -> None:
    assert make(clock).answer("what is the capital of France", "") is None
    assert make(clock).answer("turn it off", "") is None  # no device named


def test_skills_take_the_pipelines_shortcuts_place() -> None:
    import inspect

    from assistant.pipeline.shortcuts import Shortcuts

    for member in ("answer", "due_alerts", "close"):
        wanted = inspect.signature(getattr(Shortcuts, member)).parameters
        assert list(inspect.signature(getattr(Skills, member)).parameters) == list(wanted)


def test_a_transcript_is_normalised_and_recognised_once(clock, factory, monkeypatch) -> None:
    llm = FakeGrammarModel('{"tool": "lamp", "args": {"action": "on"}}')
    tools = ToolBox(parse_tool_specs(["lamp=5"], []), pin_factory=factory)
    skills = make(clock, llm=llm, tools=tools)
    recognised: list[str] = []
    normalised: list[str] = []
    recognise, normalize = skills.recogniser.recognise, intents.normalize

    def counting_recognise(text: str):
        recognised.append(text)
        return recognise(text)

    def counting_normalize(text: str) -> str:
        normalised.append(text)
        return normalize(text)

    monkeypatch.setattr(skills.recogniser, "recognise", counting_recognise)
    monkeypatch.setattr(intents, "normalize", counting_normalize)
    said = ["turn on the lamp", "what time is it", "turn on the heater", "tell me a joke"]
    answers = [skills.answer(text, "") for text in said]
    assert [a.action if a else None for a in answers] == [
        "tool.lamp.on",
        "time",
        "tool.refused",
        None,
    ]
    assert recognised == said
    assert normalised == said
    skills.close()


@pytest.mark.parametrize(
    ("language", "said", "reply", "action"),
    [
        ("en", "turn on the light", "The lamp is on.", "tool.lamp.on"),
        ("pt", "liga a luz", "lamp: ligado.", "tool.lamp.on"),
        ("es", "enciende la luz", "lamp: encendido.", "tool.lamp.on"),
        ("pt", "liga o aquecedor", "Não posso fazer isso: não existe o dispositivo aquecedor.", ""),
        ("es", "enciende la estufa", "No puedo hacer eso: no existe el dispositivo estufa.", ""),
    ],
)
def test_device_commands_in_each_language(clock, factory, language, said, reply, action) -> None:
    llm = FakeGrammarModel('{"tool": "lamp", "args": {"action": "on"}}')
    specs = parse_tool_specs(["lamp=5:light,luz"], [])
    with ToolBox(specs, pin_factory=factory, language=language) as tools:
        answer = make(clock, language, llm=llm, tools=tools).answer(said, "")
        assert answer is not None
        assert answer.text.startswith(reply)
        assert answer.action == (action or "tool.refused")
        assert factory.pin(5).state == (1 if action else 0)
        assert llm.calls == ([said] if action else [])


def test_a_question_reads_an_input_without_moving_it(clock, factory) -> None:
    llm = FakeGrammarModel('{"tool": "door", "args": {"action": "status"}}')
    tools = ToolBox(parse_tool_specs(["lamp=5"], ["door=6"]), pin_factory=factory)
    skills = make(clock, llm=llm, tools=tools)
    answer = skills.answer("is the door open?", "")
    assert answer == Answer("The door is not active.", "tool", "tool.door.status")
    factory.pin(6).drive_low()  # pull-up input: low is pressed
    assert skills.answer("is the door open?", "").text == "The door is active."
    assert factory.pin(5).state == 0
    skills.close()


class FailingPin(MockPin):
    """A mock pin whose driver fails once `fail` is set, like a pin another
    program has claimed."""

    fail = False

    def _set_state(self, value) -> None:
        if self.fail:
            raise OSError(16, "Device or resource busy")
        super()._set_state(value)


def test_a_failing_pin_is_a_gpio_error_naming_the_device(clock) -> None:
    factory = MockFactory(pin_class=FailingPin)
    try:
        llm = FakeGrammarModel('{"tool": "lamp", "args": {"action": "on"}}')
        tools = ToolBox(parse_tool_specs(["lamp=5"], []), pin_factory=factory)
        skills = make(clock, llm=llm, tools=tools)
        factory.pin(5).fail = True
        with pytest.raises(GpioError) as caught:
            skills.answer("turn on the lamp", "")
        assert caught.value.stage == "gpio"
        message = str(caught.value)
        assert "'lamp' on GPIO5" in message and "Device or resource busy" in message
        assert "check the wiring" in message
        assert isinstance(caught.value.__cause__, OSError)
        skills.close()
    finally:
        factory.reset()
        factory.close()


def test_a_cancelled_tool_call_moves_no_pin(clock, factory) -> None:
    llm = FakeGrammarModel('{"tool": "lamp", "args": {"action": "on"}}')
    tools = ToolBox(parse_tool_specs(["lamp=5"], []), pin_factory=factory)
    skills = make(clock, llm=llm, tools=tools)
    cancel = threading.Event()
    cancel.set()
    assert skills.answer("turn on the lamp", "", cancel) == Answer("", "tool", "tool.cancelled")
    assert llm.calls == ["turn on the lamp"]
    assert factory.pin(5).state == 0
    skills.close()


def test_an_unknown_language_is_refused_with_the_choices(clock) -> None:
    with pytest.raises(ValueError, match="'fr'.*en, pt, es"):
        make(clock, "fr")


# -- found by fuzzing (tests/skills/test_fuzz_skills.py) -----------------------


@pytest.mark.parametrize("language", ["en", "pt", "es"])
def test_an_absurd_volume_or_timer_is_answered_not_raised(clock, language) -> None:
    """ "volume 999...9" (400 digits) raised OverflowError turning the percent
    into a gain; 5000 digits raised ValueError in int()."""
    skills = make(clock, language)
    reply = skills.answer("volume " + "9" * 400, "")
    assert reply is not None and reply.action == "volume.set" and skills.volume == 2.0
    assert skills.answer("volume " + "9" * 5000, "").action == "volume.set"
    timer = skills.answer("timer " + "9" * 5000 + " minutes", "")
    assert timer == Answer(skills.replies["timer_bad"], "intent", "timer.set")
    assert skills.timers.active() == []
