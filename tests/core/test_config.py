"""Config loading and validation: every bad input is one line naming the key."""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    assert config.asr.engine == "moonshine" and config.asr.model == "moonshine-base-en"


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


def test_a_file_that_is_not_utf8_names_the_byte_its_offset_and_line(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('[llm]\nsystem_prompt = "café"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert str(info.value) == (
        f"config {path} is not UTF-8 text (byte 0xe9 at offset 26, line 2); save it as UTF-8"
    )


def test_utf16_is_named_and_a_utf8_byte_order_mark_is_accepted(tmp_path):
    utf16 = tmp_path / "utf16.toml"
    utf16.write_text("[llm]\nn_ctx = 512\n", encoding="utf-16")
    with pytest.raises(ConfigError, match="is UTF-16 text; save it as UTF-8"):
        load_config(str(utf16))
    bom = tmp_path / "bom.toml"
    bom.write_text("[llm]\nn_ctx = 512\n", encoding="utf-8-sig")
    assert load_config(str(bom)).llm.n_ctx == 512


def test_a_path_that_is_not_a_file_says_what_it_is(tmp_path):
    loop = tmp_path / "loop.toml"
    loop.symlink_to(loop)
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    cases = {
        str(tmp_path): "is a directory",
        str(loop): "a symlink loop",
        "/dev/zero": "is a character device, not a regular file",
        str(fifo): "is a FIFO, not a regular file",  # and it does not block on open
        str(tmp_path / "nope.toml"): "no such file",
        str(tmp_path / "nope" / "x.toml"): "no such file",
    }
    for path, words in cases.items():
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert words in str(info.value), path
        assert path in str(info.value)


def test_an_empty_config_path_and_an_oversized_file_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="an empty path"):
        load_config("")
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * config_module.MAX_CONFIG_BYTES + "\n")
    with pytest.raises(ConfigError, match="is over 1024 KiB"):
        load_config(str(big))


def test_an_unusable_default_location_is_skipped(tmp_path, caplog):
    # A directory or a symlink loop where ~/.config/assistant/config.toml
    # should be must not block every command: the defaults apply.
    home_config = tmp_path / "home/.config/assistant/config.toml"
    home_config.mkdir(parents=True)
    with caplog.at_level("WARNING"):
        assert load_config() == Config()
    assert "is a directory; skipped" in caplog.text
    home_config.rmdir()
    home_config.symlink_to(home_config)
    assert load_config() == Config()


def test_no_home_directory_skips_the_home_location(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME")

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(config_module.Path, "home", staticmethod(no_home))
    assert config_module.config_search_path() == [config_module.SYSTEM_CONFIG]
    assert load_config() == Config()


def test_new_keys_have_defaults_ranges_and_show_up_in_config_show():
    config = Config()
    assert config.audio.keep_replies == 100
    assert config.llm.mmap is False
    shown = config_to_toml(config)
    assert "keep_replies = 100" in shown and "mmap = false" in shown
    assert config_from_dict({"audio": {"keep_replies": 0}}).audio.keep_replies == 0
    with pytest.raises(ConfigError, match="audio.keep_replies = -1"):
        config_from_dict({"audio": {"keep_replies": -1}})
    with pytest.raises(ConfigError, match="llm.mmap = 'yes'.*true or false"):
        config_from_dict({"llm": {"mmap": "yes"}})


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@given(prompt=_TEXT, grammar=st.lists(_TEXT, max_size=3), device=_TEXT)
def test_show_prints_valid_toml_whatever_the_strings_hold(prompt, grammar, device):
    config = config_from_dict(
        {
            "llm": {"system_prompt": prompt},
            "asr": {"grammar": grammar},
            "audio": {"input_device": device},
        }
    )
    parsed = tomllib.loads(config_to_toml(config))
    parsed["paths"]["models_dir"] = ""
    assert config_from_dict(parsed) == config


@given(raw=st.binary(max_size=300) | st.text(max_size=200).map(lambda t: t.encode()))
def test_any_bytes_in_a_config_file_give_a_config_or_one_config_error(tmp_path_factory, raw):
    path = tmp_path_factory.getbasetemp() / "fuzzed-config.toml"
    path.write_bytes(raw)
    try:
        config = load_config(str(path))
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
    else:
        assert isinstance(config, Config)


_SECTIONS = {
    name: [f.name for f in dataclasses.fields(cls)]
    for name, cls in typing.get_type_hints(Config).items()
    if dataclasses.is_dataclass(cls)
}
_SCALARS = st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8)
_VALUES = _SCALARS | st.lists(_SCALARS, max_size=3) | st.dictionaries(st.text(max_size=4), _SCALARS)


@given(
    data=st.dictionaries(
        st.sampled_from([*_SECTIONS, "language", "bogus"]),
        st.dictionaries(
            st.sampled_from([*sum(_SECTIONS.values(), []), "bogus", "\n"]), _VALUES, max_size=4
        )
        | _VALUES,
        max_size=4,
    )
)
def test_any_tables_give_a_config_or_one_config_error_naming_the_key(data):
    try:
        config = config_from_dict(data, "fuzz.toml")
    except ConfigError as exc:
        assert "\n" not in str(exc) and "fuzz.toml" in str(exc)
    else:
        assert isinstance(config, Config)
