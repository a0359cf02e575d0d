"""Shared fixtures. Real-model tests find models in the configured models
directory (the checkout's ``models/`` after ``./setup.sh``).

Tests that load a real model carry ``@pytest.mark.slow``; every other test is
kept from loading one (see `models_only_when_slow`), so ``-m "not slow"`` is a
fast inner loop that really runs no model.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin
from hypothesis import HealthCheck, settings

from assistant.core.config import resolve_models_dir

# Property tests: a few thousand examples each, the same ones on every run
# (derandomized), so CI is repeatable and a failure reproduces. To hunt for
# new bugs, HYPOTHESIS_PROFILE=explore draws fresh examples each run;
# HYPOTHESIS_PROFILE=quick gives a faster inner loop.
settings.register_profile(
    "thorough",
    max_examples=3000,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("quick", max_examples=200, deadline=None, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "thorough"))

# Read before any test changes the environment (see `models_only_when_slow`).
_MODELS_DIR = resolve_models_dir("")


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return _MODELS_DIR


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


# The model loaders of the four engine libraries, as (module, attribute).
_LOADERS = (
    ("llama_cpp", "Llama"),
    ("piper", "PiperVoice"),
    ("onnxruntime", "InferenceSession"),  # what the piper backend builds its voice on
    ("vosk", "Model"),
    ("faster_whisper", "WhisperModel"),
    ("pymicro_wakeword", "MicroWakeWord"),
)


@pytest.fixture(autouse=True)
def models_only_when_slow(request, monkeypatch, tmp_path_factory):
    """A test without the ``slow`` marker fails if it loads a model.

    In this process the libraries' loaders raise; a subprocess (the CLI) sees
    an empty models directory, so it cannot find one either.
    """
    if request.node.get_closest_marker("slow") is not None:
        return
    test = request.node.nodeid

    def refuse(*args, **kwargs):
        raise AssertionError(f"{test} loads a model: mark it @pytest.mark.slow")

    for module_name, attr in _LOADERS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        loader = getattr(module, attr)
        if attr == "PiperVoice":
            monkeypatch.setattr(loader, "load", refuse)
        else:
            monkeypatch.setattr(loader, "__init__", refuse)
    monkeypatch.setenv("ASSISTANT_MODELS_DIR", str(tmp_path_factory.mktemp("no-models")))
