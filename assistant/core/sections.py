"""The config's sections: one frozen dataclass per TOML table.

Each field's ``metadata`` may carry a ``range`` (inclusive bounds) that
`config.load_config` checks; its docstring is the key's documentation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from assistant.core.profiles import DEFAULT_SYSTEM_PROMPT


def _range(lo: float | None = None, hi: float | None = None) -> dict[str, Any]:
    return {"range": (lo, hi)}


@dataclass(frozen=True)
class PathsConfig:
    models_dir: str = ""
    """Where model files live. Empty: $ASSISTANT_MODELS_DIR, else the
    checkout's ``models/`` when run from source, else
    ``$XDG_DATA_HOME/assistant/models``."""


@dataclass(frozen=True)
class LlmConfig:
    model: str = "SmolLM2-135M-Instruct.Q4_1.gguf"
    """GGUF file name inside the models directory, or an absolute path."""
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    """The persona: the first message of every conversation."""
    n_ctx: int = field(default=2048, metadata=_range(256, 131072))
    """Context window in tokens; memory is trimmed to fit it."""
    n_threads: int = field(default=0, metadata=_range(0, 64))
    """Threads for generation. 0 picks a default from the core count."""
    max_tokens: int = field(default=200, metadata=_range(1, 4096))
    """Upper bound on one reply, in tokens."""
    temperature: float = field(default=0.2, metadata=_range(0.0, 2.0))
    """Sampling temperature; low keeps a small model on topic."""
    max_turns: int = field(default=8, metadata=_range(0, 1000))
    """Past exchanges kept in memory before the oldest are dropped."""
    seed: int = field(default=-1, metadata=_range(-1, None))
    """Sampling seed; -1 is random."""
    mmap: bool = False
    """Memory-map the GGUF file instead of reading it into memory. Off by
    default: a mapped file changed or truncated on disk while the assistant
    runs would crash it (SIGBUS) or corrupt its answers."""


@dataclass(frozen=True)
class TtsConfig:
    voice: str = "en_US-joe-medium"
    """Piper voice name; ``<voice>.onnx`` and ``.onnx.json`` in the models directory."""
    length_scale: float = field(default=1.0, metadata=_range(0.3, 3.0))
    """Speaking slowness: above 1 is slower."""
    volume: float = field(default=1.0, metadata=_range(0.0, 4.0))
    """Playback gain applied to synthesized audio."""
    speak: bool = True
    """Whether replies are spoken by default."""
    noise_scale: float = field(default=-1.0, metadata=_range(-1.0, 2.0))
    """Piper's generator noise, the voice's liveliness; negative keeps the
    voice's own. 0 makes the same text sound the same every time."""
    noise_w_scale: float = field(default=-1.0, metadata=_range(-1.0, 2.0))
    """Piper's phoneme-length noise, the variety in timing; negative keeps
    the voice's own."""


@dataclass(frozen=True)
class AsrConfig:
    engine: Literal["vosk", "whisper"] = "vosk"
    """Speech recognizer: ``vosk`` (streaming, default) or ``whisper`` (extra)."""
    vosk_model: str = "vosk-model-small-en-us-0.15"
    """Vosk model directory inside the models directory."""
    whisper_model: str = "whisper-base"
    """faster-whisper (CTranslate2) model directory inside the models directory."""
    language: str = "en"
    """Language code passed to engines that take one."""
    grammar: list[str] = field(default_factory=list)
    """Optional phrase list; when set, Vosk only recognizes these phrases."""


@dataclass(frozen=True)
class AudioConfig:
    input_device: str = ""
    """Microphone by name substring or index; empty is the system default."""
    output_device: str = ""
    """Speaker by name substring or index; empty is the system default."""
    input_rate_hz: int = field(default=0, metadata=_range(0, 384000))
    """Capture rate; 0 uses the device's native rate."""
    block_ms: int = field(default=30, metadata=_range(5, 500))
    """Capture and playback block length in milliseconds."""
    earcons: bool = True
    """Short sounds for listening, stopped listening and error."""
    keep_replies: int = field(default=100, metadata=_range(0, 1_000_000))
    """Numbered reply WAV files kept in the replies folder (``./replies``
    with no sound card, or ``console --wav-dir``); the oldest are deleted
    first. About 1.5 MB each; 0 keeps them all."""


@dataclass(frozen=True)
class TurnConfig:
    mode: Literal["hold", "toggle"] = "hold"
    """``hold``: talk while the button is held. ``toggle``: press once, the
    turn ends after trailing silence."""
    min_press_s: float = field(default=0.3, metadata=_range(0.0, 10.0))
    """Shorter presses are ignored with a short sound and no LLM call."""
    max_listen_s: float = field(default=15.0, metadata=_range(1.0, 300.0))
    """Listening stops after this long, whatever the mode."""
    silence_s: float = field(default=1.0, metadata=_range(0.2, 10.0))
    """Toggle mode: trailing silence that ends the turn."""
    reply_timeout_s: float = field(default=60.0, metadata=_range(1.0, 600.0))
    """A turn that produces nothing for this long fails and returns to idle."""


@dataclass(frozen=True)
class GpioConfig:
    enabled: bool = True
    """Use GPIO when a pin factory is available; off forces keyboard mode."""
    button_pin: int = field(default=17, metadata=_range(0, 53))
    """BCM pin of the push-to-talk button."""
    cancel_pin: int = field(default=-1, metadata=_range(-1, 53))
    """BCM pin of the optional cancel button; -1 for none."""
    pull_up: bool = True
    """Button wired to ground with the internal pull-up."""
    bounce_s: float = field(default=0.05, metadata=_range(0.0, 1.0))
    """Debounce time for the buttons."""
    hold_s: float = field(default=1.0, metadata=_range(0.0, 10.0))
    """gpiozero hold time for the push-to-talk button."""
    led_kind: Literal["separate", "rgb", "none"] = "separate"
    """Three separate LEDs, one RGB LED, or none."""
    listening_pin: int = field(default=22, metadata=_range(0, 53))
    """LED pin (or RGB red) for listening."""
    thinking_pin: int = field(default=23, metadata=_range(0, 53))
    """LED pin (or RGB green) for thinking."""
    speaking_pin: int = field(default=24, metadata=_range(0, 53))
    """LED pin (or RGB blue) for speaking."""
    active_high: bool = True
    """LEDs light when the pin is high (common-cathode RGB)."""


@dataclass(frozen=True)
class LogConfig:
    level: Literal["debug", "info", "warning", "error"] = "info"
    """Log level for stderr (and so the journal)."""


@dataclass(frozen=True)
class ToolsConfig:
    outputs: list[str] = field(default_factory=list)
    """Digital outputs the LLM may switch, as ``"name=pin"`` or
    ``"name=pin:synonym,synonym"`` with a BCM pin, e.g. ``"lamp=5:light"``."""
    inputs: list[str] = field(default_factory=list)
    """Digital inputs (buttons, switches) the LLM may read, same form, e.g.
    ``"door=6"``. Pins must differ from the [gpio] pins."""
