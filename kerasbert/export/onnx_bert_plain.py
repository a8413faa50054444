"""BERT's encoder in standard ONNX ops only (opset 17 and later), as TensorFlow computes it.

The plain form of `kerasbert.export.onnx_bert`: for runtimes without onnxruntime's contrib kernels, and
the reference the fused form is measured against. `PlainWriter` has the fused writer's interface
(`embeddings`, `encoder_layer`); `first_token` is shared by both forms.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from onnx import TensorProto

from kerasbert.export.onnx_writer import GraphBuilder, weight_array

# TF BERT adds (1 - mask) * -10000 to the attention scores, not -inf: using the same value keeps
# the logits of padded rows identical in both runtimes.
MASK_FILTER_VALUE = -10000.0


class PlainWriter:
    """BERT in standard ONNX ops, written as TensorFlow computes it."""

    def __init__(self, graph: GraphBuilder, config: Any) -> None:
        self.graph = graph
        self.heads = config.num_attention_heads
        self.head_size = config.hidden_size // config.num_attention_heads
        self.hidden_size = config.hidden_size
        self.epsilon = float(config.layer_norm_eps)
        self.mask_bias = ""

    def embeddings(self, embeddings: Any) -> str:
        graph = self.graph
        words = graph.node(
            "Gather",
            [graph.weight("embeddings.word", weight_array(embeddings.weight)), "input_ids"],
            "embeddings.word.gather",
        )
        length = graph.node("Shape", ["input_ids"], "sequence_length", start=1, end=2)
        positions = graph.node(
            "Slice",
            [
                graph.weight("embeddings.position", weight_array(embeddings.position_embeddings)),
                graph.constant("zero", [0], np.int64),
                length,
                graph.constant("zero", [0], np.int64),
            ],
            "embeddings.position.slice",
        )
        token_types = graph.node(
            "Gather",
            [
                graph.weight(
                    "embeddings.token_type", weight_array(embeddings.token_type_embeddings)
                ),
                "token_type_ids",
            ],
            "embeddings.token_type.gather",
        )
        total = graph.node("Add", [words, positions], "embeddings.add")
        total = graph.node("Add", [total, token_types], "embeddings.add")
        # [batch, sequence] 0/1 -> [batch, 1, 1, sequence] additive bias, shared by every layer.
        mask = graph.node("Cast", ["attention_mask"], "mask.float", to=TensorProto.FLOAT)
        mask = graph.node("Sub", [graph.constant("one", 1.0), mask], "mask.inverted")
        mask = graph.node(
            "Mul", [mask, graph.constant("mask_filter_value", MASK_FILTER_VALUE)], "mask.bias"
        )
        self.mask_bias = graph.node(
            "Unsqueeze", [mask, graph.constant("mask.axes", [1, 2], np.int64)], "mask.bias.4d"
        )
        return self._layer_norm(total, embeddings.LayerNorm, "embeddings.norm")

    def encoder_layer(self, layer: Any, hidden: str, first_token_only: bool = False) -> str:
        graph = self.graph
        prefix = layer.name.replace("layer_._", "layer")
        attention = layer.attention.self_attention
        residual = first_token(graph, hidden, prefix) if first_token_only else hidden
        query = self._heads(residual, attention.query, f"{prefix}.attention.query", [0, 2, 1, 3])
        key = self._heads(hidden, attention.key, f"{prefix}.attention.key", [0, 2, 3, 1])
        value = self._heads(hidden, attention.value, f"{prefix}.attention.value", [0, 2, 1, 3])
        name = f"{prefix}.attention"
        scores = graph.node("MatMul", [query, key], f"{name}.scores")
        scores = graph.node(
            "Div",
            [scores, graph.constant("head_size.sqrt", math.sqrt(self.head_size))],
            f"{name}.scaled",
        )
        scores = graph.node("Add", [scores, self.mask_bias], f"{name}.masked")
        probabilities = graph.node("Softmax", [scores], f"{name}.softmax", axis=-1)
        context = graph.node("MatMul", [probabilities, value], f"{name}.context")
        context = graph.node("Transpose", [context], f"{name}.context.transpose", perm=[0, 2, 1, 3])
        context = graph.node(
            "Reshape",
            [context, graph.constant("hidden.shape", [0, 0, self.hidden_size], np.int64)],
            f"{name}.context.merge",
        )
        self_output = layer.attention.dense_output
        hidden = self._dense_add_norm(
            context, residual, self_output.dense, self_output.LayerNorm, f"{name}.output"
        )
        intermediate = self._dense(hidden, layer.intermediate.dense, f"{prefix}.intermediate")
        activated = self._gelu(intermediate, f"{prefix}.intermediate.gelu")
        output = layer.bert_output
        return self._dense_add_norm(
            activated, hidden, output.dense, output.LayerNorm, f"{prefix}.output"
        )

    def _dense(self, tensor: str, dense: Any, name: str) -> str:
        graph = self.graph
        product = graph.node(
            "MatMul",
            [tensor, graph.weight(f"{name}.weight", weight_array(dense.kernel))],
            f"{name}.matmul",
        )
        return graph.node(
            "Add", [product, graph.weight(f"{name}.bias", weight_array(dense.bias))], f"{name}.add"
        )

    def _heads(self, hidden: str, dense: Any, name: str, permutation: list[int]) -> str:
        """Project and split into heads: [batch, heads, sequence, head size] (keys transposed)."""
        graph = self.graph
        projected = self._dense(hidden, dense, name)
        shape = graph.constant("heads.shape", [0, 0, self.heads, self.head_size], np.int64)
        split = graph.node("Reshape", [projected, shape], f"{name}.split")
        return graph.node("Transpose", [split], f"{name}.transpose", perm=permutation)

    def _layer_norm(self, tensor: str, norm: Any, name: str) -> str:
        graph = self.graph
        return graph.node(
            "LayerNormalization",
            [
                tensor,
                graph.weight(f"{name}.gamma", weight_array(norm.gamma)),
                graph.weight(f"{name}.beta", weight_array(norm.beta)),
            ],
            name,
            axis=-1,
            epsilon=self.epsilon,
        )

    def _dense_add_norm(self, tensor: str, residual: str, dense: Any, norm: Any, name: str) -> str:
        total = self.graph.node(
            "Add", [self._dense(tensor, dense, name), residual], f"{name}.residual"
        )
        return self._layer_norm(total, norm, f"{name}.norm")

    def _gelu(self, tensor: str, name: str) -> str:
        """(0.5 * x) * (1 + erf(x / sqrt(2))): TF's exact GELU, in the form onnxruntime fuses.

        Halving is exact in floating point, so the order of the products changes no bit.
        """
        graph = self.graph
        scaled = graph.node("Div", [tensor, graph.constant("sqrt2", math.sqrt(2.0))], f"{name}.div")
        cdf = graph.node("Erf", [scaled], f"{name}.erf")
        cdf = graph.node("Add", [cdf, graph.constant("one", 1.0)], f"{name}.add")
        half = graph.node("Mul", [tensor, graph.constant("half", 0.5)], f"{name}.half")
        return graph.node("Mul", [half, cdf], f"{name}.mul")


def first_token(graph: GraphBuilder, hidden: str, prefix: str) -> str:
    """`hidden[:, :1, :]`: the first position of each row, kept as a sequence of one."""
    return graph.node(
        "Slice",
        [
            hidden,
            graph.constant("first.starts", [0], np.int64),
            graph.constant("first.ends", [1], np.int64),
            graph.constant("first.axes", [1], np.int64),
        ],
        f"{prefix}.first_token",
    )


__all__ = ["MASK_FILTER_VALUE", "PlainWriter", "first_token"]
