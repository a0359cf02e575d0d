"""The hub's services built from the engines: what ``assistant serve`` and
``assistant bench --soak N --hub-clients K`` serve."""

from __future__ import annotations

import dataclasses

from assistant.compose.engines import Engines
from assistant.compose.turns import build_conversation, build_skills
from assistant.core.config import Config, ToolsConfig
from assistant.hub.services import HubServices, Session
from assistant.stages.llm.threads import hub_tts_threads


def engines_config(config: Config) -> Config:
    """``config`` as the hub builds its engines: piper on `hub_tts_threads`,
    its arena emptied after every run unless ``tts.arena`` says "kept"
    (`stages.tts.arena`)."""
    arena = "per-run" if config.tts.arena == "auto" else config.tts.arena
    threads = hub_tts_threads(config.tts.n_threads)
    tts = dataclasses.replace(config.tts, n_threads=threads, arena=arena)
    return dataclasses.replace(config, tts=tts)


def build_services(config: Config, engines: Engines) -> HubServices:
    """The hub's view of ``engines``: a new conversation and skills for each
    connection. The hub's skills declare no GPIO tools (``[tools]`` pins
    belong to the appliance at the speaker, not to every connection), and a
    client's "louder" does not change the shared voice for the others: the
    answer goes back as text, and the satellite sets its own volume."""
    session_config = dataclasses.replace(config, tools=ToolsConfig())
    matcher = build_skills(session_config, None, None, build_conversation(session_config))

    def new_session() -> Session:
        conversation = build_conversation(session_config)
        skills = build_skills(session_config, engines.llm, None, conversation)
        return Session(conversation, skills, skills.timers)

    languages = [config.language] + (["en"] if config.language != "en" else [])
    asr = config.asr
    return HubServices(
        stt=engines.stt,
        llm=engines.llm,
        tts=engines.tts,
        new_session=new_session,
        recognise=matcher.recogniser.recognise,
        languages=languages,
        asr_model=asr.model or asr.vosk_model,
    )
