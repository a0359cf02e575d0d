"""``assistant doctor``: check this machine, the models and the config, one line each.

The checks are in `assistant.frontends.checks` (the installation) and
`assistant.frontends.hardware` (audio, GPIO, temperature). A ``fail`` means
``assistant run`` cannot work; ``warn`` does not block it. Everything here
blocks and runs on the CLI thread; the microphone level test takes ~1 s and
re-hashing the models a few seconds.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from assistant.core.config import Config
from assistant.frontends.checks import (
    Check,
    check_config,
    check_echo,
    check_memory,
    check_models,
    check_packages,
    check_python,
    check_wake,
)
from assistant.frontends.hardware import (
    check_gpio,
    check_input_level,
    check_microphone,
    check_pins,
    check_speaker,
    check_temperature,
    check_throttling,
)

log = logging.getLogger(__name__)

MARKS = {"ok": "✓", "warn": "!", "fail": "✗", "info": "-"}


DEFAULT_CHECKS: tuple[Callable[[Config], Check | list[Check]], ...] = (
    check_config, check_python, check_packages, check_microphone, check_input_level,
    check_speaker, check_gpio, check_pins, check_models, check_memory,
    check_temperature, check_throttling, check_wake, check_echo,
)  # fmt: skip


def run_checks(config: Config, checks: Sequence[Callable] = DEFAULT_CHECKS) -> list[Check]:
    """Every check's results in order; a check that crashes becomes a ``fail``."""
    results: list[Check] = []
    for check in checks:
        try:
            got = check(config)
        except Exception as exc:  # a diagnostic tool must report, not crash
            log.debug("check %s crashed", check, exc_info=True)
            name = getattr(check, "__name__", "check").removeprefix("check_")
            got = Check(name, "fail", f"{type(exc).__name__}: {exc}", "run with -v and report it")
        results += got if isinstance(got, list) else [got]
    return results


def format_check(check: Check) -> str:
    line = f"{MARKS[check.status]} {check.name}: {check.detail}"
    if check.fix and check.status in ("fail", "warn"):
        line += f" - fix: {check.fix}"
    return " ".join(line.split())  # always one line


def run_doctor(
    config: Config, *, out: TextIO | None = None, checks: Sequence[Callable] = DEFAULT_CHECKS
) -> int:
    """Print one line per check to ``out`` (stdout); 1 when `run` cannot work, else 0."""
    out = out or sys.stdout
    out.write(f"assistant doctor (config: {config.source})\n")
    results = []
    for check in checks:  # print as we go: the level test and hashing take seconds
        for result in run_checks(config, [check]):
            results.append(result)
            out.write(format_check(result) + "\n")
            out.flush()
    failed = sum(r.status == "fail" for r in results)
    warned = sum(r.status == "warn" for r in results)
    if failed:
        out.write(f"{failed} problem(s) to fix before `assistant run`; {warned} warning(s)\n")
        return 1
    out.write(f"ready for `assistant run`; {warned} warning(s)\n")
    return 0
