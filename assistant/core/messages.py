"""The chat message: the one data type memory, skills and the LLM stage share."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    role: str
    """``"system"``, ``"user"`` or ``"assistant"``."""
    content: str
