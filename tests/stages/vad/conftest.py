"""Fixtures of the VAD tests: one Silero model for the session."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def silero() -> Any:
    """The Silero VAD model; each `SileroEndpointer` keeps its own state."""
    from assistant.stages.vad.silero import load_silero

    return load_silero()
