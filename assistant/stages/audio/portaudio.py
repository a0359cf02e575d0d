"""PortAudio itself, shared by the microphone, the speaker and device lookup.

`sounddevice` returns the `sounddevice` module, imported lazily so the
package imports without PortAudio. PortAudio enumerates devices once, when it
initializes; `rescan` re-runs that so a USB microphone plugged in later can be
found. Re-initializing closes every open stream, so it only happens while this
process has none open: streams report themselves with `stream_opened` and
`stream_closed`. The stream helpers below tolerate a device that has gone
away: they never raise.
"""

from __future__ import annotations

import logging
import threading
from types import ModuleType
from typing import Any

from assistant.core.errors import AudioError

log = logging.getLogger(__name__)

PORTAUDIO_MISSING = "PortAudio library not found; install it with `sudo apt install libportaudio2`"

PA_INVALID_CHANNEL_COUNT = -9998
PA_INVALID_SAMPLE_RATE = -9997

_lock = threading.Lock()
_open_streams = 0


def sounddevice() -> ModuleType:
    """The `sounddevice` module; `AudioError` with the fix when PortAudio is missing."""
    try:
        import sounddevice as sd
    except OSError:
        raise AudioError(PORTAUDIO_MISSING) from None
    except ImportError:
        raise AudioError(
            "Python package sounddevice is not installed; reinstall the assistant "
            "(`pip install sounddevice`)"
        ) from None
    return sd


def stream_opened() -> None:
    """Count a stream this process opened; pair each call with `stream_closed`."""
    global _open_streams
    with _lock:
        _open_streams += 1


def stream_closed() -> None:
    global _open_streams
    with _lock:
        _open_streams = max(0, _open_streams - 1)


def rescan() -> bool:
    """Re-enumerate devices if no stream of ours is open; return whether it did.

    Uses sounddevice's documented way to refresh the device list
    (``_terminate()`` then ``_initialize()``). Blocks for the enumeration,
    typically tens of milliseconds; any thread.
    """
    sd = sounddevice()
    with _lock:
        if _open_streams:
            return False
        sd._terminate()
        sd._initialize()
    return True


def error_code(exc: Exception) -> int | None:
    """PortAudio's error code carried by a `sounddevice.PortAudioError`, if any."""
    args = getattr(exc, "args", ())
    return args[1] if len(args) > 1 and isinstance(args[1], int) else None


def stream_attr(stream: Any, name: str, default: Any) -> Any:
    """``stream.<name>``, or ``default`` when the stream cannot answer (device gone)."""
    try:
        return getattr(stream, name)
    except Exception:
        return default


def is_active(stream: Any) -> bool:
    """Whether PortAudio still runs ``stream``'s callback."""
    return bool(stream_attr(stream, "active", False))


def close_quietly(stream: Any) -> None:
    """Abort and close ``stream`` (None: nothing to do)."""
    if stream is None:
        return
    try:
        stream.abort(ignore_errors=True)
        stream.close(ignore_errors=True)
    except Exception:  # the device may already be gone; nothing left to release
        log.debug("closing a failed stream raised", exc_info=True)
