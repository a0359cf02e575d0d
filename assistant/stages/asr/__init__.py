"""The speech-recognition stage: `base` holds the `SpeechToText` contract,
`endpoint` the energy endpointer both recognizers use in toggle mode.

Backends: `moonshine` (English's default), `vosk` (streaming; the pt and es
default) and `whisper` (optional extra); only the composition root picks one.
"""
