"""Tests for `kerasbert.export.onnx_graph` on small graphs built in tf2onnx's shapes."""

from __future__ import annotations

import math

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from kerasbert.export import onnx_graph

HIDDEN = 8


def _constant(name: str, value: np.ndarray | float) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, np.float32), name)


def _model(nodes: list, constants: list) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "sequence", HIDDEN])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "sequence", None])],
        constants,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _layer_norm_as_tf2onnx_writes_it() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["mean"]),
        helper.make_node("Sub", ["x", "mean"], ["d"]),
        helper.make_node("Mul", ["d", "d"], ["d2"]),
        helper.make_node("GlobalAveragePool", ["d2"], ["var"]),
        helper.make_node("Add", ["var", "eps"], ["var_eps"]),
        helper.make_node("Sqrt", ["var_eps"], ["std"]),
        helper.make_node("Reciprocal", ["std"], ["inv"]),
        helper.make_node("Mul", ["inv", "gamma"], ["m"]),
        helper.make_node("Mul", ["mean", "m"], ["mean_m"]),
        helper.make_node("Sub", ["beta", "mean_m"], ["shift"]),
        helper.make_node("Mul", ["x", "m"], ["xm"]),
        helper.make_node("Add", ["xm", "shift"], ["y"]),
    ]
    constants = [
        _constant("eps", 1e-12),
        _constant("gamma", rng.normal(size=HIDDEN)),
        _constant("beta", rng.normal(size=HIDDEN)),
    ]
    return _model(nodes, constants)


def _gelu_as_tf2onnx_writes_it(c: float = 2**-0.5) -> onnx.ModelProto:
    nodes = [
        helper.make_node("Mul", ["half", "x"], ["half_x"]),
        helper.make_node("Neg", ["x"], ["neg"]),
        helper.make_node("Mul", ["neg", "c"], ["scaled"]),
        helper.make_node("Erf", ["scaled"], ["erf"]),
        helper.make_node("Sub", ["one", "erf"], ["erfc"]),
        helper.make_node("Mul", ["half_x", "erfc"], ["y"]),
    ]
    constants = [_constant("half", 0.5), _constant("c", c), _constant("one", 1.0)]
    return _model(nodes, constants)


def _tensordot_as_tf2onnx_writes_it() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "free"], ["leading"]),
        helper.make_node("Concat", ["leading", "columns"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "flat"], ["x2"]),
        helper.make_node("MatMul", ["x2", "w"], ["y2"]),
        helper.make_node("Reshape", ["y2", "target"], ["y"]),
    ]
    constants = [
        numpy_helper.from_array(np.array([0, 1], np.int64), "free"),
        numpy_helper.from_array(np.array([5], np.int64), "columns"),
        numpy_helper.from_array(np.array([-1, HIDDEN], np.int64), "flat"),
        _constant("w", np.random.default_rng(1).normal(size=(HIDDEN, 5))),
    ]
    return _model(nodes, constants)


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(["y"], {"x": x})[0]


@pytest.mark.parametrize(
    ("build", "rewritten", "op"),
    [
        (_layer_norm_as_tf2onnx_writes_it, "layer_norm", "LayerNormalization"),
        (_gelu_as_tf2onnx_writes_it, "gelu", "Erf"),
        (_tensordot_as_tf2onnx_writes_it, "tensordot", "MatMul"),
    ],
)
def test_each_pattern_becomes_its_standard_form_with_the_same_values(
    build, rewritten: str, op: str
) -> None:
    x = np.random.default_rng(2).normal(size=(3, 4, HIDDEN)).astype(np.float32) * 3
    original = build()
    expected = _run(original, x)
    model = build()
    counts = onnx_graph.simplify(model)
    assert counts == {name: int(name == rewritten) for name in counts}
    onnx.checker.check_model(model, full_check=True)
    op_types = [node.op_type for node in model.graph.node]
    assert op in op_types
    assert not {"GlobalAveragePool", "Neg", "Reshape", "Shape"} & set(op_types)
    np.testing.assert_allclose(_run(model, x), expected, rtol=1e-5, atol=1e-5)


def test_gelu_form_is_the_one_onnxruntime_fuses(tmp_path) -> None:
    model = _gelu_as_tf2onnx_writes_it()
    onnx_graph.simplify(model)
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    fused = onnx.load(str(tmp_path / "optimized.onnx"))
    assert [node.op_type for node in fused.graph.node] == ["Gelu"]
    x = np.linspace(-4, 4, 4 * HIDDEN, dtype=np.float32).reshape(1, 4, HIDDEN)
    exact = 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    np.testing.assert_allclose(session.run(["y"], {"x": x})[0], exact, rtol=1e-5, atol=1e-6)


def test_a_near_miss_is_left_alone() -> None:
    """A GELU-like subgraph with another constant is not GELU: rewriting it would change values."""
    model = _gelu_as_tf2onnx_writes_it(c=0.6)
    before = model.SerializeToString()
    assert onnx_graph.simplify(model) == {"layer_norm": 0, "gelu": 0, "tensordot": 0}
    assert model.SerializeToString() == before
