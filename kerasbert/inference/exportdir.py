"""The export directory: what `kerasbert export` writes and `kerasbert.inference.predictor` reads.

    exported/<run-name>/
        model.onnx             fp32, parity-checked against TensorFlow
        model.optimized.onnx   fp32 with onnxruntime's graph optimizations applied ahead of time
        model.int8.onnx        dynamically quantized int8, its accuracy delta measured
        model.e2e.onnx         optional (`--with-tokenizer`): strings in, logits out, the
        model.e2e.int8.onnx    tokenizer inside (onnxruntime-extensions), fp32 and int8
        tokenizer.json         the training tokenizer
        kerasbert.json         labels, max length, pair, truncation, long documents (truncate or
                               windows), inputs and outputs (name, dtype, shape), parity, int8
                               figures, versions, source; task,
                               and for multi-label the per-label thresholds and label separator
        config.json            Hugging Face model config: model type, id2label/label2id,
                               problem type, the encoder's shape (transformers, transformers.js)
        tokenizer_config.json  tokenizer class, lowercasing, model_max_length = max length,
                               padding and truncation side, special tokens
        special_tokens_map.json  the special tokens (Python transformers reads it)
        README.md              the model card: front matter, scores, limits, how to call it

`ExportDir.read_info()` reads `kerasbert.json` once into an `ExportInfo`: checked, typed and
frozen, with the default of every key that older exports lack written in one place (its fields).
The predictor, the streaming prediction, the server, the Ray recipe and the tools read that
record, never the raw dict.

Imports nothing beyond the standard library and kerasbert's own light modules (errors, names,
decision, truncation, windows), because the predictor, which downstream apps install without
TensorFlow, reads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from kerasbert.common.decision import check_temperature, check_thresholds
from kerasbert.common.errors import InputError
from kerasbert.common.files import subpath
from kerasbert.common.names import Task
from kerasbert.common.truncation import TRUNCATIONS
from kerasbert.common.windows import LONG_DOCUMENTS

METADATA_FILE = "kerasbert.json"
TOKENIZER_FILE = "tokenizer.json"
# A Hugging Face model folder's files, so that transformers and transformers.js open the export
# (written by `kerasbert.export.hf_files` and `kerasbert.export.model_card`).
HF_CONFIG_FILE = "config.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_FILE = "special_tokens_map.json"
MODEL_CARD_FILE = "README.md"
MODEL_FILES = {
    "fp32": "model.onnx",
    "optimized": "model.optimized.onnx",
    "int8": "model.int8.onnx",
}
# The end-to-end graphs (`kerasbert export --with-tokenizer`, `kerasbert.export.e2e`): a string
# tensor in, logits out, onnxruntime-extensions' tokenizer operator in front of the model.
E2E_FILES = {
    "fp32": "model.e2e.onnx",
    "int8": "model.e2e.int8.onnx",
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

    metadata = subpath(METADATA_FILE)
    tokenizer = subpath(TOKENIZER_FILE)
    hf_config = subpath(HF_CONFIG_FILE)
    tokenizer_config = subpath(TOKENIZER_CONFIG_FILE)
    special_tokens_map = subpath(SPECIAL_TOKENS_FILE)
    model_card = subpath(MODEL_CARD_FILE)

    def model_path(self, variant: str) -> Path:
        if variant not in MODEL_FILES:
            raise InputError(f"variant must be one of {', '.join(MODEL_FILES)}; got {variant!r}.")
        return self.path / MODEL_FILES[variant]

    def e2e_path(self, variant: str) -> Path:
        """The end-to-end graph of `variant` (`E2E_FILES`), written only by `--with-tokenizer`."""
        if variant not in E2E_FILES:
            raise InputError(f"variant must be one of {', '.join(E2E_FILES)}; got {variant!r}.")
        return self.path / E2E_FILES[variant]

    def read_metadata(self) -> dict[str, Any]:
        """`kerasbert.json` as written (a dict), after `read_info` has checked it."""
        return self.read_info().metadata

    def read_info(self) -> ExportInfo:
        """Read and check `kerasbert.json` into an `ExportInfo`.

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
        return ExportInfo.from_metadata(metadata, path)


@dataclass(frozen=True)
class GraphTensor:
    """An input or output of an export's graphs (`inputs`, `outputs` in `kerasbert.json`): what
    an app in any language feeds or reads. `dtype` is numpy's name; `shape` names each
    symbolic axis ("batch", "sequence") and gives each fixed one's size.

    Example:
    >>> GraphTensor("input_ids", "int64", ("batch", "sequence")).dtype
    'int64'
    """

    name: str
    dtype: str
    shape: tuple[str | int | None, ...]


