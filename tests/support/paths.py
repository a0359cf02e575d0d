"""Paths of the checkout the tests run from, and the environment of a child Python."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository's top folder."""


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child Python: this one's, with the checkout first
    on PYTHONPATH (kept, not replaced, so a test-only path set by tests/matrix.sh
    still reaches the child), plus ``extra``."""
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), **extra}
