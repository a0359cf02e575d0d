"""The real model for the tool-call tests: SmolLM2 loaded once per session,
greedy, with its KV cache emptied before every test that uses it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.core.config import LlmConfig
from assistant.stages.llm.llama import LlamaLanguageModel
from tests.support.models import require

CALL_OR_TEXT = "root ::= call | text\n"


class Recorded:
    """The real model, keeping each tool-grammar output it gave (`outputs`,
    as far as the caller read it). With ``calls_only`` the plain-text
    alternative is taken out of every tool grammar it is given, so it must
    say one of the calls offered: which one a model prefers differs between
    CPUs, what the grammar allows does not. Not a fake: the words are
    SmolLM2's under llama.cpp's grammar."""

    def __init__(self, llm: LlamaLanguageModel, *, calls_only: bool) -> None:
        self._llm = llm
        self.calls_only = calls_only
        self.outputs: list[str] = []

    def generate_with_grammar(self, messages, gbnf: str, cancel=None, *, max_tokens: int = 64):
        if self.calls_only:
            assert gbnf.startswith(CALL_OR_TEXT), f"no call is offered: {gbnf}"
            gbnf = gbnf.replace(CALL_OR_TEXT, "root ::= call\n", 1)
        index = len(self.outputs)
        self.outputs.append("")
        for piece in self._llm.generate_with_grammar(messages, gbnf, cancel, max_tokens=max_tokens):
            self.outputs[index] += piece
            yield piece

    def __getattr__(self, name: str):
        return getattr(self._llm, name)


@pytest.fixture(scope="session")
def tool_llm(models_dir: Path) -> Iterator[LlamaLanguageModel]:
    require(models_dir / LlmConfig().model)
    config = LlmConfig(temperature=0.0, seed=7, max_tokens=32)  # tool calls take 40 of their own
    with LlamaLanguageModel.from_config(config, models_dir) as model:
        yield model


@pytest.fixture
def llm(tool_llm: LlamaLanguageModel) -> LlamaLanguageModel:
    """SmolLM2, greedy, with an empty KV cache."""
    tool_llm.reset()
    return tool_llm


@pytest.fixture
def chooser(llm: LlamaLanguageModel) -> Recorded:
    """The real model, free to answer with a call or in plain text."""
    return Recorded(llm, calls_only=False)


@pytest.fixture
def caller(llm: LlamaLanguageModel) -> Recorded:
    """The real model, held to the calls the grammar offers."""
    return Recorded(llm, calls_only=True)
