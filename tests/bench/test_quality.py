"""``assistant bench --quality``: the questions, the scoring, the report, and
one real run on the test model."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest

from assistant.bench import quality
from assistant.bench.quality import (
    Question,
    is_right,
    load_questions,
    models_to_test,
    normalize,
    run_quality,
)
from assistant.core.config import config_from_dict
from assistant.core.errors import ConfigError
from assistant.core.profiles import PROFILES
from tests.support.answers import assert_plain_answer
from tests.support.fakes import FakeLanguageModel


def test_sixty_questions_twenty_per_language() -> None:
    questions = load_questions()
    assert len(questions) >= 60
    assert Counter(q.language for q in questions) == {"en": 20, "pt": 20, "es": 20}
    assert len({(q.language, q.text) for q in questions}) == len(questions)
    for q in questions:
        assert q.accept and all(normalize(k) for k in q.accept), q.text
        assert not is_right("", q.accept)


@pytest.mark.parametrize(
    ("reply", "accept", "right"),
    [
        ("Júpiter é o maior planeta.", ["jupiter"], True),
        ("JUPITER!", ["Júpiter"], True),
        ("O leão.", ["leao"], True),
        ("El león es el rey.", ["leon"], True),
        ("A week has 7 days.", ["7", "seven"], True),
        ("Twenty-four hours.", ["twenty-four"], True),
        ("Uso um guarda-chuva.", ["guarda-chuva"], True),
        ("Uso um guarda chuva.", ["guarda-chuva"], True),
        ("A comparison of cities.", ["paris"], False),  # whole words only
        ("Parisian cafés", ["paris"], False),
        ("It has 17 legs.", ["7"], False),
        ("I do not know.", ["blue"], False),
    ],
)
def test_keywords_match_whole_words_without_case_or_accents(
    reply: str, accept: list[str], right: bool
) -> None:
    assert is_right(reply, accept) is right


def test_a_bad_questions_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "q.toml"
    bad.write_text('[[question]]\nlanguage = "fr"\ntext = "Quoi?"\naccept = ["x"]\n')
    with pytest.raises(ConfigError, match="language must be one of en, pt, es"):
        load_questions(bad)
    bad.write_text("[[question]]\ntext = 3\n")
    with pytest.raises(ConfigError, match="not valid"):
        load_questions(bad)


def test_report_per_language_and_overall_with_a_fake_model(monkeypatch) -> None:
    built = []

    def fake_build_llm(config):
        llm = FakeLanguageModel(["It is ", "Paris", "."])
        built.append((config.llm, llm))
        return llm

    monkeypatch.setattr(quality, "build_llm", fake_build_llm)
    questions = [
        Question("en", "What is the capital of France?", ("paris",)),
        Question("en", "What color is the sky?", ("blue",)),
        Question("pt", "Qual é a capital da França?", ("paris",)),
        Question("es", "¿De qué color es el cielo?", ("azul",)),
    ]
    config = config_from_dict({"llm": {"temperature": 0.9, "max_tokens": 300}})
    out = io.StringIO()
    assert run_quality(config, as_json=True, questions=questions, out=out, llm_ids=[]) == 0
    report = json.loads(out.getvalue())
    assert report["questions"] == 4
    (model,) = report["models"]
    assert model["model"] == config.llm.model
    assert (model["en"], model["pt"], model["es"], model["all"]) == (0.5, 1.0, 0.0, 0.5)
    assert [a["right"] for a in model["answers"]] == [True, False, True, False]
    assert model["answers"][0]["reply"] == "It is Paris."
    llm_config, llm = built[0]
    assert llm_config.temperature == 0.0 and llm_config.max_tokens == quality.MAX_TOKENS
    assert llm.closed == 1
    # Each question in a fresh conversation, with its own language's prompt.
    assert [len(call) for call in llm.calls] == [2, 2, 2, 2]
    assert llm.calls[2][0].content == PROFILES["pt"].system_prompt
    assert llm.calls[3][0].content == PROFILES["es"].system_prompt
    text = io.StringIO()
    run_quality(config, questions=questions, out=text)
    table = text.getvalue().splitlines()
    assert table[1].split() == ["model", "en", "pt", "es", "all", "tokens/s"]
    assert table[2].split()[:5] == [config.llm.model, "50", "%", "100", "%"]


def test_models_to_test_are_installed_llms_and_the_configured_one(tmp_path: Path) -> None:
    config = config_from_dict({"paths": {"models_dir": str(tmp_path)}})
    assert models_to_test(config) == [config.llm.model]  # nothing installed
    with pytest.raises(ConfigError, match="--llm en_US-joe-medium is a tts model; it takes one of"):
        models_to_test(config, ["en_US-joe-medium"])
    assert models_to_test(config, ["qwen2.5-0.5b", "gemma-3-270m"]) == [
        "qwen2.5-0.5b-instruct-q4_k_m.gguf",
        "gemma-3-270m-it-Q8_0.gguf",
    ]


def test_cli_quality_with_a_missing_model_is_one_line(tmp_path: Path, capsys) -> None:
    from assistant.frontends.cli import main

    code = main(["--models-dir", str(tmp_path), "bench", "--quality", "--llm", "qwen2.5-0.5b"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "Traceback" not in err
    assert "qwen2.5-0.5b" in err and "assistant models fetch qwen2.5-0.5b" in err


@pytest.mark.slow  # loads SmolLM2-135M
def test_quality_runs_on_the_test_model_and_reports(models_dir: Path) -> None:
    from tests.support.models import require

    require(models_dir / "SmolLM2-135M-Instruct.Q4_1.gguf")
    config = config_from_dict({"paths": {"models_dir": str(models_dir)}})
    every = load_questions()
    few = [q for lang in ("en", "pt", "es") for q in [x for x in every if x.language == lang][:2]]
    out = io.StringIO()
    assert run_quality(config, as_json=True, questions=few, out=out, llm_ids=["smollm2-135m"]) == 0
    (model,) = json.loads(out.getvalue())["models"]
    assert model["model"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    answers = model["answers"]
    assert [(a["language"], a["question"]) for a in answers] == [(q.language, q.text) for q in few]
    for answer, question in zip(answers, few, strict=True):
        # A real answer in each language's letters, scored by its own words:
        # whether it is right depends on the CPU, how it is scored does not.
        assert_plain_answer(answer["reply"], english=question.language == "en")
        assert answer["right"] is is_right(answer["reply"], question.accept), answer
    for language in ("en", "pt", "es"):
        mine = [a["right"] for a in answers if a["language"] == language]
        assert model[language] == round(sum(mine) / len(mine), 3)
    assert model["all"] == round(sum(a["right"] for a in answers) / len(answers), 3)
    assert model["tokens_per_s"] > 0
