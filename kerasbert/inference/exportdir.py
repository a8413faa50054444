"""The export directory: what `kerasbert export` writes and `kerasbert.inference.predictor` reads.

    exported/<run-name>/
        model.onnx             fp32, parity-checked against TensorFlow
        model.optimized.onnx   fp32 with onnxruntime's graph optimizations applied ahead of time
        model.int8.onnx        dynamically quantized int8, its accuracy delta measured
        tokenizer.json         the training tokenizer
        kerasbert.json         labels, max length, pair, truncation, long documents (truncate or
                               windows), inputs, parity, int8 figures, versions, source; task,
                               and for multi-label the per-label thresholds and label separator

Imports nothing beyond the standard library and kerasbert's own light modules (errors,
labelsets, truncation, windows), because the predictor, which downstream apps install without TensorFlow,
reads it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kerasbert.common.decision import MULTI_LABEL, SINGLE_LABEL, TASKS, check_thresholds
from kerasbert.common.errors import InputError
from kerasbert.common.truncation import TRUNCATIONS
from kerasbert.common.windows import LONG_DOCUMENTS

METADATA_FILE = "kerasbert.json"
TOKENIZER_FILE = "tokenizer.json"
MODEL_FILES = {
    "fp32": "model.onnx",
    "optimized": "model.optimized.onnx",
    "int8": "model.int8.onnx",
}
SCHEMA_VERSION = 1
# How `kerasbert predict` joins a multi-label prediction's labels when the run's data named none.
DEFAULT_LABEL_SEPARATOR = "|"
# Key under which the label names (a JSON list) sit in each ONNX model's own metadata_props.
ONNX_LABELS_KEY = "kerasbert.data.labels"
ONNX_MAX_LENGTH_KEY = "kerasbert.max_length"
ONNX_SCHEMA_KEY = "kerasbert.schema_version"


class ExportDir:
    """An export directory's paths (see the module docstring).

    Example:
    >>> ExportDir("exported/news").model_path("int8").name
    'model.int8.onnx'
    """

    MARKER = METADATA_FILE

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ExportDir({str(self.path)!r})"

    @property
    def metadata(self) -> Path:
        return self.path / METADATA_FILE

    @property
    def tokenizer(self) -> Path:
        return self.path / TOKENIZER_FILE

    def model_path(self, variant: str) -> Path:
        if variant not in MODEL_FILES:
            raise InputError(f"variant must be one of {', '.join(MODEL_FILES)}; got {variant!r}.")
        return self.path / MODEL_FILES[variant]

    def read_metadata(self) -> dict[str, Any]:
        """Read and validate `kerasbert.json`.

        Raises `FileNotFoundError` if it is missing and `InputError` naming the first bad field.
        """
        path = self.metadata
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: {self.path} is not a kerasbert export directory. "
                "Create one with `kerasbert export RUN_DIR`."
            )
        try:
            metadata = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(f"{path} is not valid JSON ({error}); re-export the model.") from error
        if not isinstance(metadata, dict):
            raise InputError(f"{path} must hold a JSON object; re-export the model.")
        version = metadata.get("schema_version")
        if version != SCHEMA_VERSION:
            raise InputError(
                f"{path} has schema_version {version!r}; this kerasbert reads version "
                f"{SCHEMA_VERSION}. Re-export the model with this version of kerasbert."
            )
        labels = metadata.get("labels")
        if (
            not isinstance(labels, list)
            or not labels
            or not all(isinstance(label, str) for label in labels)
            or len(set(labels)) != len(labels)
        ):
            raise InputError(f"{path}: 'labels' must be a non-empty list of distinct strings.")
        for key in ("max_length", "pad_token_id"):
            value = metadata.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InputError(f"{path}: {key!r} must be a non-negative integer, got {value!r}.")
        if metadata["max_length"] < 3:
            raise InputError(
                f"{path}: 'max_length' must be at least 3, got {metadata['max_length']}."
            )
        # Absent in exports from before text pairs: single texts, cut at the head.
        if not isinstance(metadata.get("pair", False), bool):
            raise InputError(f"{path}: 'pair' must be true or false, got {metadata['pair']!r}.")
        if metadata.get("truncation", "head") not in TRUNCATIONS:
            raise InputError(
                f"{path}: 'truncation' must be one of {', '.join(TRUNCATIONS)}, got "
                f"{metadata['truncation']!r}."
            )
        if metadata.get("long_documents", "truncate") not in LONG_DOCUMENTS:
            raise InputError(
                f"{path}: 'long_documents' must be one of {', '.join(LONG_DOCUMENTS)}, got "
                f"{metadata['long_documents']!r}."
            )
        _check_task(metadata, path)
        return metadata


def _check_task(metadata: dict[str, Any], path: Path) -> None:
    """`task` (absent before multi-label: single label) and, for multi-label, `thresholds`: one
    per label (`kerasbert.common.decision.check_thresholds`) and a `label_separator` string."""
    task = metadata.setdefault("task", SINGLE_LABEL)
    if task not in TASKS:
        raise InputError(f"{path}: 'task' must be one of {', '.join(TASKS)}, got {task!r}.")
    if task != MULTI_LABEL:
        return
    if not isinstance(metadata.get("thresholds"), dict):
        raise InputError(
            f"{path}: a multi-label export needs 'thresholds' (label: threshold); re-export it."
        )
    check_thresholds(metadata["thresholds"], metadata["labels"], f"{path} 'thresholds'")
    separator = metadata.setdefault("label_separator", DEFAULT_LABEL_SEPARATOR)
    if not isinstance(separator, str) or not separator:
        raise InputError(f"{path}: 'label_separator' must be a non-empty string.")


def read_metadata(model_dir: str | Path) -> dict[str, Any]:
    """`ExportDir(model_dir).read_metadata()`."""
    return ExportDir(model_dir).read_metadata()
