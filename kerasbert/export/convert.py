"""TensorFlow to ONNX: convert a fine-tuned classifier, optimize the graph ahead of time, quantize.

`convert` writes the fp32 graph by one of `CONVERTERS`:
- `fused` (default): the BERT graph emitted straight from the weights in onnxruntime's fused form
  (`kerasbert.export.onnx_bert`: fused attention, skip layer norms, bias GELU); memory of a few times the
  model's size, so BERT-base converts on an ordinary machine;
- `plain`: the same graph in standard ONNX ops only, for runtimes without onnxruntime's contrib
  ops, and the fallback when the fused graph fails its parity check;
- `tf2onnx`: tf2onnx in-process, its graph rewritten into forms onnxruntime fuses
  (`kerasbert.export.onnx_graph`). It traces the model, so it needs tens of times the model's size in
  memory; it serves models `onnx_bert` cannot express and cross-checks it in the tests.

Whichever converter wrote it, the graph takes int64 token ids and returns float32 logits:
`convert` checks the saved file against that interface (`kerasbert.export.signature`).
`optimize` applies onnxruntime's own portable optimizations once, at export, and `quantize_int8`
writes the dynamically quantized copy.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from kerasbert.common.names import LOGITS, MODEL_INPUT_NAMES
from kerasbert.export import onnx_graph
from kerasbert.export.onnx_bert import build_onnx
from kerasbert.export.signature import check_signature
from kerasbert.training.tfkeras import tf

logger = logging.getLogger(__name__)

# 17 is the newest opset that both tf2onnx 1.17 handles fully and onnxruntime's transformer
# tools target; any onnxruntime since 1.12 runs it.
DEFAULT_OPSET = 17
CONVERTERS = ("fused", "plain", "tf2onnx")


def convert(
    model: Any, path: str | Path, converter: str = "fused", *, opset: int = DEFAULT_OPSET
) -> dict[str, Any]:
    """Write `model` (a fine-tuned `TFBertForSequenceClassification`) as fp32 ONNX at `path`.

    Args:
        model: the TensorFlow classifier, built (loaded with `from_pretrained`).
        path: the `.onnx` file to write.
        converter: one of `CONVERTERS` (see the module docstring).
        opset: the ONNX opset.

    Returns:
        Facts about the graph: `converter`, `inputs`, `op_counts`, and per converter
        `contrib_op_counts` (fused, plain) or `graph_rewrites` (tf2onnx).

    Raises:
        InputError: `onnx_bert` cannot express this model (the caller may try `tf2onnx`).
        SignatureError: the graph written breaks kerasbert's interface (int64 ids in, float32
            logits out): a bug in that converter's route.

    Example:
    >>> convert(model, "model.onnx")["contrib_op_counts"]["Attention"]  # doctest: +SKIP
    5
    """
    if converter not in CONVERTERS:
        raise ValueError(f"converter must be one of {CONVERTERS}, got {converter!r}.")
    if converter == "tf2onnx":
        input_names, rewrites = convert_to_onnx(model, path, opset=opset)
        facts = {
            "inputs": input_names,
            "graph_rewrites": rewrites,
            "op_counts": _op_counts(onnx.load(str(path), load_external_data=False)),
        }
    else:
        facts = build_onnx(model, path, fused=converter == "fused", opset=opset)
    # One check for every converter: each writes its inputs its own way.
    check_signature(path, f"the {converter} converter", model.config.num_labels)
    return {"converter": converter, **facts}


def convert_to_onnx(
    model: Any, path: str | Path, *, opset: int = DEFAULT_OPSET
) -> tuple[list[str], dict[str, int]]:
    """Convert a transformers TF sequence classifier to ONNX at `path`.

    The model takes int64 inputs (those of `MODEL_INPUT_NAMES` its signature uses) with dynamic
    `batch` and `sequence` axes and returns `logits` of shape `(batch, num_labels)`. tf2onnx's
    layer norms, GELUs and dense layers are rewritten into the standard ONNX forms onnxruntime
    fuses (`kerasbert.export.onnx_graph`). Returns the input names and the rewrite counts.
    """
    import tf2onnx

    input_names = [name for name in MODEL_INPUT_NAMES if name in model.input_signature]
    signature = [tf.TensorSpec([None, None], tf.int64, name=name) for name in input_names]

    @tf.function(input_signature=signature)
    def serve(*inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        # int64 in, as Hugging Face clients send; the model is traced on the int32 it trained on.
        features = {
            name: tf.cast(tensor, tf.int32)
            for name, tensor in zip(input_names, inputs, strict=True)
        }
        return {LOGITS: model(features, training=False).logits}

    model_proto, _ = tf2onnx.convert.from_function(
        serve,
        input_signature=signature,
        opset=opset,
        custom_op_handlers={"Erfc": (_erfc_as_one_minus_erf, [])},
    )
    # tf2onnx keeps ops it cannot convert and only logs them; such a model fails at load time.
    unconverted = sorted(
        {
            node.op_type
            for node in model_proto.graph.node
            if node.domain not in ("", "ai.onnx", "ai.onnx.ml")
            or not onnx.defs.has(node.op_type, node.domain)
        }
    )
    if unconverted:
        raise RuntimeError(f"tf2onnx could not convert these TensorFlow ops: {unconverted}.")
    for graph_input in model_proto.graph.input:
        dims = graph_input.type.tensor_type.shape.dim
        dims[0].dim_param, dims[1].dim_param = "batch", "sequence"
    model_proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    rewrites = onnx_graph.simplify(model_proto)
    onnx.checker.check_model(model_proto)
    layers = model.config.num_hidden_layers
    expected = {
        "layer_norm": 2 * layers + 1,
        "gelu": layers if model.config.hidden_act == "gelu" else 0,
    }
    if any(rewrites[name] != count for name, count in expected.items()):
        logger.warning(
            "Rewrote %s of tf2onnx's graph, expected %s for this BERT; the model is correct "
            "but onnxruntime fuses less of it (see kerasbert.export.onnx_graph).",
            rewrites,
            expected,
        )
    onnx.save(model_proto, str(path))
    logger.info("Converted to ONNX opset %d: %s (rewrote %s)", opset, path, rewrites)
    return input_names, rewrites


def _erfc_as_one_minus_erf(ctx: Any, node: Any, name: str, args: list[Any]) -> Any:
    """tf2onnx handler for `Erfc`, which TF 2.21's exact GELU uses and ONNX lacks."""
    from tf2onnx import utils

    dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))
    erf = ctx.make_node("Erf", [node.input[0]])
    one = ctx.make_const(utils.make_name(f"{name}_one"), np.array(1, dtype=dtype))
    node.type = "Sub"
    node.domain = ""
    ctx.replace_inputs(node, [one.output[0], erf.output[0]])
    return node


