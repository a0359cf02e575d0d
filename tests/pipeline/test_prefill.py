"""Speculative prefill: with the real llama.cpp and SmolLM2 (slow), and its
orchestration by the `Prefill` worker and the controller, with fakes."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from assistant.core.config import LlmConfig
from assistant.core.errors import LanguageModelError
from assistant.core.events import (
    ButtonPressed,
    ButtonReleased,
    PartialTranscript,
    TurnFailed,
    TurnFinished,
)
from assistant.core.messages import Message
from assistant.pipeline.memory import Conversation
from assistant.pipeline.prefill import Prefill, stable_part
from assistant.pipeline.shortcuts import Answer
from assistant.stages.llm import kvcache
from assistant.stages.llm.llama import LlamaLanguageModel
from tests.support.answers import assert_plain_answer
from tests.support.controller import make
from tests.support.fakes import FakeLanguageModel, FakeShortcuts
from tests.support.models import require

WAIT_S = 10.0


@pytest.fixture
def stop_later():
    controllers = []
    yield controllers.append
    for controller in controllers:
        controller.stop()


MODEL = LlmConfig().model
SYSTEM = LlmConfig().system_prompt
QUESTION = "What is the capital of France and why is it famous?"
PARTIALS = ["what", "what is the", "what is the capital of", "What is the capital of France and"]


@pytest.fixture(scope="module")
def model(models_dir: Path):
    require(models_dir / MODEL)
    config = LlmConfig(temperature=0.0, seed=7, max_tokens=48)
    with LlamaLanguageModel.from_config(config, models_dir) as llm:
        yield llm


def history() -> Conversation:
    conversation = Conversation(SYSTEM, 4)
    conversation.add("Hello there.", "Hi! How can I help you today?")
    return conversation


def answer(llm: LlamaLanguageModel, conversation: Conversation, partials: list[str]) -> str:
    for partial in partials:
        llm.prefill(conversation.messages(stable_part(partial)), threading.Event())
    return "".join(llm.generate(conversation.messages(QUESTION)))


@pytest.mark.slow
def test_greedy_answer_is_the_same_with_and_without_prefill(model: LlamaLanguageModel) -> None:
    conversation = history()
    model.reset()
    plain = answer(model, conversation, [])
    plain_stats = model.last_stats
    model.reset()
    prefilled = answer(model, conversation, PARTIALS)
    stats = model.last_stats
    assert_plain_answer(plain)
    assert prefilled == plain
    # The prefill did the work: far fewer prompt tokens were left at the release.
    left = stats.prompt_tokens - stats.cached_tokens
    assert left < plain_stats.prompt_tokens - plain_stats.cached_tokens
    assert left <= 12


@pytest.mark.slow
def test_a_wrong_partial_costs_reuse_but_never_changes_the_answer(
    model: LlamaLanguageModel,
) -> None:
    conversation = history()
    model.reset()
    plain = answer(model, conversation, [])
    model.reset()
    misheard = answer(model, conversation, ["what is the cabbage of trance and why"])
    assert_plain_answer(plain)
    assert misheard == plain


@pytest.mark.slow
def test_prefill_evaluates_only_what_is_new_and_leaves_memory_alone(
    model: LlamaLanguageModel,
) -> None:
    conversation = history()
    before = conversation.messages()
    model.reset()
    first = model.prefill(conversation.messages("what is the"))
    again = model.prefill(conversation.messages("what is the"))
    more = model.prefill(conversation.messages("what is the capital of"))
    assert first > 20  # system prompt, history and the words
    assert again == 0
    assert 0 < more <= 4
    assert conversation.messages() == before


@pytest.mark.slow
def test_prefill_never_evaluates_the_assistant_header(model: LlamaLanguageModel) -> None:
    conversation = history()
    messages = conversation.messages("what is the")
    model.reset()
    model.prefill(messages)
    evaluated = model._llama.input_ids[: model._llama.n_tokens].tolist()
    full = model.tokenize(messages)
    assert full[: len(evaluated)] == evaluated
    assert len(evaluated) < len(full) - 2
    assert model._llama.detokenize(evaluated).decode().endswith("what is the")


@pytest.mark.slow
def test_cancel_stops_a_long_prefill(model: LlamaLanguageModel) -> None:
    long_text = " ".join(["the quick brown fox jumps over the lazy dog"] * 40)
    messages = Conversation(SYSTEM, 4).messages(long_text)
    model.reset()
    cancel = threading.Event()
    cancel.set()
    assert model.prefill(messages, cancel) == 0
    # Cancelled from another thread while it runs: it stops within a chunk.
    cancel = threading.Event()
    model.reset()
    done = threading.Event()
    result: list[int] = []

    def run() -> None:
        result.append(model.prefill(messages, cancel))
        done.set()

    original = model._llama.eval
    calls = []

    def eval_then_cancel(tokens):
        calls.append(len(tokens))
        original(tokens)
        if len(calls) == 2:
            cancel.set()

    model._llama.eval = eval_then_cancel
    try:
        worker = threading.Thread(target=run)
        worker.start()
        assert done.wait(60)
        worker.join(10)
    finally:
        del model._llama.eval
    total = len(model.tokenize(messages))
    assert result == [2 * kvcache.PREFILL_CHUNK]
    assert result[0] < total // 4
    assert model._llama.n_tokens == result[0]
    # What it evaluated stays usable: the next prompt reuses it.
    assert_plain_answer("".join(model.generate(Conversation(SYSTEM, 4).messages("Hi."))))


@pytest.mark.slow
def test_a_prompt_too_long_for_the_context_is_not_prefilled(models_dir: Path) -> None:
    require(models_dir / MODEL)
    config = LlmConfig(n_ctx=256, max_tokens=32, temperature=0.0)
    with LlamaLanguageModel.from_config(config, models_dir) as llm:
        long_text = " ".join(["word"] * 300)
        assert llm.prefill(Conversation(SYSTEM, 4).messages(long_text)) == 0
        assert llm._llama.n_tokens == 0


@pytest.mark.parametrize(
    ("partial", "stable"),
    [
        ("", ""),
        ("what", ""),
        ("what is", "what"),
        ("  what is the capital  ", "what is the"),
        ("qual é a capital", "qual é a"),
    ],
)
def test_stable_part_drops_the_last_word(partial: str, stable: str) -> None:
    assert stable_part(partial) == stable


# -- the Prefill worker, with a fake model ---------------------------------


def test_the_latest_partial_wins_and_memory_is_only_read() -> None:
    llm = FakeLanguageModel(["Hi."])
    llm.prefill_gate = threading.Semaphore(0)
    conversation = Conversation("You are a test.", 4)
    conversation.add("hello", "hi")
    before = conversation.messages()
    prefill = Prefill(1, llm=llm, conversation=conversation)
    prefill.thread.start()
    prefill.offer("one two")
    assert llm.prefill_entered.wait(WAIT_S)
    # While the first prefill runs, three partials come; only the last is read.
    for partial in ("one two three", "one two three four", "one two three four five six"):
        prefill.offer(partial)
    llm.prefill_gate.release(2)
    assert llm.prefilled.acquire(timeout=WAIT_S)
    assert llm.prefilled.acquire(timeout=WAIT_S)
    prefill.finish()
    prefill.thread.join(WAIT_S)
    assert not prefill.thread.is_alive()
    assert [m[-1].content for m in llm.prefills] == ["one", "one two three four five"]
    assert llm.prefills[-1][:-1] == before
    assert prefill.tokens == 1 + 5
    assert conversation.messages() == before


def test_finish_cancels_a_running_prefill_and_ends_the_worker() -> None:
    llm = FakeLanguageModel(["Hi."])
    llm.prefill_gate = threading.Semaphore(0)
    prefill = Prefill(1, llm=llm, conversation=Conversation("", 4))
    prefill.thread.start()
    prefill.offer("a long question")
    assert llm.prefill_entered.wait(WAIT_S)
    prefill.finish()
    prefill.thread.join(WAIT_S)
    assert not prefill.thread.is_alive()
    assert llm.prefill_cancelled == 1
    assert prefill.tokens == 0


def test_a_prefill_waits_for_the_previous_reply() -> None:
    llm = FakeLanguageModel(["Hi."])
    release = threading.Event()
    previous = threading.Thread(target=release.wait, args=(WAIT_S,))
    previous.start()
    prefill = Prefill(2, llm=llm, conversation=Conversation("", 4), previous=previous)
    prefill.thread.start()
    prefill.offer("what is the time")
    assert not llm.prefilled.acquire(timeout=0.2)  # held back by the reply
    release.set()
    assert llm.prefilled.acquire(timeout=WAIT_S)
    prefill.finish()
    prefill.thread.join(WAIT_S)
    previous.join(WAIT_S)
    assert [m[-1].content for m in llm.prefills] == ["what is the"]


# -- the controller ---------------------------------------------------------


def press_and_prefill(controller, rec, llm) -> None:
    """Press, wait for the whole partial and for a prefill of it, release."""
    controller.submit(ButtonPressed(at_s=controller.clock()))
    rec.wait_for(lambda e: isinstance(e, PartialTranscript) and len(e.text.split()) == 6)
    assert llm.prefill_entered.wait(WAIT_S)


def test_a_voice_turn_prefills_from_its_partials(stop_later) -> None:
    llm = FakeLanguageModel(["Paris", " is", " the", " capital."])
    controller, rec, _ = make(llm=llm)
    stop_later(controller)
    controller.submit(ButtonPressed(at_s=controller.clock()))
    rec.wait_for(lambda e: isinstance(e, PartialTranscript) and len(e.text.split()) == 6)
    # Each prefill ends before the next starts; wait for the whole partial's.
    while not llm.prefills or llm.prefills[-1][-1].content != "what is the capital of":
        assert llm.prefilled.acquire(timeout=WAIT_S)
    controller.submit(ButtonReleased(at_s=controller.clock()))
    finished = rec.wait_for(lambda e: isinstance(e, TurnFinished))
    assert finished.reply == "Paris is the capital."
    assert finished.prefill_tokens >= 5
    # The reply answers the final transcript; the partials never reach memory.
    assert llm.calls[0][-1] == Message("user", "what is the capital of france")
    assert llm.prefills[-1][:-1] == llm.calls[0][:-1]
    assert [m.content for m in controller.conversation.messages()[1:]] == [
        "what is the capital of france",
        "Paris is the capital.",
    ]


def test_the_prefill_is_cancelled_and_joined_before_the_reply(stop_later) -> None:
    llm = FakeLanguageModel(["Paris."])
    llm.prefill_gate = threading.Semaphore(0)  # a prefill that never ends by itself
    controller, rec, _ = make(llm=llm)
    stop_later(controller)
    press_and_prefill(controller, rec, llm)
    controller.submit(ButtonReleased(at_s=controller.clock()))
    finished = rec.wait_for(lambda e: isinstance(e, TurnFinished))
    assert finished.reply == "Paris."
    assert llm.prefill_cancelled == 1
    assert llm.order == ["prefill", "generate"]


def test_stop_joins_a_running_prefill() -> None:
    llm = FakeLanguageModel(["Paris."])
    llm.prefill_gate = threading.Semaphore(0)
    controller, rec, _ = make(llm=llm)
    press_and_prefill(controller, rec, llm)
    assert controller.stop(timeout_s=WAIT_S)
    assert llm.prefill_cancelled == 1
    assert not [t for t in threading.enumerate() if t.name.startswith("prefill-")]


def test_a_failing_prefill_never_fails_the_turn(stop_later, caplog) -> None:
    llm = FakeLanguageModel(["Paris."])
    llm.prefill_error = LanguageModelError("the model broke while prefilling")
    controller, rec, _ = make(llm=llm)
    stop_later(controller)
    with caplog.at_level(logging.WARNING, logger="assistant.pipeline.prefill"):
        press_and_prefill(controller, rec, llm)
        assert llm.prefilled.acquire(timeout=WAIT_S)
        controller.submit(ButtonReleased(at_s=controller.clock()))
        finished = rec.wait_for(lambda e: isinstance(e, TurnFinished))
    assert finished.reply == "Paris."
    assert finished.prefill_tokens == 0
    assert not [e for e in rec.events if isinstance(e, TurnFailed)]
    assert "prefill failed" in caplog.text


def test_a_shortcut_still_answers_after_a_prefill(stop_later) -> None:
    llm = FakeLanguageModel(["wrong"])
    skills = FakeShortcuts({"what is the capital of france": Answer("Paris.", "intent")})
    controller, rec, _ = make(llm=llm, skills=skills)
    stop_later(controller)
    press_and_prefill(controller, rec, llm)
    controller.submit(ButtonReleased(at_s=controller.clock()))
    finished = rec.wait_for(lambda e: isinstance(e, TurnFinished))
    assert (finished.reply, finished.path) == ("Paris.", "intent")
    assert llm.calls == []
    assert len(controller.conversation) == 0


def test_no_prefill_when_it_is_off(stop_later) -> None:
    llm = FakeLanguageModel(["Paris."])
    controller, rec, _ = make(llm=llm)
    stop_later(controller)
    controller.prefill = False
    controller.submit(ButtonPressed(at_s=controller.clock()))
    rec.wait_for(lambda e: isinstance(e, PartialTranscript) and len(e.text.split()) == 6)
    controller.submit(ButtonReleased(at_s=controller.clock()))
    finished = rec.wait_for(lambda e: isinstance(e, TurnFinished))
    assert finished.reply == "Paris."
    assert llm.prefills == []
    assert finished.prefill_tokens == 0


def test_the_prefill_and_tts_threads_are_config_keys() -> None:
    from assistant.core.config import load_config
    from assistant.core.errors import ConfigError

    assert load_config(None).llm.prefill is True
    config = load_config(None, {"llm.prefill": False, "tts.n_threads": 2})
    assert (config.llm.prefill, config.tts.n_threads) == (False, 2)
    with pytest.raises(ConfigError, match="tts.n_threads"):
        load_config(None, {"tts.n_threads": -1})
