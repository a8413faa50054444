"""Write a fine-tuned transformers TF BERT classifier as ONNX straight from its weights.

`build_onnx(model, path)` reads the config and the variables of an in-memory
`TFBertForSequenceClassification` and emits the ONNX graph of its inference pass with
`onnx.helper`; nothing is traced and no converter runs. tf2onnx needs tens of times the model's
size in memory because it traces, freezes and rewrites a TensorFlow graph; here each weight goes
from its variable straight into the model's initializers, one tensor at a time, and the graph
holds it once, so a BERT-base classifier builds on an ordinary machine.

Two forms of the same arithmetic:

- fused (default): onnxruntime's `com.microsoft` BERT kernels: `EmbedLayerNormalization`,
  `Attention` (packed Q/K/V projection, fed the raw 0/1 attention mask so padding may sit on
  either side; the last layer's `MultiHeadAttention` attends from the first token alone, the
  only row the classifier reads), `SkipLayerNormalization` and `BiasGelu` (exact erf GELU, like TF BERT's
  "gelu"). onnxruntime's optimizer never has to recognise the attention pattern itself.
- plain (`fused=False`): standard ONNX ops only (opset 17 and later), for runtimes without the
  contrib ops and as the reference the fused form is measured against (`onnx_bert_plain`).

Both take int64 `input_ids`, `attention_mask` and `token_type_ids` of shape `[batch, sequence]`,
as every Hugging Face client sends them (`kerasbert.export.signature`), and return float32
`logits`, `[batch, num_labels]`. The fused form casts them to the int32 its kernels take; the
plain form's Gathers take int64 ids as they are. Positions count from 0 at the first column
whatever the padding side, as in TensorFlow.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from kerasbert.common.errors import InputError
from kerasbert.common.names import LOGITS, MODEL_INPUT_NAMES
from kerasbert.export.onnx_bert_plain import MASK_FILTER_VALUE, PlainWriter, first_token
from kerasbert.export.onnx_writer import (
    CONTRIB_DOMAIN,
    GraphBuilder,
    data_path,
    save_model,
    weight_array,
)

logger = logging.getLogger(__name__)

# onnxruntime's transformer kernels and every onnxruntime since 1.12 handle 17, the first opset
# with LayerNormalization, which the plain form needs.
DEFAULT_OPSET = 17
MINIMUM_OPSET = 17
# A protobuf message cannot be serialized past 2 GiB; above this many weight bytes the weights go
# to a side file, leaving room for the graph itself.
EXTERNAL_DATA_THRESHOLD_BYTES = 1_800_000_000
SUPPORTED_ACTIVATIONS = ("gelu",)


def build_onnx(
    model: Any,
    path: str | Path,
    *,
    fused: bool = True,
    opset: int = DEFAULT_OPSET,
    external_data: bool | None = None,
) -> dict[str, Any]:
    """Write the ONNX graph of a `TFBertForSequenceClassification` to `path`.

    The graph takes int64 `input_ids`, `attention_mask` (1 for tokens, 0 for padding, on
    either side) and `token_type_ids`, each `[batch, sequence]`, and returns float32 `logits`
    `[batch, num_labels]`, equal to `model(inputs, training=False).logits` to float32
    round-off. The file is checked with `onnx.checker` after it is written.

    Args:
        model: a built transformers `TFBertForSequenceClassification` (called once or loaded
            with `from_pretrained`) whose `hidden_act` is "gelu".
        path: the `.onnx` file to write; its directory must exist.
        fused: use onnxruntime's contrib BERT kernels (`EmbedLayerNormalization`, `Attention`,
            `SkipLayerNormalization`, `BiasGelu`); False writes standard ONNX ops only.
        opset: the default-domain opset; at least 17.
        external_data: store the weights in `<path>.data` beside the graph. Default: only when
            they exceed `EXTERNAL_DATA_THRESHOLD_BYTES`, as protobuf cannot write more than
            2 GiB into one file.

    Returns:
        Facts about the graph: `form` ("fused" or "plain"), `opset`, `inputs`, `layers`,
        `op_counts`, `contrib_op_counts` (the `com.microsoft` ops), `nodes`, `parameters`,
        `weight_bytes`, `external_data`, `file_bytes`.

    Raises:
        InputError: (a ValueError) the model is not a built BERT classifier this module can
            express, or `opset` is below 17.

    Example:
    >>> from kerasbert.export.onnx_bert import build_onnx
    >>> facts = build_onnx(model, "model.onnx")  # doctest: +SKIP
    >>> facts["contrib_op_counts"]  # doctest: +SKIP
    {'Attention': 11, 'BiasGelu': 12, 'EmbedLayerNormalization': 1, 'MultiHeadAttention': 1, ...}
    """
    config = _check_model(model)
    if not isinstance(opset, int) or opset < MINIMUM_OPSET:
        raise InputError(
            f"opset must be an integer >= {MINIMUM_OPSET} (LayerNormalization's first opset); "
            f"got {opset!r}."
        )
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"Directory {path.parent} does not exist; create it first.")

    model_proto, parameters, weight_bytes = _model_proto(model, config, fused, opset)
    if external_data is None:
        external_data = weight_bytes > EXTERNAL_DATA_THRESHOLD_BYTES
    nodes = model_proto.graph.node
    facts = {
        "form": "fused" if fused else "plain",
        "opset": opset,
        "inputs": list(MODEL_INPUT_NAMES),
        "layers": config.num_hidden_layers,
        "op_counts": dict(sorted(Counter(node.op_type for node in nodes).items())),
        "contrib_op_counts": dict(
            sorted(Counter(n.op_type for n in nodes if n.domain == CONTRIB_DOMAIN).items())
        ),
        "nodes": len(nodes),
        "parameters": parameters,
        "weight_bytes": weight_bytes,
        "external_data": bool(external_data),
    }
    save_model(model_proto, path, external_data)
    del model_proto, nodes
    # By path, once the in-memory graph is gone: the checker loads its own copy, and reads
    # external weights too.
    onnx.checker.check_model(str(path))
    facts["file_bytes"] = path.stat().st_size + (
        data_path(path).stat().st_size if external_data else 0
    )
    logger.info(
        "Wrote %s BERT ONNX graph %s: %d nodes, %d parameters",
        facts["form"],
        path,
        facts["nodes"],
        facts["parameters"],
    )
    return facts


def _model_proto(
    model: Any, config: Any, fused: bool, opset: int
) -> tuple[onnx.ModelProto, int, int]:
    """The model's graph, its parameter count and its weight bytes."""
    graph = GraphBuilder()
    writer = _FusedWriter(graph, config) if fused else PlainWriter(graph, config)
    hidden = writer.embeddings(model.bert.embeddings)
    layers = model.bert.encoder.layer
    for index, layer in enumerate(layers):
        # The classifier reads only the first token's final state: the last layer computes
        # that row alone (its keys and values still span every token), which skips the last
        # layer's query, output and feed-forward work for all other tokens.
        hidden = writer.encoder_layer(layer, hidden, first_token_only=index == len(layers) - 1)
    _write_head(graph, model, hidden)
    model_proto = graph.finish(opset, fused, config.num_labels)
    return model_proto, graph.parameters, graph.weight_bytes


