"""The speech stage: text cleaning, sentence segmenting and synthesis; see `base`."""

from assistant.stages.tts.base import TextToSpeech

__all__ = ["TextToSpeech"]
