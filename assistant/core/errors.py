"""One base error, one subclass per stage.

Every message names the thing that is wrong, the bad value, and the fix, so
the CLI can print ``str(error)`` as one line and exit non-zero.

Each class names its ``stage``: when a turn fails at run time, the controller
reports the error once, as a `TurnFailed` event carrying ``error.stage`` (see
`assistant.core.events.TurnFailed` for the list).
"""


class AssistantError(Exception):
    """Base class of every error this package raises on purpose."""

    stage: str = "assistant"
    """Where the error comes from, as reported in `TurnFailed.stage`."""


class ConfigError(AssistantError, ValueError):
    """A config file, key or value is wrong."""

    stage = "config"


class InputError(AssistantError, ValueError):
    """What the user typed cannot be used: an empty question, or a target
    path that cannot be written. Raised at the edge, before any model loads."""

    stage = "input"


class ModelError(AssistantError, FileNotFoundError):
    """A model file is missing, corrupt or fails its checksum."""

    stage = "model"


class FetchError(AssistantError, OSError):
    """Fetching a model from the network failed."""

    stage = "fetch"


class AudioError(AssistantError, OSError):
    """No usable audio device, or a device failed."""

    stage = "audio"


class SpeechToTextError(AssistantError, RuntimeError):
    """The speech recognizer failed, or its model did not load."""

    stage = "asr"


class LanguageModelError(AssistantError, RuntimeError):
    """The language model failed."""

    stage = "llm"


class TextToSpeechError(AssistantError, RuntimeError):
    """Speech synthesis failed."""

    stage = "tts"


class SkillError(AssistantError, RuntimeError):
    """A skill (an intent, a timer or a tool) failed unexpectedly."""

    stage = "skills"


class GpioError(AssistantError, RuntimeError):
    """The GPIO pin factory or a pin could not be used."""

    stage = "gpio"


def os_error_line(exc: OSError) -> str:
    """An unexpected OSError (permissions, a full disk) as one line naming the path."""
    where = f" {exc.filename}" if exc.filename else ""
    reason = exc.strerror or str(exc)
    hint = "; check its owner and permissions" if isinstance(exc, PermissionError) else ""
    return f"cannot use{where}: {reason}{hint}"
