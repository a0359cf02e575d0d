"""The pipeline's stages, one folder each: `asr`, `llm`, `tts` and `audio`. Each
folder's `base` module holds its Protocol; the other modules are backends or
pure helpers, and only `assistant.compose` picks a backend."""