@dataclass(frozen=True)
class EndToEndGraphs:
    """The end-to-end graphs of an export (`e2e` in `kerasbert.json`, written by
    `kerasbert export --with-tokenizer`): strings in, logits out. `files` maps each variant
    (fp32, int8) to its file; an app registers onnxruntime-extensions' library (the custom-op
    `domain`, at least `extensions_version`) with its session to run them. The inputs' dtype is
    `string`, ONNX's name (numpy has no string dtype of its own to name).

    Example:
    >>> graphs = ExportInfo.from_metadata({"schema_version": 1, "labels": ["a", "b"],
    ...     "max_length": 8, "pad_token_id": 0, "e2e": {"files": {"fp32": "model.e2e.onnx"},
    ...     "inputs": [{"name": "text", "dtype": "string", "shape": ["batch"]}],
    ...     "outputs": [{"name": "logits", "dtype": "float32", "shape": ["batch", 2]}],
    ...     "custom_op_domain": "ai.onnx.contrib", "onnxruntime_extensions": "0.15.2"}}).e2e
    >>> graphs.files["fp32"], [tensor.name for tensor in graphs.inputs]
    ('model.e2e.onnx', ['text'])
    """

    files: dict[str, str]
    inputs: tuple[GraphTensor, ...]
    outputs: tuple[GraphTensor, ...]
    domain: str
    extensions_version: str


# What exports from before typed `inputs` and `outputs` declared, which `kerasbert.json` named
# only (`inputs`: names; `output`: a name): int32 ids and float32 logits.
LEGACY_INPUT_DTYPE = "int32"
LEGACY_OUTPUT_DTYPE = "float32"


