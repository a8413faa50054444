"""Rewrite tf2onnx's BERT graph into the standard ONNX forms onnxruntime optimizes.

tf2onnx renders three parts of a transformers TF BERT in shapes onnxruntime's graph optimizer
does not recognise:

- tf-keras `LayerNormalization` as its batch-norm arithmetic (GlobalAveragePool for the mean
  and variance, Sqrt, Reciprocal, four Mul/Sub/Add);
- TF 2.21's exact GELU as `0.5 * x * erfc(-x / sqrt(2))` (Erfc written as `1 - Erf` by
  `export._erfc_as_one_minus_erf`);
- every dense layer on a 3-D tensor as `Tensordot`: reshape to 2-D, MatMul, then a reshape back
  whose shape is computed at run time from Shape/Gather/Concat/Cast.

`simplify(model)` replaces them with `LayerNormalization` (opset 17), the
`0.5 * x * (1 + erf(x / sqrt(2)))` form that onnxruntime fuses into one GELU kernel, and a
plain 3-D MatMul. The rewrites are exact algebra (logits move by float32 round-off, ~1e-6) and
every rewritten model still passes the export's parity check against TensorFlow. A pattern that
does not match is left as it was, so a graph from another converter version stays valid, only
slower; the counts returned say what was rewritten.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper


def simplify(model: onnx.ModelProto) -> dict[str, int]:
    """Rewrite `model` in place; return how many of each pattern were rewritten."""
    counts = {
        "layer_norm": _rewrite(model.graph, _layer_norm),
        "gelu": _rewrite(model.graph, _gelu),
        "tensordot": _rewrite(model.graph, _tensordot),
    }
    _drop_unused(model.graph)
    return counts


class _Graph:
    """Read-only lookups over a graph: who produces a tensor, who reads it, constant values."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.producer = {name: node for node in graph.node for name in node.output}
        self.readers: dict[str, int] = {}
        for node in graph.node:
            for name in node.input:
                self.readers[name] = self.readers.get(name, 0) + 1
        self.constants = {each.name: numpy_helper.to_array(each) for each in graph.initializer}

    def node(self, name: str, op_type: str) -> Any:
        """The node producing `name` if it is an `op_type`, else None."""
        node = self.producer.get(name)
        return node if node is not None and node.op_type == op_type else None

    def operands(self, node: Any, op_type: str, kinds: tuple[str, str]) -> tuple[Any, Any]:
        """The producers of a two-input `op_type` node's inputs, ordered as `kinds` (either input
        order), or (None, None)."""
        if node.op_type != op_type or len(node.input) != 2:
            return None, None
        producers = [self.producer.get(name) for name in node.input]
        for first, second in (producers, producers[::-1]):
            if first is not None and second is not None:
                if (first.op_type, second.op_type) == kinds:
                    return first, second
        return None, None

    def split(self, node: Any) -> tuple[str | None, str | None]:
        """(constant input, other input) of a two-input node, or (None, None)."""
        first, second = node.input
        if second in self.constants:
            return second, first
        if first in self.constants:
            return first, second
        return None, None

    def scalar(self, name: str | None) -> float | None:
        if name is None or name not in self.constants or self.constants[name].size != 1:
            return None
        return float(self.constants[name].reshape(()))


def _rewrite(graph: onnx.GraphProto, match: Any) -> int:
    """Replace every node `match(view, node)` answers for with the nodes it returns."""
    view = _Graph(graph)
    replaced, constants = {}, []
    for node in graph.node:
        found = match(view, node)
        if found is not None:
            replaced[id(node)], new_constants = found
            constants += new_constants
    nodes = []
    for node in graph.node:
        nodes.extend(replaced.get(id(node), [node]))
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(constants)
    return len(replaced)


def _layer_norm(view: _Graph, out: Any) -> Any:
    """out = x * m + (beta - mean * m), m = gamma / sqrt(var + eps), mean/var over the last axis.

    GlobalAveragePool averages over every axis after the second, which is the last axis for
    BERT's rank-3 activations; the export's parity check would catch any other rank.
    """
    scaled, shifted = view.operands(out, "Add", ("Mul", "Sub"))
    if scaled is None:
        return None
    beta, mean_times_m = shifted.input
    mean_times_m = view.node(mean_times_m, "Mul")
    if beta not in view.constants or mean_times_m is None:
        return None
    x, m = scaled.input
    if m not in mean_times_m.input:
        x, m = m, x
    multiplier = view.node(m, "Mul")
    if multiplier is None or m not in mean_times_m.input:
        return None
    mean = next(name for name in mean_times_m.input if name != m)
    mean_node = view.node(mean, "GlobalAveragePool")
    gamma, inverse_std = view.split(multiplier)
    reciprocal = view.node(inverse_std, "Reciprocal") if inverse_std else None
    sqrt = view.node(reciprocal.input[0], "Sqrt") if reciprocal else None
    plus_eps = view.node(sqrt.input[0], "Add") if sqrt else None
    eps, variance = view.split(plus_eps) if plus_eps else (None, None)
    variance_node = view.node(variance, "GlobalAveragePool") if variance else None
    square = view.node(variance_node.input[0], "Mul") if variance_node else None
    difference = view.node(square.input[0], "Sub") if square else None
    if (
        mean_node is None
        or mean_node.input[0] != x
        or difference is None
        or square.input[0] != square.input[1]
        or list(difference.input) != [x, mean]
        or view.scalar(eps) is None
        or view.constants[gamma].ndim != 1
        or view.constants[beta].shape != view.constants[gamma].shape
    ):
        return None
    norm = helper.make_node(
        "LayerNormalization",
        [x, gamma, beta],
        [out.output[0]],
        name=f"{out.name}/LayerNormalization",
        axis=-1,
        epsilon=view.scalar(eps),
    )
    return [norm], []


