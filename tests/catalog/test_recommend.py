"""``assistant models recommend``: the catalogue set for each board class, read
from fake /proc/meminfo and device-tree files."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from assistant.catalog import recommend as rec_module
from assistant.catalog.catalogue import load_catalog
from assistant.catalog.recommend import (
    BANDWIDTH_GBS,
    MIN_TOKENS_S,
    board_of,
    config_keys,
    fetch_names,
    format_recommendation,
    read_machine,
    recommend,
    recommended_toml,
)
from assistant.core.config import config_from_dict

MODELS = {
    "zero2": "Raspberry Pi Zero 2 W Rev 1.0",
    "pi3": "Raspberry Pi 3 Model B Plus Rev 1.3",
    "pi4": "Raspberry Pi 4 Model B Rev 1.4",
    "pi5": "Raspberry Pi 5 Model B Rev 1.0",
}
# MemTotal as each board reports it (the firmware keeps some for the GPU).
RAM_KB = {"512mb": 427_016, "1gb": 908_000, "2gb": 1_899_000, "4gb": 3_884_000, "8gb": 8_049_000}


def fake_proc(tmp_path: Path, board: str | None, total_kb: int | None, free_kb: int = 0):
    """Fake /proc/meminfo and /proc/device-tree/model files; None leaves one out."""
    meminfo, model = tmp_path / "meminfo", tmp_path / "model"
    if total_kb is not None:
        free_kb = free_kb or total_kb * 3 // 4
        meminfo.write_text(
            f"MemTotal:       {total_kb} kB\nMemFree:        {free_kb} kB\n"
            f"MemAvailable:   {free_kb} kB\nBuffers:           1000 kB\n"
        )
    if board is not None:
        model.write_bytes(MODELS[board].encode() + b"\0")  # the device tree ends it with NUL
    return meminfo, model


def machine(tmp_path: Path, board: str | None, ram: str | None, cores: int = 4):
    meminfo, model = fake_proc(tmp_path, board, RAM_KB[ram] if ram else None)
    return read_machine(meminfo, model, cores)


def test_read_machine_from_fake_proc(tmp_path: Path) -> None:
    m = machine(tmp_path, "pi4", "4gb")
    assert (m.model, m.board, m.cores) == (MODELS["pi4"], "pi4", 4)
    assert m.total_mb == RAM_KB["4gb"] * 1024 // 1_000_000
    assert m.available_mb == RAM_KB["4gb"] * 3 // 4 * 1024 // 1_000_000
    assert m.ram_class == "4gb" and m.bandwidth_gbs == BANDWIDTH_GBS["pi4"][1]
    nothing = read_machine(tmp_path / "none", tmp_path / "none", 2)
    assert (nothing.board, nothing.total_mb, nothing.model) == ("other", 0, "")


@pytest.mark.parametrize(
    ("model", "board"),
    [
        ("Raspberry Pi 5 Model B Rev 1.0", "pi5"),
        ("Raspberry Pi Compute Module 5 Rev 1.0", "pi5"),
        ("Raspberry Pi 500 Rev 1.0", "pi5"),
        ("Raspberry Pi 4 Model B Rev 1.5", "pi4"),
        ("Raspberry Pi 400 Rev 1.0", "pi4"),
        ("Raspberry Pi Compute Module 4 Rev 1.0", "pi4"),
        ("Raspberry Pi 3 Model A Plus Rev 1.0", "pi3"),
        ("Raspberry Pi Zero 2 W Rev 1.0", "zero2"),
        ("Raspberry Pi Zero W Rev 1.1", "other"),
        ("Pine64 RockPro64 v2.1", "other"),
        ("", "other"),
    ],
)
def test_board_of_the_device_tree_model(model: str, board: str) -> None:
    assert board_of(model) == board


@pytest.mark.parametrize("language", ["en", "pt", "es"])
def test_512mb_pi_zero_2_w_gets_the_512mb_profile(tmp_path: Path, language: str) -> None:
    rec = recommend(machine(tmp_path, "zero2", "512mb"), language)
    assert rec.machine.ram_class == "512mb"
    assert rec.board_profile == "512mb"
    assert rec.set_name == f"512mb-{language}"
    assert fetch_names(rec) == [f"512mb-{language}"]
    assert rec.fits == "tight"  # with zram and the mapped GGUF paged out
    assert any("zram" in note for note in rec.notes)
    llm = rec.models[0]
    assert llm.id == ("smollm2-135m" if language == "en" else "gemma-3-270m")
    assert rec.tokens_s == pytest.approx(1.5e9 / llm.size_bytes)
    assert config_keys(rec) == {"language": language, "board": "512mb"}


@pytest.mark.parametrize("ram", ["1gb", "2gb"])
def test_1_to_2_gb_pi_4(tmp_path: Path, ram: str) -> None:
    en = recommend(machine(tmp_path, "pi4", ram), "en")
    pt = recommend(machine(tmp_path, "pi4", ram), "pt")
    assert en.machine.ram_class == "1-2gb" and en.board_profile == "default"
    budget = en.machine.total_mb - rec_module.OS_RESERVE_MB
    for rec in (en, pt):
        assert rec.fits == "yes" and rec.peak_mb <= budget
        assert rec.tokens_s >= MIN_TOKENS_S
    assert pt.models[0].language == "multilingual"
    assert [e.kind for e in pt.models] == ["llm", "asr", "tts"]
    assert pt.models[1].id == "vosk-model-small-pt-0.3" and pt.models[2].id == "pt_BR-faber-medium"


@pytest.mark.parametrize("board", ["pi4", "pi5", None])
@pytest.mark.parametrize(
    ("language", "engine"), [("en", "moonshine"), ("pt", "vosk"), ("es", "vosk")]
)
def test_the_recognizer_follows_the_language_profile(
    tmp_path: Path, board: str | None, language: str, engine: str
) -> None:
    rec = recommend(machine(tmp_path, board, "4gb"), language)
    asr = rec.models[1]
    assert (asr.kind, asr.engine) == ("asr", engine)
    assert asr.id == config_from_dict({"language": language}).asr.model
    assert fetch_names(rec)[0] in (language, rec.models[0].id)


def test_4_gb_pi_4_is_bandwidth_bound_not_memory_bound(tmp_path: Path) -> None:
    rec = recommend(machine(tmp_path, "pi4", "4gb"), "pt")
    # A 1.5B model fits in 4 GB but runs at ~5 tokens/s on a Pi 4: too slow.
    assert rec.models[0].id == "qwen2.5-0.5b"
    assert rec.tokens_s == pytest.approx(5e9 / rec.models[0].size_bytes)
    assert rec.tokens_s >= MIN_TOKENS_S


def test_4_and_8_gb_pi_5_get_a_bigger_model(tmp_path: Path) -> None:
    small = recommend(machine(tmp_path, "pi5", "1gb"), "es")
    for ram in ("4gb", "8gb"):
        big = recommend(machine(tmp_path, "pi5", ram), "es")
        assert big.machine.ram_class == ram
        assert big.models[0].id == "qwen2.5-1.5b"
        assert big.models[0].size_bytes > small.models[0].size_bytes
        assert big.tokens_s == pytest.approx(11e9 / big.models[0].size_bytes)
        assert big.fits == "yes"
    assert recommend(machine(tmp_path, "pi5", "8gb"), "en").models[0].id == "qwen2.5-1.5b"


def test_not_a_pi_is_chosen_by_memory_with_speed_unknown(tmp_path: Path) -> None:
    rec = recommend(machine(tmp_path, None, "8gb"), "en")
    assert rec.machine.board == "other" and rec.tokens_s is None
    assert any("not a Raspberry Pi" in n for n in rec.notes)
    unknown = recommend(read_machine(tmp_path / "x", tmp_path / "y", 2), "en")
    assert unknown.fits == "?" and any("meminfo" in n for n in unknown.notes)


def test_expected_speed_is_bandwidth_over_the_file_size(tmp_path: Path) -> None:
    catalog = load_catalog()
    m = machine(tmp_path, "pi5", "8gb")
    for entry in catalog.entries.values():
        speed = rec_module.expected_tokens_s(entry, m)
        if entry.kind == "llm":
            assert speed == pytest.approx(11e9 / entry.size_bytes)
        else:
            assert speed is None


@pytest.mark.parametrize("board", ["zero2", "pi4", "pi5"])
@pytest.mark.parametrize("language", ["en", "pt", "es"])
def test_the_written_config_selects_the_recommended_models(
    tmp_path: Path, board: str, language: str
) -> None:
    ram = "512mb" if board == "zero2" else "4gb"
    rec = recommend(machine(tmp_path, board, ram), language)
    before = "# mine\n[llm]\nn_threads = 2   # keep\n[tts]\nvolume = 0.5\n"
    text = recommended_toml(rec, before)
    assert "# mine" in text and "n_threads = 2   # keep" in text and "volume = 0.5" in text
    config = config_from_dict(tomllib.loads(text))
    llm, asr, tts = rec.models
    assert config.llm.model == llm.root
    assert (config.asr.engine, config.asr.model) == (asr.engine, asr.root)
    assert config.tts.voice == tts.id
    assert config.language == language and config.board == rec.board_profile
    assert (config.llm.n_threads, config.tts.volume) == (2, 0.5)
    again = recommended_toml(rec, text)  # idempotent: no key twice
    assert again == text


def test_format_says_board_speed_memory_and_commands(tmp_path: Path) -> None:
    rec = recommend(machine(tmp_path, "pi5", "8gb"), "pt")
    lines = format_recommendation(rec)
    text = "\n".join(lines)
    assert MODELS["pi5"] in lines[0] and "11 GB/s sustained" in lines[0]
    assert "qwen2.5-1.5b" in text and "tokens/s" in text
    assert f"expected peak RSS ~{rec.peak_mb} MB: fits" in text
    assert "fetch: assistant models fetch qwen2.5-1.5b vosk-model-small-pt-0.3" in text


def test_cli_models_recommend(tmp_path: Path, monkeypatch, capsys) -> None:
    from assistant.frontends.cli import main

    fake = machine(tmp_path, "pi4", "2gb")
    monkeypatch.setattr(rec_module, "read_machine", lambda: fake)
    assert main(["models", "recommend", "--language", "es", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["board"] == "pi4" and data["ram_class"] == "1-2gb" and data["language"] == "es"
    assert data["models"][1:] == ["vosk-model-small-es-0.42", "es_ES-davefx-medium"]
    assert data["fits"] == "yes" and data["tokens_per_s"] >= MIN_TOKENS_S
    assert main(["models", "recommend"]) == 0  # the config's language: en
    out = capsys.readouterr().out
    assert "language: en" in out and "expected peak RSS" in out


def test_catalog_module_writes_the_config_for_setup(tmp_path: Path, monkeypatch, capsys) -> None:
    from assistant.catalog.manage import main

    monkeypatch.setattr(rec_module, "read_machine", lambda: machine(tmp_path, "zero2", "512mb"))
    target = tmp_path / "conf" / "config.toml"
    target.parent.mkdir()
    argv = ["--models-dir", str(tmp_path), "recommend", "--language", "pt"]
    assert main([*argv, "--write-config", str(target)]) == 0
    assert "512mb-pt" in capsys.readouterr().out
    config = config_from_dict(tomllib.loads(target.read_text()))
    assert (config.language, config.board) == ("pt", "512mb")
    assert config.llm.model == "gemma-3-270m-it-Q8_0.gguf"