@dataclass(frozen=True)
class ExportInfo:
    """An export's `kerasbert.json`, checked and typed (`ExportDir.read_info`).

    A field's default is what an export written before that key existed means; a key added to
    `kerasbert.json` later gets a field here with such a default, and older exports keep loading.
    `metadata` is the file's JSON object as written, for showing (the server's `/v1/model`).

    Example:
    >>> info = ExportInfo.from_metadata(
    ...     {"schema_version": 1, "labels": ["neg", "pos"], "max_length": 128, "pad_token_id": 0}
    ... )
    >>> info.task, info.pair, info.truncation, info.long_documents
    (<Task.SINGLE_LABEL: 'single_label'>, False, 'head', 'truncate')
    """

    labels: tuple[str, ...]
    max_length: int
    pad_token_id: int
    # Exports from before text pairs classify single texts, cut at the head.
    pair: bool = False
    truncation: str = "head"
    # From before long-document windows: a long text is truncated.
    long_documents: str = "truncate"
    # Tokens shared by neighbouring windows; None: the predictor's default for the window size.
    window_overlap: int | None = None
    # From before multi-label: one label per text.
    task: Task = Task.SINGLE_LABEL
    # Multi-label only (required there): each label's threshold, in `labels` order.
    thresholds: tuple[float, ...] | None = None
    # Single-label: the temperature fitted on the validation split (`calibration` in
    # kerasbert.json); 1, the raw softmax, for exports from before calibration and multi-label.
    temperature: float = 1.0
    # How `kerasbert predict` joins a label set when the training data named no separator.
    label_separator: str = DEFAULT_LABEL_SEPARATOR
    # The int8 check (`int8` in kerasbert.json); absent until the export measured it.
    int8_accuracy_drop_points: float | None = None
    int8_exceeds_threshold: bool = False
    # The run exported (`source.run`) and the fp32 graph's converter and op counts (`graph`).
    source_run: str | None = None
    converter: str | None = None
    op_counts: dict[str, int] | None = None
    # The graphs' inputs and outputs (`inputs`, `outputs`); from before `inputs` existed: unknown.
    inputs: tuple[GraphTensor, ...] = ()
    outputs: tuple[GraphTensor, ...] = ()
    # The end-to-end graphs (`e2e`); None where the export has none (`--with-tokenizer` off, or
    # written before it existed).
    e2e: EndToEndGraphs | None = None
    metadata: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def multi_label(self) -> bool:
        return self.task is Task.MULTI_LABEL

    @property
    def windows(self) -> bool:
        """The model was trained on long texts' windows, so it predicts on windows."""
        return self.long_documents == "windows"

    @property
    def recommended_variant(self) -> str:
        """`int8`, or `fp32` where the export measured int8 losing more accuracy than its
        threshold (`int8.drop_exceeds_threshold`)."""
        return "fp32" if self.int8_exceeds_threshold else "int8"

    @classmethod
    def from_metadata(cls, metadata: Any, path: str | Path = METADATA_FILE) -> ExportInfo:
        """Check the JSON object of a `kerasbert.json` (read from `path`, named in errors).

        Raises `InputError` naming the file and the first bad field.
        """
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
            if not _is_count(metadata.get(key)):
                raise InputError(
                    f"{path}: {key!r} must be a non-negative integer, got {metadata.get(key)!r}."
                )
        if metadata["max_length"] < 3:
            raise InputError(
                f"{path}: 'max_length' must be at least 3, got {metadata['max_length']}."
            )
        pair = _given(metadata, "pair")
        if not isinstance(pair, bool):
            raise InputError(f"{path}: 'pair' must be true or false, got {pair!r}.")
        truncation = _choice(metadata, "truncation", TRUNCATIONS, path)
        long_documents = _choice(metadata, "long_documents", LONG_DOCUMENTS, path)
        window_overlap = _given(metadata, "window_overlap")
        if window_overlap is not None and not _is_count(window_overlap):
            raise InputError(
                f"{path}: 'window_overlap' must be a non-negative integer or null, got "
                f"{window_overlap!r}."
            )
        task = Task(_choice(metadata, "task", tuple(Task), path))
        thresholds, separator = _multi_label(metadata, task, labels, path)
        temperature = _temperature(metadata, task, path)
        int8 = _section(metadata, "int8", path)
        drop = int8.get("accuracy_drop_points")
        if drop is not None and not _is_number(drop):
            raise InputError(f"{path}: 'int8.accuracy_drop_points' must be a number, got {drop!r}.")
        exceeds = int8.get("drop_exceeds_threshold", _default("int8_exceeds_threshold"))
        if not isinstance(exceeds, bool):
            raise InputError(
                f"{path}: 'int8.drop_exceeds_threshold' must be true or false, got {exceeds!r}."
            )
        graph = _section(metadata, "graph", path)
        inputs, outputs = _signature(metadata, len(labels), path)
        return cls(
            labels=tuple(labels),
            max_length=metadata["max_length"],
            pad_token_id=metadata["pad_token_id"],
            pair=pair,
            truncation=truncation,
            long_documents=long_documents,
            window_overlap=window_overlap,
            task=task,
            thresholds=thresholds,
            temperature=temperature,
            label_separator=separator,
            int8_accuracy_drop_points=None if drop is None else float(drop),
            int8_exceeds_threshold=exceeds,
            source_run=_text(_section(metadata, "source", path), "source.run", path),
            converter=_text(graph, "graph.converter", path),
            op_counts=graph.get("op_counts"),
            inputs=inputs,
            outputs=outputs,
            e2e=_e2e(metadata, path),
            metadata=metadata,
        )


def _default(name: str) -> Any:
    """`ExportInfo`'s default for field `name`: what an export without the key means."""
    return next(item.default for item in fields(ExportInfo) if item.name == name)


def _given(metadata: dict[str, Any], key: str) -> Any:
    """`metadata[key]`, or the field's default for an export from before the key existed."""
    return metadata[key] if key in metadata else _default(key)


def _choice(metadata: dict[str, Any], key: str, choices: tuple[str, ...], path: Any) -> str:
    value = _given(metadata, key)
    if value not in choices:
        raise InputError(
            f"{path}: {key!r} must be one of {', '.join(map(str, choices))}, got {value!r}."
        )
    return value


def _multi_label(
    metadata: dict[str, Any], task: Task, labels: list[str], path: Any
) -> tuple[tuple[float, ...] | None, str]:
    """A multi-label export's thresholds (one per label, `check_thresholds`), and the label
    separator of any export."""
    separator = _given(metadata, "label_separator")
    if not isinstance(separator, str) or not separator:
        raise InputError(f"{path}: 'label_separator' must be a non-empty string.")
    if task is not Task.MULTI_LABEL:
        return None, separator
    if not isinstance(metadata.get("thresholds"), dict):
        raise InputError(
            f"{path}: a multi-label export needs 'thresholds' (label: threshold); re-export it."
        )
    thresholds = check_thresholds(metadata["thresholds"], labels, f"{path} 'thresholds'")
    return tuple(thresholds.tolist()), separator


