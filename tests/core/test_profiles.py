"""Profiles: ``language`` picks all four stages, ``board = "512mb"`` shrinks them;
an explicit key still wins, and a missing model is named with its fetch command."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from assistant.catalog.catalogue import load_catalog
from assistant.catalog.missing import missing_models, require_installed
from assistant.core.config import Config, config_from_dict, config_to_toml, load_config
from assistant.core.errors import ConfigError, ModelError
from assistant.core.profiles import (
    BOARDS,
    PROFILES,
    apply_profile,
    profile_defaults,
    profile_models,
    set_name,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def value(config: Config, section: str, key: str) -> object:
    return getattr(getattr(config, section), key)


def test_portuguese_switches_all_four_stages(tmp_path: Path) -> None:
    config = load_config(str(write(tmp_path / "c.toml", 'language = "pt"\n')))
    assert config.language == "pt"
    assert config.llm.model == "qwen2.5-0.5b-instruct-q4_k_m.gguf"  # multilingual
    assert config.asr.vosk_model == "vosk-model-small-pt-0.3"
    assert config.asr.language == "pt"
    assert config.tts.voice == "pt_BR-faber-medium"
    assert config.llm.system_prompt.startswith("Você é um assistente de voz")


def test_spanish_profile() -> None:
    config = config_from_dict({"language": "es"})
    assert (config.llm.model, config.asr.vosk_model, config.tts.voice, config.asr.language) == (
        "qwen2.5-0.5b-instruct-q4_k_m.gguf",
        "vosk-model-small-es-0.42",
        "es_ES-davefx-medium",
        "es",
    )
    assert "español" in config.llm.system_prompt


@pytest.mark.parametrize("language", sorted(PROFILES))
@pytest.mark.parametrize("board", ["default", *BOARDS])
def test_every_key_a_profile_sets_reaches_the_config(language: str, board: str) -> None:
    config = config_from_dict({"language": language, "board": board})
    tables = profile_defaults(language, board)
    assert {"llm", "asr", "tts"} <= set(tables)
    assert {"model", "system_prompt"} <= set(tables["llm"])
    for section, keys in tables.items():
        for key, wanted in keys.items():
            assert value(config, section, key) == wanted, f"{section}.{key}"


@pytest.mark.parametrize("language", sorted(PROFILES))
@pytest.mark.parametrize("board", ["default", *BOARDS])
def test_every_key_a_profile_sets_can_be_overridden(language: str, board: str) -> None:
    tables = profile_defaults(language, board)
    # A valid value different from the profile's, of the same type.
    mine = {str: "mine", bool: None, int: 300, float: 0.5}
    data: dict = {"language": language, "board": board}
    expected = {}
    for section, keys in tables.items():
        for key, wanted in keys.items():
            if isinstance(wanted, bool):
                chosen = not wanted
            elif key == "language":
                chosen = "en" if language != "en" else "pt"
            elif key == "engine":
                chosen = "whisper"
            else:
                chosen = mine[type(wanted)]
            data.setdefault(section, {})[key] = chosen
            expected[section, key] = chosen
    config = config_from_dict(data)
    for (section, key), chosen in expected.items():
        assert value(config, section, key) == chosen, f"{section}.{key}"


def test_board_512mb_shrinks_the_context_and_buffers() -> None:
    small = config_from_dict({"board": "512mb"})
    default = Config()
    assert small.board == "512mb" and small.language == "en"
    assert small.llm.n_ctx < default.llm.n_ctx and small.llm.n_ctx == 512
    assert small.llm.max_turns < default.llm.max_turns
    assert small.llm.max_tokens < default.llm.max_tokens
    assert small.llm.mmap is True
    assert small.audio.keep_replies < default.audio.keep_replies
    assert small.tts.voice == "en_US-lessac-low"
    assert small.llm.model == default.llm.model  # SmolLM2-135M is already the smallest
    pt = config_from_dict({"board": "512mb", "language": "pt"})
    assert pt.llm.model == "gemma-3-270m-it-Q8_0.gguf"
    assert pt.llm.system_prompt == PROFILES["pt"].system_prompt


def test_explicit_keys_win_over_the_profile(tmp_path: Path) -> None:
    text = (
        'language = "es"\n[tts]\nvoice = "en_US-lessac-low"\n'
        '[llm]\nsystem_prompt = "Hi."\nmodel = "gemma-3-1b-it-Q4_K_M.gguf"\n'
    )
    config = load_config(str(write(tmp_path / "c.toml", text)))
    assert config.tts.voice == "en_US-lessac-low"
    assert config.llm.system_prompt == "Hi."
    assert config.llm.model == "gemma-3-1b-it-Q4_K_M.gguf"
    assert config.asr.vosk_model == "vosk-model-small-es-0.42"


@pytest.mark.parametrize(
    ("data", "engine", "model"),
    [
        ({}, "moonshine", "moonshine-base-en"),
        ({"language": "en"}, "moonshine", "moonshine-base-en"),
        ({"language": "pt"}, "vosk", "vosk-model-small-pt-0.3"),
        ({"language": "es"}, "vosk", "vosk-model-small-es-0.42"),
        ({"board": "512mb"}, "vosk", "vosk-model-small-en-us-0.15"),  # half the memory
        ({"language": "en", "asr": {"engine": "vosk"}}, "vosk", "vosk-model-small-en-us-0.15"),
        ({"language": "pt", "asr": {"engine": "whisper"}}, "whisper", "whisper-base"),
    ],
)
def test_english_recognizes_with_moonshine_and_pt_es_with_vosk(data, engine, model) -> None:
    asr = config_from_dict(data).asr
    assert (asr.engine, asr.model) == (engine, model)


def test_english_profile_is_the_default_config() -> None:
    assert config_from_dict({"language": "en"}) == Config()
    assert config_from_dict({"board": "default"}) == Config()
    assert config_from_dict({}).language == "en"


def test_bad_language_and_board_name_the_key_and_choices(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", 'language = "fr"\n')
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    message = str(info.value)
    assert "language = 'fr'" in message and "'en', 'pt', 'es'" in message
    assert str(path) in message and "\n" not in message
    with pytest.raises(ConfigError, match=r"board = '256mb' is not allowed.*'default', '512mb'"):
        config_from_dict({"board": "256mb"})


def test_profile_does_not_hide_a_bad_section() -> None:
    with pytest.raises(ConfigError, match=r"\[tts\] must be a table"):
        config_from_dict({"language": "pt", "tts": 3})
    data = {"tts": {"speak": False}}
    merged = apply_profile("pt", data)
    assert data == {"tts": {"speak": False}}  # the input is not modified
    assert merged["tts"] == {"speak": False, "voice": "pt_BR-faber-medium"}


def test_show_round_trips_the_language_and_board() -> None:
    config = config_from_dict({"language": "pt", "board": "512mb", "llm": {"n_threads": 2}})
    parsed = tomllib.loads(config_to_toml(config))
    assert (parsed["language"], parsed["board"]) == ("pt", "512mb")
    parsed["paths"]["models_dir"] = ""
    assert config_from_dict(parsed) == config


@pytest.mark.parametrize("language", sorted(PROFILES))
@pytest.mark.parametrize("board", ["default", *BOARDS])
def test_every_profile_uses_catalogue_models_and_has_a_set(language: str, board: str) -> None:
    catalog = load_catalog()
    models = profile_models(language, board)
    llm = catalog.get(models.llm_id)
    assert llm.kind == "llm" and llm.root == models.llm_file
    asr = catalog.get(models.asr_model)
    assert (asr.kind, asr.engine, asr.root) == ("asr", models.asr_engine, models.asr_model)
    voice = catalog.get(models.voice)
    assert voice.kind == "tts" and voice.language.startswith(language)
    assert set(models.ids) == set(catalog.sets[set_name(language, board)].models)
    if language != "en":  # SmolLM2 only speaks English
        assert llm.language == "multilingual"


def test_the_512mb_set_is_the_smallest_of_each_stage() -> None:
    catalog = load_catalog()
    for language in PROFILES:
        for model_id in profile_models(language, "512mb").ids:
            entry = catalog.get(model_id)
            speaks = ("multilingual", language) if entry.kind == "llm" or language != "en" else ()
            rivals = [
                e
                for e in catalog.entries.values()
                if (e.kind, e.engine) == (entry.kind, entry.engine)
                and (e.language.split("_")[0] in speaks or e.language.startswith(language))
                and (language == "en" or e.language != "en")
            ]
            assert entry.size_bytes == min(e.size_bytes for e in rivals), (language, model_id)


def test_a_missing_profile_model_is_named_with_the_set_to_fetch(tmp_path: Path) -> None:
    config = config_from_dict({"language": "pt", "paths": {"models_dir": str(tmp_path)}})
    assert [e.id for e in missing_models(config)] == [
        "qwen2.5-0.5b",
        "vosk-model-small-pt-0.3",
        "pt_BR-faber-medium",
    ]
    with pytest.raises(ModelError) as info:
        require_installed(config, tmp_path / "qwen2.5-0.5b-instruct-q4_k_m.gguf")
    line = str(info.value)
    assert line.startswith(
        f'language model qwen2.5-0.5b (language = "pt") is missing from {tmp_path}, and so are '
    )
    assert "voice pt_BR-faber-medium" in line and "speech model vosk-model-small-pt-0.3" in line
    assert line.endswith("run `assistant models fetch pt`") and "\n" not in line


def test_a_model_outside_the_profile_is_fetched_by_id(tmp_path: Path) -> None:
    (tmp_path / "pt_BR-faber-medium.onnx").write_bytes(b"x")
    (tmp_path / "vosk-model-small-pt-0.3").mkdir()
    config = config_from_dict(
        {
            "language": "pt",
            "board": "512mb",
            "llm": {"model": "gemma-3-1b-it-Q4_K_M.gguf"},
            "paths": {"models_dir": str(tmp_path)},
        }
    )
    with pytest.raises(ModelError, match=r"run `assistant models fetch gemma-3-1b`$") as info:
        require_installed(config, tmp_path / "gemma-3-1b-it-Q4_K_M.gguf")
    assert "language =" not in str(info.value)  # the user chose it, not the profile
    require_installed(config, tmp_path / "pt_BR-faber-medium.onnx")  # present: no error
    require_installed(config, tmp_path / "my-own.gguf")  # not a catalogue model: the backend says


def test_the_first_turn_names_the_missing_model(tmp_path: Path, capsys) -> None:
    from assistant.frontends.cli import main

    config = write(tmp_path / "c.toml", 'language = "pt"\n')
    code = main(["--config", str(config), "--models-dir", str(tmp_path), "ask", "olá"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith('assistant: language model qwen2.5-0.5b (language = "pt")')
    assert err.endswith("run `assistant models fetch pt`") and "\n" not in err
    assert "Traceback" not in err


def test_whisper_gets_the_profile_language_never_auto_detect(tmp_path: Path) -> None:
    from assistant.compose import engines

    seen = {}

    def fake_make(asr, models_dir, silence_s, *, n_threads=0):
        seen["asr"] = asr
        return object()

    (tmp_path / "whisper-base").mkdir()
    config = config_from_dict(
        {
            "language": "pt",
            "asr": {"engine": "whisper", "language": ""},
            "paths": {"models_dir": str(tmp_path)},
        }
    )
    original = engines.make_speech_to_text
    engines.make_speech_to_text = fake_make
    try:
        engines.build_stt(config)
    finally:
        engines.make_speech_to_text = original
    assert seen["asr"].language == "pt"
    assert config_from_dict({"language": "es", "asr": {"engine": "whisper"}}).asr.language == "es"


def test_skills_reply_in_the_profile_language() -> None:
    from assistant.skills.handler import Skills

    for language, word in (("pt", "minuto"), ("es", "minuto"), ("en", "minute")):
        config = config_from_dict({"language": language})
        skills = Skills(language=config.language)
        command = {"en": "set a timer for one minute", "pt": "defina um timer de um minuto",
                   "es": "pon un temporizador de un minuto"}[language]  # fmt: skip
        reply = skills.answer(command, "")
        assert reply is not None and word in reply.text.lower(), (language, reply)
        skills.close()


@pytest.mark.slow  # a whole voice turn on the real models
def test_a_512mb_voice_turn_runs_on_the_real_models(models_dir: Path, tmp_path: Path, capsys):
    """The 512mb profile (n_ctx 512, mapped GGUF, two remembered turns) with
    this machine's stand-ins for its recognizer and voice."""
    import json

    from assistant.bench.wer import wer
    from assistant.frontends.cli import main
    from tests.support.answers import assert_plain_answer
    from tests.support.models import require
    from tests.support.speech import piper_wav

    require(models_dir / "whisper-base" / "model.bin")
    wav = piper_wav("What is the capital of France?", models_dir, tmp_path / "q.wav")
    config = write(
        tmp_path / "c.toml",
        f'board = "512mb"\n[paths]\nmodels_dir = "{models_dir}"\n'
        '[asr]\nengine = "whisper"\n[tts]\nvoice = "en_US-joe-medium"\n',
    )
    assert load_config(str(config)).llm.n_ctx == 512
    out = tmp_path / "reply.wav"
    code = main(["--config", str(config), "listen", "--wav", str(wav), "--out", str(out), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    # Any CPU's Whisper base is within this bound of one short sentence.
    assert wer("What is the capital of France?", result["transcript"]) <= 0.34, result
    assert_plain_answer(result["reply"])
    assert out.stat().st_size > 1000


def test_a_stage_served_over_the_network_is_never_missing(tmp_path: Path) -> None:
    config = config_from_dict(
        {
            "language": "pt",
            "paths": {"models_dir": str(tmp_path)},
            "llm": {"backend": "openai"},
            "tts": {"engine": "wyoming"},
        }
    )
    assert [e.id for e in missing_models(config)] == ["vosk-model-small-pt-0.3"]
