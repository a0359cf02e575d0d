"""The answer to ``describe``: the real engines behind each Wyoming service."""

from __future__ import annotations

from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    HandleModel,
    HandleProgram,
    Info,
    IntentModel,
    IntentProgram,
    TtsProgram,
    TtsVoice,
)

from assistant import __version__
from assistant.hub.services import HubServices

PROGRAM = "pi-voice-assistant"
_ME = Attribution(name="pi-voice-assistant", url="")
_BY = {
    "vosk": Attribution(name="Alpha Cephei", url="https://alphacephei.com/vosk/"),
    "whisper": Attribution(name="OpenAI, SYSTRAN", url="https://github.com/SYSTRAN/faster-whisper"),
    "piper": Attribution(name="Rhasspy", url="https://github.com/OHF-Voice/piper1-gpl"),
    "llama": Attribution(name="llama.cpp", url="https://github.com/ggml-org/llama.cpp"),
}


def describe(services: HubServices) -> Info:
    """Programs for the roles the hub has engines for: ``asr`` (the
    recognizer and its model), ``tts`` (the voice), ``handle`` (skills and
    the language model) and ``intent`` (the fast-path matcher)."""
    languages = services.languages
    info = Info()
    if services.stt is not None:
        model = AsrModel(
            name=services.asr_model or services.stt.name,
            attribution=_BY.get(services.stt.name, _ME),
            installed=True,
            description=f"{services.stt.name} speech recognition",
            version=None,
            languages=languages[:1],
        )
        info.asr.append(
            AsrProgram(
                name=f"{PROGRAM}-asr",
                attribution=_ME,
                installed=True,
                description="speech to text on the hub",
                version=__version__,
                models=[model],
                supports_transcript_streaming=True,
            )
        )
    if services.tts is not None:
        voice_name = services.tts.name.removeprefix("piper:")
        voice = TtsVoice(
            name=voice_name,
            attribution=_BY["piper"],
            installed=True,
            description=f"piper voice {voice_name}",
            version=None,
            languages=[_voice_language(voice_name, languages[0])],
        )
        info.tts.append(
            TtsProgram(
                name=f"{PROGRAM}-tts",
                attribution=_ME,
                installed=True,
                description="text to speech on the hub",
                version=__version__,
                voices=[voice],
                supports_synthesize_streaming=True,
            )
        )
    if services.llm is not None:
        model = HandleModel(
            name=services.llm.name,
            attribution=_BY["llama"],
            installed=True,
            description="skills, then the language model",
            version=None,
            languages=languages,
        )
        info.handle.append(
            HandleProgram(
                name=f"{PROGRAM}-handle",
                attribution=_ME,
                installed=True,
                description="answers a transcript: skills first, else the language model",
                version=__version__,
                models=[model],
                supports_handled_streaming=True,
            )
        )
    if services.recognise is not None:
        matcher = IntentModel(
            name="intents",
            attribution=_ME,
            installed=True,
            description="time, date, timers, volume, repeat and the declared devices",
            version=__version__,
            languages=languages,
        )
        info.intent.append(
            IntentProgram(
                name=f"{PROGRAM}-intent",
                attribution=_ME,
                installed=True,
                description="fast-path intent matcher",
                version=__version__,
                models=[matcher],
            )
        )
    return info


def _voice_language(voice: str, fallback: str) -> str:
    """``en_US`` from a piper voice name such as ``en_US-joe-medium``."""
    head = voice.split("-", 1)[0]
    return head if "_" in head else fallback
