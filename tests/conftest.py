"""Shared fixtures. Real-model tests find models in the configured models
directory (the checkout's ``models/`` after ``./setup.sh``).

Tests that load a real model carry ``@pytest.mark.slow``; every other test is
kept from loading one (see `models_only_when_slow`), so ``-m "not slow"`` is a
fast inner loop that really runs no model.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin
from hypothesis import HealthCheck, settings

from assistant.core.config import resolve_models_dir
from assistant.core.malloc import limit_arenas
from tests.support import netguard, numerics

# Property tests: the same examples on every run (derandomized), so a failure
# reproduces on any machine. ./test.sh runs `quick` (200 examples each);
# HYPOTHESIS_PROFILE=thorough tries 3000 each, and `explore` draws fresh
# examples every run to hunt for new bugs.
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
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))

# tests/matrix.sh: the engines' numerics as another CPU would have them, in
# this process and in every child Python started with `child_env`.
if numerics.apply():
    os.environ["PYTHONPATH"] = numerics.child_pythonpath(os.environ.get("PYTHONPATH", ""))

# Malloc as `assistant` and the service units set it, before any test starts
# a thread (`limit_arenas`): memory checks then measure what a Pi would run.
limit_arenas()

# Read before any test changes the environment (see `models_only_when_slow`).
_MODELS_DIR = resolve_models_dir("")


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return _MODELS_DIR


@pytest.fixture(scope="session", autouse=True)
def loopback_only() -> Iterator[None]:
    """No test reaches past this machine: IPv4 and IPv6 connections, datagrams
    and name lookups go to loopback only, for the whole session (a child
    process, such as pip in the fetch tests, is not covered)."""
    with netguard.loopback_only():
        yield


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
