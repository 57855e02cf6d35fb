"""openWakeWord's embedding model, streamed: each 80 ms frame computes only its own new rows.

The embedding model is a plain stack of convolutions (valid in time, padded in frequency) and
max-pools whose strides in time multiply to 8: the rows a frame adds (8 mel rows) give exactly
one new embedding, and every activation the window's older rows give was already computed for
the frames before. :func:`streaming_model` rewrites the model (read with a small protobuf reader:
onnx itself is not a dependency) so that each time-wide convolution reads the last rows of its
input from a *context* input and returns the new context as an output: the same arithmetic as
the whole 76-row window, one eighth of the work, one ``run`` per frame (or one per two frames:
the same contexts, the two frames' melspectrograms taken apart).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

MEL_BANDS = 32
MEL_ROWS_PER_FRAME = 8  # mel rows per 80 ms: the model's stride in time
_FLOAT, _INT64 = 1, 7  # ONNX tensor element types

Field = tuple[int, int, Any]  # (field number, wire type, value: int or bytes)


class StreamingError(ValueError):
    """The model is not the stack of convolutions and pools this rewrite understands."""


# -- protobuf's wire format (what an ONNX file is) ---------------------------------------------

def _varint(data: bytes | memoryview, i: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        byte = data[i]
        i += 1
        out |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return out, i


def fields(data: bytes | memoryview) -> Iterator[Field]:
    """The fields of a message; length-delimited values are views into ``data`` (no copy: an
    embedding model is over a megabyte)."""
    data, i = memoryview(data), 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, i = _varint(data, i)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, i = data[i : i + size], i + size
        elif wire == 2:
            size, i = _varint(data, i)
            value, i = data[i : i + size], i + size
        else:
            raise StreamingError(f"protobuf wire type {wire} is not read here")
        yield number, wire, value


def _enc_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _parts(number: int, value: bytes | memoryview) -> list[bytes | memoryview]:
    """A length-delimited field, as pieces to join once (``value`` is not copied)."""
    return [_enc_varint(number << 3 | 2), _enc_varint(len(value)), value]


def emit(number: int, wire: int, value: Any) -> bytes:
    key = _enc_varint(number << 3 | wire)
    if wire == 0:
        return key + _enc_varint(int(value))
    if wire == 2:
        return key + _enc_varint(len(value)) + bytes(value)
    return key + bytes(value)


def _msg(*parts: tuple[int, Any]) -> bytes:
    """A message of length-delimited (bytes, str) and varint (int) fields."""
    out = b""
    for number, value in parts:
        if isinstance(value, int):
            out += emit(number, 0, value)
        else:
            out += emit(number, 2, value.encode() if isinstance(value, str) else value)
    return out


def _ints(value: Any, wire: int) -> list[int]:
    if wire == 0:
        return [int(value)]
    out, i = [], 0
    while i < len(value):
        n, i = _varint(value, i)
        out.append(n)
    return out


# -- the graph --------------------------------------------------------------------------------

@dataclass
class _Node:
    raw: list[Field]
    op: str = ""
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    ints: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: bytes) -> _Node:
        node = cls(list(fields(data)))
        for number, _, value in node.raw:
            if number == 1:
                node.inputs.append(bytes(value).decode())
            elif number == 2:
                node.outputs.append(bytes(value).decode())
            elif number == 4:
                node.op = bytes(value).decode()
            elif number == 5:
                name, ints = "", []
                for n, w, v in fields(value):
                    if n == 1:
                        name = bytes(v).decode()
                    elif n == 8:
                        ints += _ints(v, w)
                node.ints[name] = ints
        return node

    def encode(self, first_input: str) -> bytes:
        """The node, reading ``first_input`` instead of its first input."""
        out, renamed = b"", False
        for number, wire, value in self.raw:
            first = number == 1 and not renamed
            renamed |= first
            out += emit(number, wire, first_input.encode() if first else value)
        return out


def _tensor(name: str, values: npt.NDArray[Any]) -> bytes:
    dtype = _INT64 if values.dtype == np.int64 else _FLOAT
    dims = b"".join(emit(1, 0, d) for d in values.shape)
    return dims + _msg((2, dtype), (8, name), (9, values.tobytes()))


def _value_info(name: str, shape: tuple[int, ...] | None) -> bytes:
    """A float tensor's name and type (``shape`` None: any shape)."""
    dims = b"".join(emit(1, 2, _msg((1, d))) for d in shape or ())
    tensor = _msg((1, _FLOAT), (2, dims)) if shape is not None else _msg((1, _FLOAT))
    return _msg((1, name), (2, _msg((1, tensor))))


def _initializers(graph: memoryview) -> dict[str, tuple[int, ...]]:
    """Each initializer's shape."""
    out = {}
    for number, _, value in fields(graph):
        if number == 5:
            dims, name = [], ""
            for n, w, v in fields(value):
                if n == 1:
                    dims += _ints(v, w)
                elif n == 8:
                    name = bytes(v).decode()
            out[name] = tuple(dims)
    return out


