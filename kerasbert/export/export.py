"""Export a run's fine-tuned model to ONNX: verified fp32, optimized fp32 and int8.

`export_run(RUN_DIR)` writes an export directory (`kerasbert.inference.exportdir`: `model.onnx`,
`model.optimized.onnx`, `model.int8.onnx`, `tokenizer.json`, `kerasbert.json`), which
`kerasbert.inference.predictor` reads. Conversion, optimization and quantization are `kerasbert.export.convert`;
the checks are `kerasbert.export.parity`.

Every export is checked before it is published: TensorFlow and onnxruntime must agree on the
held-out texts to `PARITY_TOLERANCE`, the exported predictor must agree with the run's TensorFlow
predictions on every test text, and the int8 model's accuracy is measured against fp32. Files are
written into a hidden sibling directory that is renamed into place at the very end, so an
interrupted export never leaves a half-written model behind.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from kerasbert.common.errors import InputError
from kerasbert.common.files import check_replaceable, write_json
from kerasbert.common.names import MODEL_INPUT_NAMES, Task
from kerasbert.config import TrainConfig
from kerasbert.data.examples import Examples
from kerasbert.evaluation.metrics import labels_to_ids
from kerasbert.export.convert import CONVERTERS, DEFAULT_OPSET, convert, optimize, quantize_int8
from kerasbert.export.e2e import check_available, write_export_e2e
from kerasbert.export.hf_files import write_hf_files
from kerasbert.export.model_card import write_model_card
from kerasbert.export.parity import (
    DEFAULT_INT8_THRESHOLD,
    PARITY_MAX_TEXTS,
    ParityError,
    agreement_with_tensorflow,
    check_parity,
    compare_int8,
    encode_for_parity,
    spread_by_length,
    tensorflow_logits,
)
from kerasbert.export.signature import graph_signature
from kerasbert.inference.exportdir import (
    DEFAULT_LABEL_SEPARATOR,
    ONNX_LABELS_KEY,
    ONNX_MAX_LENGTH_KEY,
    ONNX_SCHEMA_KEY,
    SCHEMA_VERSION,
    ExportDir,
    ExportInfo,
)
from kerasbert.inference.predictor import OnnxClassifier
from kerasbert.training.checkpoint import load_trained_model
from kerasbert.training.rundir import LabelThresholds, RunDir, RunRecord, default_export_dir

logger = logging.getLogger(__name__)

__all__ = ["export_run", "ParityError", "package_versions"]

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
# `auto` tries these in turn: the first whose graph passes the parity check is exported.
AUTO_CONVERTERS = ("fused", "plain", "tf2onnx")
# The fast tokenizer's file in a Hugging Face model folder (`save_pretrained`).
TOKENIZER_JSON = "tokenizer.json"


def export_run(
    run_dir: str | Path,
    output_dir: str | Path | None = None,
    *,
    overwrite: bool = False,
    opset: int = DEFAULT_OPSET,
    int8_threshold: float = DEFAULT_INT8_THRESHOLD,
    parity_texts: Sequence[str] | Sequence[tuple[str, str]] | None = None,
    converter: str = "auto",
    with_tokenizer: bool = False,
) -> Path:
    """Export the fine-tuned model of `run_dir` and return the export directory.

    Args:
        run_dir: a run directory written by `kerasbert train` (`model/`, `labels.json`,
            `config.json`, `data/test.jsonl`).
        output_dir: where to write; default `exported/<run-name>` under the current directory
            (`kerasbert.training.rundir.default_export_dir`).
        overwrite: replace an existing export directory instead of refusing.
        opset: ONNX opset to convert to.
        int8_threshold: largest accepted int8 drop, in accuracy or macro-F1 points, before the
            export warns and marks `int8.drop_exceeds_threshold` in `kerasbert.json`.
        parity_texts: texts (`(text, text_pair)` tuples for a model of text pairs) for the
            TF/onnxruntime parity check; default up to `PARITY_MAX_TEXTS` test examples spread
            over the length range. Whatever they are, the exported predictor must also agree
            with the run's own TF predictions on every test example (`test_probabilities.json`),
            or the export fails.
        converter: `auto` (the fused graph; the plain one where the fused graph fails parity;
            tf2onnx where neither can express the model; `kerasbert.json` says which and why),
            or one of `kerasbert.export.convert.CONVERTERS` only.
        with_tokenizer: also write `model.e2e.onnx` and `model.e2e.int8.onnx`, strings in and
            logits out with onnxruntime-extensions' tokenizer inside (`kerasbert.export.e2e`),
            each checked against the predictor on every test text. Needs the `e2e` extra.

    Raises:
        FileNotFoundError: a file of the run directory is missing.
        FileExistsError: the export directory exists and `overwrite` is false.
        ParityError: TensorFlow and onnxruntime disagree beyond `PARITY_TOLERANCE`, or an
            end-to-end graph and the predictor beyond `E2E_TOLERANCE`.
        InputError: `with_tokenizer` and the `e2e` extra missing, or the run trained on windows
            (`long_documents`), or a tokenizer other than BERT's WordPiece.

    Example:
    >>> export_run("runs/bbc-news-20250101-120000")  # doctest: +SKIP
    PosixPath('exported/bbc-news-20250101-120000')
    """
    run = _read_run(RunDir(run_dir))
    target = (
        Path(output_dir) if output_dir is not None else default_export_dir(run.dir, run.settings)
    )
    _refuse_existing(target, overwrite)
    if converter != "auto" and converter not in CONVERTERS:
        raise InputError(
            f"--converter must be auto or one of {', '.join(CONVERTERS)}; got {converter!r}."
        )
    if with_tokenizer:
        # Before the long work: the extra, the settings and the tokenizer must allow it.
        tokenizer = run.dir.model / TOKENIZER_JSON
        check_available(tokenizer if tokenizer.is_file() else None, run.settings.long_documents)
    if parity_texts is None:
        parity_texts = spread_by_length(run.test_inputs, PARITY_MAX_TEXTS)
    parity_texts = list(parity_texts)
    if not parity_texts:
        raise InputError("parity_texts is empty; the parity check needs at least one text.")
    if any(isinstance(text, str) == run.record.pair for text in parity_texts):
        kind = "(text, text_pair) tuples" if run.record.pair else "strings"
        raise InputError(f"parity_texts must be {kind}, as the model's test examples are.")

    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(target)
    staging = target.parent / f".{target.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        _write_export(
            run,
            ExportDir(staging),
            target.name,
            opset,
            int8_threshold,
            parity_texts,
            converter,
            with_tokenizer,
        )
        _publish(staging, target, overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("Exported %s to %s", run.dir.path, target)
    return target


@dataclass(frozen=True)
class _Source:
    """What the export reads of a run, once: its record (settings, labels, task), its test split
    (what the checks predict) and, for a multi-label run, its decision thresholds."""

    dir: RunDir
    record: RunRecord
    test: Examples
    thresholds: LabelThresholds | None
    # The fitted temperature of a calibrated single-label run (`calibration.json`), else None.
    temperature: float | None = None

    @property
    def settings(self) -> TrainConfig:
        return self.record.settings

    @property
    def labels(self) -> list[str]:
        return list(self.record.labels)

    @property
    def test_inputs(self) -> list[str] | list[tuple[str, str]]:
        """The test examples as the predictor takes them: texts, or (text, text_pair) tuples."""
        pairs = self.test.text_pairs
        return (
            list(self.test.texts)
            if pairs is None
            else list(zip(self.test.texts, pairs, strict=True))
        )

    @property
    def cuts(self) -> np.ndarray | None:
        """The multi-label thresholds in label order; None for a single-label run."""
        return None if self.thresholds is None else self.thresholds.values


def _write_export(
    run: _Source,
    staging: ExportDir,
    name: str,
    opset: int,
    int8_threshold: float,
    parity_texts: list[str] | list[tuple[str, str]],
    converter: str,
    with_tokenizer: bool = False,
) -> None:
    source, settings = run.dir, run.settings
    model, tokenizer = load_trained_model(source.model)
    labels, max_length = run.labels, settings.max_length
    if model.config.num_labels != len(labels):
        raise InputError(
            f"{source.labels} lists {len(labels)} labels but the model in {source.model} has "
            f"{model.config.num_labels} outputs; the run directory is inconsistent, re-train it."
        )

    model_type = model.config.model_type
    texts, pairs = (
        ([text for text, _ in parity_texts], [pair for _, pair in parity_texts])
        if run.record.pair
        else (parity_texts, None)
    )
    batches = encode_for_parity(
        tokenizer,
        texts,
        max_length,
        MODEL_INPUT_NAMES,
        pairs,
        settings.truncation,
        windows=settings.long_documents == "windows",
        window_overlap=settings.window_overlap,
    )
    expected = [tensorflow_logits(model, feeds) for _, feeds in batches]
    fp32_path = staging.model_path("fp32")
    cuts = run.cuts
    graph, fp32_parity = _convert_checked(
        model, fp32_path, converter, opset, batches, expected, cuts
    )
    del model  # the graph holds the weights now; BERT-base needs the memory for what follows
    # Read from the file (`convert` checked it, as `optimize` and `quantize_int8` check theirs),
    # so kerasbert.json cannot say other than the graph does.
    signature = graph_signature(fp32_path)
    parity = {"fp32": fp32_parity}

    optimized_path = staging.model_path("optimized")
    optimization = optimize(fp32_path, optimized_path)
    if "graph_rewrites" in graph:
        optimization = {"graph_rewrites": graph["graph_rewrites"], **optimization}
    parity["optimized"] = check_parity(optimized_path, batches, expected, thresholds=cuts)

    int8_path = staging.model_path("int8")
    quantization = quantize_int8(fp32_path, int8_path)
    for path in (fp32_path, optimized_path, int8_path):
        _write_onnx_metadata(path, labels, max_length)

    _save_tokenizer(source.model, tokenizer, staging.tokenizer)
    metadata = _metadata(run, tokenizer, signature, opset, model_type)
    metadata.update(
        graph=graph, parity=parity, optimization=optimization, quantization=quantization
    )
    write_json(staging.metadata, metadata)
    _score_variants(run, staging, metadata, int8_threshold)
    if with_tokenizer:
        metadata["e2e"] = write_export_e2e(staging, run.test_inputs)
    # For Hugging Face clients and readers: from the checked record, under the published name.
    info = ExportInfo.from_metadata(metadata, staging.metadata)
    write_hf_files(source, staging, info)
    write_model_card(source, staging, name, info, record=run.record)
    metadata["files"] = {
        path.name: path.stat().st_size for path in sorted(staging.path.iterdir()) if path.is_file()
    }
    write_json(staging.metadata, metadata)


def _metadata(
    run: _Source,
    tokenizer: Any,
    signature: dict[str, list[dict[str, Any]]],
    opset: int,
    model_type: str,
) -> dict[str, Any]:
    """`kerasbert.json` before the checks on the written files fill in their figures."""
    record, settings = run.record, run.settings
    return {
        "schema_version": SCHEMA_VERSION,
        "labels": run.labels,
        "max_length": settings.max_length,
        # How the predictor must encode its inputs: text pairs or single texts, cut as in training.
        "pair": record.pair,
        "truncation": settings.truncation,
        # A model trained on windows is run on windows: the predictor averages them.
        "long_documents": settings.long_documents,
        "window_overlap": settings.window_overlap,
        "task": Task.MULTI_LABEL if record.multi_label else Task.SINGLE_LABEL,
        # Multi-label: the per-label thresholds tuned on the validation split, and how
        # `kerasbert predict` joins a label set (the training data's separator).
        **(
            {
                "thresholds": dict(run.thresholds.by_label),
                "label_separator": record.label_separator or DEFAULT_LABEL_SEPARATOR,
            }
            if run.thresholds is not None
            else {}
        ),
        # Single-label: the temperature fitted on the validation split, which the predictor
        # divides the logits by (kerasbert.common.decision); null for a run without one.
        "calibration": None
        if run.temperature is None
        else {"method": "temperature", "temperature": run.temperature},
        "lowercase": getattr(tokenizer, "do_lower_case", None),
        "pad_token_id": tokenizer.pad_token_id or 0,
        # What an app in any language feeds and reads: name, dtype, shape (symbolic axes by
        # name). `output` is the output's name alone, as exports before these two keys had it.
        "inputs": signature["inputs"],
        "outputs": signature["outputs"],
        "output": signature["outputs"][0]["name"],
        "opset": opset,
        # By name, not this machine's path: the export ships to other machines.
        "source": {
            "run": run.dir.name,
            "checkpoint": checkpoint_name(settings.model),
            "model_type": model_type,
        },
        "graph": None,
        "parity": None,
        "optimization": None,
        "int8": None,
        "files": {},
        "versions": package_versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _score_variants(
    run: _Source,
    staging: ExportDir,
    metadata: dict[str, Any],
    int8_threshold: float,
) -> None:
    """Score fp32 and int8 with the predictor users will run, on the files about to ship: the
    int8 accuracy delta and the fp32 predictor's agreement with TensorFlow, into `metadata`."""
    source, labels, cuts = run.dir, run.labels, run.cuts
    true_ids = (
        run.test.label_ids(labels)
        if run.record.multi_label
        else labels_to_ids(run.test.labels, labels, source=str(source.split_path("test")))
    )
    fp32_probabilities = OnnxClassifier(staging.path, variant="fp32").predict_proba(run.test_inputs)
    int8_probabilities = OnnxClassifier(staging.path, variant="int8").predict_proba(run.test_inputs)
    metadata["int8"] = compare_int8(
        true_ids, fp32_probabilities, int8_probabilities, int8_threshold, cuts
    )
    tensorflow_probabilities = source.read_test_probabilities()
    if tensorflow_probabilities is not None and (
        tensorflow_probabilities.shape != fp32_probabilities.shape
    ):
        raise InputError(
            f"{source.test_probabilities} does not match the run's test split; re-run "
            "`kerasbert evaluate`."
        )
    metadata["predictor_vs_tensorflow"] = (
        None
        if tensorflow_probabilities is None
        else agreement_with_tensorflow(tensorflow_probabilities, fp32_probabilities, cuts)
    )


