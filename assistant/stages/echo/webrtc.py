"""WebRTC's AEC3 (with its own residual suppressor) through the
``pywebrtc-audio`` wheel (aarch64 and x86-64, cp310-cp314), as the
alternative kernel of `EchoPath`; measured against speexdsp in
``benchmarks/echo_rooms.py``. Same interface as `SpeexCanceller`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FIX_LINE = "WebRTC AEC3 needs the pywebrtc-audio package: pip install pywebrtc-audio"


def webrtc_unavailable() -> str | None:
    """None when ``pywebrtc-audio`` imports; else the one line to fix it."""
    try:
        import pywebrtc_audio  # noqa: F401
    except ImportError:
        return FIX_LINE
    return None


class WebRtcCanceller:
    """AEC3 on ``frame`` samples at a time (10 ms). Its suppressor always
    runs (``suppress`` is accepted for symmetry); ``denoise`` adds WebRTC's
    noise suppressor. One thread at a time."""

    def __init__(
        self, rate: int, frame: int, tail: int, *, suppress: bool = True, denoise: bool = False
    ) -> None:
        problem = webrtc_unavailable()
        if problem:
            raise OSError(problem)
        from pywebrtc_audio import AudioProcessor

        self.frame = frame
        self._options: dict[str, Any] = {
            "sample_rate": rate,
            "echo_cancellation": True,
            "noise_suppression": denoise,
        }
        self._apm: Any = AudioProcessor(**self._options)

    def process(self, mic: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """Cancel ``reference`` (int16, `frame` long) from ``mic`` (same); a new array."""
        return np.asarray(
            self._apm.process(np.asarray(mic, np.int16), np.asarray(reference, np.int16)),
            np.int16,
        )

    def reset(self) -> None:
        """Forget the echo path."""
        self._apm.reset()

    def close(self) -> None:
        """Nothing to free beyond the object; idempotent."""
        self._apm = None