def _check_model(model: Any) -> Any:
    config = getattr(model, "config", None)
    bert = getattr(model, "bert", None)
    if (
        config is None
        or getattr(config, "model_type", None) != "bert"
        or bert is None
        or getattr(model, "classifier", None) is None
    ):
        raise InputError(
            f"build_onnx takes a transformers TFBertForSequenceClassification; got "
            f"{type(model).__name__}. Load the fine-tuned model with "
            "TFBertForSequenceClassification.from_pretrained(...)."
        )
    if not model.built or not model.weights:
        raise InputError(
            "The model has no weights yet: call it once (model(model.dummy_inputs)) or load it "
            "with from_pretrained before building its ONNX graph."
        )
    if bert.pooler is None:
        raise InputError(
            "The model has no pooler (add_pooling_layer=False); BERT sequence classifiers "
            "classify the pooled first token. Rebuild it with a pooler."
        )
    unsupported = []
    if config.hidden_act not in SUPPORTED_ACTIVATIONS:
        unsupported.append(f"hidden_act={config.hidden_act!r} (supported: 'gelu')")
    if getattr(config, "position_embedding_type", "absolute") != "absolute":
        unsupported.append(f"position_embedding_type={config.position_embedding_type!r}")
    if config.is_decoder:
        unsupported.append("is_decoder=True")
    if unsupported:
        raise InputError(
            f"build_onnx writes encoder-only BERT with absolute positions and exact GELU; this "
            f"model has {', '.join(unsupported)}. Export it with "
            "kerasbert.export.convert.convert_to_onnx (tf2onnx) instead."
        )
    if config.hidden_size % config.num_attention_heads:
        raise InputError(
            f"hidden_size {config.hidden_size} is not a multiple of num_attention_heads "
            f"{config.num_attention_heads}; the checkpoint's config is inconsistent."
        )
    return config


