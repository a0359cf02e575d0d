"""The pipeline: one voice turn from a press to the last word spoken.

- `controller`: the state machine; one thread owns the state, workers post back.
- `turns`: the two kinds of turn (voice, timer alert) and their timings.
- `listener`: a turn's capture and recognition, on its ``listen-N`` thread.
- `reply`: the overlapped reply (pieces -> sentences -> speech -> speaker),
  `answer` (shortcuts, else the LLM with memory) and `say` (fixed text).
- `speaker`: the sink, and whether it must be reopened after an audio failure.
- `memory`: the conversation, and what was said last.
- `shortcuts`: the contract the skills fulfil; the pipeline never imports them.
- `failure`: how a worker reports a failure, once, with its stage.
"""