def _convert_checked(
    model: Any,
    path: Path,
    converter: str,
    opset: int,
    batches: list,
    expected: list,
    thresholds: np.ndarray | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write the fp32 graph with the first converter whose graph passes the parity check
    (multi-label: also the same thresholded label sets, `thresholds`).

    Returns the graph's facts (with `conversion_seconds`, and `fallbacks`: why earlier
    converters were passed over) and its parity figures; raises `ParityError` when none passes.
    """
    fallbacks: list[str] = []
    for name in AUTO_CONVERTERS if converter == "auto" else (converter,):
        try:
            started = time.perf_counter()
            graph = convert(model, path, name, opset=opset)
            seconds = round(time.perf_counter() - started, 2)
            figures = check_parity(path, batches, expected, thresholds=thresholds)
        except (InputError, ParityError) as error:
            if converter != "auto":
                raise
            logger.warning("The %s graph is not exported: %s", name, error)
            fallbacks.append(f"{name}: {error}")
            continue
        return {**graph, "conversion_seconds": seconds, "fallbacks": fallbacks}, figures
    raise ParityError("No converter gave a graph that matches TensorFlow: " + " | ".join(fallbacks))


def checkpoint_name(model: str | None) -> str | None:
    """How an export names its pretrained checkpoint: `minilm` or a hub id as given, a local
    folder by its name (the export ships to machines where that path means nothing)."""
    if model is None:
        return None
    path = Path(model).expanduser()
    return path.resolve().name if path.exists() else model


def _read_run(source: RunDir) -> _Source:
    source.require(source.labels, source.config, source.split_path("test"), source.model)
    record = source.read_record()
    test = source.read_split("test")
    if not test.texts:
        raise InputError(
            f"{source.split_path('test')} holds no examples; the export is checked on the test "
            "split."
        )
    thresholds = None
    if record.multi_label:
        thresholds = source.read_label_thresholds(record.labels)
        if not thresholds.tuned:
            logger.warning(
                "%s is missing; exporting with threshold 0.5 for every label.", source.thresholds
            )
    calibration = None if record.multi_label else source.read_calibration()
    temperature = None if calibration is None else float(calibration["temperature"])
    return _Source(source, record, test, thresholds, temperature)


def _write_onnx_metadata(path: Path, labels: Sequence[str], max_length: int) -> None:
    model = onnx.load(str(path))
    values = {
        ONNX_LABELS_KEY: json.dumps(list(labels)),
        ONNX_MAX_LENGTH_KEY: str(max_length),
        ONNX_SCHEMA_KEY: str(SCHEMA_VERSION),
    }
    existing = {entry.key: entry.value for entry in model.metadata_props}
    onnx.helper.set_model_props(model, {**existing, **values})
    onnx.save(model, str(path))


def _save_tokenizer(model_dir: Path, tokenizer: Any, path: Path) -> None:
    # The file saved with the model is exactly what training used; the predictor resets its
    # padding and truncation settings itself.
    if (model_dir / TOKENIZER_JSON).is_file():
        shutil.copyfile(model_dir / TOKENIZER_JSON, path)
    else:
        tokenizer.backend_tokenizer.save(str(path))


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
        check_replaceable(target, ExportDir.MARKER, "export", "--output")


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