@dataclass(frozen=True)
class StreamingModel:
    """The rewritten model: the frame's audio [1, 1760] (``audio_input``) through the
    melspectrogram model, then ``mel * SCALE / 10 + OFFSET`` (openWakeWord's scale: feed 1 and
    2; 0 and 1 make mel rows of ones, the silence the state starts from), then the streamed
    embedding model, which takes each of ``contexts`` (name, shape) as an input and gives its
    next value as output 1 + its index (output 0 is the embedding)."""

    model: bytes
    audio_input: str
    contexts: tuple[tuple[str, tuple[int, ...]], ...]


SCALE, OFFSET = "stream_scale", "stream_offset"  # the inputs of the mel rows' scale


def _graph(data: bytes) -> tuple[list[Field], memoryview]:
    model = list(fields(data))
    return model, next((v for n, _, v in model if n == 7), memoryview(b""))


def _nodes(graph: memoryview) -> list[_Node]:
    return [_Node.parse(bytes(v)) for n, _, v in fields(graph) if n == 1]


def _names(graph: memoryview) -> set[str]:
    return {name for node in _nodes(graph) for name in node.inputs + node.outputs} | set(
        _initializers(graph))


def _conv(node: _Node, weights: tuple[int, ...], bands: int,
          contexts: list[tuple[str, tuple[int, ...]]]) -> bytes:
    """A convolution; one 3 rows high reads its input after the context of the 2 rows before
    (a new context input, whose next value is its input's last 2 rows)."""
    kernel, pads = node.ints.get("kernel_shape", []), node.ints.get("pads", [0, 0, 0, 0])
    if len(weights) != 4 or node.ints.get("strides", [1, 1]) != [1, 1] or \
            kernel[0] not in (1, 3) or pads[0] or pads[2] or \
            node.ints.get("dilations", [1, 1]) != [1, 1]:
        raise StreamingError(f"a convolution {kernel} {pads} {weights}")
    if kernel[0] == 1:
        return emit(1, 2, node.encode(node.inputs[0]))
    ctx = f"stream_ctx_{len(contexts)}"
    contexts.append((ctx, (1, weights[1], 2, bands)))
    concat = _msg((1, ctx), (1, node.inputs[0]), (2, f"{ctx}_in"), (4, "Concat"),
                  (5, _msg((1, "axis"), (20, 2), (3, 2))))
    tail = _msg((1, f"{ctx}_in"), (1, "stream_tail_start"), (1, "stream_tail_end"),
                (1, "stream_tail_axis"), (2, f"{ctx}_out"), (4, "Slice"))
    return emit(1, 2, concat) + emit(1, 2, tail) + emit(1, 2, node.encode(f"{ctx}_in"))


def _layers(nodes: list[_Node], shapes: dict[str, tuple[int, ...]]
            ) -> tuple[bytes, list[tuple[str, tuple[int, ...]]]]:
    """The layers after the input's reshape, streamed; the contexts they read."""
    contexts: list[tuple[str, tuple[int, ...]]] = []
    body, bands, stride = b"", MEL_BANDS, 1
    for node in nodes[1:]:
        if node.op == "Conv":
            body += _conv(node, shapes.get(node.inputs[1], ()), bands, contexts)
            continue
        if node.op == "MaxPool":
            strides = node.ints.get("strides", [])
            if node.ints.get("kernel_shape") != strides or len(strides) != 2 or \
                    any(node.ints.get("pads", [0])):
                raise StreamingError(f"a max-pool {node.ints}")
            stride, bands = stride * strides[0], bands // strides[1]
        elif node.op not in ("LeakyRelu", "Max", "Reshape"):
            raise StreamingError(f"a {node.op} layer")
        body += emit(1, 2, node.encode(node.inputs[0]))
    if stride != MEL_ROWS_PER_FRAME:
        raise StreamingError(f"its stride in time is {stride} rows, not {MEL_ROWS_PER_FRAME}")
    return body, contexts


def _per_frame(nodes: list[_Node], raw: list[bytes]) -> list[bytes]:
    """The melspectrogram's nodes, clipping each frame (a row of the batch) to its range under
    its own loudest value, not the batch's: its ReduceMax over each row, its last Clip as Max
    and Min (Clip takes one bound for the whole tensor)."""
    reduce = [i for i, node in enumerate(nodes) if node.op == "ReduceMax"]
    last = nodes[-1]
    if len(reduce) != 1 or last.op != "Clip" or len(last.inputs) != 3:
        raise StreamingError("the melspectrogram does not end in a ReduceMax and a Clip")
    out = list(raw)
    node = nodes[reduce[0]]
    out[reduce[0]] = _msg((1, node.inputs[0]), (2, node.outputs[0]), (4, "ReduceMax"),
                          (5, _msg((1, "axes"), (8, 1), (8, 2), (8, 3), (20, 7))),
                          (5, _msg((1, "keepdims"), (3, 1), (20, 2))))
    x, low, high = last.inputs
    out[-1:] = [_msg((1, x), (1, low), (2, "stream_mel_floor"), (4, "Max")),
                _msg((1, "stream_mel_floor"), (1, high), (2, last.outputs[0]), (4, "Min"))]
    return out


