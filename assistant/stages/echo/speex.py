"""speexdsp's echo canceller through ctypes: the MDF adaptive filter, and its
preprocessor for the residual echo (and, when asked, noise and gain).

Debian's ``libspeexdsp1`` (the same name on arm64) is all it needs; no
compiler and no Python binding. `SpeexCanceller` is a plain synchronous
object: one thread at a time, no locks, `close` frees the C states.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

import numpy as np

log = logging.getLogger(__name__)

_LIBRARY_NAMES = ("libspeexdsp.so.1", "libspeexdsp.so")
FIX_LINE = "libspeexdsp is missing: apt install libspeexdsp1 (or run ./setup.sh)"

# speex/speex_echo.h and speex/speex_preprocess.h
_ECHO_SET_SAMPLING_RATE = 24
_PP_SET_DENOISE = 0
_PP_SET_AGC = 2
_PP_SET_DEREVERB = 8
_PP_SET_NOISE_SUPPRESS = 18
_PP_SET_ECHO_SUPPRESS = 20
_PP_SET_ECHO_SUPPRESS_ACTIVE = 22
_PP_SET_ECHO_STATE = 24

_INT16_P = ctypes.POINTER(ctypes.c_int16)

ECHO_SUPPRESS_DB = -40
"""Residual echo attenuation while only the speaker plays (the library's default)."""
ECHO_SUPPRESS_ACTIVE_DB = -15
"""The same while the user talks too (the library's default)."""


class SpeexUnavailable(OSError):
    """libspeexdsp cannot be loaded here; the message says how to install it."""


@functools.cache
def library() -> ctypes.CDLL:
    """The loaded libspeexdsp with its prototypes set; `SpeexUnavailable` if absent."""
    names = [*_LIBRARY_NAMES, ctypes.util.find_library("speexdsp")]
    for name in filter(None, names):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        _declare(lib)
        return lib
    raise SpeexUnavailable(FIX_LINE)


def _declare(lib: ctypes.CDLL) -> None:
    vp = ctypes.c_void_p
    lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_echo_state_init.restype = vp
    lib.speex_echo_state_destroy.argtypes = [vp]
    lib.speex_echo_state_destroy.restype = None
    lib.speex_echo_state_reset.argtypes = [vp]
    lib.speex_echo_state_reset.restype = None
    lib.speex_echo_cancellation.argtypes = [vp, _INT16_P, _INT16_P, _INT16_P]
    lib.speex_echo_cancellation.restype = None
    lib.speex_echo_ctl.argtypes = [vp, ctypes.c_int, vp]
    lib.speex_echo_ctl.restype = ctypes.c_int
    lib.speex_preprocess_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_preprocess_state_init.restype = vp
    lib.speex_preprocess_state_destroy.argtypes = [vp]
    lib.speex_preprocess_state_destroy.restype = None
    lib.speex_preprocess_run.argtypes = [vp, _INT16_P]
    lib.speex_preprocess_run.restype = ctypes.c_int
    lib.speex_preprocess_ctl.argtypes = [vp, ctypes.c_int, vp]
    lib.speex_preprocess_ctl.restype = ctypes.c_int


def _ptr(block: np.ndarray) -> ctypes._Pointer:
    return block.ctypes.data_as(_INT16_P)


class SpeexCanceller:
    """One speexdsp echo state (and preprocessor) for ``frame`` samples at a time.

    ``tail`` is the filter length in samples: the longest echo it models,
    counted from the reference sample it is given. ``suppress`` runs the
    preprocessor on the echo state's residual estimate (what the linear
    filter leaves, about 10-20 dB more); ``denoise`` and ``agc`` switch on
    its noise suppressor and automatic gain too.
    """

    def __init__(
        self,
        rate: int,
        frame: int,
        tail: int,
        *,
        suppress: bool = True,
        denoise: bool = False,
        agc: bool = False,
    ) -> None:
        self._lib = library()
        self.frame = frame
        self._echo = self._lib.speex_echo_state_init(frame, tail)
        if not self._echo:
            raise SpeexUnavailable(f"speex_echo_state_init({frame}, {tail}) failed")
        self._ctl(self._lib.speex_echo_ctl, self._echo, _ECHO_SET_SAMPLING_RATE, rate)
        self._pre = None
        if suppress or denoise or agc:
            self._pre = self._lib.speex_preprocess_state_init(frame, rate)
            ctl = self._lib.speex_preprocess_ctl
            # The preprocessor applies its gains (echo's too) only with its
            # denoiser on; without ``denoise`` the noise may cost 0 dB.
            self._ctl(ctl, self._pre, _PP_SET_DENOISE, 1)
            self._ctl(ctl, self._pre, _PP_SET_NOISE_SUPPRESS, -15 if denoise else 0)
            self._ctl(ctl, self._pre, _PP_SET_AGC, int(agc))
            self._ctl(ctl, self._pre, _PP_SET_DEREVERB, 0)
            if suppress:
                self._ctl(ctl, self._pre, _PP_SET_ECHO_SUPPRESS, ECHO_SUPPRESS_DB)
                self._ctl(ctl, self._pre, _PP_SET_ECHO_SUPPRESS_ACTIVE, ECHO_SUPPRESS_ACTIVE_DB)
                ctl(self._pre, _PP_SET_ECHO_STATE, self._echo)
        self._out = np.zeros(frame, np.int16)

    @staticmethod
    def _ctl(fn, state, request: int, value: int) -> None:
        arg = ctypes.c_int32(value)
        fn(state, request, ctypes.byref(arg))

    def process(self, mic: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """Cancel ``reference`` (int16, `frame` long) from ``mic`` (same); a new array."""
        mic = np.ascontiguousarray(mic, np.int16)
        reference = np.ascontiguousarray(reference, np.int16)
        out = np.empty(self.frame, np.int16)
        self._lib.speex_echo_cancellation(self._echo, _ptr(mic), _ptr(reference), _ptr(out))
        if self._pre:
            self._lib.speex_preprocess_run(self._pre, _ptr(out))
        return out

    def reset(self) -> None:
        """Forget the echo path (the filter starts over)."""
        self._lib.speex_echo_state_reset(self._echo)

    def close(self) -> None:
        """Free the C states. Idempotent."""
        if self._pre:
            self._lib.speex_preprocess_state_destroy(self._pre)
            self._pre = None
        if self._echo:
            self._lib.speex_echo_state_destroy(self._echo)
            self._echo = None