def _temperature(metadata: dict[str, Any], task: Task, path: Any) -> float:
    """The temperature of `calibration` (`{"method": "temperature", "temperature": T}`); 1
    where it is absent or null."""
    calibration = _section(metadata, "calibration", path)
    if not calibration:
        return _default("temperature")
    if calibration.get("method") != "temperature":
        raise InputError(
            f"{path}: 'calibration.method' must be 'temperature', got "
            f"{calibration.get('method')!r}; re-export the model."
        )
    if task is Task.MULTI_LABEL:
        raise InputError(f"{path}: a multi-label export takes no 'calibration'; re-export it.")
    return check_temperature(calibration.get("temperature"), f"{path} 'calibration.temperature'")


def _signature(
    metadata: dict[str, Any], labels: int, path: Any
) -> tuple[tuple[GraphTensor, ...], tuple[GraphTensor, ...]]:
    """The graphs' inputs and outputs; for an older export, what its graphs declared
    (`LEGACY_INPUT_DTYPE`) under the names it recorded."""
    inputs = _given(metadata, "inputs")
    if isinstance(inputs, (list, tuple)) and all(isinstance(name, str) for name in inputs):
        inputs = [
            {"name": name, "dtype": LEGACY_INPUT_DTYPE, "shape": ["batch", "sequence"]}
            for name in inputs
        ]
    outputs = _given(metadata, "outputs")
    if "outputs" not in metadata and isinstance(metadata.get("output"), str):
        outputs = [
            {"name": metadata["output"], "dtype": LEGACY_OUTPUT_DTYPE, "shape": ["batch", labels]}
        ]
    return _tensors(inputs, "inputs", path), _tensors(outputs, "outputs", path)


def _e2e(metadata: dict[str, Any], path: Any) -> EndToEndGraphs | None:
    section = _section(metadata, "e2e", path)
    if not section:
        return None
    files = section.get("files")
    if (
        not isinstance(files, dict)
        or not files
        or any(
            variant not in E2E_FILES or not isinstance(name, str) for variant, name in files.items()
        )
    ):
        raise InputError(
            f"{path}: 'e2e.files' must map variants ({', '.join(E2E_FILES)}) to file names, "
            f"got {files!r}; re-export the model."
        )
    domain = _text(section, "e2e.custom_op_domain", path)
    version = _text(section, "e2e.onnxruntime_extensions", path)
    if domain is None or version is None:
        raise InputError(
            f"{path}: 'e2e' must name its custom_op_domain and onnxruntime_extensions version; "
            "re-export the model."
        )
    return EndToEndGraphs(
        files=dict(files),
        inputs=_tensors(section.get("inputs"), "e2e.inputs", path),
        outputs=_tensors(section.get("outputs"), "e2e.outputs", path),
        domain=domain,
        extensions_version=version,
    )


def _tensors(items: Any, key: str, path: Any) -> tuple[GraphTensor, ...]:
    if not isinstance(items, (list, tuple)):
        raise InputError(f"{path}: {key!r} must be a list, got {items!r}; re-export the model.")
    tensors = []
    for index, item in enumerate(items):
        shape = item.get("shape") if isinstance(item, dict) else None
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("name"), str)
            or not isinstance(item.get("dtype"), str)
            or not isinstance(shape, list)
            or not all(axis is None or isinstance(axis, str) or _is_count(axis) for axis in shape)
        ):
            raise InputError(
                f"{path}: '{key}[{index}]' must be an object with a name, a dtype and a shape "
                f"(axis names or sizes), got {item!r}; re-export the model."
            )
        tensors.append(GraphTensor(item["name"], item["dtype"], tuple(shape)))
    return tuple(tensors)


def _section(metadata: dict[str, Any], key: str, path: Any) -> dict[str, Any]:
    """A nested object of kerasbert.json (`int8`, `graph`, `source`); {} while it is null, as
    before the export filled it in, or in exports from before it existed."""
    value = metadata.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{path}: {key!r} must be an object or null, got {value!r}.")
    return value


def _text(section: dict[str, Any], name: str, path: Any) -> str | None:
    value = section.get(name.split(".")[-1])
    if value is not None and not isinstance(value, str):
        raise InputError(f"{path}: {name!r} must be a string, got {value!r}.")
    return value


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_metadata(model_dir: str | Path) -> dict[str, Any]:
    """`ExportDir(model_dir).read_metadata()`: the checked `kerasbert.json` as a dict."""
    return ExportDir(model_dir).read_metadata()
