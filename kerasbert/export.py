"""Export a run's fine-tuned model to ONNX: verified fp32, optimized fp32 and int8.

`export_run(RUN_DIR)` writes `exported/<run-name>/` with `model.onnx`, `model.optimized.onnx`,
`model.int8.onnx`, `tokenizer.json` and `kerasbert.json` (see `kerasbert.predictor`, which reads
it). The conversion runs tf2onnx in-process; TensorFlow and transformers are imported only when
a function needs them, so importing this module stays cheap.

Every export is checked before it is published: TensorFlow and onnxruntime must agree on the
held-out texts to `PARITY_TOLERANCE`, and the int8 model's accuracy is measured against fp32.
Files are written into a hidden sibling directory that is renamed into place at the very end,
so an interrupted export never leaves a half-written model behind.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import logging
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from kerasbert import onnx_graph
from kerasbert.errors import InputError
from kerasbert.files import check_replaceable, read_json, write_json
from kerasbert.predictor import (
    METADATA_FILE,
    MODEL_FILES,
    ONNX_LABELS_KEY,
    SCHEMA_VERSION,
    TOKENIZER_FILE,
    OnnxClassifier,
)

logger = logging.getLogger(__name__)

# 17 is the newest opset that both tf2onnx 1.17 handles fully and onnxruntime's transformer
# tools target; any onnxruntime since 1.12 runs it.
DEFAULT_OPSET = 17
# Float32 round-off across two runtimes stays near 1e-6 on BERT logits; 1e-4 still catches any
# real conversion error (a wrong op or mask shows up as >= 1e-2).
PARITY_TOLERANCE = 1e-4
# Texts run one at a time in the parity check (the rest run in batches of 32): enough to cover
# short, median and longest texts without slowing the export.
PARITY_SINGLE_EXAMPLES = 8
PARITY_BATCH_SIZE = 32
# TF logits are computed for this many test texts (4 batches of 32, spread over the length range);
# the fp32 predictor is then compared with the run's TF predictions on the whole test split.
PARITY_MAX_TEXTS = 128
# Dynamic int8 usually costs BERT classifiers well under one point; more means a problem.
DEFAULT_INT8_THRESHOLD = 1.0
# Inputs in the order the ONNX model takes them; a model uses the ones its signature names.
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
VERSIONED_PACKAGES = (
    "kerasbert",
    "tensorflow",
    "tf-keras",
    "transformers",
    "tf2onnx",
    "onnx",
    "onnxruntime",
    "tokenizers",
    "numpy",
)


class ParityError(RuntimeError):
    """TensorFlow and onnxruntime disagree on the same inputs: the export is not trustworthy."""


def export_run(
    run_dir: str | Path,
    output_dir: str | Path | None = None,
    *,
    overwrite: bool = False,
    opset: int = DEFAULT_OPSET,
    int8_threshold: float = DEFAULT_INT8_THRESHOLD,
    parity_texts: Sequence[str] | None = None,
) -> Path:
    """Export the fine-tuned model of `run_dir` and return the export directory.

    Args:
        run_dir: a run directory written by `kerasbert train` (`model/`, `labels.json`,
            `config.json`, `data/test.jsonl`).
        output_dir: where to write; default `exported/<run-name>` under the current directory.
        overwrite: replace an existing export directory instead of refusing.
        opset: ONNX opset to convert to.
        int8_threshold: largest accepted int8 drop, in accuracy or macro-F1 points, before the
            export warns and marks `int8.drop_exceeds_threshold` in `kerasbert.json`.
        parity_texts: texts for the TF/onnxruntime parity check; default up to
            `PARITY_MAX_TEXTS` test texts spread over the length range. Whatever they are, the
            exported predictor must also agree with the run's own TF predictions on every test
            text (`test_probabilities.json`), or the export fails.

    Raises:
        FileNotFoundError: a file of the run directory is missing.
        FileExistsError: the export directory exists and `overwrite` is false.
        ParityError: TensorFlow and onnxruntime disagree beyond `PARITY_TOLERANCE`.

    Example:
    >>> export_run("runs/bbc-news-20250101-120000")  # doctest: +SKIP
    PosixPath('exported/bbc-news-20250101-120000')
    """
    run_dir = Path(run_dir)
    run = _read_run(run_dir)
    target = (
        Path(output_dir) if output_dir is not None else Path("exported") / run_dir.resolve().name
    )
    _refuse_existing(target, overwrite)
    if parity_texts is None:
        parity_texts = spread_by_length(run["test_texts"], PARITY_MAX_TEXTS)
    parity_texts = list(parity_texts)
    if not parity_texts:
        raise InputError("parity_texts is empty; the parity check needs at least one text.")

    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(target)
    staging = target.parent / f".{target.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        _write_export(run_dir, run, staging, opset, int8_threshold, parity_texts)
        _publish(staging, target, overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("Exported %s to %s", run_dir, target)
    return target


def _write_export(
    run_dir: Path,
    run: dict[str, Any],
    staging: Path,
    opset: int,
    int8_threshold: float,
    parity_texts: list[str],
) -> None:
    model, tokenizer = _load_model_and_tokenizer(run_dir / "model")
    labels, max_length = run["labels"], run["max_length"]
    if model.config.num_labels != len(labels):
        raise InputError(
            f"{run_dir / 'labels.json'} lists {len(labels)} labels but the model in "
            f"{run_dir / 'model'} has {model.config.num_labels} outputs; the run directory is "
            "inconsistent, re-train it."
        )

    fp32_path = staging / MODEL_FILES["fp32"]
    input_names, rewrites = convert_to_onnx(model, fp32_path, opset=opset)

    batches = encode_for_parity(tokenizer, parity_texts, max_length, input_names)
    expected = [_tensorflow_logits(model, feeds) for _, feeds in batches]
    parity = {"fp32": check_parity(fp32_path, batches, expected)}

    optimized_path = staging / MODEL_FILES["optimized"]
    optimization = {"graph_rewrites": rewrites, **optimize(fp32_path, optimized_path)}
    parity["optimized"] = check_parity(optimized_path, batches, expected)

    int8_path = staging / MODEL_FILES["int8"]
    quantize_int8(fp32_path, int8_path)
    for path in (fp32_path, optimized_path, int8_path):
        _write_onnx_metadata(path, labels, max_length)

    _save_tokenizer(run_dir / "model", tokenizer, staging / TOKENIZER_FILE)
    metadata: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "labels": labels,
        "max_length": max_length,
        "lowercase": getattr(tokenizer, "do_lower_case", None),
        "pad_token_id": tokenizer.pad_token_id or 0,
        "inputs": input_names,
        "output": "logits",
        "opset": opset,
        "source": {
            "run_dir": str(run_dir.resolve()),
            "checkpoint": run["config"].get("model"),
            "model_type": model.config.model_type,
        },
        "parity": parity,
        "optimization": optimization,
        "int8": None,
        "files": {},
        "versions": package_versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    write_json(staging / METADATA_FILE, metadata)

    # Score both variants with the predictor users will run, on the files about to ship.
    true_ids = _label_ids(run["test_labels"], labels, run_dir)
    fp32_probabilities = OnnxClassifier(staging, variant="fp32").predict_proba(run["test_texts"])
    int8_probabilities = OnnxClassifier(staging, variant="int8").predict_proba(run["test_texts"])
    metadata["int8"] = compare_int8(
        true_ids, fp32_probabilities, int8_probabilities, int8_threshold
    )
    metadata["predictor_vs_tensorflow"] = _agreement_with_run(run_dir, fp32_probabilities)
    metadata["files"] = {
        path.name: path.stat().st_size for path in sorted(staging.iterdir()) if path.is_file()
    }
    write_json(staging / METADATA_FILE, metadata)


def convert_to_onnx(
    model: Any, path: str | Path, *, opset: int = DEFAULT_OPSET
) -> tuple[list[str], dict[str, int]]:
    """Convert a transformers TF sequence classifier to ONNX at `path`.

    The model takes int32 inputs (those of `INPUT_NAMES` its signature uses) with dynamic
    `batch` and `sequence` axes and returns `logits` of shape `(batch, num_labels)`. tf2onnx's
    layer norms, GELUs and dense layers are rewritten into the standard ONNX forms onnxruntime
    fuses (`kerasbert.onnx_graph`). Returns the input names and the rewrite counts.
    """
    import tensorflow as tf
    import tf2onnx

    input_names = [name for name in INPUT_NAMES if name in model.input_signature]
    signature = [tf.TensorSpec([None, None], tf.int32, name=name) for name in input_names]

    @tf.function(input_signature=signature)
    def serve(*inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        features = dict(zip(input_names, inputs, strict=True))
        return {"logits": model(features, training=False).logits}

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
            "but onnxruntime fuses less of it (see kerasbert.onnx_graph).",
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


def encode_for_parity(
    tokenizer: Any, texts: Sequence[str], max_length: int, input_names: Sequence[str]
) -> list[tuple[int, dict[str, np.ndarray]]]:
    """Batches for the parity check as `(batch size, inputs)`: single texts of spread lengths,
    then all texts in input order in batches of 32.

    Each batch is padded to its own longest text, so padding and masking are exercised.
    """
    by_length = sorted(texts, key=len)
    picks = np.unique(np.linspace(0, len(by_length) - 1, PARITY_SINGLE_EXAMPLES).astype(int))
    batches = [(1, [by_length[index]]) for index in picks]
    batches += [
        (PARITY_BATCH_SIZE, texts[start : start + PARITY_BATCH_SIZE])
        for start in range(0, len(texts), PARITY_BATCH_SIZE)
    ]
    encoded = []
    for batch_size, batch in batches:
        tokens = tokenizer(
            list(batch), truncation=True, max_length=max_length, padding=True, return_tensors="np"
        )
        encoded.append((batch_size, {name: tokens[name].astype(np.int32) for name in input_names}))
    return encoded


def _tensorflow_logits(model: Any, feeds: dict[str, np.ndarray]) -> np.ndarray:
    return model(feeds, training=False).logits.numpy()


def check_parity(
    onnx_path: str | Path,
    batches: Sequence[tuple[int, dict[str, np.ndarray]]],
    expected_logits: Sequence[np.ndarray],
    *,
    tolerance: float = PARITY_TOLERANCE,
) -> dict[str, Any]:
    """Compare onnxruntime's logits with TensorFlow's on the same batches.

    `batches` come from `encode_for_parity`. Returns the figures per batch size; raises
    `ParityError` when any logit differs by more than `tolerance` or any predicted class differs.
    """
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    figures: dict[int, dict[str, Any]] = {}
    for (size, feeds), expected in zip(batches, expected_logits, strict=True):
        actual = session.run(["logits"], feeds)[0]
        entry = figures.setdefault(size, {"examples": 0, "max_abs_diff": 0.0, "mismatches": 0})
        entry["examples"] += len(expected)
        entry["max_abs_diff"] = max(entry["max_abs_diff"], float(np.abs(actual - expected).max()))
        entry["mismatches"] += int((actual.argmax(axis=1) != expected.argmax(axis=1)).sum())
    result = {
        "tolerance": tolerance,
        "max_abs_diff": max(entry["max_abs_diff"] for entry in figures.values()),
        "argmax_mismatches": sum(entry["mismatches"] for entry in figures.values()),
        "by_batch_size": {str(size): entry for size, entry in sorted(figures.items())},
    }
    logger.info(
        "Parity %s: max |Δlogit| %.2e, %d argmax mismatches",
        Path(onnx_path).name,
        result["max_abs_diff"],
        result["argmax_mismatches"],
    )
    if result["max_abs_diff"] > tolerance or result["argmax_mismatches"]:
        raise ParityError(
            f"{Path(onnx_path).name} does not match TensorFlow: max |Δlogit| "
            f"{result['max_abs_diff']:.3g} (tolerance {tolerance:g}), "
            f"{result['argmax_mismatches']} different predictions. Figures: {result}"
        )
    return result


def optimize(onnx_path: str | Path, output_path: str | Path) -> dict[str, Any]:
    """Write `onnx_path` with onnxruntime's portable graph optimizations applied ahead of time.

    `ORT_ENABLE_EXTENDED` fuses layer norms, GELU with its bias and MatMul with its scale into
    single kernels and folds constants; saving the result spares the predictor that work at
    load time. Not used: onnxruntime's Python BERT fusions (`onnxruntime.transformers`
    `optimize_model`, `model_type="bert_tf"`): on the rewritten graph they fuse 13 skip layer
    norms and 6 bias GELUs but no attention, and the result ran 15% slower than this (batch 32
    of BBC headlines, fp32, 580 vs 684 sequences/s, 14 alternating passes on the 2-core VM).
    Returns the op counts before and after as evidence of what was fused.
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


