"""Admission: ``serve.max_clients`` connections at once, at most half of
them per LAN host, one ``busy`` error event for an allowed peer refused,
and the project's satellites retrying a busy hub until a slot frees.

The hub runs on loopback (`running_hub`); `Peers` makes its connections
appear to come from LAN hosts. No sleeps: the tests wait on the hub's
answers and on events set by the satellites' backoff, each with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe

from assistant.core.config import ServeConfig
from assistant.core.errors import LanguageModelError
from assistant.core.messages import Message
from assistant.hub.admission import Admission
from assistant.stages import retry
from tests.support.hub import (
    LOOPBACK,
    WAIT_S,
    Peers,
    fake_services,
    hub_address,
    lan_serve,
    running_hub,
    tone,
)


def test_a_lan_host_holds_at_most_half_the_slots_and_loopback_is_not_capped():
    slots = Admission(max_clients=4)
    assert slots.admit("192.168.1.7") is None and slots.admit("192.168.1.7") is None
    refusal = slots.admit("192.168.1.7")
    assert refusal is not None and "at most half per host" in refusal
    assert slots.admit("127.0.0.1") is None and slots.admit("::1") is None  # 4 of 4
    full = slots.admit("192.168.1.8")
    assert full is not None and "all 4 connections are in use" in full
    slots.release("127.0.0.1")
    assert slots.admit("192.168.1.8") is None and slots.held("192.168.1.7") == 2
    slots.release("192.168.1.7")
    assert slots.admit("192.168.1.7") is None


def test_loopback_may_take_every_slot():
    slots = Admission(max_clients=3)
    assert all(slots.admit("127.0.0.1") is None for _ in range(3))
    assert slots.admit("127.0.0.1") is not None


async def _held(port: int) -> AsyncTcpClient:
    """A connection the hub is serving (it answered ``describe``)."""
    client = AsyncTcpClient("127.0.0.1", port)
    await client.connect()
    await client.write_event(Describe().event())
    answer = await asyncio.wait_for(client.read_event(), WAIT_S)
    assert answer is not None and answer.type == "info", answer
    return client


async def _refusal(port: int) -> Event | None:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Describe().event())  # HA writes before it reads
        return await asyncio.wait_for(client.read_event(), WAIT_S)


def test_the_hub_caps_each_lan_host_at_half_and_says_what_to_do(monkeypatch):
    peers = Peers(monkeypatch, "192.168.1.7")
    with running_hub(fake_services(), lan_serve(max_clients=4)) as port:

        async def go() -> tuple[Event | None, Event | None]:
            held = [await _held(port), await _held(port)]
            per_host = await _refusal(port)
            peers.host = "192.168.1.8"
            held.append(await _held(port))  # another host still gets in
            peers.host = "127.0.0.1"
            held.append(await _held(port))  # 4 of 4
            full = await _refusal(port)
            for client in held:
                await client.disconnect()
            return per_host, full

        per_host, full = asyncio.run(go())
    assert per_host is not None and per_host.type == "error" and per_host.data["code"] == "busy"
    assert "192.168.1.7 already holds 2 of its 4 connections" in per_host.data["text"]
    assert full is not None and full.data["code"] == "busy"
    text = full.data["text"]
    assert "try again" in text and "raise serve.max_clients" in text
    assert len(text.splitlines()) == 1


# -- the satellites retry a busy hub -----------------------------------------


@contextlib.contextmanager
def hub_held_full(
    monkeypatch, **engines
) -> Iterator[tuple[int, Callable[[], None], threading.Event]]:
    """A hub with one slot, taken. Yields its port, a function that frees
    the slot, and an event set when a satellite's backoff first plans a retry."""
    refused = threading.Event()
    plan = retry.Backoff.next_delay

    def planned(self: retry.Backoff) -> float | None:
        refused.set()
        return plan(self)

    monkeypatch.setattr(retry.Backoff, "next_delay", planned)
    serve = ServeConfig(uri=LOOPBACK, max_clients=1)
    with running_hub(fake_services(**engines), serve) as port:
        holder = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)
        holder.sendall(b'{"type": "describe"}\n')
        assert holder.recv(1), "the holder was not served"
        try:
            yield port, holder.close, refused
        finally:
            holder.close()


def _in_thread(work: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []

    def run() -> None:
        try:
            out.append(work())
        except Exception as exc:  # handed to the test thread
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def _answer_once_freed(work: Callable[[], object], monkeypatch, **engines) -> object:
    with hub_held_full(monkeypatch, **engines) as (port, free, refused):
        thread, out = _in_thread(lambda: work(port))
        assert refused.wait(WAIT_S), "the satellite was never refused"
        assert not out, f"answered while the hub was full: {out}"
        free()
        thread.join(WAIT_S)
        assert not thread.is_alive() and out, "no answer after the slot was freed"
    return out[0]


def test_a_satellites_question_is_answered_once_a_slot_frees(monkeypatch):
    from assistant.stages.llm.wyoming import WyomingLanguageModel

    def ask(port: int) -> str:
        llm = WyomingLanguageModel(hub_address(port), busy_budget_s=WAIT_S)
        return "".join(llm.generate([Message("user", "what is the capital of france")]))

    assert _answer_once_freed(ask, monkeypatch) == "Paris is the capital."


def test_a_satellites_speech_is_synthesized_once_a_slot_frees(monkeypatch):
    from assistant.stages.tts.wyoming import WyomingTextToSpeech

    def speak(port: int) -> int:
        tts = WyomingTextToSpeech(hub_address(port), busy_budget_s=WAIT_S)
        return sum(len(chunk.samples) for chunk in tts.synthesize("Hello there."))

    assert _answer_once_freed(speak, monkeypatch) > 0


def test_a_satellites_utterance_is_transcribed_once_a_slot_frees(monkeypatch):
    from assistant.stages.asr.wyoming import WyomingSpeechToText

    def hear(port: int) -> str:
        stt = WyomingSpeechToText(hub_address(port), busy_budget_s=WAIT_S)
        transcriber = stt.start()
        for block in np.array_split(tone(0.5, 16000), 5):
            transcriber.accept(block)
        return transcriber.finish()

    assert _answer_once_freed(hear, monkeypatch) == "what is the capital of france"


def test_a_hub_busy_past_the_budget_fails_the_question_in_one_line(monkeypatch):
    from assistant.stages.llm.wyoming import WyomingLanguageModel

    with hub_held_full(monkeypatch) as (port, _free, _refused):
        llm = WyomingLanguageModel(hub_address(port), busy_budget_s=0.5)
        with pytest.raises(LanguageModelError) as failed:
            list(llm.generate([Message("user", "hello")]))
    text = str(failed.value)
    assert "stayed busy for 0.5 s" in text and "serve.max_clients" in text
    assert len(text.splitlines()) == 1


def test_backoff_doubles_to_a_second_within_its_budget():
    now = [0.0]
    backoff = retry.Backoff(3.0, clock=lambda: now[0])
    delays = []
    while (delay := backoff.next_delay()) is not None:
        delays.append(delay)
        now[0] += delay
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.0]
    assert sum(delays) <= 3.0
