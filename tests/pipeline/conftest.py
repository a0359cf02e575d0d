"""Engines the pipeline tests only *use*, loaded once per session (the
real-microphone hands-free turn). `assistant listen` loads its own."""

from tests.support.turn_engines import llm, voice, whisper  # noqa: F401  (fixtures)
