"""The pipeline's speaker: an `AudioSink` that knows when it must be reopened.

A sound card can vanish mid-reply (an unplugged USB speaker). The turn that
hit it fails with an `AudioError`; `fail` records that, and the next turn's
`ensure_open` closes and reopens the device, which may be back by then.

`open`, `fail`, `ensure_open`, `try_reopen`, `play_earcon` and `close` are called on the
controller thread only. The reply's playback thread writes to `sink`
directly, and each earcon is written on its own short thread; `stop` may be
called from any thread. The speaker opens the sink it is given and closes
it in `close`.
"""

from __future__ import annotations

import enum
import logging
import threading

from assistant.core.errors import AssistantError, AudioError
from assistant.stages.audio.base import AudioSink
from assistant.stages.audio.earcons import earcon
from assistant.stages.audio.pcm import AudioChunk

log = logging.getLogger(__name__)


class _Device(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    FAILED = "failed"
    """Opened once, then failed: reopen before the next use."""


class Speaker:
    """``sink`` played at ``rate_hz`` (the voice's rate, in Hertz)."""

    def __init__(self, sink: AudioSink, rate_hz: int) -> None:
        self.sink = sink
        self.rate_hz = rate_hz
        self._device = _Device.CLOSED

    @property
    def needs_reopening(self) -> bool:
        return self._device is _Device.FAILED

    def open(self) -> None:
        """Open the sink; raises `AudioError` when there is no usable device."""
        self.sink.open(self.rate_hz)
        self._device = _Device.OPEN

    def fail(self) -> None:
        """A turn failed in the audio stage: reopen before the next one."""
        if self._device is _Device.OPEN:
            self._device = _Device.FAILED

    def ensure_open(self) -> None:
        """Reopen the sink if it failed. Raises `AudioError` naming why when
        it is still unavailable; the next call tries again."""
        if self._device is not _Device.FAILED:
            return
        try:
            self.sink.close()
            self.sink.open(self.rate_hz)
        except AssistantError as exc:
            raise AudioError(f"speaker still unavailable: {exc}") from exc
        self._device = _Device.OPEN
        log.info("speaker reopened")

    def try_reopen(self) -> None:
        """`ensure_open`, but only log when the speaker is still unavailable
        (listening does not need it; the reply will fail on it)."""
        try:
            self.ensure_open()
        except AudioError as exc:
            log.warning("%s", exc)

    def play_earcon(self, name: str) -> None:
        """Play the earcon ``name`` without waiting for it."""
        chunk = earcon(name, self.rate_hz)
        # On its own thread: a stalled speaker must not stall the controller.
        threading.Thread(target=self._write_earcon, args=(name, chunk), daemon=True).start()

    def _write_earcon(self, name: str, chunk: AudioChunk) -> None:
        try:
            self.sink.write(chunk)
        except AssistantError as exc:
            log.warning("could not play the %s sound: %s", name, exc)

    def stop(self) -> None:
        """Cut whatever is playing (an earcon); from any thread."""
        self.sink.stop()

    def close(self) -> None:
        """Close the sink; safe to call twice."""
        if self._device is not _Device.CLOSED:
            self._device = _Device.CLOSED
            self.sink.close()
