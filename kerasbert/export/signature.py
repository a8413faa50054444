"""The interface every exported graph declares: int64 token ids in, float32 logits out.

Hugging Face's ONNX exports, Optimum, transformers.js and the ONNX model zoo all send int64
`input_ids`, `attention_mask` and `token_type_ids`, so an app in any language calls a kerasbert
export as it calls theirs, with no kerasbert code. onnxruntime's fused BERT kernels want int32
ids and masks: the fused graph casts inside (`kerasbert.export.onnx_writer.GraphBuilder.int32`).

`check_signature(path, producer)` holds a saved graph to this contract, whichever converter,
optimizer or quantizer wrote it, and returns what it declares (`graph_signature`): the export
records that in `kerasbert.json`, read from the file, so the record cannot drift from the graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
from onnx import helper

from kerasbert.common.names import LOGITS, MODEL_INPUT_NAMES

INPUT_DTYPE = "int64"
INPUT_SHAPE = ["batch", "sequence"]
OUTPUT_DTYPE = "float32"


class SignatureError(RuntimeError):
    """A graph kerasbert wrote breaks its own interface: a bug in the route that wrote it."""


def graph_signature(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """The inputs and outputs the ONNX file at `path` declares, each as `{"name", "dtype",
    "shape"}`: numpy's dtype name, and per axis its symbolic name (`"batch"`), size or None.

    Example:
    >>> graph_signature("exported/news/model.onnx")["inputs"][0]  # doctest: +SKIP
    {'name': 'input_ids', 'dtype': 'int64', 'shape': ['batch', 'sequence']}
    """
    graph = onnx.load(str(path), load_external_data=False).graph
    return {
        "inputs": [_tensor(value) for value in graph.input],
        "outputs": [_tensor(value) for value in graph.output],
    }


def _tensor(value: onnx.ValueInfoProto) -> dict[str, Any]:
    tensor_type = value.type.tensor_type
    return {
        "name": value.name,
        "dtype": helper.tensor_dtype_to_np_dtype(tensor_type.elem_type).name,
        "shape": [_axis(dim) for dim in tensor_type.shape.dim],
    }


def _axis(dim: Any) -> str | int | None:
    """An axis's symbolic name, its size, or None where the file leaves it open unnamed."""
    if dim.HasField("dim_param"):
        return dim.dim_param
    return dim.dim_value if dim.HasField("dim_value") else None


def check_signature(
    path: str | Path, producer: str, num_labels: int | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Check that the graph at `path` takes int64 `[batch, sequence]` inputs named from
    `MODEL_INPUT_NAMES` (`input_ids` among them) and returns float32 `logits`
    `[batch, num_labels]`; return its `graph_signature`.

    Raises `SignatureError` naming `producer` (who wrote the file, e.g. "the tf2onnx converter")
    and every way the graph differs.
    """
    signature = graph_signature(path)
    problems = []
    names = [each["name"] for each in signature["inputs"]]
    if "input_ids" not in names or set(names) - set(MODEL_INPUT_NAMES):
        problems.append(f"inputs {names}")
    problems += [
        f"input {each['name']} {each['dtype']} {each['shape']}"
        for each in signature["inputs"]
        if each["dtype"] != INPUT_DTYPE or each["shape"] != INPUT_SHAPE
    ]
    outputs = signature["outputs"]
    width = outputs[0]["shape"][-1] if outputs and outputs[0]["shape"] else None
    if (
        [each["name"] for each in outputs] != [LOGITS]
        or outputs[0]["dtype"] != OUTPUT_DTYPE
        or len(outputs[0]["shape"]) != 2
        or outputs[0]["shape"][0] != "batch"
        or not isinstance(width, int)
        or (num_labels is not None and width != num_labels)
    ):
        problems.append(f"outputs {outputs}")
    if problems:
        expected = "" if num_labels is None else f", {num_labels}"
        raise SignatureError(
            f"{producer} wrote {Path(path).name} with {'; '.join(problems)}. Every kerasbert graph "
            f"takes {INPUT_DTYPE} {', '.join(MODEL_INPUT_NAMES)} of shape {INPUT_SHAPE}, as "
            f"Hugging Face clients send them, and returns {OUTPUT_DTYPE} {LOGITS} "
            f"[batch{expected}]. This is a bug in kerasbert's export; please report it with "
            "this message."
        )
    return signature


__all__ = [
    "INPUT_DTYPE",
    "INPUT_SHAPE",
    "OUTPUT_DTYPE",
    "SignatureError",
    "check_signature",
    "graph_signature",
]
