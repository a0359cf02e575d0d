"""Language profiles: ``language`` in the config picks ASR model, voice and prompt."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from assistant.catalog.catalogue import load_catalog
from assistant.core.config import Config, config_from_dict, config_to_toml, load_config
from assistant.core.errors import ConfigError
from assistant.core.profiles import PROFILES, apply_profile


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_portuguese_switches_asr_voice_and_prompt(tmp_path: Path) -> None:
    config = load_config(str(write(tmp_path / "c.toml", 'language = "pt"\n')))
    assert config.language == "pt"
    assert config.asr.vosk_model == "vosk-model-small-pt-0.3"
    assert config.asr.language == "pt"
    assert config.tts.voice == "pt_BR-faber-medium"
    assert config.llm.system_prompt.startswith("Você é um assistente de voz")
    assert config.llm.model == Config().llm.model  # the LLM is the user's choice


def test_spanish_profile() -> None:
    config = config_from_dict({"language": "es"})
    assert (config.asr.vosk_model, config.tts.voice, config.asr.language) == (
        "vosk-model-small-es-0.42",
        "es_ES-davefx-medium",
        "es",
    )
    assert "español" in config.llm.system_prompt


def test_explicit_keys_win_over_the_profile(tmp_path: Path) -> None:
    text = 'language = "es"\n[tts]\nvoice = "en_US-lessac-low"\n[llm]\nsystem_prompt = "Hi."\n'
    config = load_config(str(write(tmp_path / "c.toml", text)))
    assert config.tts.voice == "en_US-lessac-low"
    assert config.llm.system_prompt == "Hi."
    assert config.asr.vosk_model == "vosk-model-small-es-0.42"


def test_english_profile_is_the_default_config() -> None:
    assert config_from_dict({"language": "en"}) == Config()
    assert config_from_dict({}).language == "en"


def test_bad_language_names_the_key_and_choices(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", 'language = "fr"\n')
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    message = str(info.value)
    assert "language = 'fr'" in message and "'en', 'pt', 'es'" in message
    assert str(path) in message and "\n" not in message


def test_profile_does_not_hide_a_bad_section() -> None:
    with pytest.raises(ConfigError, match=r"\[tts\] must be a table"):
        config_from_dict({"language": "pt", "tts": 3})
    data = {"tts": {"speak": False}}
    merged = apply_profile("pt", data)
    assert data == {"tts": {"speak": False}}  # the input is not modified
    assert merged["tts"] == {"speak": False, "voice": "pt_BR-faber-medium"}


def test_show_round_trips_the_language() -> None:
    config = config_from_dict({"language": "pt", "llm": {"n_threads": 2}})
    parsed = tomllib.loads(config_to_toml(config))
    assert parsed["language"] == "pt"
    parsed["paths"]["models_dir"] = ""
    assert config_from_dict(parsed) == config


def test_every_profile_uses_catalogue_models_and_has_a_set() -> None:
    catalog = load_catalog()
    for language, profile in PROFILES.items():
        assert catalog.get(profile.vosk_model).kind == "asr"
        assert catalog.get(profile.voice).kind == "tts"
        assert catalog.get(profile.suggested_llm).kind == "llm"
        wanted = {profile.vosk_model, profile.voice, profile.suggested_llm}
        assert wanted == set(catalog.sets[language].models), language
        assert catalog.get(profile.voice).language.startswith(language)
