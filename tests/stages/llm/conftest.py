"""The language models the LLM tests use: SmolLM2 loaded once per session,
greedy, with its KV cache emptied before every test, so a test starts as
after loading. Tests whose subject is loading load their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.core.config import LlmConfig
from assistant.stages.llm.llama import LlamaLanguageModel
from tests.support.models import require

GREEDY = LlmConfig(temperature=0.0, seed=7)
"""The default config, made deterministic."""
SMALL = LlmConfig(n_ctx=512, max_tokens=32, temperature=0.0, seed=7)
"""A small context and reply budget, to force trimming."""


def _load(config: LlmConfig, models_dir: Path) -> Iterator[LlamaLanguageModel]:
    require(models_dir / config.model)
    with LlamaLanguageModel.from_config(config, models_dir) as llm:
        yield llm


@pytest.fixture(scope="session")
def greedy_llm(models_dir: Path) -> Iterator[LlamaLanguageModel]:
    yield from _load(GREEDY, models_dir)


@pytest.fixture(scope="session")
def small_llm(models_dir: Path) -> Iterator[LlamaLanguageModel]:
    yield from _load(SMALL, models_dir)


@pytest.fixture
def model(greedy_llm: LlamaLanguageModel) -> LlamaLanguageModel:
    """`GREEDY`, with an empty KV cache."""
    greedy_llm.reset()
    return greedy_llm


@pytest.fixture
def small(small_llm: LlamaLanguageModel) -> LlamaLanguageModel:
    """`SMALL`, with an empty KV cache."""
    small_llm.reset()
    return small_llm
