"""The typed configuration: frozen sections composed into one `Config`.

Only `load_config` reads files. Everything after it receives a validated,
immutable `Config`, never raw TOML or argparse values.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from assistant.core.errors import ConfigError
from assistant.core.inputs import read_small_text
from assistant.core.profiles import apply_profile
from assistant.core.sections import (
    AsrConfig,
    AudioConfig,
    EchoConfig,
    GpioConfig,
    LlmConfig,
    LogConfig,
    PathsConfig,
    ServeConfig,
    ToolsConfig,
    TtsConfig,
    TurnConfig,
    WakeConfig,
)
from assistant.core.uris import parse_address

__all__ = [
    "Config",
    "PathsConfig",
    "LlmConfig",
    "TtsConfig",
    "AsrConfig",
    "AudioConfig",
    "TurnConfig",
    "WakeConfig",
    "EchoConfig",
    "GpioConfig",
    "LogConfig",
    "ToolsConfig",
    "ServeConfig",
    "config_from_dict",
    "load_config",
    "resolve_models_dir",
]


@dataclass(frozen=True)
class Config:
    paths: PathsConfig = field(default_factory=PathsConfig)
    llm: LlmConfig = field(default_factory=LlmConfig)
    tts: TtsConfig = field(default_factory=TtsConfig)
    asr: AsrConfig = field(default_factory=AsrConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    turn: TurnConfig = field(default_factory=TurnConfig)
    wake: WakeConfig = field(default_factory=WakeConfig)
    echo: EchoConfig = field(default_factory=EchoConfig)
    gpio: GpioConfig = field(default_factory=GpioConfig)
    log: LogConfig = field(default_factory=LogConfig)
    tools: ToolsConfig = field(default_factory=ToolsConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    language: Literal["en", "pt", "es"] = "en"
    """Top-level key, not a section. Set in the file, it picks a profile
    (assistant/core/profiles.py): the language model, Vosk model, voice,
    system prompt and recognizer language of that language, for each of
    those keys the file does not set itself."""
    board: Literal["default", "512mb"] = "default"
    """Top-level key, not a section. ``512mb`` (a Pi Zero 2 W or 3 A+) picks
    the catalogue's smallest models and a short context and buffers that fit
    (assistant/core/profiles.py), for each key the file does not set itself.
    `assistant models recommend` says which suits this board."""
    source: str = field(default="built-in defaults", compare=False)
    """Where this config came from; not a TOML key."""

    @property
    def models_dir(self) -> Path:
        return resolve_models_dir(self.paths.models_dir)


def resolve_models_dir(configured: str) -> Path:
    """The models directory: ``configured``, else $ASSISTANT_MODELS_DIR, else
    the checkout's ``models/``, else under $XDG_DATA_HOME or the home
    directory. `ConfigError` when none of them can be told."""
    if configured:
        return Path(configured).expanduser()
    env = os.environ.get("ASSISTANT_MODELS_DIR")
    if env:
        return Path(env).expanduser()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "models").is_dir():
        return checkout / "models"
    data_home = os.environ.get("XDG_DATA_HOME")
    if not data_home:
        home = _home()
        if home is None:
            raise ConfigError(
                "no models directory: $HOME is not set and this user has no home; "
                "set ASSISTANT_MODELS_DIR or paths.models_dir"
            )
        data_home = str(home / ".local" / "share")
    return Path(data_home) / "assistant" / "models"


def _home() -> Path | None:
    try:
        return Path.home()
    except (RuntimeError, KeyError):  # no $HOME and no passwd entry
        return None


SYSTEM_CONFIG = Path("/etc/assistant/config.toml")

MAX_CONFIG_BYTES = 1 << 20
"""A config file is a page of text; anything bigger is the wrong file."""


def config_search_path(explicit: str | None = None) -> list[Path]:
    """Candidate config files, first match wins."""
    paths = []
    if explicit:
        return [Path(explicit).expanduser()]
    if os.environ.get("ASSISTANT_CONFIG"):
        return [Path(os.environ["ASSISTANT_CONFIG"]).expanduser()]
    config_home = os.environ.get("XDG_CONFIG_HOME")
    if not config_home and (home := _home()) is not None:
        config_home = str(home / ".config")
    if config_home:
        paths.append(Path(config_home) / "assistant" / "config.toml")
    paths.append(SYSTEM_CONFIG)
    return paths


def load_config(explicit: str | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Find, parse and validate the config; raise `ConfigError` with one line.

    An explicit path (``--config`` or ``$ASSISTANT_CONFIG``) must be a
    readable file; a default location that does not exist or cannot be read
    (an unreadable home) is skipped. A file that is found must be UTF-8 TOML
    of at most `MAX_CONFIG_BYTES`. ``overrides`` maps ``"section.key"`` to
    values from the command line and is validated like the file.
    """
    if explicit == "":
        raise ConfigError("config '': an empty path; pass a file to --config")
    data: dict[str, Any] = {}
    source = "built-in defaults"
    must_exist = bool(explicit or os.environ.get("ASSISTANT_CONFIG"))
    for path in config_search_path(explicit):
        text = read_small_text(
            path,
            "config",
            max_bytes=MAX_CONFIG_BYTES,
            error=ConfigError,
            optional=not must_exist,
            if_missing="pass an existing file to --config or unset ASSISTANT_CONFIG",
        )
        if text is None:
            continue
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config {path}: not valid TOML ({exc}); fix the syntax") from None
        source = str(path)
        break
    for dotted, value in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        data.setdefault(section, {})[key] = value
    return config_from_dict(data, source)


