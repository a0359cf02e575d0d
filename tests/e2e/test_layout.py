"""The package's shape: imports only go down the layers, with no circles.

Reads every ``import`` statement of the package with `ast` (including the lazy
ones inside functions), so nothing is imported and no model loads.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.paths import ROOT

PACKAGE = ROOT / "assistant"

LAYERS = {
    "core": 0,
    "stages": 1,
    "catalog": 1,
    "pipeline": 2,
    "skills": 3,
    "appliance": 3,
    "hub": 3,
    "compose": 4,
    "bench": 5,
    "frontends": 6,
    # `python -m assistant`, `python -m assistant.cli` and `... .models`.
    "__main__": 7,
    "cli": 7,
    "models": 7,
}
"""Each top-level folder or module of the package and its layer: a module may
import from its own folder or from a lower layer, never from a higher one or a
sibling folder of the same layer."""

BACKENDS = {
    "assistant.stages.asr.vosk",
    "assistant.stages.asr.whisper",
    "assistant.stages.asr.whisper_window",
    "assistant.stages.asr.moonshine",
    "assistant.stages.asr.moonshine_decode",
    "assistant.stages.llm.llama",
    "assistant.stages.llm.kvcache",
    "assistant.stages.tts.piper",
    "assistant.stages.wake.micro",
    "assistant.stages.vad.silero",
    "assistant.stages.asr.wyoming",
    "assistant.stages.llm.openai",
    "assistant.stages.llm.wyoming",
    "assistant.stages.tts.wyoming",
}
"""Concrete engines: only the composition root picks them."""

MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Package modules that ``name`` imports, resolved to the deepest module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in MODULES:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                targets.add(candidate)
                break
    return targets


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _top(name: str) -> str:
    return name.split(".")[1] if "." in name else ""


def test_every_top_level_name_has_a_layer():
    tops = {_top(name) for name in MODULES} - {""}
    assert tops <= set(LAYERS), f"give these a layer in LAYERS: {sorted(tops - set(LAYERS))}"


def test_imports_only_go_down():
    upward = []
    for name, targets in GRAPH.items():
        top = _top(name)
        if not top:
            continue
        for target in targets:
            other = _top(target)
            if other and other != top and LAYERS[other] >= LAYERS[top]:
                upward.append(f"{name} -> {target}")
    assert not upward, "imports that go up or sideways:\n" + "\n".join(sorted(upward))


def test_no_import_circles():
    # Tarjan's strongly connected components; any component of two or more is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in GRAPH:
        if node not in index:
            visit(node)
    assert not circles, f"import circles: {circles}"


def test_only_the_composition_root_picks_backends():
    allowed = {name for name in MODULES if name.startswith("assistant.compose")}
    offenders = [
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        for target in targets & BACKENDS
        if name not in allowed and target.rpartition(".")[0] != name.rpartition(".")[0]
    ]
    assert not offenders, "concrete backends imported outside compose:\n" + "\n".join(offenders)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_small(name):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it by responsibility"


def test_the_graph_sees_real_imports():
    # Guards the checks above against a resolver that finds nothing.
    assert "assistant.core.errors" in GRAPH["assistant.core.config"]
    assert "assistant.stages.llm.base" in GRAPH["assistant.stages.llm.llama"]


# -- the tests' own shape: they mirror the package ------------------------------

TESTS = ROOT / "tests"
CROSS_CUTTING = {"e2e", "support"}
"""Folders of tests/ that stand for no subpackage: tests across the layers,
and the helpers that tests share."""


def _test_folders() -> list[Path]:
    return sorted({path.parent for path in TESTS.rglob("test_*.py")})


def test_every_test_folder_is_a_package_named_after_one_of_the_package():
    wrong = []
    for folder in _test_folders():
        parts = folder.relative_to(TESTS).parts
        if not (folder / "__init__.py").is_file():
            wrong.append(f"{folder.relative_to(ROOT)} has no __init__.py")
        if parts and parts[0] not in CROSS_CUTTING and not (PACKAGE.joinpath(*parts)).is_dir():
            wrong.append(f"{folder.relative_to(ROOT)} mirrors no assistant/{'/'.join(parts)}")
    assert not wrong, "\n".join(wrong)


def test_test_modules_share_code_only_through_tests_support():
    offenders = []
    for path in TESTS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                # A relative import inside tests/ reaches another test module.
                names = [node.module or ""] if node.level == 0 else [f"relative {node.module}"]
            else:
                continue
            offenders += [
                f"{path.relative_to(ROOT)} imports {name}"
                for name in names
                if (name.startswith("tests.") and not name.startswith("tests.support"))
                or (name.startswith("relative") and path.parent.name != "support")
            ]
    assert not offenders, "move shared code to tests/support:\n" + "\n".join(offenders)


def test_the_shape_checks_see_the_tests():
    # Guards the checks above against a walk that finds nothing.
    folders = {folder.relative_to(TESTS).as_posix() for folder in _test_folders()}
    assert {"e2e", "pipeline", "stages/asr"} <= folders
