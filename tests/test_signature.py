"""Tests for `kerasbert.export.signature` on small hand-written graphs of BERT's interface."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from kerasbert.export.signature import SignatureError, check_signature, graph_signature

LABELS = 3


def _graph(
    path: Path,
    input_type: int = TensorProto.INT64,
    names: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids"),
    output_shape: tuple = ("batch", LABELS),
) -> Path:
    """Logits from the ids alone (a Gather of an embedding row), the others read by nothing."""
    inputs = [
        helper.make_tensor_value_info(name, input_type, ["batch", "sequence"]) for name in names
    ]
    table = helper.make_tensor("table", TensorProto.FLOAT, [5, LABELS], [0.5] * 5 * LABELS)
    first = helper.make_tensor("first", TensorProto.INT64, [], [0])
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["rows"]),
        helper.make_node("Gather", ["rows", "first"], ["logits"], axis=1),
    ]
    output = helper.make_tensor_value_info("logits", TensorProto.FLOAT, list(output_shape))
    graph = helper.make_graph(nodes, "g", inputs, [output], [table, first])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_the_signature_is_read_from_the_file(tmp_path: Path) -> None:
    path = _graph(tmp_path / "model.onnx", output_shape=(None, LABELS))
    assert graph_signature(path) == {
        "inputs": [
            {"name": name, "dtype": "int64", "shape": ["batch", "sequence"]}
            for name in ("input_ids", "attention_mask", "token_type_ids")
        ],
        # An axis the file leaves open without a name is None.
        "outputs": [{"name": "logits", "dtype": "float32", "shape": [None, LABELS]}],
    }


def test_a_graph_of_the_interface_passes(tmp_path: Path) -> None:
    path = _graph(tmp_path / "model.onnx")
    assert check_signature(path, "the test", LABELS) == graph_signature(path)
    # A graph may take fewer inputs, as tf2onnx's does for a model that uses fewer.
    assert check_signature(_graph(tmp_path / "ids.onnx", names=("input_ids",)), "the test")


@pytest.mark.parametrize(
    ("options", "labels", "problem"),
    [
        ({"input_type": TensorProto.INT32}, LABELS, "input input_ids int32 ['batch', 'sequence']"),
        ({"names": ("input_ids", "position_ids")}, LABELS, "inputs ['input_ids', 'position_ids']"),
        ({"output_shape": ("batch", "labels")}, LABELS, "outputs [{'name': 'logits'"),
        ({}, LABELS + 1, "outputs [{'name': 'logits'"),
    ],
)
def test_a_graph_that_breaks_it_is_refused_naming_who_wrote_it(
    tmp_path: Path, options: dict, labels: int, problem: str
) -> None:
    path = _graph(tmp_path / "model.onnx", **options)
    with pytest.raises(SignatureError) as raised:
        check_signature(path, "the tf2onnx converter", labels)
    message = str(raised.value)
    assert message.startswith("the tf2onnx converter wrote model.onnx with ")
    assert problem in message
    assert "int64 input_ids, attention_mask, token_type_ids" in message
