"""``assistant bench --quality``: how often each language model answers right,
in English, Portuguese and Spanish, and how fast.

Method: the questions in ``quality.toml`` (20 per language, the same facts in
each) are asked one at a time, each in a fresh conversation that starts with
the language profile's system prompt, sampled greedily (temperature 0) with
at most `MAX_TOKENS` tokens. An answer is right when it contains one of the
question's accepted keywords as whole words, compared case- and
accent-insensitively (`normalize`). Speed is tokens/s after the first token,
over all answers. The models are every installed catalogue language model
plus the configured one (or only ``llm_ids``).

Everything runs on the calling thread and blocks: seconds per model and
question on a PC, minutes per model on a Pi.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import sys
import time
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TextIO

from assistant.catalog.catalogue import Catalog, load_catalog
from assistant.catalog.manage import list_models
from assistant.compose import build_llm
from assistant.core.config import Config
from assistant.core.errors import ConfigError
from assistant.core.messages import Message
from assistant.core.profiles import PROFILES
from assistant.stages.llm.base import LanguageModel

log = logging.getLogger(__name__)

LANGUAGES = ("en", "pt", "es")
MAX_TOKENS = 48
"""Enough for a one-sentence answer; the keyword comes early or not at all."""


@dataclass(frozen=True)
class Question:
    language: str
    text: str
    accept: tuple[str, ...]
    """Keywords, any one of which makes the answer right (see `is_right`)."""


@dataclass(frozen=True)
class Answer:
    question: Question
    reply: str
    right: bool
    tokens: int
    """Tokens sampled."""
    generation_s: float
    """Seconds after the first token (what tokens/s divides by)."""


def load_questions(path: Path | None = None) -> list[Question]:
    """The questions: the packaged ``quality.toml`` by default. `ConfigError`
    with one line for a file that is not valid."""
    try:
        if path is None:
            text = resources.files("assistant.bench").joinpath("quality.toml").read_text("utf-8")
        else:
            text = path.read_text("utf-8")
        data = tomllib.loads(text)
        questions = [
            Question(q["language"], q["text"], tuple(q["accept"])) for q in data["question"]
        ]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"quality questions {path or 'quality.toml'}: not valid ({exc})"
        ) from None
    for q in questions:
        if q.language not in LANGUAGES or not q.accept:
            raise ConfigError(
                f"quality question {q.text!r}: language must be one of {', '.join(LANGUAGES)} "
                "and accept must list at least one keyword"
            )
    return questions


def normalize(text: str) -> str:
    """Lower case, accents removed, every run of non-alphanumerics one space."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", plain).split())


def is_right(reply: str, accept: Sequence[str]) -> bool:
    """Whether ``reply`` contains one of ``accept`` as whole words."""
    said = f" {normalize(reply)} "
    return any(f" {normalize(keyword)} " in said for keyword in accept if normalize(keyword))


def ask(llm: LanguageModel, question: Question) -> Answer:
    """One question in a fresh conversation, with its language's system prompt."""
    messages = [
        Message("system", PROFILES[question.language].system_prompt),
        Message("user", question.text),
    ]
    reply = "".join(llm.generate(messages)).strip()
    stats = llm.last_stats
    span = max(stats.total_s - stats.first_token_s, 0.0)
    return Answer(question, reply, is_right(reply, question.accept), stats.generated_tokens, span)


def score(answers: Sequence[Answer]) -> dict[str, object]:
    """Accuracy per language and overall (0-1), and tokens/s after the first token."""
    result: dict[str, object] = {}
    for language in LANGUAGES:
        mine = [a for a in answers if a.question.language == language]
        result[language] = round(sum(a.right for a in mine) / len(mine), 3) if mine else None
    result["all"] = round(sum(a.right for a in answers) / len(answers), 3) if answers else None
    tokens = sum(max(a.tokens - 1, 0) for a in answers)
    seconds = sum(a.generation_s for a in answers)
    result["tokens_per_s"] = round(tokens / seconds, 1) if seconds > 0 else None
    return result


def models_to_test(
    config: Config, llm_ids: Sequence[str] | None = None, catalog: Catalog | None = None
) -> list[str]:
    """GGUF files (``llm.model`` values): ``llm_ids``' files, else every
    installed catalogue language model and the configured one."""
    catalog = catalog or load_catalog()
    if llm_ids:
        entries = [catalog.get(i) for i in llm_ids]
        for e in entries:
            if e.kind != "llm":
                llms = ", ".join(i for i, x in catalog.entries.items() if x.kind == "llm")
                raise ConfigError(f"--llm {e.id} is a {e.kind} model; it takes one of: {llms}")
        return [e.root for e in entries]
    installed = [
        row["path"].name
        for row in list_models(config.models_dir, catalog)
        if row["kind"] == "llm" and row["status"] == "installed"
    ]
    return list(dict.fromkeys([*installed, config.llm.model]))


def run_model(config: Config, model: str, questions: Sequence[Question]) -> dict[str, object]:
    """Load ``model`` with the config's other llm keys, greedy, and ask every question."""
    llm_config = dataclasses.replace(
        config.llm, model=model, temperature=0.0, max_tokens=MAX_TOKENS, seed=0
    )
    started = time.monotonic()
    llm = build_llm(dataclasses.replace(config, llm=llm_config))
    try:
        load_s = time.monotonic() - started
        answers = [ask(llm, q) for q in questions]
    finally:
        llm.close()
    return {
        "model": model,
        "load_s": round(load_s, 2),
        **score(answers),
        "answers": [
            {"language": a.question.language, "question": a.question.text, "reply": a.reply,
             "right": a.right}
            for a in answers
        ],
    }  # fmt: skip


def format_results(results: Sequence[dict[str, object]], questions: int) -> list[str]:
    """The table ``bench --quality`` prints."""

    def pct(value: object) -> str:
        return f"{value * 100:5.0f} %" if isinstance(value, float | int) else "    -  "

    lines = [
        f"answer quality: {questions} questions, greedy, keyword-scored (accents and case ignored)",
        f"{'model':<40} {'en':>7} {'pt':>7} {'es':>7} {'all':>7} {'tokens/s':>9}",
    ]
    for r in results:
        speed = r["tokens_per_s"]
        lines.append(
            f"{str(r['model']):<40} {pct(r['en'])} {pct(r['pt'])} {pct(r['es'])} "
            f"{pct(r['all'])} {speed if speed is not None else '-':>9}"
        )
    return lines


def run_quality(
    config: Config,
    *,
    as_json: bool = False,
    llm_ids: Sequence[str] | None = None,
    questions: Sequence[Question] | None = None,
    out: TextIO | None = None,
) -> int:
    """The command: every model's results as a table (or one JSON object) on
    ``out`` (stdout). Raises `AssistantError` (for example a missing model)."""
    out = out or sys.stdout
    questions = list(questions) if questions is not None else load_questions()
    results = []
    for model in models_to_test(config, llm_ids):
        log.info("quality: %s, %d questions", model, len(questions))
        results.append(run_model(config, model, questions))
    if as_json:
        out.write(json.dumps({"questions": len(questions), "models": results}, ensure_ascii=False))
        out.write("\n")
    else:
        out.write("\n".join(format_results(results, len(questions))) + "\n")
    return 0
