"""Where the real-model tests find their models."""

from __future__ import annotations

from pathlib import Path

import pytest


def require(path: Path) -> Path:
    """Fail, never skip, when a model the suite needs is missing."""
    if not path.exists():
        pytest.fail(f"{path} is missing; run ./test.sh, which fetches the test models")
    return path
