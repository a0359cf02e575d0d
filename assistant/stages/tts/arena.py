"""onnxruntime's CPU memory arena for piper: emptied after every run
(`ShrinkingSession`), or once a reply is done (`shrink_arena`). Which one
the voice uses is `piper.ARENA` and `piper.SHRINK_EACH_RUN`."""

from __future__ import annotations

from typing import Any

import numpy as np


class ShrinkingSession:
    """An onnxruntime session whose runs end by giving every free arena
    chunk back to the heap (`SHRINK_EACH_RUN`); the rest is the session's."""

    def __init__(self, session: Any) -> None:
        import onnxruntime

        self._session = session
        self._options = onnxruntime.RunOptions()
        self._options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(self, output_names: Any, input_feed: dict, run_options: Any = None) -> Any:
        return self._session.run(output_names, input_feed, run_options or self._options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def shrink_arena(voice: Any) -> None:
    """Run ``voice``'s session once on three phonemes with onnxruntime's
    arena shrinkage on: at the end of that run every free arena chunk goes
    back to the heap (milliseconds)."""
    inputs = {
        "input": np.array([[1, 2, 3]], dtype=np.int64),
        "input_lengths": np.array([3], dtype=np.int64),
        "scales": np.array([0.667, 1.0, 0.8], dtype=np.float32),
    }
    if voice.config.num_speakers > 1:
        inputs["sid"] = np.array([voice.config.default_speaker_id or 0], dtype=np.int64)
    ShrinkingSession(voice.session).run(None, inputs)
