"""One base error, one subclass per stage.

Every message names the thing that is wrong, the bad value, and the fix, so
the CLI can print ``str(error)`` as one line and exit non-zero.
"""


class AssistantError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(AssistantError, ValueError):
    """A config file, key or value is wrong."""


class ModelError(AssistantError, FileNotFoundError):
    """A model file is missing, corrupt or fails its checksum."""


class FetchError(AssistantError, OSError):
    """Fetching a model from the network failed."""


class AudioError(AssistantError, OSError):
    """No usable audio device, or a device failed."""


class SpeechToTextError(AssistantError, RuntimeError):
    """The speech recognizer failed."""


class LanguageModelError(AssistantError, RuntimeError):
    """The language model failed."""


class TextToSpeechError(AssistantError, RuntimeError):
    """Speech synthesis failed."""


class GpioError(AssistantError, RuntimeError):
    """The GPIO pin factory or a pin could not be used."""


def os_error_line(exc: OSError) -> str:
    """An unexpected OSError (permissions, a full disk) as one line naming the path."""
    where = f" {exc.filename}" if exc.filename else ""
    reason = exc.strerror or str(exc)
    hint = "; check its owner and permissions" if isinstance(exc, PermissionError) else ""
    return f"cannot use{where}: {reason}{hint}"
