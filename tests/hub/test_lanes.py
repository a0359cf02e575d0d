"""The hub's engine lanes: final jobs first, clients in turn, partials
bounded per client, and every transcriber closed (fast: fake jobs and
fakes, threading events, no model)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import CancelledError, Future, wait

import numpy as np
import pytest

from assistant.core.errors import AssistantError
from assistant.core.fairqueue import FairQueue
from assistant.hub.lanes import EngineLane, LaneFull
from assistant.hub.listening import AHEAD_S, ClientAudio, Utterance
from tests.support.fakes import FakeSpeechToText

WAIT_S = 10.0
AHEAD_CHUNKS = round(AHEAD_S / 0.1)
"""100 ms chunks a client may send ahead of real time before it is held."""


class Recorder:
    """Jobs that append their label to `order` when they run."""

    def __init__(self) -> None:
        self.order: list[str] = []

    def job(self, label: str):
        return lambda: self.order.append(label)


@pytest.fixture
def lane():
    lane = EngineLane("test")
    yield lane
    lane.close()


def hold(lane: EngineLane) -> threading.Event:
    """Occupy the lane's thread until the returned event is set, so the
    jobs queued meanwhile are ordered by the lane, not by their arrival."""
    entered, release = threading.Event(), threading.Event()
    lane.submit(lambda: (entered.set(), release.wait(WAIT_S)), client="holder", partial=True)
    assert entered.wait(WAIT_S)
    return release


def finished(futures: list[Future]) -> None:
    done, not_done = wait(futures, WAIT_S)
    assert not not_done, f"{len(not_done)} lane jobs never ran"


def test_a_final_job_goes_before_the_partials_queued_ahead_of_it(lane):
    recorder = Recorder()
    release = hold(lane)
    partials = [
        lane.submit(recorder.job(f"{client}{i}"), client=client, partial=True)
        for i in range(3)
        for client in ("a", "b", "c")
    ]
    final = lane.submit(recorder.job("final"), client="d")
    release.set()
    finished([*partials, final])
    assert recorder.order[0] == "final"
    assert sorted(recorder.order[1:]) == sorted(f"{c}{i}" for c in "abc" for i in range(3))


def test_two_clients_partials_alternate(lane):
    recorder = Recorder()
    release = hold(lane)
    futures = [lane.submit(recorder.job(f"a{i}"), client="a", partial=True) for i in range(3)]
    futures += [lane.submit(recorder.job(f"b{i}"), client="b", partial=True) for i in range(3)]
    release.set()
    finished(futures)
    assert recorder.order == ["a0", "b0", "a1", "b1", "a2", "b2"]


def test_clients_final_jobs_take_turns_too(lane):
    recorder = Recorder()
    release = hold(lane)
    futures = [lane.submit(recorder.job(f"a{i}"), client="a") for i in range(2)]
    futures += [lane.submit(recorder.job(f"b{i}"), client="b") for i in range(2)]
    release.set()
    finished(futures)
    assert recorder.order == ["a0", "b0", "a1", "b1"]


def test_a_replys_opening_goes_before_the_later_sentences_queued_ahead_of_it(lane):
    # The tts lane: until a reply's first piece is spoken its client hears
    # nothing, while the others are already listening to their first ones.
    recorder = Recorder()
    release = hold(lane)
    futures = [lane.submit(recorder.job(f"later-{c}"), client=c) for c in "abc"]
    futures.append(lane.submit(recorder.job("opening-d"), client="d", opening=True))
    release.set()
    finished(futures)
    assert recorder.order == ["opening-d", "later-a", "later-b", "later-c"]


def test_a_client_over_its_bound_loses_its_oldest_partial():
    lane = EngineLane("test", max_partials=2)
    recorder = Recorder()
    try:
        release = hold(lane)
        futures = [lane.submit(recorder.job(f"a{i}"), client="a", partial=True) for i in range(4)]
        other = lane.submit(recorder.job("b0"), client="b", partial=True)
        release.set()
        finished([*futures, other])
    finally:
        lane.close()
    for dropped in futures[:2]:
        with pytest.raises(LaneFull, match="oldest was dropped"):
            dropped.result()
    assert recorder.order == ["a2", "b0", "a3"]


def test_a_cancelled_job_never_runs_and_close_cancels_the_queue():
    lane = EngineLane("test")
    recorder = Recorder()
    release = hold(lane)
    cancelled = lane.submit(recorder.job("cancelled"), client="a")
    assert cancelled.cancel()
    queued = lane.submit(recorder.job("queued"), client="b")
    closer = threading.Thread(target=lane.close)
    closer.start()
    done, _ = wait([queued], WAIT_S)  # close cancels the queue at once, then waits
    assert done
    release.set()
    closer.join(WAIT_S)
    assert not closer.is_alive()
    with pytest.raises(CancelledError):
        queued.result(0)
    assert recorder.order == []
    with pytest.raises(AssistantError, match="closed"):
        lane.submit(recorder.job("late")).result(0)
    lane.close()  # twice is fine


def test_the_fair_queue_rejects_a_bound_below_one():
    with pytest.raises(ValueError, match="max_partials"):
        FairQueue(0)


# --- Transcribers closed, through the hub's `Utterance` ----------------------


def utterance(lane: EngineLane, stt: FakeSpeechToText, clock=None) -> Utterance:
    async def on_words(new: str) -> None:
        pass

    paced = {} if clock is None else {"clock": clock}
    return Utterance(stt, lane, ClientAudio(16000, 10.0), on_words, client="peer:1", **paced)


class FakeClock:
    """Wall time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("chunk_s", [0.1, 0.0], ids=["at-the-speakers-pace", "a-file-sent-whole"])
