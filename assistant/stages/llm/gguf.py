"""A GGUF file for llama.cpp: the check before loading, and llama.cpp's own
log lines routed to ours."""

from __future__ import annotations

import ctypes
import logging
from pathlib import Path
from typing import Any

from assistant.core.errors import ModelError

GGUF_MAGIC = b"GGUF"
FIX_HINT = "run `./setup.sh` or `assistant models fetch`"


def check_gguf(path: Path) -> None:
    """Raise `ModelError` unless ``path`` is a readable file with GGUF magic."""
    if not path.is_file():
        raise ModelError(f"language model {path} is missing; {FIX_HINT}")
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ModelError(f"language model {path} cannot be read ({exc.strerror})") from None
    if magic != GGUF_MAGIC:
        raise ModelError(
            f"language model {path} is not a GGUF file (starts with {magic!r}); "
            f"delete it and {FIX_HINT}"
        )


_log_callback: Any = None


def route_llama_logs(llama_cpp: Any) -> None:
    """Send llama.cpp's C logging to our logger at DEBUG instead of stderr."""
    global _log_callback
    if _log_callback is not None:
        return
    llama_log = logging.getLogger("llama_cpp")

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        if llama_log.isEnabledFor(logging.DEBUG):
            llama_log.debug("%s", text.decode("utf-8", "replace").rstrip())

    _log_callback = callback  # a module global keeps the C callback alive
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
