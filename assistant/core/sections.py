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


def _uri(*schemes: str) -> dict[str, Any]:
    """An address key: empty (unset) or a URI with one of ``schemes``."""
    return {"schemes": schemes}


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
    prefill: bool = True
    """Read the prompt into the model while the user still speaks (from the
    partial transcripts), so less is left to read after the release. It
    never changes the answer; off saves the CPU it spends on words the
    recognizer then revises."""
    backend: Literal["llama", "openai", "wyoming"] = "llama"
    """``llama``: the local GGUF model. ``openai``: an OpenAI-compatible chat
    server on the LAN at `url` (llama-server, Ollama). ``wyoming``: a Wyoming
    ``handle`` service at `url` (``assistant serve``), whose own skills and
    model then answer what the local skills do not."""
    url: str = field(default="", metadata=_uri("http", "https", "tcp"))
    """The remote backend's address: ``http(s)://HOST:PORT`` for ``openai``
    (``/v1`` is added when missing), ``tcp://HOST:PORT`` for ``wyoming``."""
    remote_model: str = ""
    """Model name sent to an ``openai`` server; empty sends `model`."""
    api_key_file: str = ""
    """File holding the ``openai`` server's API key (read once, never logged)."""
    fallback: Literal["none", "local"] = "none"
    """``local``: when the remote backend fails before its first word (not
    answering, or an error), the local `model` answers instead; it is loaded
    on first need."""


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
    n_threads: int = field(default=0, metadata=_range(0, 64))
    """onnxruntime's threads for one synthesis; 0 picks a default from the
    core count that leaves the language model its cores (the hub,
    ``assistant serve``: every core)."""
    arena: Literal["auto", "kept", "per-run"] = "auto"
    """onnxruntime's memory arena for piper. ``kept``: kept between the
    runs of a reply, as fast as bare piper, and emptied once the reply is
    done. ``per-run``: emptied after every run, 5-15 % slower. ``auto``:
    kept, but per-run in the hub (``assistant serve``), whose memory stays
    flatter so under many clients."""
    engine: Literal["piper", "wyoming"] = "piper"
    """``piper``: the local voice. ``wyoming``: a Wyoming ``tts`` service at `uri`."""
    uri: str = field(default="", metadata=_uri("tcp"))
    """The ``wyoming`` engine's address, ``tcp://HOST:PORT``."""


