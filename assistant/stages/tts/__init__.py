"""The speech stage: `base` holds the `TextToSpeech` contract, `text` cleans
LLM text for speaking and `sentences` cuts it into pieces to speak.

Backend: `piper`; only the composition root picks it.
"""
