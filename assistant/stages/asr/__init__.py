"""The speech-recognition stage; see `base` for the contract and `endpoint`
for toggle-mode endpointing. Backends: `vosk` (default) and `whisper`."""

from assistant.stages.asr.base import SpeechToText, Transcriber
from assistant.stages.asr.endpoint import SilenceEndpointer

__all__ = ["SilenceEndpointer", "SpeechToText", "Transcriber"]