def quantize_int8(onnx_path: str | Path, output_path: str | Path) -> None:
    """Write a dynamically quantized copy: int8 weights, activations quantized per batch."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantizer logs on the root logger: an INFO line per tensor and a generic warning to run
    # its pre-processing. The int8 model's accuracy is measured against fp32 right after.
    with _silenced(""):
        # Signed weights: the format onnxruntime's CPU int8 kernels are fastest with (its docs).
        # One scale per output column instead of one per matrix: on fine-tuned MiniLM the int8
        # model lost 0.96 accuracy points against fp32 on BBC headlines (2.63 per matrix) and
        # 0.47 on BBC news (0.71), at a cost of about 5% in speed (README, tuning list).
        quantize_dynamic(
            str(onnx_path), str(output_path), weight_type=QuantType.QInt8, per_channel=True
        )


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


def compare_int8(
    true_ids: np.ndarray,
    fp32_probabilities: np.ndarray,
    int8_probabilities: np.ndarray,
    threshold: float = DEFAULT_INT8_THRESHOLD,
) -> dict[str, Any]:
    """Accuracy and macro-F1 of int8 against fp32 on the same texts, with the drop in points.

    Warns, and sets `drop_exceeds_threshold`, when either metric drops by more than
    `threshold` points.
    """
    from sklearn.metrics import accuracy_score, f1_score

    true_ids = np.asarray(true_ids)
    classes = list(range(fp32_probabilities.shape[1]))
    scores = {}
    for name, probabilities in (("fp32", fp32_probabilities), ("int8", int8_probabilities)):
        predicted = probabilities.argmax(axis=1)
        scores[name] = {
            "accuracy": float(accuracy_score(true_ids, predicted)),
            "macro_f1": float(
                f1_score(true_ids, predicted, labels=classes, average="macro", zero_division=0)
            ),
        }
    accuracy_drop = 100 * (scores["fp32"]["accuracy"] - scores["int8"]["accuracy"])
    f1_drop = 100 * (scores["fp32"]["macro_f1"] - scores["int8"]["macro_f1"])
    exceeded = max(accuracy_drop, f1_drop) > threshold
    agreement = float((fp32_probabilities.argmax(1) == int8_probabilities.argmax(1)).mean())
    if exceeded:
        logger.warning(
            "int8 model loses %.2f accuracy points and %.2f macro-F1 points (threshold %.2f); "
            "prefer variant='fp32' for this model.",
            accuracy_drop,
            f1_drop,
            threshold,
        )
    return {
        "examples": int(len(true_ids)),
        "fp32": scores["fp32"],
        "int8": scores["int8"],
        "accuracy_drop_points": round(accuracy_drop, 4),
        "macro_f1_drop_points": round(f1_drop, 4),
        "prediction_agreement": agreement,
        "max_abs_probability_diff": float(np.abs(fp32_probabilities - int8_probabilities).max())
        if len(true_ids)
        else 0.0,
        "threshold_points": threshold,
        "drop_exceeds_threshold": bool(exceeded),
    }


def _read_run(run_dir: Path) -> dict[str, Any]:
    if not run_dir.is_dir():
        raise FileNotFoundError(
            f"Run directory {run_dir} does not exist; pass one written by `kerasbert train`."
        )
    needed = ("labels.json", "config.json", "data/test.jsonl", "model")
    missing = [name for name in needed if not (run_dir / name).exists()]
    if missing:
        raise FileNotFoundError(
            f"Run directory {run_dir} lacks {', '.join(missing)}; was training interrupted? "
            "Re-run `kerasbert train`."
        )
    labels = read_json(run_dir / "labels.json")
    config = read_json(run_dir / "config.json")
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise InputError(f"{run_dir / 'labels.json'} must hold a JSON list of label names.")
    max_length = config.get("max_length")
    if not isinstance(max_length, int) or max_length <= 0:
        raise InputError(f"{run_dir / 'config.json'} needs a positive integer 'max_length'.")
    texts, test_labels = [], []
    test_path = run_dir / "data" / "test.jsonl"
    with test_path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                record = json.loads(line)
                texts.append(record["text"])
                test_labels.append(record["label"])
    if not texts:
        raise InputError(f"{test_path} holds no examples; the export is checked on the test split.")
    return {
        "labels": labels,
        "config": config,
        "max_length": max_length,
        "test_texts": texts,
        "test_labels": test_labels,
    }


def spread_by_length(texts: Sequence[str], count: int) -> list[str]:
    """At most `count` texts evenly spread from shortest to longest, in their original order."""
    if len(texts) <= count:
        return list(texts)
    by_length = np.argsort([len(text) for text in texts], kind="stable")
    picks = by_length[np.linspace(0, len(texts) - 1, count).round().astype(int)]
    return [texts[index] for index in sorted(set(picks.tolist()))]


def _agreement_with_run(run_dir: Path, fp32_probabilities: np.ndarray) -> dict[str, Any] | None:
    """Compare the exported fp32 predictor's test predictions with training's TF predictions."""
    path = run_dir / "test_probabilities.json"
    if not path.is_file():
        return None
    tensorflow = np.asarray(read_json(path), dtype=np.float32)
    if tensorflow.shape != fp32_probabilities.shape:
        raise InputError(
            f"{path} does not match the run's test split; re-run `kerasbert evaluate`."
        )
    different = int((tensorflow.argmax(1) != fp32_probabilities.argmax(1)).sum())
    result = {
        "examples": len(tensorflow),
        "different_predictions": different,
        # test_probabilities.json is rounded to 6 decimals.
        "max_abs_probability_diff": float(np.abs(tensorflow - fp32_probabilities).max()),
    }
    if different:
        raise ParityError(
            f"The exported fp32 predictor disagrees with TensorFlow on {different} of "
            f"{len(tensorflow)} test texts: {result}."
        )
    return result


def _label_ids(names: Sequence[str], labels: Sequence[str], run_dir: Path) -> np.ndarray:
    index = {label: position for position, label in enumerate(labels)}
    unknown = sorted(set(names) - set(index))
    if unknown:
        raise InputError(f"{run_dir / 'data/test.jsonl'} has labels not in labels.json: {unknown}.")
    return np.array([index[name] for name in names])


def _load_model_and_tokenizer(model_dir: Path) -> tuple[Any, Any]:
    # transformers' TF models are tf-keras models; without this it would reach for Keras 3.
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from transformers import AutoTokenizer, TFAutoModelForSequenceClassification

    model = TFAutoModelForSequenceClassification.from_pretrained(str(model_dir))
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), use_fast=True)
    if not tokenizer.is_fast:
        raise InputError(f"{model_dir} has no fast tokenizer; the predictor needs tokenizer.json.")
    return model, tokenizer


def _save_tokenizer(model_dir: Path, tokenizer: Any, path: Path) -> None:
    # The file saved with the model is exactly what training used; the predictor resets its
    # padding and truncation settings itself.
    if (model_dir / TOKENIZER_FILE).is_file():
        shutil.copyfile(model_dir / TOKENIZER_FILE, path)
    else:
        tokenizer.backend_tokenizer.save(str(path))


def _write_onnx_metadata(path: Path, labels: Sequence[str], max_length: int) -> None:
    model = onnx.load(str(path))
    values = {
        ONNX_LABELS_KEY: json.dumps(list(labels)),
        "kerasbert.max_length": str(max_length),
        "kerasbert.schema_version": str(SCHEMA_VERSION),
    }
    existing = {entry.key: entry.value for entry in model.metadata_props}
    onnx.helper.set_model_props(model, {**existing, **values})
    onnx.save(model, str(path))


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages an export depends on (None when absent)."""
    versions: dict[str, str | None] = {}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def _remove_stale_staging(target: Path) -> None:
    """Delete staging folders left by exports that were killed (their process is gone)."""
    for staging in target.parent.glob(f".{target.name}.partial-*-*"):
        pid = staging.name.rsplit("-", 2)[-2]
        if pid.isdigit() and not _process_alive(int(pid)):
            logger.info("Removing %s, left by an interrupted export.", staging)
            shutil.rmtree(staging, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _refuse_existing(target: Path, overwrite: bool) -> None:
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"Export directory {target} already exists; pass --overwrite (overwrite=True) to "
            "replace it, or choose another with --output."
        )
    if target.exists():
        check_replaceable(target, METADATA_FILE, "export", "--output")


def _publish(staging: Path, target: Path, overwrite: bool) -> None:
    """Move the finished export into place; an existing one is swapped out only at the end."""
    _refuse_existing(target, overwrite)
    if not target.exists():
        os.replace(staging, target)
        return
    retired = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(target, retired)
    os.replace(staging, target)
    shutil.rmtree(retired, ignore_errors=True)
