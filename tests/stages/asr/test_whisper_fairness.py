"""Whisper's decode worker shared by overlapping utterances (the hub): a
final decode before anybody's partials, utterances in turn, partials
bounded, and a closed or finished utterance's decodes off the queue (fast:
fake decodes, threading events, no model)."""

from __future__ import annotations

import threading

import numpy as np

from assistant.core.fairqueue import FairQueue
from assistant.stages.asr.decode_worker import DecodeWorker
from assistant.stages.asr.endpoint import SilenceEndpointer
from assistant.stages.asr.whisper_stream import StreamingTranscriber
from assistant.stages.asr.whisper_window import Decoded
from assistant.stages.audio.pcm import ASR_RATE_HZ

RATE = ASR_RATE_HZ
WAIT_S = 10.0


class SignallingQueue(FairQueue):
    """A real `FairQueue` that also sets `final_queued` when a final job
    arrives, so a test knows a blocked ``finish`` has queued its decode."""

    def __init__(self, max_partials: int = 1) -> None:
        super().__init__(max_partials)
        self.final_queued = threading.Event()

    def put(self, job, client, *, final):
        dropped = super().put(job, client, final=final)
        if final:
            self.final_queued.set()
        return dropped


class FakeDecode:
    """A fake decode: appends ``label`` to the shared ``log`` and returns
    ``label`` as the text of a 10 s window."""

    def __init__(self, label: str, log: list[str]) -> None:
        self.label, self.log = label, log

    def __call__(self, samples: np.ndarray) -> Decoded:
        self.log.append(self.label)
        return Decoded(self.label, len(samples) / RATE, 10, 0.0)


def hold(worker: DecodeWorker) -> threading.Event:
    """Occupy the worker with a partial job until the returned event is set."""
    entered, release = threading.Event(), threading.Event()
    worker.submit(lambda: (entered.set(), release.wait(WAIT_S)), "holder")
    assert entered.wait(WAIT_S)
    return release


