"""The audio stage: microphones, speakers, WAV files, PCM conversion and earcons; see `base`."""

from assistant.stages.audio.base import AudioSink, AudioSource

__all__ = ["AudioSink", "AudioSource"]
