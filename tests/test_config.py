"""Config loading and validation: every bad input is one line naming the key."""

from __future__ import annotations

import tomllib

import pytest

from assistant.core import config as config_module
from assistant.core.config import Config, config_from_dict, config_to_toml, load_config
from assistant.core.errors import ConfigError


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.delenv("ASSISTANT_CONFIG", raising=False)
    monkeypatch.setattr(config_module, "SYSTEM_CONFIG", tmp_path / "etc/assistant/config.toml")


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_when_no_file_exists():
    config = load_config()
    assert config == Config()
    assert config.llm.n_ctx == 2048
    assert config.asr.engine == "vosk"


def test_explicit_file_wins_over_env_and_home_over_etc(tmp_path, monkeypatch):
    write(tmp_path / "etc/assistant/config.toml", "[llm]\nn_ctx = 4096\n")
    assert load_config().llm.n_ctx == 4096
    write(tmp_path / "home/.config/assistant/config.toml", "[llm]\nn_ctx = 1024\n")
    env_file = write(tmp_path / "env.toml", "[llm]\nn_ctx = 768\n")
    explicit = write(tmp_path / "explicit.toml", "[llm]\nn_ctx = 512\n")
    assert load_config().llm.n_ctx == 1024
    monkeypatch.setenv("ASSISTANT_CONFIG", str(env_file))
    assert load_config().llm.n_ctx == 768
    config = load_config(str(explicit))
    assert config.llm.n_ctx == 512
    assert config.source == str(explicit)


def test_a_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(str(tmp_path / "nope.toml"))


@pytest.mark.parametrize(
    "toml, words",
    [
        ("[llm]\nn_ctx = 'big'\n", ["llm.n_ctx", "'big'", "an integer"]),
        ("[llm]\nn_ctx = 10\n", ["llm.n_ctx", "10", "from 256 to 131072"]),
        ("[llm]\ntemperature = -1\n", ["llm.temperature", "-1", "from 0.0 to 2.0"]),
        ("[llm]\nnctx = 10\n", ["unknown key llm.nctx", "n_ctx"]),
        ("[lm]\nx = 1\n", ["unknown section [lm]", "llm"]),
        ("[asr]\nengine = 'google'\n", ["asr.engine", "'google'", "'vosk', 'whisper'"]),
        ("[turn]\nmode = 'push'\n", ["turn.mode", "'hold', 'toggle'"]),
        ("[tts]\nspeak = 'yes'\n", ["tts.speak", "true or false"]),
        ("[asr]\ngrammar = 'hello'\n", ["asr.grammar", "a list of strings"]),
        ("[gpio]\nbutton_pin = true\n", ["gpio.button_pin", "an integer"]),
        ("llm = 3\n", ["[llm] must be a table"]),
        ("[llm\n", ["not valid TOML"]),
    ],
)
def test_bad_values_name_the_key_value_and_what_is_allowed(tmp_path, toml, words):
    path = write(tmp_path / "bad.toml", toml)
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    for word in words:
        assert word in message


def test_overrides_are_validated_like_the_file():
    assert load_config(overrides={"asr.engine": "whisper"}).asr.engine == "whisper"
    with pytest.raises(ConfigError, match="asr.engine"):
        load_config(overrides={"asr.engine": "nope"})


def test_show_round_trips_through_toml():
    config = config_from_dict({"llm": {"n_threads": 3}, "asr": {"grammar": ["yes", "no"]}})
    text = config_to_toml(config)
    parsed = tomllib.loads(text)
    parsed["paths"]["models_dir"] = ""
    assert config_from_dict(parsed) == config


def test_config_is_frozen():
    config = Config()
    with pytest.raises(AttributeError):
        config.llm.n_ctx = 5  # type: ignore[misc]