@dataclass(frozen=True)
class AsrConfig:
    engine: Literal["vosk", "whisper", "moonshine", "wyoming"] = "moonshine"
    """Speech recognizer: ``moonshine`` (English, the default; Whisper
    decodes again what fails its guards, when installed), ``vosk``
    (streaming; the pt and es profiles' default), ``whisper`` (extra) or
    ``wyoming`` (a Wyoming ``asr`` service at `uri`). The language profile
    sets it when the config does not."""
    uri: str = field(default="", metadata=_uri("tcp"))
    """The ``wyoming`` engine's address, ``tcp://HOST:PORT``."""
    vosk_model: str = "vosk-model-small-en-us-0.15"
    """Vosk model directory inside the models directory."""
    whisper_model: str = "whisper-base"
    """faster-whisper (CTranslate2) model directory inside the models directory."""
    moonshine_model: str = "moonshine-base-en"
    """Moonshine model directory inside the models directory."""
    whisper_final_window_s: int = field(default=10, metadata=_range(5, 30))
    """Whisper's encoder window, in seconds, for the decode that gives the
    transcript (never shorter than the utterance plus 2 s). Shorter than
    Whisper's own 30 s answers sooner after the release; 30 always decodes
    like plain faster-whisper."""
    whisper_min_logprob: float = field(default=-0.6, metadata=_range(-10.0, 0.0))
    """A transcript from a window shorter than 30 s is kept only when its
    average token log-probability is at least this; below it, Whisper
    decodes the utterance again on 30 s, which costs about three to five
    short decodes. 0 re-decodes nearly everything; -10 keeps every short
    decode (``benchmarks/whisper_floor.py`` measures the words per clip,
    ``benchmarks/asr_wer.py`` the time). -0.6 because on 126 clips (30 of
    them real recordings) it gave the WER of the former rule (-0.3, and 8
    kHz audio always on 30 s: 0.045) with 8 decodes of 30 s instead of 66,
    and on the real ones the 30 s window was no better below it
    (benchmarks/README.md)."""
    language: str = "en"
    """Language code passed to engines that take one."""
    grammar: list[str] = field(default_factory=list)
    """Optional phrase list; when set, Vosk only recognizes these phrases."""

    @property
    def model(self) -> str:
        """The configured local engine's model directory; "" for ``wyoming``."""
        models = {"vosk": self.vosk_model, "whisper": self.whisper_model}
        return {**models, "moonshine": self.moonshine_model}.get(self.engine, "")


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
class WakeConfig:
    enabled: bool = False
    """Hands-free: keep the microphone open while idle and start a turn when
    a wake word is heard. The button keeps working. Needs ``.[wake]``."""
    words: list[str] = field(default_factory=lambda: ["hey_mycroft"])
    """Wake words, from the bundled microWakeWord models: ``hey_mycroft``,
    ``hey_jarvis``, ``okay_nabu``, ``alexa``."""
    threshold: float = field(default=0.0, metadata=_range(0.0, 1.0))
    """Detection threshold on the averaged probability; 0 keeps each model's
    own cutoff (0.85 to 0.97)."""
    refractory_s: float = field(default=2.0, metadata=_range(0.0, 60.0))
    """After a detection, the same word is ignored for this long."""
    follow_up_s: float = field(default=5.0, metadata=_range(0.0, 60.0))
    """After a reply to a hands-free turn, listen this long for a follow-up
    without the wake word; 0 turns it off."""
    barge_in: Literal["auto"] | bool = "auto"
    """While speaking, listen for the wake word (only) to stop the reply.
    ``auto``: while the echo canceller runs ([echo]), off without it (the
    assistant's own voice drowns the wake word); true: always; false:
    never, only the button stops a reply."""
    barge_in_threshold: float = field(default=0.99, metadata=_range(0.0, 1.0))
    """Detection threshold while it speaks: higher, so its own voice does
    not stop it."""


@dataclass(frozen=True)
class EchoConfig:
    enabled: Literal["auto"] | bool = "auto"
    """Cancel the speaker's echo in the microphone (speexdsp), so the wake
    word is heard over a reply. ``auto``: when libspeexdsp is installed and
    both are sound cards; true: also, but fail at start-up without it;
    false: never. `assistant doctor --echo` measures the room."""
    max_delay_s: float = field(default=0.3, metadata=_range(0.05, 1.0))
    """Longest echo delay, beyond PortAudio's own timestamps, that the
    canceller searches for."""
    tail_s: float = field(default=0.2, metadata=_range(0.05, 0.5))
    """The room's echo tail the canceller models (its filter length)."""
    suppress: bool = True
    """Also suppress the residual echo the filter leaves."""


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


@dataclass(frozen=True)
class ServeConfig:
    uri: str = "tcp://127.0.0.1:10700"
    """Where ``assistant serve`` listens, as ``tcp://HOST:PORT``. Loopback by
    default; a LAN address (or 0.0.0.0) also needs `allow`."""
    allow: list[str] = field(default_factory=list)
    """LAN subnets that may connect, e.g. ``"192.168.1.0/24"``; loopback is
    always allowed, every other peer is dropped when it connects."""
    max_clients: int = field(default=32, metadata=_range(1, 256))
    """Connections served at once; more are refused when they connect, with
    a ``busy`` error (the project's satellites retry). A satellite holds up
    to 3 at once (recognition while it is interrupted, the answer and its
    speech), so 32 serves 8 satellites and Home Assistant together. A host on
    the LAN may hold at most half of them; loopback is not capped per host."""
    idle_timeout_s: float = field(default=60.0, metadata=_range(1.0, 3600.0))
    """A client that sends nothing for this long is disconnected."""
    max_frame_bytes: int = field(default=1 << 20, metadata=_range(4096, 64 << 20))
    """Largest event a client may send (header line, data and payload)."""
    max_audio_s: float = field(default=60.0, metadata=_range(1.0, 600.0))
    """Longest audio one transcribe request may send; the rest is ignored."""
    zeroconf: bool = False
    """Advertise the server on the LAN as ``_wyoming._tcp`` (mDNS)."""
