"""`AbortHook`: llama.cpp's abort callback, installed only while a prompt
is being evaluated.

llama.cpp polls the callback after every node of a decode's graph: about
600 times a token for SmolLM2-135M, each a call into Python that takes the
GIL. A prompt of hundreds of tokens is one long decode, so there the
callback is what lets a cancel stop it. A sampled token is one short decode
(milliseconds), and the cancel is checked between tokens anyway; there the
callback cost 2-3 % of the tokens/s, and in the appliance it contends for
the GIL with the threads that speak and play the reply
(benchmarks/README.md, "The stages against their bare engines").
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any


class AbortHook:
    """The abort callback of one llama.cpp context. `cancel` is the event it
    reads; `watching` installs it around a prompt evaluation, `pause` takes
    it off once the prompt is read. Callers hold the model's lock."""

    def __init__(self, llama_cpp: Any, ctx: Any) -> None:
        self._llama_cpp = llama_cpp
        self._ctx = ctx
        self.cancel: threading.Event | None = None
        """The event a decode in progress stops on; None: nothing stops it."""
        self._callback = llama_cpp.ggml_abort_callback(
            lambda _data: self.cancel is not None and self.cancel.is_set()
        )
        self._none = llama_cpp.ggml_abort_callback(0)
        self._installed = False

    def _install(self, on: bool) -> None:
        if on != self._installed:
            callback = self._callback if on else self._none
            self._llama_cpp.llama_set_abort_callback(self._ctx, callback, None)
            self._installed = on

    @contextlib.contextmanager
    def watching(self, cancel: threading.Event | None) -> Iterator[None]:
        """Decodes within stop once ``cancel`` is set, until `pause`."""
        self.cancel = cancel
        self._install(cancel is not None)
        try:
            yield
        finally:
            self.cancel = None
            self._install(False)

    def pause(self) -> None:
        """Take the callback off: the decodes from here on are one token each."""
        self._install(False)