def speech() -> np.ndarray:
    """1 s of loud noise (speech to the energy endpointer) after a breath of silence."""
    noise = np.random.default_rng(3).normal(0, 3000, RATE).astype(np.int16)
    return np.concatenate([np.zeros(RATE // 10, np.int16), noise])


def transcriber(name: str, worker: DecodeWorker, log: list[str]) -> StreamingTranscriber:
    """Partial decodes only during speech (no pause decode), logged as
    ``name`` and ``name-final``."""
    return StreamingTranscriber(
        FakeDecode(name, log),
        FakeDecode(f"{name}-final", log),
        worker,
        SilenceEndpointer(1.0),
        interval_s=0.5,
        pause_s=5.0,
    )


def test_a_final_decode_runs_before_the_partials_of_other_clients():
    ran: list[str] = []
    worker = DecodeWorker()
    try:
        release = hold(worker)
        done = [threading.Event() for _ in range(5)]
        for i, event in enumerate(done):
            worker.submit(lambda i=i, event=event: (ran.append(f"p{i}"), event.set()), f"c{i}")
        final = worker.submit_final(lambda: ran.append("final") or "text", "late")
        release.set()
        assert final.result(WAIT_S) == "text"
        assert all(event.wait(WAIT_S) for event in done)
    finally:
        worker.close()
    assert ran == ["final", "p0", "p1", "p2", "p3", "p4"]


def submit_logged(worker: DecodeWorker, label: str, client: str, ran: list[str], **kw):
    """Submit a partial job that logs ``label``; returns the event it sets."""
    done = threading.Event()
    worker.submit(lambda: (ran.append(label), done.set()), client, **kw)
    return done


def test_two_clients_partials_alternate():
    ran: list[str] = []
    worker = DecodeWorker(max_partials=3)
    try:
        release = hold(worker)
        done = [submit_logged(worker, f"{c}{i}", c, ran) for c in ("a", "b") for i in range(3)]
        release.set()
        assert all(event.wait(WAIT_S) for event in done)
    finally:
        worker.close()
    assert ran == ["a0", "b0", "a1", "b1", "a2", "b2"]


def test_the_bound_drops_a_clients_oldest_partials_first():
    ran: list[str] = []
    dropped: list[str] = []
    worker = DecodeWorker(max_partials=2)
    try:
        release = hold(worker)
        done = [
            submit_logged(worker, f"a{i}", "a", ran, dropped=lambda i=i: dropped.append(f"a{i}"))
            for i in range(4)
        ]
        assert dropped == ["a0", "a1"]  # at once, on the submitting thread
        release.set()
        assert all(event.wait(WAIT_S) for event in done[2:])
    finally:
        worker.close()
    assert ran == ["a2", "a3"]


def test_finish_decodes_before_the_partials_other_utterances_queued():
    log: list[str] = []
    jobs = SignallingQueue()
    worker = DecodeWorker(jobs=jobs)
    others = [transcriber(f"other{i}", worker, log) for i in range(3)]
    late = transcriber("late", worker, log)
    try:
        release = hold(worker)
        for other in others:
            other.accept(speech())  # each queues a partial decode
        late.accept(speech())
        assert len(jobs) == 4
        finished: list[str] = []
        finisher = threading.Thread(target=lambda: finished.append(late.finish()))
        finisher.start()
        assert jobs.final_queued.wait(WAIT_S)
        release.set()
        finisher.join(WAIT_S)
        assert not finisher.is_alive()
        for other in others:
            assert other.wait_idle(WAIT_S)
    finally:
        worker.close()
    assert finished == ["late-final"]
    # Its own queued partial left the queue; the others' ran after its final.
    assert log == ["late-final", "other0", "other1", "other2"]


def test_a_closed_utterance_takes_its_decode_off_the_queue():
    log: list[str] = []
    jobs = SignallingQueue()
    worker = DecodeWorker(jobs=jobs)
    abandoned = transcriber("abandoned", worker, log)
    try:
        release = hold(worker)
        abandoned.accept(speech())
        assert len(jobs) == 1
        abandoned.close()
        assert len(jobs) == 0
        assert abandoned.wait_idle(0)
        release.set()
        assert worker.submit_final(lambda: "after", "end").result(WAIT_S) == "after"
    finally:
        worker.close()
    assert log == []
    abandoned.close()  # twice is fine


def test_a_final_decode_waiting_when_the_worker_closes_runs_on_its_caller():
    log: list[str] = []
    jobs = SignallingQueue()
    worker = DecodeWorker(jobs=jobs)
    utterance = transcriber("u", worker, log)
    release = hold(worker)
    utterance.accept(speech())
    finished: list[str] = []
    finisher = threading.Thread(target=lambda: finished.append(utterance.finish()))
    finisher.start()
    assert jobs.final_queued.wait(WAIT_S)
    closer = threading.Thread(target=worker.close)
    closer.start()
    finisher.join(WAIT_S)  # the closing worker cancels the final; finish decodes itself
    release.set()
    closer.join(WAIT_S)
    assert not finisher.is_alive() and not closer.is_alive()
    assert finished == ["u-final"] and log == ["u-final"]


def test_a_decode_at_a_pause_goes_before_other_clients_partials():
    # Final-quality, and often the final text itself: it goes with the finals.
    log: list[str] = []
    jobs = SignallingQueue()
    worker = DecodeWorker(jobs=jobs)
    other = transcriber("other", worker, log)
    paused = StreamingTranscriber(
        FakeDecode("paused", log),
        FakeDecode("paused-at-pause", log),
        worker,
        SilenceEndpointer(1.0),
        interval_s=5.0,  # no partial decode: only the pause one
        pause_s=0.25,
    )
    try:
        release = hold(worker)
        other.accept(speech())
        assert not jobs.final_queued.is_set()
        paused.accept(np.concatenate([speech(), np.zeros(RATE // 2, np.int16)]))
        assert jobs.final_queued.is_set()
        release.set()
        assert paused.wait_idle(WAIT_S) and other.wait_idle(WAIT_S)
    finally:
        worker.close()
    assert log == ["paused-at-pause", "other"]
