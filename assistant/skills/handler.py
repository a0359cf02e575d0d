"""Skills: the answers that come before, or instead of, the chat LLM.

`Skills.handle` tries, in order:

1. the intent matcher (`intents.py`): time, date, timers, stop, repeat,
   volume, reset, which model and voice; answered at once, no LLM call;
2. the tool path (`tools.py`), only when tools are declared and the
   transcript names one of them (or its synonyms): one grammar-constrained
   LLM call that can only produce a declared call or plain text. "Turn on
   the heater" with no heater declared (or no tool at all) is refused
   without the LLM.

Anything else returns None and the caller streams the normal LLM reply. The
text of a `SkillReply` is spoken like any reply (see `FixedReply`).
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from assistant.core.messages import Message
from assistant.skills.intents import Intent, IntentMatcher, parse_duration
from assistant.skills.timers import Timer, Timers
from assistant.skills.tools import ToolBox, device_command, no_tools_refusal
from assistant.stages.llm.base import LanguageModel

log = logging.getLogger(__name__)

VOLUME_STEP = 0.25
"""Gain change for "louder" and "quieter" (25 percentage points)."""
MAX_GAIN = 2.0
"""Highest gain the voice commands set, unless the config starts higher."""


@dataclass(frozen=True)
class SkillReply:
    text: str
    """What to say, spoken with the normal TTS; empty for "stop"."""
    path: str
    """``"intent"`` or ``"tool"``."""
    action: str = ""
    """The intent or tool action, for the caller to act on and log:
    ``stop``, ``repeat``, ``volume``, ``reset``, ``time``, ``date``,
    ``timer.set``, ``timer.list``, ``timer.cancel``, ``identity``,
    ``tool.<name>.<action>`` or ``tool.refused``."""


_PHRASES = {
    "en": {
        "units": (("hour", "hours"), ("minute", "minutes"), ("second", "seconds")),
        "and": " and ",
        "time": "It's {h12}:{m:02d} {ampm}.",
        "date": "Today is {weekday}, {monthname} {day}, {year}.",
        "weekdays": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
        "months": "January February March April May June July August September October "
        "November December",
        "timer_set": "Timer set for {duration}.",
        "timer_set_label": "{label} timer set for {duration}.",
        "timer_how_long": "How long should the timer be?",
        "timer_bad": "I can only set timers from one second to 24 hours, up to ten at once.",
        "no_timers": "You have no timers.",
        "timer_left": "{label}{duration} left",
        "timers": "{count} timers: {list}.",
        "one_timer": "One timer: {list}.",
        "cancelled_one": "Timer cancelled.",
        "cancelled_many": "Cancelled {count} timers.",
        "no_such_timer": "I couldn't find a {label} timer.",
        "which_timer": "You have {count} timers: {list}. Say cancel all timers, or which one.",
        "alert": "Your timer for {duration} is done.",
        "alert_label": "Your {label} timer is done.",
        "nothing_yet": "I haven't said anything yet.",
        "volume": "Volume {percent} percent.",
        "reset": "Okay, I've forgotten our conversation.",
        "identity": "I'm running the {model} language model with the {voice} voice.",
        "unknown": "unknown",
    },
    "pt": {
        "units": (("hora", "horas"), ("minuto", "minutos"), ("segundo", "segundos")),
        "and": " e ",
        "time": "São {h24}:{m:02d}.",
        "date": "Hoje é {weekday}, {day} de {monthname} de {year}.",
        "weekdays": "segunda-feira terça-feira quarta-feira quinta-feira sexta-feira sábado "
        "domingo",
        "months": "janeiro fevereiro março abril maio junho julho agosto setembro outubro "
        "novembro dezembro",
        "timer_set": "Temporizador de {duration} iniciado.",
        "timer_set_label": "Temporizador {label} de {duration} iniciado.",
        "timer_how_long": "De quanto tempo é o temporizador?",
        "timer_bad": "Só consigo temporizadores de um segundo a 24 horas, até dez de cada vez.",
        "no_timers": "Não há temporizadores.",
        "timer_left": "{label}faltam {duration}",
        "timers": "{count} temporizadores: {list}.",
        "one_timer": "Um temporizador: {list}.",
        "cancelled_one": "Temporizador cancelado.",
        "cancelled_many": "{count} temporizadores cancelados.",
        "no_such_timer": "Não encontrei o temporizador {label}.",
        "which_timer": "Há {count} temporizadores: {list}. Diga cancelar todos, ou qual.",
        "alert": "O temporizador de {duration} terminou.",
        "alert_label": "O temporizador {label} terminou.",
        "nothing_yet": "Ainda não disse nada.",
        "volume": "Volume a {percent} por cento.",
        "reset": "Pronto, esqueci a nossa conversa.",
        "identity": "Estou a usar o modelo de linguagem {model} com a voz {voice}.",
        "unknown": "desconhecido",
    },
    "es": {
        "units": (("hora", "horas"), ("minuto", "minutos"), ("segundo", "segundos")),
        "and": " y ",
        "time": "Son las {h24}:{m:02d}.",
        "date": "Hoy es {weekday}, {day} de {monthname} de {year}.",
        "weekdays": "lunes martes miércoles jueves viernes sábado domingo",
        "months": "enero febrero marzo abril mayo junio julio agosto septiembre octubre "
        "noviembre diciembre",
        "timer_set": "Temporizador de {duration} en marcha.",
        "timer_set_label": "Temporizador {label} de {duration} en marcha.",
        "timer_how_long": "¿De cuánto tiempo es el temporizador?",
        "timer_bad": "Solo puedo poner temporizadores de un segundo a 24 horas, hasta diez.",
        "no_timers": "No hay temporizadores.",
        "timer_left": "{label}quedan {duration}",
        "timers": "{count} temporizadores: {list}.",
        "one_timer": "Un temporizador: {list}.",
        "cancelled_one": "Temporizador cancelado.",
        "cancelled_many": "{count} temporizadores cancelados.",
        "no_such_timer": "No encontré el temporizador {label}.",
        "which_timer": "Hay {count} temporizadores: {list}. Di cancelar todos, o cuál.",
        "alert": "El temporizador de {duration} ha terminado.",
        "alert_label": "El temporizador {label} ha terminado.",
        "nothing_yet": "Todavía no he dicho nada.",
        "volume": "Volumen al {percent} por ciento.",
        "reset": "Vale, he olvidado nuestra conversación.",
        "identity": "Uso el modelo de lenguaje {model} con la voz {voice}.",
        "unknown": "desconocido",
    },
}


class FixedReply:
    """A `LanguageModel` that "generates" a fixed text, so a skill's answer
    goes through the same `ReplyStreamer` (sentences -> TTS -> speaker) as an
    LLM reply. One piece per word keeps ``on_token`` streaming."""

    def __init__(self, text: str, name: str = "skills") -> None:
        self.text = text
        self.name = name

    def generate(
        self, messages: Sequence[Message], cancel: threading.Event | None = None
    ) -> Iterator[str]:
        if not self.text:
            return
        for i, word in enumerate(self.text.split(" ")):
            if cancel is not None and cancel.is_set():
                return
            yield word if i == 0 else " " + word

    def fits(self, messages: Sequence[Message]) -> bool:
        return True

    def warm_up(self) -> None:
        pass

    def close(self) -> None:
        pass


class Skills:
    """Deterministic answers and tool calls; see the module docstring.

    ``now`` gives the wall-clock time for time and date answers (injected
    for tests); ``timers`` owns its own monotonic clock. ``on_volume(gain)``
    and ``on_reset()`` are called on the thread that calls `handle`, and must
    not block. `handle` blocks on the LLM for the tool path, so call it on
    the LLM worker thread (llama.cpp's one-thread rule). `due_alerts` and
    `describe_tools` may be called from any thread. `close` closes the
    toolbox; the caller closes the LLM.
    """

    def __init__(
        self,
        *,
        language: str = "en",
        llm: LanguageModel | None = None,
        tools: ToolBox | None = None,
        timers: Timers | None = None,
        now: Callable[[], datetime.datetime] = datetime.datetime.now,
        model_name: str = "",
        voice_name: str = "",
        volume: float = 1.0,
        on_volume: Callable[[float], None] | None = None,
        on_reset: Callable[[], None] | None = None,
    ) -> None:
        self.language = language
        self.matcher = IntentMatcher(language)
        self.phrases = _PHRASES[language]
        self.llm = llm
        self.tools = tools
        self.timers = timers if timers is not None else Timers()
        self.now = now
        self.model_name = model_name or (llm.name if llm is not None else "")
        self.voice_name = voice_name
        self.volume = volume
        """Current playback gain (1.0 = 100 percent)."""
        self.max_gain = max(MAX_GAIN, volume)
        self.on_volume = on_volume
        self.on_reset = on_reset
        self._last = ""

    def handle(self, transcript: str, last_reply: str = "") -> SkillReply | None:
        """The skill's answer to ``transcript``, or None for the normal LLM path.

        ``last_reply`` is what was said last (by any path), for "repeat".
        """
        started = time.monotonic()
        reply = self._handle(transcript, last_reply)
        elapsed_ms = (time.monotonic() - started) * 1000
        if reply is None:
            log.info("path llm: no intent or tool matched (%.1f ms)", elapsed_ms)
            return None
        log.info("path %s (%s) answered in %.1f ms", reply.path, reply.action, elapsed_ms)
        if reply.text and reply.action != "repeat":
            self._last = reply.text
        return reply

    def _handle(self, transcript: str, last_reply: str) -> SkillReply | None:
        intent = self.matcher.match(transcript)
        if intent is not None:
            return SkillReply(self._answer(intent, last_reply), "intent", intent.name)
        tools = self.tools
        if not tools:
            # Without this the chat model answers "turn on the heater" with
            # a claim that it did.
            if device_command(transcript) is not None:
                return SkillReply(no_tools_refusal(self.language), "tool", "tool.refused")
            return None
        refusal = tools.refuse_unknown_device(transcript)
        if refusal is not None:
            return SkillReply(refusal, "tool", "tool.refused")
        generate = getattr(self.llm, "generate_with_grammar", None)
        if tools.mentioned(transcript) is None or generate is None:
            return None
        result = tools.call(self.llm, transcript)
        if result is None:
            return None
        action = f"tool.{result.call.tool}.{result.call.action}" if result.call else "tool.refused"
        return SkillReply(result.text, "tool", action)

    # -- intents -----------------------------------------------------------

    def _answer(self, intent: Intent, last_reply: str) -> str:
        p = self.phrases
        name = intent.name
        if name == "time":
            now = self.now()
            h12 = now.hour % 12 or 12
            ampm = "AM" if now.hour < 12 else "PM"
            return p["time"].format(h12=h12, h24=now.hour, m=now.minute, ampm=ampm)
        if name == "date":
            now = self.now()
            return p["date"].format(
                weekday=p["weekdays"].split()[now.weekday()],
                monthname=p["months"].split()[now.month - 1],
                day=now.day,
                year=now.year,
            )
        if name == "timer.set":
            return self._set_timer(int(intent.slots["seconds"]), str(intent.slots["label"]))
        if name == "timer.list":
            return self._list_timers()
        if name == "timer.cancel":
            return self._cancel_timers(bool(intent.slots["all"]), str(intent.slots["label"]))
        if name == "stop":
            return ""
        if name == "repeat":
            return last_reply or self._last or p["nothing_yet"]
        if name.startswith("volume."):
            return self._set_volume(name, intent.slots)
        if name == "reset":
            if self.on_reset is not None:
                self.on_reset()
            return p["reset"]
        if name == "identity":
            return p["identity"].format(model=self._model(), voice=self._voice())
        raise AssertionError(f"intent {name} has no answer")  # pragma: no cover

    def _set_timer(self, seconds: int, label: str) -> str:
        p = self.phrases
        if seconds <= 0:
            return p["timer_how_long"]
        try:
            self.timers.add(seconds, label)
        except ValueError as exc:
            log.info("timer refused: %s", exc)
            return p["timer_bad"]
        key = "timer_set_label" if label else "timer_set"
        return p[key].format(duration=self.duration(seconds), label=label.capitalize())

    def _describe(self, timers: list[Timer]) -> str:
        p = self.phrases
        return "; ".join(
            p["timer_left"].format(
                label=f"{t.label}, " if t.label else "",
                duration=self.duration(self.timers.remaining_s(t)),
            )
            for t in timers
        )

    def _list_timers(self) -> str:
        p = self.phrases
        active = self.timers.active()
        if not active:
            return p["no_timers"]
        key = "one_timer" if len(active) == 1 else "timers"
        return p[key].format(count=len(active), list=self._describe(active))

    def _cancel_timers(self, everything: bool, label: str) -> str:
        p = self.phrases
        active = self.timers.active()
        if not active:
            return p["no_timers"]
        if label and not everything:
            seconds = parse_duration(label)
            chosen = [
                t for t in active if t.label == label or (seconds and t.duration_s == seconds)
            ]
            if not chosen:
                return p["no_such_timer"].format(label=label)
        elif everything or len(active) == 1:
            chosen = active
        else:
            names = ", ".join(t.label or self.duration(t.duration_s) for t in active)
            return p["which_timer"].format(count=len(active), list=names)
        gone = self.timers.cancel(chosen)
        if len(gone) == 1:
            return p["cancelled_one"]
        return p["cancelled_many"].format(count=len(gone))

    def _set_volume(self, name: str, slots: dict[str, object]) -> str:
        if name == "volume.up":
            gain = self.volume + VOLUME_STEP
        elif name == "volume.down":
            gain = self.volume - VOLUME_STEP
        else:
            gain = int(slots["percent"]) / 100
        self.volume = round(min(self.max_gain, max(0.0, gain)), 2)
        if self.on_volume is not None:
            self.on_volume(self.volume)
        return self.phrases["volume"].format(percent=round(self.volume * 100))

    def _model(self) -> str:
        name = self.model_name.removesuffix(".gguf").split(".")[0]
        return name.replace("-", " ") or self.phrases["unknown"]

    def _voice(self) -> str:
        voice = self.voice_name.removeprefix("piper:")
        parts = voice.split("-")
        return " ".join(parts[1:] if len(parts) > 1 else parts) or self.phrases["unknown"]

    def duration(self, seconds: float) -> str:
        """``seconds`` as words, e.g. "1 hour and 5 minutes"; rounded up to a second."""
        total = max(0, int(-(-seconds // 1)))
        p = self.phrases
        parts = []
        for (one, many), size in zip(p["units"], (3600, 60, 1), strict=True):
            count, total = divmod(total, size)
            if count:
                parts.append(f"{count} {one if count == 1 else many}")
        if not parts:
            return f"0 {p['units'][2][1]}"
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + p["and"] + parts[-1]

    # -- for the controller and the console --------------------------------

    def due_alerts(self) -> list[str]:
        """Alerts to speak for the timers that just came due (removes them)."""
        p = self.phrases
        alerts = []
        for timer in self.timers.due():
            if timer.label:
                alerts.append(p["alert_label"].format(label=timer.label))
            else:
                alerts.append(p["alert"].format(duration=self.duration(timer.duration_s)))
        return alerts

    def describe_tools(self) -> str:
        """The declared tools and the state of each, one per line (``/tools``)."""
        if self.tools is None:
            return 'no tools declared; add outputs = ["lamp=5"] or inputs to [tools] in the config'
        return self.tools.describe()

    def close(self) -> None:
        """Close the toolbox (releasing its pins); safe to call twice."""
        if self.tools is not None:
            self.tools.close()
