"""Shared fixtures. Real-model tests find models in the configured models
directory (the checkout's ``models/`` after ``./setup.sh``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from assistant.core.config import resolve_models_dir


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return resolve_models_dir("")


def require(path: Path) -> Path:
    """Fail, never skip, when a model the suite needs is missing."""
    if not path.exists():
        pytest.fail(f"{path} is missing; run ./test.sh, which fetches the test models")
    return path


@pytest.fixture(autouse=True)
def no_machine_config(tmp_path_factory, monkeypatch):
    """Tests never read this machine's /etc or ~/.config assistant config."""
    from assistant.core import config

    home = tmp_path_factory.mktemp("config-home")
    monkeypatch.setattr(config, "SYSTEM_CONFIG", home / "etc-config.toml")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("ASSISTANT_CONFIG", raising=False)


@pytest.fixture
def factory():
    """gpiozero's mock pins (PWM-capable), released after the test."""
    factory = MockFactory(pin_class=MockPWMPin)
    try:
        yield factory
    finally:
        factory.reset()
        factory.close()