def test_audio_ahead_of_real_time_is_held_for_the_final_decode(lane, chunk_s):
    # A recording uploaded whole (HA's REST speech-to-text, wyoming-bench)
    # gets no partial decodes: one in flight at audio-stop would delay the
    # final one. A microphone's audio is fed as it comes.
    stt, clock, chunks = FakeSpeechToText(), FakeClock(), 30

    async def run() -> Utterance:
        heard = utterance(lane, stt, clock)
        for _ in range(chunks):
            heard.add(np.zeros(1600, np.int16))  # 100 ms
            if heard.job is not None:
                await asyncio.wait_for(heard.job, WAIT_S)
            clock.now += chunk_s
        await asyncio.wait_for(heard.finish(), WAIT_S)
        return heard

    heard = asyncio.run(run())
    fed = stt.transcribers[0].blocks
    if chunk_s:
        assert not heard.held and fed >= chunks
    else:
        assert heard.held and fed <= 1 + AHEAD_CHUNKS


def test_a_finished_utterance_closes_its_transcriber(lane):
    stt = FakeSpeechToText("hello there")

    async def run() -> str:
        heard = utterance(lane, stt)
        heard.add(np.zeros(1600, np.int16))
        return await asyncio.wait_for(heard.finish(), WAIT_S)

    assert asyncio.run(run()) == "hello there"
    assert [t.closed for t in stt.transcribers] == [1]


def test_an_abandoned_utterance_closes_its_transcriber_on_the_lane(lane):
    stt = FakeSpeechToText()

    async def run() -> None:
        heard = utterance(lane, stt)
        heard.add(np.zeros(1600, np.int16))
        assert heard.job is not None
        await asyncio.wait_for(heard.job, WAIT_S)  # the transcriber exists now
        heard.add(np.zeros(1600, np.int16))
        heard.abandon()  # the client went away (`HubHandler.disconnect`)
        # The close goes after the job in hand: a final job of this client.
        await asyncio.wait_for(
            asyncio.wrap_future(lane.submit(lambda: None, client="peer:1")), WAIT_S
        )

    asyncio.run(run())
    assert [t.closed for t in stt.transcribers] == [1]
    assert stt.transcribers[0].finished == 0


def test_with_two_threads_one_clients_blocked_job_holds_only_that_client():
    # The asr lane: a Whisper finish waiting for its decode must not stop
    # another client's audio, but one client's jobs stay one at a time.
    lane = EngineLane("test", threads=2)
    recorder = Recorder()
    try:
        entered, release = threading.Event(), threading.Event()
        held = lane.submit(lambda: (entered.set(), release.wait(WAIT_S)), client="a")
        assert entered.wait(WAIT_S)
        after = lane.submit(recorder.job("a2"), client="a", partial=True)
        other = lane.submit(recorder.job("b1"), client="b", partial=True)
        assert other.result(WAIT_S) is None
        assert recorder.order == ["b1"] and not after.done()
        release.set()
        finished([held, after])
    finally:
        lane.close()
    assert recorder.order == ["b1", "a2"]
