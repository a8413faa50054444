"""The model card: an export's `README.md`, for the Hugging Face Hub and whoever gets the folder.

YAML front matter as the Hub reads it (`pipeline_tag`, `library_name`, `base_model`, `tags`,
`language`, the labels, and `model-index` with the test split's figures), then a few short
sections: what the model is for, its data, its scores beside the TF-IDF baseline, the int8
delta, thresholds and calibration, its limits, and how to call it from Python, the command line,
HTTP, transformers.js and plain onnxruntime in any language (input names, dtypes, shapes, the
truncation rule, post-processing), and, for an export with `--with-tokenizer`, how to load its
strings-in graph from Python, C# and Java.

Every figure is read from the records: the run's `metrics.json` and `data_summary.json` (through
`RunDir`), the export's `kerasbert.json` (through `ExportDir`), and the input and output types
from `kerasbert.json` where it records them, else from the ONNX graph itself.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kerasbert.common.decision import DEFAULT_THRESHOLD
from kerasbert.common.markdown import escape, number, table
from kerasbert.common.truncation import HEAD_TAIL_BUDGET, HEAD_TOKENS, head_tail_split
from kerasbert.common.windows import default_overlap
from kerasbert.config import TrainConfig
from kerasbert.data.readers import BUILTIN_DATASETS
from kerasbert.export.e2e import KNOWN_DIFFERENCES
from kerasbert.export.hf_files import BERT_SPECIAL_TOKENS, SavedTokenizer
from kerasbert.export.signature import graph_signature
from kerasbert.inference.exportdir import (
    E2E_FILES,
    HF_CONFIG_FILE,
    METADATA_FILE,
    MODEL_FILES,
    SPECIAL_TOKENS_FILE,
    TOKENIZER_CONFIG_FILE,
    TOKENIZER_FILE,
    ExportDir,
    ExportInfo,
    GraphTensor,
)
from kerasbert.training.rundir import RunDir, RunRecord

__all__ = [
    "base_model",
    "data_language",
    "data_name",
    "model_card",
    "graph_tensors",
    "write_model_card",
]

# Checkpoints kerasbert ships, by their Hub id: `--model minilm` is the packaged all-MiniLM-L6-v2.
PACKAGED_HUB_IDS = {"minilm": "sentence-transformers/all-MiniLM-L6-v2"}
# `owner/name`: a Hub id as `--model` takes it. A bare name could as well be a local folder's.
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
# The built-in data sets are made from the BBC News corpus, which is English.
BUILTIN_LANGUAGE = "en"
TAGS = ("onnx", "kerasbert", "text-classification")
# The folder opens in transformers.js (with the options the card gives); the Hub shows its snippet.
LIBRARY = "transformers.js"
# What the card's examples classify.
EXAMPLE_TEXT = "Some text to classify"
EXAMPLE_PAIR = ("The first text", "The second text")


def write_model_card(
    run: RunDir,
    export: ExportDir,
    name: str | None = None,
    info: ExportInfo | None = None,
    record: RunRecord | None = None,
) -> Path:
    """Write the export's `README.md` and return its path.

    Args:
        run: the run the export was made from (its metrics, data summary and settings).
        export: the export directory, its model files, `tokenizer.json` and `kerasbert.json`
            written.
        name: the folder's name, which the card's title and examples use (default: the
            directory's own name; an export being staged passes the name it will publish under).
        info: the export's `kerasbert.json`, checked (default: read from `export`).
        record: the run's record when the caller holds it already (default: read from `run`).

    Example:
    >>> write_model_card(RunDir("runs/news"), ExportDir("exported/news"))  # doctest: +SKIP
    PosixPath('exported/news/README.md')
    """
    card = model_card(run, export, name, info, record)
    temporary = export.model_card.with_name(export.model_card.name + ".tmp")
    temporary.write_text(card, encoding="utf-8")
    temporary.replace(export.model_card)
    return export.model_card


def model_card(
    run: RunDir,
    export: ExportDir,
    name: str | None = None,
    info: ExportInfo | None = None,
    record: RunRecord | None = None,
) -> str:
    """The card's text (see `write_model_card`)."""
    card = _Card.read(run, export, name, info, record)
    sections = [
        _header(card),
        _intended_use(card),
        _data(card),
        _results(card),
        _limits(card),
        _python_and_cli(card),
        _transformers_js(card),
        _onnxruntime(card),
        *([_raw_strings(card)] if card.info.e2e is not None else []),
        _files(card),
    ]
    matter = yaml.safe_dump(_front_matter(card), sort_keys=False, allow_unicode=True)
    return "---\n" + matter + "---\n\n" + "\n\n".join(sections) + "\n"


@dataclass(frozen=True)
class _Card:
    """What the card is made of, each record read once."""

    name: str
    info: ExportInfo
    record: RunRecord
    summary: Mapping[str, Any]
    metrics: Mapping[str, Any] | None
    inputs: tuple[GraphTensor, ...]
    output: GraphTensor
    specials: Mapping[str, str]

    @classmethod
    def read(
        cls,
        run: RunDir,
        export: ExportDir,
        name: str | None,
        info: ExportInfo | None,
        record: RunRecord | None = None,
    ) -> _Card:
        info = info if info is not None else export.read_info()
        inputs, output = graph_tensors(export, info)
        saved = SavedTokenizer.read(run.model, export.tokenizer)
        return cls(
            name=name or export.path.name,
            info=info,
            record=record if record is not None else run.read_record(),
            summary=run.read_data_summary(),
            metrics=run.read_metrics() if run.metrics.is_file() else None,
            inputs=inputs,
            output=output,
            specials={**BERT_SPECIAL_TOKENS, **saved.specials},
        )

    @property
    def settings(self) -> TrainConfig:
        return self.record.settings

    @property
    def labels(self) -> list[str]:
        return list(self.info.labels)

    @property
    def cls_token(self) -> str:
        return self.specials["cls_token"]

    @property
    def sep_token(self) -> str:
        return self.specials["sep_token"]

    @property
    def room(self) -> int:
        """Text tokens per sequence: max length less [CLS] and one [SEP] per text."""
        return self.info.max_length - (3 if self.info.pair else 2)

    @property
    def data_name(self) -> str:
        return data_name(self.settings)

    @property
    def test_size(self) -> int | None:
        if self.metrics is not None:
            return self.metrics.get("num_examples")
        sizes = self.record.split_sizes or {}
        return sizes.get("test", (self.info.metadata.get("int8") or {}).get("examples"))


# Front matter.


def _front_matter(card: _Card) -> dict[str, Any]:
    """The YAML front matter the Hub reads: task, library, base model, tags, language, the
    labels, and the test split's figures as a `model-index` entry."""
    matter: dict[str, Any] = {"pipeline_tag": "text-classification", "library_name": LIBRARY}
    base = base_model(card.settings.model)
    if base is not None:
        matter["base_model"] = base
    matter["tags"] = list(TAGS)
    language = data_language(card.settings)
    if language is not None:
        matter["language"] = [language]
    matter["labels"] = card.labels
    if card.metrics is not None:
        matter["model-index"] = [
            {
                "name": card.name,
                "results": [
                    {
                        "task": {"type": "text-classification", "name": "Text Classification"},
                        "dataset": {
                            "name": card.data_name,
                            "type": card.data_name,
                            "split": "test",
                        },
                        "metrics": _index_metrics(card.metrics, card.info.multi_label),
                    }
                ],
            }
        ]
    return matter


def _index_metrics(metrics: Mapping[str, Any], multi_label: bool) -> list[dict[str, Any]]:
    """The headline figures of `metrics.json`, as the Hub's model-index lists them."""
    if multi_label:
        chosen = [
            ("accuracy", "subset_accuracy", "Subset accuracy", None),
            ("f1", "micro_f1", "Micro-F1", "micro"),
            ("f1", "macro_f1", "Macro-F1", "macro"),
        ]
    else:
        chosen = [
            ("accuracy", "accuracy", "Accuracy", None),
            ("f1", "macro_f1", "Macro-F1", "macro"),
        ]
    entries = []
    for kind, key, title, average in chosen:
        if metrics.get(key) is None:
            continue
        entry: dict[str, Any] = {"type": kind, "value": float(metrics[key]), "name": title}
        if average is not None:
            entry["args"] = {"average": average}
        entries.append(entry)
    return entries


def base_model(checkpoint: str | None) -> str | None:
    """The Hub id of the checkpoint a run fine-tuned: the packaged one's, or `--model` when it
    was a Hub id (`owner/name`, not a folder here); None for a local folder.

    >>> base_model("minilm")
    'sentence-transformers/all-MiniLM-L6-v2'
    >>> base_model("/data/checkpoints/bert") is None
    True
    """
    if checkpoint is None:
        return None
    if checkpoint in PACKAGED_HUB_IDS:
        return PACKAGED_HUB_IDS[checkpoint]
    if HUB_ID.fullmatch(checkpoint) and not Path(checkpoint).expanduser().exists():
        return checkpoint
    return None


def data_language(settings: TrainConfig) -> str | None:
    """The language of the run's data where kerasbert knows it (its built-in sets), else None."""
    names = [settings.data, settings.validation_data, settings.test_data]
    given = [name for name in names if name]
    return BUILTIN_LANGUAGE if given and all(name in BUILTIN_DATASETS for name in given) else None


def data_name(settings: TrainConfig) -> str:
    """The test split's source by name: a built-in set's name or a file's name (never this
    machine's path: the export ships to other machines)."""
    source = settings.test_data or settings.data
    return source if source in BUILTIN_DATASETS else Path(str(source)).name


# Sections.


def _header(card: _Card) -> str:
    info, labels = card.info, card.labels
    base = base_model(card.settings.model)
    # A local checkpoint by its folder's name, as kerasbert.json records it: not this machine's
    # path.
    recorded = (info.metadata.get("source") or {}).get("checkpoint") or card.settings.model
    checkpoint = _code(base) if base else _code(Path(str(recorded)).name)
    packaged = (
        f" (`--model {card.settings.model}`)" if card.settings.model in PACKAGED_HUB_IDS else ""
    )
    what = (
        f"every label that applies to a {_unit(card)}, of {len(labels)}"
        if info.multi_label
        else f"one of {len(labels)} labels to each {_unit(card)}"
    )
    return "\n".join(
        [
            f"# {card.name}",
            "",
            f"A BERT text classifier fine-tuned with kerasbert from {checkpoint}{packaged} on "
            f"{_code(card.data_name)} and exported to ONNX. It gives {what}: "
            + ", ".join(_code(label) for label in labels)
            + ".",
        ]
    )


def _code(text: str) -> str:
    """`text` as a Markdown code span, in which nothing is escaped: its backticks and line breaks,
    which would end the span, made harmless."""
    return "`" + " ".join(text.replace("`", "'").split()) + "`"


def _unit(card: _Card) -> str:
    return "pair of texts" if card.info.pair else "text"


def _intended_use(card: _Card) -> str:
    info = card.info
    columns = card.summary.get("columns") or {}
    lines = ["## Intended use", ""]
    if info.pair:
        first, second = columns.get("text"), columns.get("text_pair")
        named = f" ({_code(first)}, {_code(second)})" if first and second else ""
        lines.append(
            f"Classifying pairs of texts{named} like those of {_code(card.data_name)}: the "
            "order matters, the first text of a pair is always the first input."
        )
    else:
        lines.append(f"Classifying texts like those of {_code(card.data_name)}.")
    lines[-1] += (
        " It runs offline on onnxruntime, in any language onnxruntime has bindings for, with no "
        "TensorFlow. It was trained and tested on that data alone: measure it on your own "
        "labelled texts before relying on it elsewhere (`kerasbert evaluate RUN --data FILE` "
        "scores the run on any labelled file)."
    )
    return "\n".join(lines)


def _data(card: _Card) -> str:
    lines = ["## Data", ""]
    sizes = dict(card.record.split_sizes or {})
    counts = card.summary.get("class_counts") or {}
    if not sizes and not counts:
        return "\n".join([*lines, "The run recorded no data summary (`data_summary.json`)."])
    splits = list(sizes) or list(counts)
    unit = "examples carrying each label" if card.info.multi_label else "examples per label"
    lines.append(f"{_code(card.data_name)}, split {', '.join(splits)} ({unit}):")
    lines.append("")
    rows = [
        [escape(label), *(number((counts.get(split) or {}).get(label)) for split in splits)]
        for label in card.labels
    ]
    if sizes:
        rows.append(["**all**", *(number(sizes.get(split)) for split in splits)])
    lines += table(["label", *splits], rows)
    facts = []
    imbalance = card.summary.get("imbalance") or {}
    ratio = imbalance.get("largest_to_smallest")
    if ratio is not None and ratio <= 1:
        facts.append("Imbalance: none, every class has as many training examples.")
    elif ratio is not None:
        weights = "balanced class weights" if imbalance.get("resolved") == "balanced" else "none"
        facts.append(
            f"Imbalance: the largest class has {imbalance['largest_to_smallest']:g} times the "
            f"training examples of the smallest (loss weights: {weights})."
        )
    if card.record.duplicates_dropped is not None:
        facts.append(
            f"Exact duplicates dropped before splitting: {card.record.duplicates_dropped}."
        )
    conflicting = card.summary.get("conflicting_duplicates_dropped")
    if conflicting:
        facts.append(f"Duplicates with conflicting labels dropped: {conflicting}.")
    if facts:
        lines += ["", *(f"- {fact}" for fact in facts)]
    return "\n".join(lines)


def _results(card: _Card) -> str:
    lines = ["## Results", ""]
    metrics, info = card.metrics, card.info
    if metrics is None:
        lines.append(
            "The run has no test metrics (`metrics.json`); `kerasbert evaluate RUN` writes them."
        )
    else:
        baseline = metrics.get("baseline") or {}
        lines.append(
            f"On the {metrics.get('num_examples')} examples of the test split, scored with "
            "TensorFlow before export, beside a TF-IDF + logistic regression baseline trained "
            "on the same training split:"
        )
        lines.append("")
        rows = [
            [title, number(metrics.get(key)), number(baseline.get(key)) if baseline else "–"]
            for key, title in _result_rows(info.multi_label)
            if metrics.get(key) is not None
        ]
        lines += table(["test split", "this model", "TF-IDF baseline"], rows)
    int8 = info.metadata.get("int8") or {}
    if int8.get("fp32") and int8.get("int8"):
        lines += ["", _int8_sentence(int8, info)]
    if info.multi_label and info.thresholds is not None:
        lines += ["", *_thresholds(card)]
    return "\n".join(lines)


def _result_rows(multi_label: bool) -> list[tuple[str, str]]:
    if multi_label:
        return [
            ("micro_f1", "micro-F1"),
            ("macro_f1", "macro-F1"),
            ("subset_accuracy", "subset accuracy"),
            ("hamming_loss", "Hamming loss"),
            ("log_loss", "log loss"),
        ]
    return [
        ("accuracy", "accuracy"),
        ("macro_f1", "macro-F1"),
        ("log_loss", "log loss"),
        ("expected_calibration_error", "expected calibration error"),
    ]


def _int8_sentence(int8: Mapping[str, Any], info: ExportInfo) -> str:
    accuracy = "subset accuracy" if info.multi_label else "accuracy"
    fp32, quantized = int8["fp32"], int8["int8"]
    agreement = int8.get("prediction_agreement")
    same = "label sets" if info.multi_label else "labels"
    sentence = (
        f"int8 (`{MODEL_FILES['int8']}`) against fp32 (`{MODEL_FILES['fp32']}`) on the "
        f"{int8.get('examples')} test examples, with the exported predictor: {accuracy} "
        f"{number(quantized.get('accuracy'))} vs {number(fp32.get('accuracy'))} "
        f"({_points(int8.get('accuracy_drop_points'))}), macro-F1 "
        f"{number(quantized.get('macro_f1'))} vs {number(fp32.get('macro_f1'))} "
        f"({_points(int8.get('macro_f1_drop_points'))})"
    )
    if agreement is not None:
        sentence += f"; the same {same} for {100 * agreement:.2f}% of them"
    if info.int8_exceeds_threshold:
        sentence += (
            f". int8 lost more than {number(int8.get('threshold_points'), 2)} points, so the "
            "predictor uses fp32 unless asked otherwise."
        )
    else:
        sentence += ". The predictor uses int8 unless asked otherwise."
    return sentence


def _points(drop: float | None) -> str:
    # + 0.0: no drop reads +0.00, not -0.00.
    return "–" if drop is None else f"{-drop + 0.0:+.2f} points"


def _thresholds(card: _Card) -> list[str]:
    tuned = (card.metrics or {}).get("thresholds_from")
    origin = (
        "tuned on the validation split (each label's best F1)"
        if tuned == "validation"
        else f"{DEFAULT_THRESHOLD:g} where the run tuned none"
        if tuned
        else "as recorded in `kerasbert.json`"
    )
    rows = [
        [escape(label), f"{threshold:.4g}"]
        for label, threshold in zip(card.labels, card.info.thresholds or ())
    ]
    return [
        f"A label applies when its sigmoid probability reaches its threshold, {origin}:",
        "",
        *table(["label", "threshold"], rows),
    ]


def _truncation_rule(card: _Card) -> str:
    """How a too-long input is cut (or windowed), in words, with this export's numbers."""
    info, room = card.info, card.room
    cls_token, sep_token = f"`{card.cls_token}`", f"`{card.sep_token}`"
    if info.windows:
        overlap = info.window_overlap if info.window_overlap is not None else default_overlap(room)
        return (
            f"a text longer than {info.max_length} tokens is split into windows of {room} text "
            f"tokens, each wrapped in {cls_token} … {sep_token}, that step by {room - overlap} "
            f"tokens ({overlap} shared by neighbours), the last one ending at the text's end; "
            "the text's probabilities are the mean of its windows' probabilities"
        )
    if info.truncation == "head":
        kept = f"its first {room} text tokens"
        share = "from its start"
    elif info.truncation == "tail":
        kept = f"its last {room} text tokens"
        share = "from its end"
    else:
        head, tail = head_tail_split(room)
        kept = f"its first {head} and last {tail} text tokens"
        share = f"{HEAD_TOKENS}/{HEAD_TAIL_BUDGET} of it from its start, the rest from its end"
    if info.pair:
        return (
            f"a pair longer than {info.max_length} tokens is cut longest first: the shorter text "
            f"stays whole if the longer one can make room, else each gets half of the {room} "
            f"text tokens; each text keeps its share {share} (`truncation: {info.truncation}`), "
            "and the special tokens always stay"
        )
    return (
        f"a text longer than {info.max_length} tokens keeps {cls_token}, {kept} and its final "
        f"{sep_token} (`truncation: {info.truncation}`)"
    )


def _cut_share(card: _Card) -> str:
    """How many test inputs were longer than the max length, as the data summary counted."""
    lengths = (card.summary.get("token_lengths") or {}).get("test") or {}
    cut, size = lengths.get("truncated"), (card.record.split_sizes or {}).get("test")
    if cut is None or not size:
        return ""
    verb = "split into windows" if card.info.windows else "cut"
    return f" In the test split, {cut} of {size} inputs ({100 * cut / size:.0f}%) were {verb}."


def _limits(card: _Card) -> str:
    info = card.info
    language = data_language(card.settings)
    tested = card.test_size
    lines = [
        "## Limits",
        "",
        f"- Length: {info.max_length} tokens per input, `{card.cls_token}` and "
        f"`{card.sep_token}` included; {_truncation_rule(card)}.{_cut_share(card)}",
        "- Language: "
        + (
            f"`{language}`, the language of its training data."
            if language
            else "that of its training data (kerasbert does not record it)."
        ),
        f"- Tested on {tested if tested is not None else 'the'} held-out examples of "
        f"{_code(card.data_name)} only: not on texts from other sources, periods or "
        "languages, nor on labels it was not trained on.",
    ]
    if not info.multi_label:
        lines.append(
            "- Every text gets one of its labels, also a text that belongs to none: there is no "
            '"other" unless the data had one.'
        )
    return "\n".join(lines)


def _python_and_cli(card: _Card) -> str:
    folder = card.name
    python_folder = json.dumps(folder)
    shell_folder = shlex.quote(folder)
    if card.info.pair:
        first, second = EXAMPLE_PAIR
        call = f"classifier.predict([({json.dumps(first)}, {json.dumps(second)})])"
        body = json.dumps({"pairs": [list(EXAMPLE_PAIR)]})
        predict = f"kerasbert predict {shell_folder} --input pairs.csv --output predictions.csv"
    else:
        call = f"classifier.predict([{json.dumps(EXAMPLE_TEXT)}])"
        body = json.dumps({"texts": [EXAMPLE_TEXT], "top_k": min(2, len(card.labels))})
        predict = f"kerasbert predict {shell_folder} {shlex.quote(EXAMPLE_TEXT)}"
    answer = (
        "a list of labels per input (those at or above their thresholds)"
        if card.info.multi_label
        else "one label per input"
    )
    answer_http = "`labels` (a list)" if card.info.multi_label else "`label`"
    return "\n".join(
        [
            "## How to call it",
            "",
            "Paths below are this folder's; give its path from where the code runs.",
            "",
            "### Python",
            "",
            "kerasbert's base install (numpy, onnxruntime and tokenizers; no TensorFlow):",
            "",
            "```python",
            "from kerasbert import OnnxClassifier",
            "",
            f"classifier = OnnxClassifier({python_folder})",
            f"{call}  # {answer}",
            "```",
            "",
            "### Command line and HTTP",
            "",
            "```bash",
            predict,
            f"kerasbert serve {shell_folder}  # pip install 'kerasbert[serve]'; 127.0.0.1:8000",
            "curl -s 127.0.0.1:8000/v1/classify -H 'content-type: application/json' "
            f"-d {shlex.quote(body)}",
            "```",
            "",
            f'The server answers `{{"results": [...]}}`, one per input in order, each with '
            f"{answer_http} and `probabilities` (label: probability)."
            + (
                " A pair model takes `pairs`, a list of `[text, text_pair]`."
                if card.info.pair
                else ""
            ),
        ]
    )


def _transformers_js(card: _Card) -> str:
    info = card.info
    file_name = Path(MODEL_FILES[info.recommended_variant]).stem
    other = Path(MODEL_FILES["fp32" if info.recommended_variant == "int8" else "int8"]).stem
    options = [
        '  subfolder: "",  // the model files are in the folder itself, not in onnx/',
        f'  model_file_name: "{file_name}",  // {file_name}.onnx; "{other}" loads {other}.onnx',
        '  dtype: "fp32",  // no file-name suffix: the file is loaded as named',
    ]
    code = _pair_js(card, options) if info.pair else _pipeline_js(card, options)
    lines = [
        "### transformers.js (Node)",
        "",
        "The folder is a Hugging Face model folder (`config.json`, `tokenizer.json`, "
        "`tokenizer_config.json`) whose model files sit beside them rather than in `onnx/`; "
        "these options load them:",
        "",
        "```js",
        *code,
        "```",
        "",
        f"- It cuts an input longer than {info.max_length} tokens its own way (a single text at "
        f"{info.max_length} tokens, dropping the final `{card.sep_token}` that kerasbert and "
        "Python transformers keep): on such inputs its probabilities can differ by a tenth or "
        "more from the Python predictor's, and now and then its label. For the same "
        "probabilities, encode the ids yourself as below (kerasbert's repository shows both in "
        "`examples/node/kerasbert.mjs`) and run the model with onnxruntime.",
        "- int8 needs transformers.js 4 (onnxruntime-node 1.30 or later) for the Python "
        "predictor's int8 probabilities; transformers.js 3 bundles onnxruntime 1.21, whose int8 "
        "kernels round differently.",
        "- In a browser also set `env.allowLocalModels = true`, load the folder by URL, and "
        "point `env.backends.onnx.wasm.wasmPaths` at a local copy of onnxruntime-web's wasm "
        "files (else they come from a CDN).",
    ]
    if info.multi_label:
        lines.append(
            "- `config.json` says `multi_label_classification`: the scores are sigmoids (the "
            "pipeline takes them, and `top_k: null` returns every label's), and the labels that "
            "apply are those whose score reaches its threshold (the table above), which "
            "transformers.js does not apply."
        )
    if info.pair:
        lines.append(
            "- The `text-classification` pipeline takes single texts only (Python transformers' "
            "takes `{text, text_pair}`, transformers.js's does not), so a pair goes through the "
            f"tokenizer's `text_pair`, which builds `{card.cls_token} text {card.sep_token} "
            f"text_pair {card.sep_token}` with token_type_ids 0 then 1."
        )
    if info.windows:
        lines.append(
            "- The pipeline does not split long texts into windows: run the windows yourself "
            "and average their probabilities (Limits)."
        )
    return "\n".join(lines)


def _pipeline_js(card: _Card, options: list[str]) -> list[str]:
    """transformers.js's text-classification pipeline on this folder."""
    folder = json.dumps("./" + card.name)
    return [
        'import { pipeline, env } from "@huggingface/transformers";',
        "",
        "env.allowRemoteModels = false;  // this folder only, never the Hub",
        f'const classifier = await pipeline("text-classification", {folder}, {{',
        *options,
        "});",
        f"console.log(await classifier({json.dumps(EXAMPLE_TEXT)}, {{ top_k: null }}));  "
        "// every label's score, best first",
    ]


def _pair_js(card: _Card, options: list[str]) -> list[str]:
    """transformers.js's tokenizer and model on this folder, for text pairs."""
    folder = json.dumps("./" + card.name)
    first, second = (json.dumps(text) for text in EXAMPLE_PAIR)
    scores = (
        "logits.sigmoid().tolist()"
        if card.info.multi_label
        else "logits.tolist().map((row) => softmax(row))"
    )
    return [
        "import { AutoTokenizer, AutoModelForSequenceClassification, env, softmax } from "
        '"@huggingface/transformers";',
        "",
        "env.allowRemoteModels = false;  // this folder only, never the Hub",
        f"const tokenizer = await AutoTokenizer.from_pretrained({folder});",
        f"const model = await AutoModelForSequenceClassification.from_pretrained({folder}, {{",
        *options,
        "});",
        f"const inputs = tokenizer([{first}], {{ text_pair: [{second}], padding: true, "
        "truncation: true });",
        "const { logits } = await model(inputs);",
        f"console.log({scores});  // per pair, each label's score in id2label order",
    ]


def _onnxruntime(card: _Card) -> str:
    info = card.info
    meanings = {
        "input_ids": f"token ids from `{TOKENIZER_FILE}`, padded on the right with "
        f"{info.pad_token_id} (`{card.specials['pad_token']}`)",
        "attention_mask": "1 for a token, 0 for padding",
        "token_type_ids": (
            f"0 for `{card.cls_token}`, the first text and its `{card.sep_token}`; 1 for the "
            f"second text and its `{card.sep_token}`"
            if info.pair
            else "0 everywhere"
        ),
    }
    rows = [
        [f"`{spec.name}`", spec.dtype, _shape(spec.shape), meanings.get(spec.name, "")]
        for spec in card.inputs
    ]
    output = card.output
    rows.append(
        [
            f"`{output.name}` (output)",
            output.dtype,
            _shape(output.shape),
            f"one score per label, in `{METADATA_FILE}` `labels` order",
        ]
    )
    encode = (
        f"`{card.cls_token} a {card.sep_token} b {card.sep_token}`"
        if info.pair
        else f"`{card.cls_token} text {card.sep_token}`"
    )
    if info.multi_label:
        decide = (
            "a sigmoid per score, `p = 1 / (1 + exp(-logit))`; a label applies when its `p` "
            "reaches its threshold (the table above, also `thresholds` in "
            f"`{METADATA_FILE}`)"
        )
    elif info.temperature != 1.0:
        decide = (
            f"a softmax over `logits / {info.temperature:.4g}` (the fitted temperature, "
            f"`calibration.temperature` in `{METADATA_FILE}`; it changes no label); the label is "
            "the most probable (argmax)"
        )
    else:
        decide = "a softmax over the scores; the label is the most probable (argmax)"
    steps = [
        f"1. Encode each input with `{TOKENIZER_FILE}` (any Hugging Face tokenizers binding: "
        f"Rust, Python, `@huggingface/tokenizers` in JavaScript), with its special tokens and "
        f"without truncation: {encode}.",
        f"2. Cut it as training did: {_truncation_rule(card)}.",
        "3. Pad the batch to its longest input and build the three inputs below.",
        f"4. Run the model, then decide: {decide}"
        + (", after averaging the windows' probabilities per text." if info.windows else "."),
    ]
    arguments = "texts, text_pairs" if info.pair else "texts"
    python_match = (
        f"In Python, `AutoTokenizer.from_pretrained(folder)({arguments}, truncation=True, "
        f"padding=True)` gives the same ids (transformers keeps the final `{card.sep_token}`)."
        if info.truncation in ("head", "tail") and not info.windows
        else ""
    )
    return "\n".join(
        [
            "### onnxruntime in any language",
            "",
            *steps,
            "",
            *([python_match, ""] if python_match else []),
            *table(["tensor", "dtype", "shape", "value"], rows),
        ]
    )


def _raw_strings(card: _Card) -> str:
    """How to load the end-to-end graphs (`--with-tokenizer`) in Python, C# and Java."""
    info, graphs = card.info, card.info.e2e
    fp32, int8 = E2E_FILES["fp32"], E2E_FILES["int8"]
    names = [tensor.name for tensor in graphs.inputs]
    example = json.dumps(EXAMPLE_TEXT)
    output = graphs.outputs[0]
    inputs = " and ".join(
        f"`{tensor.name}` {tensor.dtype} {_shape(tensor.shape)}" for tensor in graphs.inputs
    )
    python_feeds = ", ".join(
        f'"{name}": np.array([{json.dumps(text)}], dtype=object)'
        for name, text in zip(names, EXAMPLE_PAIR if info.pair else (EXAMPLE_TEXT,))
    )
    if info.multi_label:
        decide = "a sigmoid per logit, then each label's threshold (above)"
    elif info.temperature != 1.0:
        decide = (
            f"a softmax over `logits / {info.temperature:.4g}` (the fitted temperature, "
            f"`calibration.temperature` in `{METADATA_FILE}`; the label is the argmax either way)"
        )
    else:
        decide = "a softmax over the logits; the label is the argmax"
    record = info.metadata.get("e2e") or {}
    operators = " and ".join(f"`{op}`" for op in record.get("custom_ops", [])) or "operators"
    checks = record.get("checks") or {}
    checked = "; ".join(
        f"`{E2E_FILES[variant]}` against the {variant} predictor on {figures['texts']} test "
        f"inputs (batches of {figures['batch_size']}): max |Δlogit| "
        f"{figures['max_abs_logit_difference']:.1e}, labels agree on "
        f"{100 * figures['label_agreement']:.0f}%"
        for variant, figures in checks.items()
    )
    pair_note = (
        [
            "",
            "C# and Java feed `text_pair` beside `text` the same way (a second entry in the "
            "inputs).",
        ]
        if info.pair
        else []
    )
    return "\n".join(
        [
            "### Raw strings in: onnxruntime-extensions",
            "",
            f"`{fp32}` (fp32) and `{int8}` (int8) take the texts themselves, {inputs}, and "
            f"return `{output.name}` {output.dtype} {_shape(output.shape)}; then decide with "
            f"{decide}. The tokenizer runs inside: onnxruntime-extensions' {operators} "
            f"(custom-op domain `{graphs.domain}`, written with onnxruntime-extensions "
            f"{graphs.extensions_version}), cut as above ({_truncation_rule(card)}), a batch "
            "padded to its longest input. (An export trained on windows of long documents gets "
            "no such graph: `--with-tokenizer` refuses it, as logits cannot carry the mean of "
            "the windows' probabilities.) Register the extensions' library with the session:",
            "",
            "```python",
            "# pip install onnxruntime onnxruntime-extensions",
            "import numpy as np",
            "import onnxruntime as ort",
            "from onnxruntime_extensions import get_library_path",
            "",
            "options = ort.SessionOptions()",
            "options.register_custom_ops_library(get_library_path())",
            f'session = ort.InferenceSession("{fp32}", options, '
            'providers=["CPUExecutionProvider"])',
            f'logits = session.run(["{output.name}"], {{{python_feeds}}})[0]',
            "```",
            "",
            "```csharp",
            "// NuGet: Microsoft.ML.OnnxRuntime, Microsoft.ML.OnnxRuntime.Extensions",
            "using System.Linq;",
            "using Microsoft.ML.OnnxRuntime;",
            "using Microsoft.ML.OnnxRuntime.Tensors;",
            "",
            "using var options = new SessionOptions();",
            "options.RegisterOrtExtensions();",
            f'using var session = new InferenceSession("{fp32}", options);',
            f"var text = new DenseTensor<string>(new[] {{ {example} }}, new[] {{ 1 }});",
            "using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("
            f'"{names[0]}", text) }});',
            "// row-major [batch, labels]",
            "float[] logits = results.First().AsEnumerable<float>().ToArray();",
            "```",
            "",
            "```java",
            "// Maven: com.microsoft.onnxruntime:onnxruntime, "
            "com.microsoft.onnxruntime:onnxruntime-extensions",
            "import ai.onnxruntime.*;",
            "import ai.onnxruntime.extensions.OrtxPackage;",
            "",
            "OrtEnvironment env = OrtEnvironment.getEnvironment();",
            "OrtSession.SessionOptions options = new OrtSession.SessionOptions();",
            "options.registerCustomOpLibrary(OrtxPackage.getLibraryPath());",
            f'OrtSession session = env.createSession("{fp32}", options);',
            f"OnnxTensor text = OnnxTensor.createTensor(env, new String[] {{{example}}});",
            f'float[][] logits = (float[][]) session.run(Map.of("{names[0]}", text))'
            ".get(0).getValue();",
            "```",
            *pair_note,
            "",
            *([f"Checked at export: {checked}.", ""] if checked else []),
            "The operator reads a few inputs otherwise than `tokenizer.json` (and so than the "
            f"predictor): {KNOWN_DIFFERENCES}. For such texts use the predictor or the "
            "tokenizer route above.",
        ]
    )


def _shape(shape: Sequence[int | str | None]) -> str:
    # None: an axis the graph leaves open without naming it.
    return "[" + ", ".join("?" if axis is None else str(axis) for axis in shape) + "]"


def _files(card: _Card) -> str:
    recommended = card.info.recommended_variant
    rows = [
        [f"`{MODEL_FILES['fp32']}`", "fp32, checked against TensorFlow"],
        [f"`{MODEL_FILES['optimized']}`", "fp32 with onnxruntime's graph optimizations applied"],
        [f"`{MODEL_FILES['int8']}`", "dynamic int8, smaller and faster on CPUs"],
        [f"`{TOKENIZER_FILE}`", "the training tokenizer"],
        [f"`{HF_CONFIG_FILE}`", "model type, labels, problem type, encoder shape"],
        [f"`{TOKENIZER_CONFIG_FILE}`, `{SPECIAL_TOKENS_FILE}`", "max length, special tokens"],
        [f"`{METADATA_FILE}`", "kerasbert's record: inputs, checks, int8 figures, versions"],
    ]
    if card.info.e2e is not None:
        rows[3:3] = [
            [
                f"`{E2E_FILES['fp32']}`, `{E2E_FILES['int8']}`",
                "strings in, logits out: the tokenizer inside (onnxruntime-extensions)",
            ]
        ]
    rows[["fp32", "optimized", "int8"].index(recommended)][1] += " (the predictor's default)"
    return "\n".join(["## Files", "", *table(["file", "contents"], rows)])


# Input and output types.


def graph_tensors(
    export: ExportDir, info: ExportInfo
) -> tuple[tuple[GraphTensor, ...], GraphTensor]:
    """The graphs' inputs and output as `kerasbert.json` records them (`ExportInfo.inputs`,
    `outputs`), or, for an export whose record does not say, as its fp32 graph declares them
    (every model file of an export takes the same inputs)."""
    if info.inputs and info.outputs:
        return info.inputs, info.outputs[0]
    declared = graph_signature(export.model_path("fp32"))
    inputs, outputs = (
        tuple(GraphTensor(item["name"], item["dtype"], tuple(item["shape"])) for item in items)
        for items in (declared["inputs"], declared["outputs"])
    )
    return inputs, outputs[0]
