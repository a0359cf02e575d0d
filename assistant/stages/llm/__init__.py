"""The language-model stage; see `base` for the contract."""

from assistant.stages.llm.base import GenerationStats, LanguageModel

__all__ = ["GenerationStats", "LanguageModel"]
