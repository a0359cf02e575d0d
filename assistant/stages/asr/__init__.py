"""The speech-recognition stage: `base` holds the `SpeechToText` contract,
`endpoint` the energy endpointer both recognizers use in toggle mode.

Backends: `vosk` (default, streaming) and `whisper` (optional extra); only
the composition root picks one.
"""