def _front(melspec: bytes, mel_input: str, frames: int
           ) -> tuple[bytes, list[bytes | memoryview], str]:
    """The melspectrogram model's nodes and initializers, then the mel rows' scale into
    ``mel_input`` (``frames`` frames' rows); and the name of its audio input."""
    _, graph = _graph(melspec)
    nodes = _nodes(graph)
    inputs = [bytes(v) for n, _, v in fields(graph) if n == 11]
    audio = next((bytes(v).decode() for n, _, v in fields(inputs[0]) if n == 1), "") \
        if len(inputs) == 1 else ""
    if not audio or not nodes or len(nodes[-1].outputs) != 1:
        raise StreamingError("the melspectrogram model has one input and one output")
    mel = nodes[-1].outputs[0]
    raw = [bytes(v) for n, _, v in fields(graph) if n == 1]
    body = b"".join(emit(1, 2, v) for v in (raw if frames == 1 else _per_frame(nodes, raw)))
    body += emit(1, 2, _msg((1, mel), (1, "stream_mel_shape"), (2, "stream_mel"),
                            (4, "Reshape")))
    body += emit(1, 2, _msg((1, "stream_mel"), (1, "stream_ten"), (2, "stream_mel_10"),
                            (4, "Div")))
    body += emit(1, 2, _msg((1, "stream_mel_10"), (1, SCALE), (2, "stream_mel_scaled"),
                            (4, "Mul")))  # x * 1 is x: openWakeWord's arithmetic, exactly
    body += emit(1, 2, _msg((1, "stream_mel_scaled"), (1, OFFSET), (2, mel_input),
                            (4, "Add")))
    constants: dict[str, npt.NDArray[Any]] = {
        "stream_mel_shape": np.array([1, 1, MEL_ROWS_PER_FRAME * frames, MEL_BANDS], np.int64),
        "stream_ten": np.array(10, np.float32)}
    inits = [p for n, _, v in fields(graph) if n == 5 for p in _parts(5, v)]
    inits += [emit(5, 2, _tensor(k, v)) for k, v in constants.items()]
    return body, inits, audio


def streaming_model(embedding: bytes, melspec: bytes, audio_samples: int,
                    frames: int = 1) -> StreamingModel:
    """openWakeWord's embedding model (an ONNX file's bytes), rewritten to stream, after its
    melspectrogram model: ``frames`` frames a run, one embedding each (output 0 is [frames, 1,
    1, 96]). The audio input is [frames, audio_samples]: each frame with the context before it,
    as the melspectrogram is taken one frame at a time (it clips each to its own loudest row,
    so one over two frames differs where a quiet frame meets a loud one). The contexts are the
    same whatever ``frames`` is: models streaming one frame and two take each other's."""
    model, graph = _graph(embedding)
    nodes = _nodes(graph)
    if len(nodes) < 3 or nodes[0].op != "Reshape" or nodes[-1].op != "Reshape":
        raise StreamingError("not a reshape, layers and a reshape")
    if _names(graph) & _names(_graph(melspec)[1]):
        raise StreamingError("the two models use the same names")
    body, contexts = _layers(nodes[:-1], _initializers(graph))
    last = nodes[-1]  # the embeddings' reshape, after putting time first: [1, 96, frames, 1]
    body += emit(1, 2, _msg((1, last.inputs[0]), (2, "stream_embeddings"), (4, "Transpose"),
                            (5, _msg((1, "perm"), (8, 0), (8, 2), (8, 3), (8, 1), (20, 7)))))
    body += emit(1, 2, last.encode("stream_embeddings"))
    mel_input = nodes[0].outputs[0]
    tail = {"stream_tail_start": [-2], "stream_tail_end": [2**62], "stream_tail_axis": [2]}
    inits = [p for n, _, v in fields(graph) if n == 5 for p in _parts(5, v)]
    inits += [emit(5, 2, _tensor(k, np.array(v, np.int64))) for k, v in tail.items()]
    outputs: list[tuple[str, tuple[int, ...] | None]] = [(nodes[-1].outputs[0], None)]
    outputs += [(f"{name}_out", shape) for name, shape in contexts]
    front, front_inits, audio = _front(melspec, mel_input, frames)
    inputs: list[tuple[str, tuple[int, ...]]] = [(audio, (frames, audio_samples)), (SCALE, ()),
                                                 (OFFSET, ()), *contexts]
    new = [front, body, *front_inits, *inits, emit(2, 2, b"streaming"),
           *(emit(11, 2, _value_info(n, s)) for n, s in inputs),
           *(emit(12, 2, _value_info(n, s)) for n, s in outputs)]
    size = sum(len(part) for part in new)
    out = b"".join(part for n, w, v in model for part in (
        [_enc_varint(7 << 3 | 2), _enc_varint(size), *new] if n == 7 else [emit(n, w, v)]))
    return StreamingModel(out, audio, tuple(contexts))
