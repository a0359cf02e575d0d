"""The audio stage: `base` holds the `AudioSource` / `AudioSink` contract.

`pcm` (the `AudioChunk` value and sample conversion), `mic` and `speaker`
(PortAudio), `devices` (finding and listing PortAudio devices), `portaudio`
(PortAudio itself), `audiofile` (reading WAV, FLAC, OGG and MP3 with
libsndfile), `wavfile` (audio files in place of a sound card) and `earcons`
(short status tones). Import each name from the module that defines it.
"""
