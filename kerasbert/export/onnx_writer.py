"""Assemble an ONNX model from numpy weights, one tensor at a time, and save it.

`GraphBuilder` collects initializers and nodes straight into the model's own protobuf lists, so a
weight is held once (`onnx.helper.make_graph` would copy every weight again), and `save_model`
writes it, beside a `.data` file when the weights are too large for one protobuf message.
`kerasbert.export.onnx_bert` uses it to write BERT; nothing here knows about BERT.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from kerasbert.common.names import LOGITS, MODEL_INPUT_NAMES
from kerasbert.export.signature import INPUT_DTYPE, INPUT_SHAPE, OUTPUT_DTYPE

CONTRIB_DOMAIN = "com.microsoft"


def weight_array(variable: Any) -> np.ndarray:
    """A variable's value as a C-ordered float32 array (a copy the caller owns)."""
    return np.ascontiguousarray(variable.numpy(), dtype=np.float32)


class GraphBuilder:
    """Writes nodes and initializers straight into one `ModelProto`; names tensors uniquely.

    Weights are serialized into the model's own initializers as they arrive: building a list of
    `TensorProto`s first and handing it to `helper.make_graph` / `make_model` would copy every
    weight twice more.
    """

    def __init__(self) -> None:
        self.model = onnx.ModelProto()
        self.graph = self.model.graph
        self.parameters = 0
        self.weight_bytes = 0
        self._used: Counter[str] = Counter()
        self._constants: dict[str, str] = {}
        self._int32: dict[str, str] = {}

    def name(self, base: str) -> str:
        self._used[base] += 1
        count = self._used[base]
        return base if count == 1 else f"{base}_{count}"

    def weight(self, name: str, array: np.ndarray, *, parameter: bool = True) -> str:
        """Add `array` as an initializer and return its name; the array is not kept."""
        name = self.name(name)
        tensor = self.graph.initializer.add()
        tensor.name = name
        tensor.data_type = helper.np_dtype_to_tensor_dtype(array.dtype)
        tensor.dims.extend(array.shape)
        tensor.raw_data = array.tobytes()
        if parameter:
            self.parameters += array.size
        self.weight_bytes += array.nbytes
        return name

    def constant(self, name: str, value: Any, dtype: type = np.float32) -> str:
        """A small constant, stored once however often it is asked for."""
        if name not in self._constants:
            array = np.asarray(value, dtype=dtype)
            self._constants[name] = self.weight(name, array, parameter=False)
        return self._constants[name]

    def int32(self, name: str) -> str:
        """Graph input `name` cast to int32, once however often it is asked for.

        The graph takes int64 ids and masks, as every Hugging Face client sends them; some
        onnxruntime kernels take int32 only.
        """
        if name not in self._int32:
            self._int32[name] = self.node("Cast", [name], f"{name}.int32", to=TensorProto.INT32)
        return self._int32[name]

    def node(
        self,
        op_type: str,
        inputs: list[str],
        name: str,
        *,
        output: str | None = None,
        unused_outputs: tuple[str, ...] = (),
        domain: str = "",
        width: int | None = None,
        rows: str | int = "sequence",
        **attributes: Any,
    ) -> str:
        """Add a node and return the name of its first output.

        `unused_outputs` names further outputs a kernel's shape inference insists on. `width`
        declares the output as float32 `[batch, rows, width]`: onnx's shape inference does not
        know contrib ops, and onnxruntime's quantizer needs the type of every tensor it
        quantizes. A wrong `rows` is not harmless: onnxruntime plans its buffers by these shapes.
        """
        output = output or self.name(name)
        outputs = [output] + [self.name(f"{name}.{each}") for each in unused_outputs]
        self.graph.node.append(
            helper.make_node(op_type, inputs, outputs, name=output, domain=domain, **attributes)
        )
        if width is not None:
            self.graph.value_info.append(
                helper.make_tensor_value_info(output, TensorProto.FLOAT, ["batch", rows, width])
            )
        return output

    def finish(self, opset: int, fused: bool, labels: int) -> onnx.ModelProto:
        """Declare inputs, output and opsets; return the model (no copy is made)."""
        self.graph.name = "bert_classifier"
        # The interface of `kerasbert.export.signature`, which checks it once the file is saved.
        input_type = helper.np_dtype_to_tensor_dtype(np.dtype(INPUT_DTYPE))
        self.graph.input.extend(
            helper.make_tensor_value_info(name, input_type, INPUT_SHAPE)
            for name in MODEL_INPUT_NAMES
        )
        output_type = helper.np_dtype_to_tensor_dtype(np.dtype(OUTPUT_DTYPE))
        self.graph.output.append(
            helper.make_tensor_value_info(LOGITS, output_type, [INPUT_SHAPE[0], labels])
        )
        opsets = [helper.make_opsetid("", opset)]
        if fused:
            opsets.append(helper.make_opsetid(CONTRIB_DOMAIN, 1))
        self.model.opset_import.extend(opsets)
        # The oldest IR version the opset allows, so older onnxruntime releases load it too.
        self.model.ir_version = helper.find_min_ir_version_for(opsets, ignore_unknown=True)
        self.model.producer_name = "kerasbert.export.onnx_bert"
        return self.model


def data_path(path: Path) -> Path:
    return path.with_name(path.name + ".data")


def save_model(model_proto: onnx.ModelProto, path: Path, external_data: bool) -> None:
    if external_data:
        weights_file = data_path(path)
        weights_file.unlink(missing_ok=True)  # onnx appends to an existing data file
        onnx.save(
            model_proto,
            str(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=weights_file.name,
            size_threshold=1024,
        )
    else:
        onnx.save(model_proto, str(path))
