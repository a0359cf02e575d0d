"""Skills: the answers that come before, or instead of, the chat LLM.

`Skills.answer` recognises the transcript once (`intents.Recogniser`: text
-> an `Intent` with its slots, or None) and acts on the intent:

- appliance commands (time, date, timers, stop, repeat, volume, reset, which
  model and voice) are answered at once, without the LLM;
- ``device.set`` and ``device.query`` make one grammar-constrained LLM call
  that can only produce one of the calls the words asked for, or plain text
  (`tools.ToolBox.call`);
- ``device.unknown`` ("turn on the heater" with no heater declared, or no
  device at all) is refused without the LLM.

No intent, or plain text from the tool call, returns None and the pipeline
streams the normal LLM reply. `Skills` implements the pipeline's
`Shortcuts` protocol.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable
from typing import cast

from assistant.pipeline.shortcuts import Answer
from assistant.skills.calls import Allowed
from assistant.skills.devices import NO_TOOLS_DECLARED
from assistant.skills.intents import Intent, Recogniser
from assistant.skills.lang import language as language_tables
from assistant.skills.timers import Timer, Timers
from assistant.skills.tools import ToolBox
from assistant.skills.words import parse_duration
from assistant.stages.llm.base import LanguageModel

log = logging.getLogger(__name__)

VOLUME_STEP = 0.25
"""Gain change for "louder" and "quieter" (25 percentage points)."""
MAX_GAIN = 2.0
"""Highest gain the voice commands set, unless the config starts higher."""


class Skills:
    """Deterministic answers and tool calls; see the module docstring.

    ``now`` gives the wall-clock time for time and date answers (injected
    for tests); ``timers`` owns its own monotonic clock. ``on_volume(gain)``
    and ``on_reset()`` are called on the thread that calls `answer`, and must
    not block. `answer` blocks on the LLM for a device intent, so call it on
    the LLM worker thread (llama.cpp's one-thread rule). `due_alerts` and
    `describe_tools` may be called from any thread. `close` closes the
    toolbox; the caller closes the LLM. Raise ValueError for a language
    other than en, pt or es.
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
        self.replies = language_tables(language).replies
        self.recogniser = Recogniser(language, list(tools.specs.values()) if tools else [])
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

    def answer(
        self, transcript: str, last_reply: str, cancel: threading.Event | None = None
    ) -> Answer | None:
        """The answer to ``transcript``, or None for the normal LLM path.

        ``last_reply`` is what was said last, by any path, for "repeat that".
        ``cancel`` stops a tool call's generation; a call cancelled before it
        ran answers nothing (action ``tool.cancelled``) and moves no pin.
        Raises `GpioError` when a declared device's pin fails, and
        `LanguageModelError` when the tool call's model does.
        """
        started = time.monotonic()
        intent = self.recogniser.recognise(transcript)
        reply = None if intent is None else self._act(intent, transcript, last_reply, cancel)
        elapsed_ms = (time.monotonic() - started) * 1000
        if reply is None:
            log.info("path llm: no intent or tool matched (%.1f ms)", elapsed_ms)
        else:
            log.info("path %s (%s) answered in %.1f ms", reply.path, reply.action, elapsed_ms)
        return reply

    def _act(
        self, intent: Intent, transcript: str, last_reply: str, cancel: threading.Event | None
    ) -> Answer | None:
        if not intent.name.startswith("device."):
            return Answer(self._say(intent, last_reply), "intent", intent.name)
        tools = self.tools
        if not tools:
            # Without this the chat model answers "turn on the heater" with
            # a claim that it did.
            return Answer(self.replies["no_devices"], "tool", "tool.refused")
        if intent.name == "device.unknown":
            name = intent.slots["device"]
            log.info("refused an undeclared device: %r", name)
            text = self.replies["no_such_device"].format(name=name, names=tools.names())
            return Answer(text, "tool", "tool.refused")
        if self.llm is None:
            return None
        allowed = cast(Allowed, intent.slots["allowed"])
        result = tools.call(self.llm, transcript, allowed, cancel)
        if result is None:
            cancelled = cancel is not None and cancel.is_set()
            return Answer("", "tool", "tool.cancelled") if cancelled else None
        action = f"tool.{result.call.tool}.{result.call.action}" if result.call else "tool.refused"
        return Answer(result.text, "tool", action)

    # -- intents -----------------------------------------------------------

    def _say(self, intent: Intent, last_reply: str) -> str:
        p = self.replies
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
            return last_reply or p["nothing_yet"]
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
        p = self.replies
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
        p = self.replies
        return "; ".join(
            p["timer_left"].format(
                label=f"{t.label}, " if t.label else "",
                duration=self.duration(self.timers.remaining_s(t)),
            )
            for t in timers
        )

    def _list_timers(self) -> str:
        p = self.replies
        active = self.timers.active()
        if not active:
            return p["no_timers"]
        key = "one_timer" if len(active) == 1 else "timers"
        return p[key].format(count=len(active), list=self._describe(active))

    def _cancel_timers(self, everything: bool, label: str) -> str:
        p = self.replies
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
        return self.replies["volume"].format(percent=round(self.volume * 100))

    def _model(self) -> str:
        name = self.model_name.removesuffix(".gguf").split(".")[0]
        return name.replace("-", " ") or self.replies["unknown"]

    def _voice(self) -> str:
        voice = self.voice_name.removeprefix("piper:")
        parts = voice.split("-")
        return " ".join(parts[1:] if len(parts) > 1 else parts) or self.replies["unknown"]

    def duration(self, seconds: float) -> str:
        """``seconds`` as words, e.g. "1 hour and 5 minutes"; rounded up to a second."""
        total = max(0, int(-(-seconds // 1)))
        p = self.replies
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
        p = self.replies
        alerts = []
        for timer in self.timers.due():
            if timer.label:
                alerts.append(p["alert_label"].format(label=timer.label))
            else:
                alerts.append(p["alert"].format(duration=self.duration(timer.duration_s)))
        return alerts

    def describe_tools(self) -> str:
        """The declared tools and the state of each, one per line (``/tools``)."""
        return NO_TOOLS_DECLARED if self.tools is None else self.tools.describe()

    def close(self) -> None:
        """Close the toolbox (releasing its pins); safe to call twice."""
        if self.tools is not None:
            self.tools.close()
