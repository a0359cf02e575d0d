"""ORT-format graphs rebuilt as ONNX, and the fetch-time conversion: a
small graph shaped like Moonshine's (int8 weights dequantized by Cast, Mul
and Add; an If whose branches read the outer graph's weights) is saved in
ORT format by onnxruntime itself, then rebuilt and compared on the same
inputs (slow only because the suite counts any onnxruntime session as a
model load). The catalogue's side: wheels for another platform, conversions."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from assistant.catalog import convert, download
from assistant.catalog.catalogue import Wheel, load_catalog
from assistant.catalog.fetch import Fetcher
from assistant.catalog.ort_onnx import fold_constants, ort_to_onnx, topological
from assistant.core.errors import ConfigError, FetchError, ModelError

rng = np.random.default_rng(7)


def small_model() -> onnx.ModelProto:
    """y = x @ (Cast(Wq) * scale + offset); out = If(flag, y + b, y * b)."""
    weights = [
        numpy_helper.from_array(rng.integers(-127, 127, (8, 8), dtype=np.int8), "w_q"),
        numpy_helper.from_array(np.array(0.02, np.float32), "scale"),
        numpy_helper.from_array(np.array(-0.01, np.float32), "offset"),
        numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "b"),
    ]
    nodes = [
        helper.make_node("Cast", ["w_q"], ["w_cast"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["w_cast", "scale"], ["w_scaled"]),
        helper.make_node("Add", ["w_scaled", "offset"], ["w"]),
        helper.make_node("MatMul", ["x", "w"], ["y"]),
    ]
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 8])

    def branch(op: str, name: str) -> onnx.GraphProto:
        node = helper.make_node(op, ["y", "b"], [f"{name}_out"])
        info = helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, [1, 8])
        return helper.make_graph([node], name, [], [info])

    nodes.append(
        helper.make_node(
            "If",
            ["flag"],
            ["out"],
            then_branch=branch("Add", "then"),
            else_branch=branch("Mul", "else"),
        )
    )
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8]),
        helper.make_tensor_value_info("flag", TensorProto.BOOL, [1]),
    ]
    graph = helper.make_graph(nodes, "small", inputs, [out], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 10
    return model


@pytest.fixture(scope="module")
def ort_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``small_model`` in ORT format, written by onnxruntime with no optimization."""
    folder = tmp_path_factory.mktemp("ort")
    onnx.save(small_model(), folder / "small.onnx")
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.optimized_model_filepath = str(folder / "small.ort")
    options.add_session_config_entry("session.save_model_format", "ORT")
    onnxruntime.InferenceSession(str(folder / "small.onnx"), options)
    return folder / "small.ort"


def run(model: Path | onnx.ModelProto, flag: bool) -> np.ndarray:
    source = str(model) if isinstance(model, Path) else model.SerializeToString()
    session = onnxruntime.InferenceSession(source, providers=["CPUExecutionProvider"])
    x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(2, 8)[:1]
    return session.run(None, {"x": x, "flag": np.array([flag])})[0]


@pytest.mark.slow  # onnxruntime sessions, if tiny
@pytest.mark.parametrize("flag", [True, False])
def test_the_rebuilt_graph_computes_what_the_ort_file_does(ort_file, flag):
    rebuilt = ort_to_onnx(ort_file.read_bytes())
    onnx.checker.check_model(rebuilt)
    np.testing.assert_allclose(run(rebuilt, flag), run(ort_file, flag), rtol=1e-6, atol=1e-6)


@pytest.mark.slow  # onnxruntime sessions, if tiny
def test_folding_the_weights_leaves_the_outputs_and_drops_the_int8_copy(ort_file):
    rebuilt = ort_to_onnx(ort_file.read_bytes())
    before = [run(rebuilt, flag) for flag in (True, False)]
    assert fold_constants(rebuilt) == 3
    assert [n.op_type for n in rebuilt.graph.node] == ["MatMul", "If"]
    assert {t.name for t in rebuilt.graph.initializer} == {"w", "b"}
    for flag, expected in zip((True, False), before, strict=True):
        np.testing.assert_array_equal(run(rebuilt, flag), expected)