class _FusedWriter:
    """BERT in onnxruntime's contrib kernels, one kernel per block."""

    def __init__(self, graph: GraphBuilder, config: Any) -> None:
        self.graph = graph
        self.heads = config.num_attention_heads
        self.hidden_size = config.hidden_size
        self.intermediate_size = config.intermediate_size
        self.epsilon = float(config.layer_norm_eps)

    def embeddings(self, embeddings: Any) -> str:
        graph = self.graph
        # No mask input: the kernel would only reduce it to per-row lengths, a form that assumes
        # right padding. Attention reads the raw 0/1 mask, right for either padding side.
        return graph.node(
            "EmbedLayerNormalization",
            [
                graph.int32("input_ids"),
                graph.int32("token_type_ids"),
                graph.weight("embeddings.word", weight_array(embeddings.weight)),
                graph.weight("embeddings.position", weight_array(embeddings.position_embeddings)),
                graph.weight(
                    "embeddings.token_type", weight_array(embeddings.token_type_embeddings)
                ),
                graph.weight("embeddings.norm.gamma", weight_array(embeddings.LayerNorm.gamma)),
                graph.weight("embeddings.norm.beta", weight_array(embeddings.LayerNorm.beta)),
            ],
            "embeddings",
            unused_outputs=("mask_index",),
            domain=CONTRIB_DOMAIN,
            width=self.hidden_size,
            epsilon=self.epsilon,
        )

    def encoder_layer(self, layer: Any, hidden: str, first_token_only: bool = False) -> str:
        graph = self.graph
        prefix = layer.name.replace("layer_._", "layer")
        attention = layer.attention.self_attention
        projections = (attention.query, attention.key, attention.value)
        qkv_bias = np.concatenate([weight_array(dense.bias) for dense in projections])
        if first_token_only:
            # MultiHeadAttention takes a query shorter than the keys: one row per text here.
            residual = first_token(graph, hidden, prefix)
            operator, inputs = (
                "MultiHeadAttention",
                [
                    self._matmul(residual, attention.query, f"{prefix}.attention.query"),
                    self._matmul(hidden, attention.key, f"{prefix}.attention.key"),
                    self._matmul(hidden, attention.value, f"{prefix}.attention.value"),
                ],
            )
        else:
            residual = hidden
            qkv_weight = np.concatenate(
                [weight_array(dense.kernel) for dense in projections], axis=1
            )
            operator = "Attention"
            inputs = [hidden, graph.weight(f"{prefix}.attention.qkv.weight", qkv_weight)]
        # The first-token layer's tensors have one row per text, not one per token.
        rows = 1 if first_token_only else "sequence"
        context = graph.node(
            operator,
            [
                *inputs,
                graph.weight(f"{prefix}.attention.qkv.bias", qkv_bias),
                graph.int32("attention_mask"),
            ],
            f"{prefix}.attention",
            domain=CONTRIB_DOMAIN,
            width=self.hidden_size,
            rows=rows,
            num_heads=self.heads,
            mask_filter_value=MASK_FILTER_VALUE,
        )
        self_output = layer.attention.dense_output
        hidden = self._dense_add_norm(
            context,
            residual,
            self_output.dense,
            self_output.LayerNorm,
            f"{prefix}.attention.output",
            rows,
        )
        intermediate = layer.intermediate.dense
        activated = graph.node(
            "BiasGelu",
            [
                self._matmul(hidden, intermediate, f"{prefix}.intermediate"),
                graph.weight(f"{prefix}.intermediate.bias", weight_array(intermediate.bias)),
            ],
            f"{prefix}.intermediate.gelu",
            domain=CONTRIB_DOMAIN,
            width=self.intermediate_size,
            rows=rows,
        )
        output = layer.bert_output
        return self._dense_add_norm(
            activated, hidden, output.dense, output.LayerNorm, f"{prefix}.output", rows
        )

    def _matmul(self, tensor: str, dense: Any, name: str) -> str:
        weight = self.graph.weight(f"{name}.weight", weight_array(dense.kernel))
        return self.graph.node("MatMul", [tensor, weight], f"{name}.matmul")

    def _dense_add_norm(
        self,
        tensor: str,
        residual: str,
        dense: Any,
        norm: Any,
        name: str,
        rows: str | int = "sequence",
    ) -> str:
        """LayerNorm(tensor @ kernel + bias + residual) as MatMul + SkipLayerNormalization."""
        graph = self.graph
        return graph.node(
            "SkipLayerNormalization",
            [
                self._matmul(tensor, dense, name),
                residual,
                graph.weight(f"{name}.norm.gamma", weight_array(norm.gamma)),
                graph.weight(f"{name}.norm.beta", weight_array(norm.beta)),
                graph.weight(f"{name}.bias", weight_array(dense.bias)),
            ],
            f"{name}.norm",
            domain=CONTRIB_DOMAIN,
            width=self.hidden_size,
            rows=rows,
            epsilon=self.epsilon,
        )


def _write_head(graph: GraphBuilder, model: Any, hidden: str) -> None:
    """Pooler (first token, dense, tanh) and classifier; the same ops in both forms."""
    first = graph.node(
        "Gather", [hidden, graph.constant("first_token", 0, np.int64)], "pooler.first", axis=1
    )
    pooler = model.bert.pooler.dense
    pooled = graph.node(
        "MatMul",
        [first, graph.weight("pooler.weight", weight_array(pooler.kernel))],
        "pooler.matmul",
    )
    pooled = graph.node(
        "Add", [pooled, graph.weight("pooler.bias", weight_array(pooler.bias))], "pooler.add"
    )
    pooled = graph.node("Tanh", [pooled], "pooler.tanh")
    classifier = model.classifier
    logits = graph.node(
        "MatMul",
        [pooled, graph.weight("classifier.weight", weight_array(classifier.kernel))],
        "classifier.matmul",
    )
    graph.node(
        "Add",
        [logits, graph.weight("classifier.bias", weight_array(classifier.bias))],
        "classifier.add",
        output=LOGITS,
    )


__all__ = ["DEFAULT_OPSET", "EXTERNAL_DATA_THRESHOLD_BYTES", "build_onnx"]
