"""Fetch-time conversions: a file unpacked from a download, rewritten before
its SHA-256 is checked.

A catalogue source may name a conversion for a final file (``convert``):
the member is unpacked as usual, then `run` rewrites it in place, and the
result is what the catalogue pins. Only ``ort-onnx-int8`` exists: an
ORT-format graph rebuilt as ONNX (`ort_onnx`), its constant weights folded,
then quantized with onnxruntime's ``quantize_dynamic`` (int8 weights,
activations quantized on the fly). That runs onnxruntime's python tools
only, never anything from the download, so it works on any platform; it
needs the ``onnx`` package (the ``convert`` extra). The same inputs and
package versions give the same bytes (checked when the catalogue was
written), so the result can be pinned. Blocking, for the CLI thread.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from assistant.core.errors import FetchError

log = logging.getLogger(__name__)

CONVERSIONS = ("ort-onnx-int8",)
"""What a catalogue source's ``convert`` may name."""
QUANTIZED_OPS = ["MatMul", "Attention", "LSTM", "Gather", "Transpose", "EmbedLayerNormalization"]
"""What is quantized to int8: ``quantize_dynamic``'s own choice, except
convolutions:
Moonshine's first one reads the raw waveform, and with int8 weights its
encoder's output made the decoder say nothing at all."""


def conversions(
    table: dict, files: Iterable[Any], bad: Callable[[str, Any, str], Exception], where: str
) -> dict[str, str]:
    """A catalogue source's ``convert`` table (final path -> conversion),
    checked: ``bad(key, value, expected)`` is raised for a path that is no
    file of the entry or a conversion not in `CONVERSIONS`."""
    convert = table.get("convert", {})
    if not isinstance(convert, dict):
        raise bad(f"{where}.convert", convert, "a table of file paths")
    paths = {f.path for f in files}
    for key, value in convert.items():
        if key not in paths or value not in CONVERSIONS:
            raise bad(
                f"{where}.convert.{key}", value, "a file's path = " + " or ".join(CONVERSIONS)
            )
    return dict(convert)


def require(conversion: str, entry_id: str) -> None:
    """`FetchError` (one line) when what ``conversion`` needs is not
    installed; checked before anything is downloaded."""
    try:
        import onnx  # noqa: F401
        import onnxruntime.quantization  # noqa: F401
    except ImportError as exc:
        raise FetchError(
            f"{entry_id}: its {conversion} conversion needs the {exc.name!r} package, which is "
            "not installed; install it with `pip install .[convert]` and fetch again"
        ) from None


def run(conversion: str, path: Path, entry_id: str) -> None:
    """Rewrite ``path`` in place with ``conversion``; `ModelError` when its
    content cannot be converted."""
    if conversion != "ort-onnx-int8":
        raise FetchError(f"{entry_id}: unknown conversion {conversion!r}")
    require(conversion, entry_id)
    ort_to_int8_onnx(path, path, entry_id)


def ort_to_int8_onnx(source: Path, dest: Path, name: str = "") -> None:
    """``source`` (ORT format) rebuilt as ONNX, folded and quantized to int8,
    written to ``dest`` (which may be ``source``)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from assistant.catalog.ort_onnx import fold_constants, ort_to_onnx

    started = time.monotonic()
    model = ort_to_onnx(source.read_bytes(), name or source.name)
    folded = fold_constants(model)
    with tempfile.TemporaryDirectory(prefix=".convert-", dir=dest.parent) as tmp:
        plain = Path(tmp) / "plain.onnx"
        onnx.save(model, plain)
        del model
        quantized = Path(tmp) / "int8.onnx"
        # EnableSubgraph: a merged decoder's matrices are in its If branches.
        # The quantizer warns on the root logger about a pre-processing step
        # that only matters for static quantization: hush it meanwhile.
        root = logging.getLogger()
        level = root.level
        root.setLevel(max(level, logging.ERROR))
        try:
            quantize_dynamic(
                plain,
                quantized,
                op_types_to_quantize=QUANTIZED_OPS,
                weight_type=QuantType.QInt8,
                extra_options={"EnableSubgraph": True},
            )
        finally:
            root.setLevel(level)
        quantized.replace(dest)
    log.info(
        "%s: rebuilt as ONNX (%d constant nodes folded) and quantized in %.1f s",
        name or source.name,
        folded,
        time.monotonic() - started,
    )