def config_from_dict(data: dict[str, Any], source: str = "built-in defaults") -> Config:
    sections: dict[str, Any] = {}
    hints = typing.get_type_hints(Config)
    known = [f.name for f in dataclasses.fields(Config) if f.name != "source"]
    if "language" in data or "board" in data:
        top = {f.name: f for f in dataclasses.fields(Config)}
        for key in ("language", "board"):
            if key in data:
                sections[key] = _check_value(key, data[key], hints[key], top[key], source)
        language, board = sections.get("language", "en"), sections.get("board", "default")
        data = {
            k: v
            for k, v in apply_profile(language, data, board).items()
            if k not in ("language", "board")
        }
    for name, table in data.items():
        if name not in known:
            raise ConfigError(
                f"config {source}: unknown section [{_shown(name)}]; allowed: {', '.join(known)}"
            )
        if not isinstance(table, dict):
            raise ConfigError(f"config {source}: [{name}] must be a table")
        sections[name] = _build_section(hints[name], name, table, source)
    return Config(**sections, source=source)


def _build_section(cls: type, name: str, table: dict[str, Any], source: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in table.items():
        if key not in fields:
            raise ConfigError(
                f"config {source}: unknown key {name}.{_shown(key)}; allowed: {', '.join(fields)}"
            )
        values[key] = _check_value(f"{name}.{key}", value, hints[key], fields[key], source)
    return cls(**values)


def _shown(name: str) -> str:
    """A key as typed, quoted when it holds characters that would break the
    one-line message (TOML allows any text in a quoted key)."""
    return name if name.isprintable() else repr(name)


def _check_value(key: str, value: Any, hint: Any, f: dataclasses.Field, source: str) -> Any:
    def bad(allowed: str) -> ConfigError:
        return ConfigError(f"config {source}: {key} = {value!r} is not allowed; expected {allowed}")

    origin = typing.get_origin(hint)
    if origin is typing.Union:  # e.g. Literal["auto"] | bool: the first that accepts it
        for option in typing.get_args(hint):
            try:
                return _check_value(key, value, option, f, source)
            except ConfigError:
                pass
        raise bad(" or ".join(_allowed(option) for option in typing.get_args(hint)))
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise bad("one of " + ", ".join(repr(c) for c in choices))
        return value
    if origin is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad("a list of strings")
        return list(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if hint in (int, float):
        ok = isinstance(value, int) if hint is int else isinstance(value, int | float)
        if not ok or isinstance(value, bool):
            raise bad("an integer" if hint is int else "a number")
        lo, hi = f.metadata.get("range", (None, None))
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            lo_s = "-inf" if lo is None else lo
            hi_s = "inf" if hi is None else hi
            raise bad(f"a number from {lo_s} to {hi_s}")
        return hint(value)
    if hint is str:
        if not isinstance(value, str):
            raise bad("a string")
        schemes = f.metadata.get("schemes")
        if schemes and value:
            try:
                parse_address(value, schemes)
            except ValueError as exc:
                raise bad(f"an address ({exc})") from None
        return value
    raise bad(str(hint))  # pragma: no cover - a new field type needs a rule here


def _allowed(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return ", ".join(repr(c) for c in typing.get_args(hint))
    return "true or false" if hint is bool else getattr(hint, "__name__", str(hint))


def config_to_toml(config: Config) -> str:
    """The effective configuration as TOML, for ``assistant config show``."""
    lines = [f"# effective configuration (from {config.source})"]
    lines.append(f"language = {_toml_value(config.language)}")
    lines.append(f"board = {_toml_value(config.board)}")
    for section in dataclasses.fields(Config):
        if section.name in ("source", "language", "board"):
            continue
        lines.append(f"\n[{section.name}]")
        for key, value in dataclasses.asdict(getattr(config, section.name)).items():
            lines.append(f"{key} = {_toml_value(value)}")
    lines.append(f"# models directory in use: {config.models_dir}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + "".join(_toml_char(c) for c in str(value)) + '"'


_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _toml_char(c: str) -> str:
    """One character of a TOML basic string: control characters escaped, so
    ``config show`` prints valid TOML whatever a value holds."""
    if c in _TOML_ESCAPES:
        return _TOML_ESCAPES[c]
    if unicodedata.category(c) == "Cc":
        return f"\\u{ord(c):04X}"
    if unicodedata.category(c) == "Cs":  # a path's undecodable byte: TOML has no escape for it
        return "\ufffd"
    return c