def optimize(onnx_path: str | Path, output_path: str | Path) -> dict[str, Any]:
    """Write `onnx_path` with onnxruntime's portable graph optimizations applied ahead of time.

    `ORT_ENABLE_EXTENDED` fuses layer norms, GELU with its bias and MatMul with its scale into
    single kernels and folds constants; saving the result spares the predictor that work at
    load time. Not used: onnxruntime's Python BERT fusions (`onnxruntime.transformers`
    `optimize_model`, `model_type="bert_tf"`): they match no attention in tf2onnx's graph, and
    the skip layer norms and bias GELUs they do fuse made it slower (docs/PERFORMANCE.md).
    Returns the op counts before and after as evidence of what was fused. Raises
    `SignatureError` if the result does not keep the graph's interface.
    """
    import onnxruntime

    session_options = onnxruntime.SessionOptions()
    # EXTENDED, not ALL: ALL adds layout changes tied to this machine's CPU.
    session_options.graph_optimization_level = (
        onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    )
    session_options.optimized_model_filepath = str(output_path)
    onnxruntime.InferenceSession(
        str(onnx_path), session_options, providers=["CPUExecutionProvider"]
    )
    check_signature(output_path, "onnxruntime's graph optimizer")
    before = _op_counts(onnx.load(str(onnx_path)))
    after = _op_counts(onnx.load(str(output_path)))
    return {
        "graph_optimization_level": "ORT_ENABLE_EXTENDED",
        "fused_ops": {op: count for op, count in after.items() if op not in before},
        "op_counts_before": before,
        "op_counts_after": after,
        "nodes_before": sum(before.values()),
        "nodes_after": sum(after.values()),
    }


def _op_counts(model: onnx.ModelProto) -> dict[str, int]:
    return dict(sorted(Counter(node.op_type for node in model.graph.node).items()))


# How `quantize_int8` writes int8, recorded in `kerasbert.json` (`quantization`).
INT8_SETTINGS = {
    "method": "dynamic",  # uint8 activations, their scale computed per batch at run time
    "weight_type": "int8",
    "per_channel": True,  # one weight scale per output column
    "reduce_range": True,  # weights in 7 bits
}


def quantize_int8(onnx_path: str | Path, output_path: str | Path) -> dict[str, Any]:
    """Write a dynamically quantized copy: int8 weights, activations quantized per batch.

    Returns `INT8_SETTINGS`, what the export records about the format. Raises `SignatureError`
    if the copy does not keep the graph's interface (`kerasbert.export.signature`).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantizer logs on the root logger: an INFO line per tensor and a generic warning to run
    # its pre-processing. The int8 model's accuracy is measured against fp32 right after.
    with _silenced(""):
        # Signed weights: the format onnxruntime's CPU int8 kernels are fastest with (its docs).
        # One scale per output column instead of one per matrix: a fine-tuned BERT's columns
        # differ in range, and one scale for all of them cost several times the accuracy, for
        # a few percent of speed (docs/PERFORMANCE.md).
        # Weights use 7 of their 8 bits (`reduce_range`): on x86 CPUs without VNNI (AVX2 and
        # plain AVX-512) onnxruntime multiplies uint8 by int8 with an instruction whose 16-bit
        # pair sums saturate at full range, which shifts logits on those CPUs only; with 7-bit
        # weights no sum can overflow, so the accuracy measured at export holds on every CPU
        # the model ships to.
        quantize_dynamic(
            str(onnx_path),
            str(output_path),
            weight_type=QuantType.QInt8,
            per_channel=INT8_SETTINGS["per_channel"],
            reduce_range=INT8_SETTINGS["reduce_range"],
        )
    check_signature(output_path, "onnxruntime's int8 quantizer")
    return dict(INT8_SETTINGS)


@contextmanager
def _silenced(*logger_names: str) -> Iterator[None]:
    """Only errors from these loggers ("" is the root logger) for the duration of the block."""
    loggers = [logging.getLogger(name or None) for name in logger_names]
    levels = [each.level for each in loggers]
    for each in loggers:
        each.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for each, level in zip(loggers, levels):
            each.setLevel(level)
