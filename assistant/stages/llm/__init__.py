"""The language-model stage: `base` holds the `LanguageModel` contract and
`GenerationStats`.

Backend: `llama` (llama.cpp; with `prompt` for its chat formatting); only the
composition root picks it.
"""