@pytest.mark.slow  # onnxruntime sessions, if tiny
def test_the_int8_conversion_is_deterministic_and_close(ort_file, tmp_path):
    hashes = []
    for name in ("one.onnx", "two.onnx"):
        convert.ort_to_int8_onnx(ort_file, tmp_path / name)
        hashes.append(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert hashes[0] == hashes[1]
    quantized = onnx.load(tmp_path / "one.onnx")
    assert any(
        n.op_type.startswith(("MatMulInteger", "DynamicQuantize")) for n in quantized.graph.node
    )
    expected = run(ort_file, True)
    np.testing.assert_allclose(
        run(tmp_path / "one.onnx", True), expected, atol=0.05 * np.abs(expected).max()
    )


def test_nodes_are_put_in_an_order_onnx_accepts():
    nodes = list(small_model().graph.node)
    order = [n.op_type for n in topological([nodes[3], nodes[4], nodes[2], nodes[0], nodes[1]])]
    assert order == ["Cast", "Mul", "Add", "MatMul", "If"]
    loop = [helper.make_node("Neg", ["a"], ["b"]), helper.make_node("Neg", ["b"], ["a"])]
    with pytest.raises(ModelError, match="cycle"):
        topological(loop)


def test_other_bytes_are_not_an_ort_model():
    with pytest.raises(ModelError, match="not an ORT-format model"):
        ort_to_onnx(small_model().SerializeToString(), "model.onnx")


def test_a_missing_onnx_package_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(FetchError, match=r"pip install \.\[convert\]"):
        convert.require("ort-onnx-int8", "moonshine-base-en")


def test_the_catalogue_asks_pip_for_the_x86_wheel_and_converts_the_graphs():
    entry = load_catalog().get("moonshine-base-en")
    source = entry.sources[0]
    assert source.wheels[0].platform == "manylinux2014_x86_64"
    assert set(source.convert) == {f.path for f in entry.files if f.path.endswith(".onnx")}


def test_an_unknown_conversion_is_one_line(tmp_path):
    text = (Path(convert.__file__).parent / "catalog.toml").read_text("utf-8")
    bad = text.replace('.onnx" = "ort-onnx-int8"', '.onnx" = "magic"', 1)
    path = tmp_path / "catalog.toml"
    path.write_text(bad, "utf-8")
    with pytest.raises(ConfigError, match="convert.*magic"):
        load_catalog(path)


def test_pip_is_asked_for_the_named_platform(monkeypatch, tmp_path):
    seen = []

    def fake_run(cmd, **kwargs):
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution")

    monkeypatch.setattr(download.subprocess, "run", fake_run)
    wheel = Wheel("moonshine-cpp", "0.1.4", "0" * 64, 1, "manylinux2014_x86_64")
    with pytest.raises(FetchError, match="not on the package index"):
        download.pip_download(wheel, tmp_path)
    at = seen[0].index("--platform")
    assert seen[0][at + 1] == "manylinux2014_x86_64" and "--only-binary=:all:" in seen[0]


@pytest.mark.slow  # onnxruntime sessions, if tiny
def test_a_fetch_converts_the_member_and_checks_the_result(ort_file, tmp_path):
    convert.ort_to_int8_onnx(ort_file, tmp_path / "expected.onnx")
    digest = hashlib.sha256((tmp_path / "expected.onnx").read_bytes()).hexdigest()
    size = (tmp_path / "expected.onnx").stat().st_size
    built = tmp_path / "built" / "small_model-1.0-py3-none-manylinux2014_x86_64.whl"
    built.parent.mkdir()
    with zipfile.ZipFile(built, "w") as wheel:
        wheel.write(ort_file, "small_model/small.ort")
    wheel_sha = hashlib.sha256(built.read_bytes()).hexdigest()
    wheel_line = (
        f'{{ package = "small-model", version = "1.0", platform = "manylinux2014_x86_64", '
        f'size = {built.stat().st_size}, sha256 = "{wheel_sha}" }}'
    )
    (tmp_path / "catalog.toml").write_text(
        f"""schema = 1
[sets.x]
models = ["small"]
[[model]]
id = "small"
kind = "asr"
engine = "moonshine"
language = "en"
licence = "MIT"
memory_mb = 1
boards = ["pi4"]
min_ram_gb = 1
verified = true
checksum_source = "built by the test"
files = [{{ path = "small/model.onnx", size = {size}, sha256 = "{digest}" }}]
[[model.sources]]
type = "pypi"
wheels = [{wheel_line}]
members = {{ "small/model.onnx" = "small_model/small.ort" }}
convert = {{ "small/model.onnx" = "ort-onnx-int8" }}
""",
        "utf-8",
    )
    asked = []

    def fake_pip(wheel: Wheel, dest: Path) -> Path:
        """Stands in for `pip_download`: the wheel built above, for the platform asked."""
        asked.append(wheel.platform)
        return Path(shutil.copy(built, dest))

    lines: list[str] = []
    entry = load_catalog(tmp_path / "catalog.toml").get("small")
    Fetcher(tmp_path / "models", lines.append, pip=fake_pip).fetch(entry)
    installed = tmp_path / "models" / "small" / "model.onnx"
    assert asked == ["manylinux2014_x86_64"]
    assert hashlib.sha256(installed.read_bytes()).hexdigest() == digest
    assert any("converting small/model.onnx" in line for line in lines)
