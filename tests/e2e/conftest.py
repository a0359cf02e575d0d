"""Engines the end-to-end tests only *use*, loaded once per session. Tests
whose subject is loading (the CLI, the service, `assistant run`) load their own."""

from tests.support.turn_engines import llm, voice, whisper  # noqa: F401  (fixtures)