def _gelu(view: _Graph, out: Any) -> Any:
    """out = (0.5 * h) * (1 - erf(-h * c)), c = 1/sqrt(2)  ->  (h * (1 + erf(h / sqrt(2)))) * 0.5."""
    half_h, one_minus = view.operands(out, "Mul", ("Mul", "Sub"))
    if half_h is None or view.scalar(one_minus.input[0]) != 1.0:
        return None
    erf = view.node(one_minus.input[1], "Erf")
    scaled = view.node(erf.input[0], "Mul") if erf else None
    c, negated = view.split(scaled) if scaled else (None, None)
    neg = view.node(negated, "Neg") if negated else None
    half, h = view.split(half_h)
    if (
        neg is None
        or view.scalar(half) != 0.5
        or h != neg.input[0]
        or not math.isclose(view.scalar(c) or 0.0, 2**-0.5, rel_tol=1e-6)
    ):
        return None
    prefix = f"{out.name}/gelu"
    dtype = view.constants[half].dtype
    root2, one = f"{prefix}/sqrt2", f"{prefix}/one"
    constants = [
        numpy_helper.from_array(np.array(math.sqrt(2.0), dtype), root2),
        numpy_helper.from_array(np.array(1.0, dtype), one),
    ]
    nodes = [
        helper.make_node("Div", [h, root2], [f"{prefix}/div"], name=f"{prefix}/div"),
        helper.make_node("Erf", [f"{prefix}/div"], [f"{prefix}/erf"], name=f"{prefix}/erf"),
        helper.make_node("Add", [f"{prefix}/erf", one], [f"{prefix}/add"], name=f"{prefix}/add"),
        helper.make_node("Mul", [h, f"{prefix}/add"], [f"{prefix}/mul"], name=f"{prefix}/mul"),
        helper.make_node("Mul", [f"{prefix}/mul", half], [out.output[0]], name=out.name),
    ]
    return nodes, constants


def _tensordot(view: _Graph, out: Any) -> Any:
    """Reshape(MatMul(Reshape(x, [-1, K]), W[K, N]), [..., N])  ->  MatMul(x, W)."""
    if out.op_type != "Reshape":
        return None
    matmul = view.node(out.input[0], "MatMul")
    if matmul is None or view.readers.get(matmul.output[0]) != 1:
        return None
    flatten = view.node(matmul.input[0], "Reshape")
    weight = view.constants.get(matmul.input[1])
    if flatten is None or weight is None or weight.ndim != 2:
        return None
    x = flatten.input[0]
    shape = view.constants.get(flatten.input[1])
    if shape is None or shape.tolist() != [-1, weight.shape[0]]:
        return None
    if not _restores_leading_axes(view, out.input[1], x, weight.shape[1]):
        return None
    return [helper.make_node("MatMul", [x, matmul.input[1]], [out.output[0]], name=matmul.name)], []


def _restores_leading_axes(view: _Graph, shape: str, x: str, columns: int) -> bool:
    """Whether `shape` is Concat(<axes taken from Shape(x)>, [columns]), through Casts."""
    node = view.producer.get(shape)
    while node is not None and node.op_type == "Cast":
        node = view.producer.get(node.input[0])
    if node is None or node.op_type != "Concat" or len(node.input) != 2:
        return False
    last = view.constants.get(node.input[1])
    if last is None or last.reshape(-1).tolist() != [columns]:
        return False
    # Walk up from the leading part (Gather, Cast, ...) to the Shape it was taken from.
    node = view.producer.get(node.input[0])
    for _ in range(4):
        if node is None:
            return False
        if node.op_type == "Shape":
            return node.input[0] == x
        node = view.producer.get(node.input[0])
    return False


def _drop_unused(graph: onnx.GraphProto) -> None:
    """Remove nodes and initializers no graph output depends on."""
    needed = {each.name for each in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(node.input)
    kept.reverse()
    del graph.node[:]
    graph.node.extend(kept)
    initializers = [each for each in graph.initializer if each.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
