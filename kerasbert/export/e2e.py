"""Raw strings in, logits out: the export's graph with its tokenizer inside (`--with-tokenizer`).

`write_e2e(model_path, tokenizer_path, output_path, ...)` writes one ONNX file that takes a
string tensor `text` `[batch]` (and `text_pair` `[batch]` for a model of text pairs) and returns
the float32 `logits` `[batch, labels]` of the graph at `model_path`, so an app with no tokenizer
library (C#, Java, C++, a mobile app) sends strings and reads scores. The strings are tokenized by
onnxruntime-extensions' operators (domain `ai.onnx.contrib`), whose library the app registers
with its session (`onnxruntime_extensions.get_library_path()` in Python,
`SessionOptions.RegisterOrtExtensions()` in C#, `OrtxPackage.getLibraryPath()` in Java):
`BasicTokenizer` (BERT's normalizer and word split) and `WordpieceTokenizer`, whose token
strings an `ai.onnx.ml` `LabelEncoder` turns into ids. Both of the extensions' WordPiece
implementations keep the pieces of a word they cannot finish ("investors" → `in [UNK]` over a
vocabulary without `##vestors`), where `tokenizer.json` gives the whole word one `[UNK]`;
`WordpieceTokenizer` says where each word's pieces are, so the graph drops those pieces. The
one-step `BertTokenizer` operator returns ids alone, and cuts only at the head.

The operators tokenize one text per call, so the graph runs them in an ONNX `Loop` over the
batch and does the rest in standard ops, exactly as `kerasbert.inference.predictor.TextEncoder`
does in Python:

- each text is tokenized in full;
- the export's truncation rule (`kerasbert.common.truncation`: a pair cut longest first, each
  text's share kept by `head`, `tail` or `head_tail`) picks the tokens that stay;
- `[CLS] text [SEP]` (`[CLS] text [SEP] text_pair [SEP]`, segment ids 0 then 1) is padded to
  `max_length` inside the loop, and the batch is then cut to its longest row, as the predictor
  pads a batch to its longest sequence.

An export trained on windows of long documents (`long_documents: windows`) averages the windows'
probabilities, which no logits output can carry: `--with-tokenizer` refuses it.

The operators agree with `tokenizer.json` on the texts the export checks (every test text, at
export), but not on every string: they strip only the accents they know (not Vietnamese stacked
diacritics, Greek tonos or Indic vowel signs, which the `tokenizers` library removes after
Unicode decomposition), keep Hangul syllables whole (the library splits them into jamo), split
symbols such as emoji off the word they touch, read a string only up to a NUL character, keep
format characters such as a byte-order mark, and read the literal special tokens `[CLS]`,
`[SEP]`, `[UNK]`, `[MASK]`, `[PAD]` in a text as punctuation and words. `KNOWN_DIFFERENCES` says
so in the model card.

onnxruntime-extensions is an optional extra (`pip install "kerasbert[e2e]"`); only this module
imports it, and only when the graph is written or run.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from kerasbert.common.decision import decide_labels, to_probabilities
from kerasbert.common.errors import InputError
from kerasbert.common.names import LOGITS, MODEL_INPUT_NAMES
from kerasbert.common.truncation import HEAD_TAIL_BUDGET, HEAD_TOKENS, check_truncation
from kerasbert.export.parity import ParityError
from kerasbert.export.signature import graph_signature
from kerasbert.inference.exportdir import E2E_FILES, ExportDir
from kerasbert.inference.predictor import DEFAULT_BATCH_SIZE, OnnxClassifier

logger = logging.getLogger(__name__)

__all__ = [
    "CUSTOM_OP_DOMAIN",
    "CUSTOM_OPS",
    "E2E_EXTRA",
    "E2E_TOLERANCE",
    "KNOWN_DIFFERENCES",
    "TEXT_INPUTS",
    "WordPiece",
    "check_available",
    "compare_with_predictor",
    "e2e_session",
    "extensions_version",
    "read_wordpiece",
    "write_e2e",
    "write_export_e2e",
]

CUSTOM_OP_DOMAIN = "ai.onnx.contrib"
CUSTOM_OPS = ("BasicTokenizer", "WordpieceTokenizer")
ML_DOMAIN = "ai.onnx.ml"
# LabelEncoder with string keys and int64 values (`keys_strings`, `values_int64s`) since 2.
ML_OPSET = 3
DOMAINS = {op: CUSTOM_OP_DOMAIN for op in CUSTOM_OPS} | {"LabelEncoder": ML_DOMAIN}
EXTENSIONS_PACKAGE = "onnxruntime-extensions"
E2E_EXTRA = 'pip install "kerasbert[e2e]"'
# The string inputs: the first text, and the second of a pair.
TEXT_INPUTS = ("text", "text_pair")
# A word longer than this is one [UNK] (WordPiece's default, which tokenizer.json states).
MAX_WORD_CHARACTERS = 100
KNOWN_DIFFERENCES = (
    "accents the operators do not strip (Vietnamese stacked diacritics, Greek tonos, Indic "
    "vowel signs), Hangul syllables (tokenizer.json splits them into jamo), symbols such as "
    "emoji written against a word, text after a NUL character, format characters such as a "
    "byte-order mark, and the literal special tokens [CLS], [SEP], [UNK], [MASK], [PAD] "
    "written in a text"
)
# The end-to-end graph's logits against the predictor's on the same texts: the same token ids
# reach the same graph, so only the summation order of another batch can differ, far below this.
E2E_TOLERANCE = 1e-4
# int8 quantizes each batch's activations with one scale, so it is compared a text at a time,
# on both sides, where batch composition cannot enter.
CHECK_BATCH = {"fp32": DEFAULT_BATCH_SIZE, "int8": 1}
# Where every name the tokenizer part adds to the graph starts, so none meets a model name.
PREFIX = "e2e/"


@dataclass(frozen=True)
class WordPiece:
    """What the operators need of a BERT `tokenizer.json`: the vocabulary, the normalizer's
    switches, WordPiece's settings, and the special tokens the graph adds around the text."""

    vocabulary: dict[str, int]
    lowercase: bool
    strip_accents: bool
    chinese_characters: bool
    unknown_token: str
    subword_prefix: str
    max_word_characters: int
    cls_id: int
    sep_id: int

    @property
    def unknown_id(self) -> int:
        return self.vocabulary[self.unknown_token]


def read_wordpiece(tokenizer_path: str | Path) -> WordPiece:
    """Read a BERT WordPiece `tokenizer.json` as the operator takes it.

    Raises `InputError` naming the file and what the operators cannot reproduce (another model,
    normalizer, pre-tokenizer or post-processor than BERT's).
    """
    path = Path(tokenizer_path)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path} is not a readable tokenizer.json ({error}).") from error
    refuse = f"--with-tokenizer reproduces BERT's WordPiece tokenizer only; {path}"
    model = spec.get("model") or {}
    if model.get("type") != "WordPiece":
        raise InputError(f"{refuse} has a {model.get('type')!r} model.")
    normalizer = spec.get("normalizer") or {}
    if normalizer.get("type") != "BertNormalizer" or not normalizer.get("clean_text", True):
        raise InputError(
            f"{refuse} has the normalizer {normalizer.get('type')!r} (clean_text "
            f"{normalizer.get('clean_text')!r}); the operators are BertNormalizer with clean_text."
        )
    if (spec.get("pre_tokenizer") or {}).get("type") != "BertPreTokenizer":
        raise InputError(f"{refuse} does not split words with BertPreTokenizer.")
    vocabulary = _vocabulary(model.get("vocab") or {}, path)
    cls_token, sep_token = _special_tokens(spec.get("post_processor") or {}, path)
    for token in (cls_token, sep_token, model.get("unk_token", "[UNK]")):
        if token not in vocabulary:
            raise InputError(f"{path}: the special token {token!r} is not in the vocabulary.")
    lowercase = bool(normalizer.get("lowercase", True))
    strip_accents = normalizer.get("strip_accents")
    return WordPiece(
        vocabulary=vocabulary,
        lowercase=lowercase,
        # As BertNormalizer: unset means "as lowercase" (uncased BERT strips accents).
        strip_accents=lowercase if strip_accents is None else bool(strip_accents),
        chinese_characters=bool(normalizer.get("handle_chinese_chars", True)),
        unknown_token=model.get("unk_token", "[UNK]"),
        subword_prefix=model.get("continuing_subword_prefix", "##"),
        max_word_characters=int(model.get("max_input_chars_per_word", MAX_WORD_CHARACTERS)),
        cls_id=vocabulary[cls_token],
        sep_id=vocabulary[sep_token],
    )


def _vocabulary(vocab: Any, path: Path) -> dict[str, int]:
    if (
        not isinstance(vocab, dict)
        or not vocab
        or any(
            isinstance(index, bool) or not isinstance(index, int) or index < 0
            for index in vocab.values()
        )
    ):
        raise InputError(f"{path}: the WordPiece vocabulary must map tokens to ids from 0.")
    return dict(vocab)


def _special_tokens(post_processor: dict[str, Any], path: Path) -> tuple[str, str]:
    """The [CLS] and [SEP] tokens of BERT's `[CLS] A [SEP]` / `[CLS] A [SEP] B [SEP]` template."""
    kind = post_processor.get("type")
    if kind == "BertProcessing":
        return post_processor["cls"][0], post_processor["sep"][0]
    if kind == "TemplateProcessing":
        single = [_piece(piece) for piece in post_processor.get("single", [])]
        pair = [_piece(piece) for piece in post_processor.get("pair", [])]
        if (
            len(single) == 3
            and single[1] == ("A", 0)
            and single[0][1] == single[2][1] == 0
            and pair == [single[0], ("A", 0), single[2], ("B", 1), (single[2][0], 1)]
        ):
            return single[0][0], single[2][0]
    raise InputError(
        f"{path}: the post-processor is not BERT's [CLS] text [SEP] (text_pair [SEP]) template, "
        "which is what the graph adds around the tokens."
    )


def _piece(piece: dict[str, Any]) -> tuple[str, int]:
    ((_, value),) = piece.items()
    return value["id"], value["type_id"]


def extensions_version() -> str:
    """The installed onnxruntime-extensions' version, or an `InputError` saying how to install
    it."""
    try:
        importlib.import_module("onnxruntime_extensions")
        return importlib.metadata.version(EXTENSIONS_PACKAGE)
    except (ImportError, importlib.metadata.PackageNotFoundError) as error:
        raise InputError(
            f"--with-tokenizer needs {EXTENSIONS_PACKAGE}, which is not installed: {E2E_EXTRA}."
        ) from error


def check_available(tokenizer_path: str | Path | None, long_documents: str) -> None:
    """Refuse `--with-tokenizer` before the export's long work starts: the extra missing
    (`E2E_EXTRA`), a windows export, or a tokenizer the operators cannot reproduce (None: a run
    saved without `tokenizer.json`, whose file the export writes, and `write_e2e` reads)."""
    extensions_version()
    _refuse_windows(long_documents)
    if tokenizer_path is not None:
        read_wordpiece(tokenizer_path)


def _refuse_windows(long_documents: str) -> None:
    if long_documents != "truncate":
        raise InputError(
            f"--with-tokenizer: this export was trained with long_documents {long_documents!r}, "
            "whose prediction averages the probabilities of a long text's windows; a logits "
            "graph cannot. Export without --with-tokenizer, or train with long_documents "
            "truncate."
        )


def write_export_e2e(
    export: ExportDir, inputs: Sequence[str] | Sequence[tuple[str, str]]
) -> dict[str, Any]:
    """Write `model.e2e.onnx` and `model.e2e.int8.onnx` beside the export's fp32 and int8
    graphs, and check each against the predictor's variant on `inputs` (the test split).

    Returns the `e2e` record of `kerasbert.json`: files, inputs, outputs, custom-op domain and
    operators, onnxruntime-extensions version, and each check's figures. Raises `ParityError`
    if a text's logits differ by more than `E2E_TOLERANCE` or its labels differ.
    """
    info = export.read_info()
    record: dict[str, Any] = {"files": {}}
    checks = {}
    for variant in E2E_FILES:
        path = export.e2e_path(variant)
        facts = write_e2e(
            export.model_path(variant),
            export.tokenizer,
            path,
            max_length=info.max_length,
            truncation=info.truncation,
            pair=info.pair,
            pad_token_id=info.pad_token_id,
            long_documents=info.long_documents,
        )
        record["files"][variant] = path.name
        check = compare_with_predictor(export.path, variant, inputs)
        first = check.pop("first_mismatch")
        if check["mismatches"]:
            raise ParityError(
                f"{path.name} disagrees with the predictor ({variant}) on "
                f"{check['mismatches']} of {len(inputs)} test texts, first {first!r}: "
                "onnxruntime-extensions' tokenizer reads some text otherwise than "
                f"tokenizer.json ({KNOWN_DIFFERENCES}). Export without --with-tokenizer."
            )
        logger.info(
            "%s: max |Δlogit| %.1e against the %s predictor on %d test texts, labels agree.",
            path.name,
            check["max_abs_logit_difference"],
            variant,
            check["texts"],
        )
        checks[variant] = check
        record.update(facts)
    record["checks"] = checks
    return record


def compare_with_predictor(
    export_path: str | Path,
    variant: str,
    inputs: Sequence[str] | Sequence[tuple[str, str]],
    e2e_path: str | Path | None = None,
) -> dict[str, Any]:
    """The end-to-end graph's logits and labels against `OnnxClassifier`'s on `inputs`, both
    in batches of `CHECK_BATCH[variant]`.

    Returns `texts`, `batch_size`, `max_abs_logit_difference`, `label_agreement`,
    `mismatches` (texts beyond `E2E_TOLERANCE` or labelled otherwise) and `first_mismatch`
    (the first such input, or None).
    """
    export = ExportDir(export_path)
    batch = CHECK_BATCH[variant]
    classifier = OnnxClassifier(export.path, variant=variant, batch_size=batch)
    texts = [item if isinstance(item, str) else item[0] for item in inputs]
    pairs = [item[1] for item in inputs] if classifier.pair else None
    # The predictor's own logits (before the decision rule), as it computes them for
    # `predict_proba`: its encoder's ids and segments, its batching.
    expected = classifier._logits(*classifier._encoder.encode_segments(texts, pairs))
    session = e2e_session(e2e_path or export.e2e_path(variant))
    names = [item.name for item in session.get_inputs()]
    # The predictor sorts by length before batching; so do these batches (by characters).
    order = sorted(
        range(len(texts)), key=lambda index: len(texts[index]) + len(pairs[index] if pairs else "")
    )
    logits = np.zeros_like(expected)
    for start in range(0, len(order), batch):
        rows = order[start : start + batch]
        columns = [texts] if pairs is None else [texts, pairs]
        feeds = {
            name: np.array([column[row] for row in rows], dtype=object)
            for name, column in zip(names, columns, strict=True)
        }
        logits[rows] = session.run(None, feeds)[0]
    difference = np.abs(logits - expected).max(axis=1) if len(texts) else np.zeros(0)
    info = classifier.info
    decided = [
        decide_labels(
            to_probabilities(values, info.task, info.temperature),
            list(info.labels),
            info.task,
            classifier.thresholds,
        )
        for values in (logits, expected)
    ]
    agree = [left == right for left, right in zip(*decided, strict=True)]
    mismatched = [
        inputs[index]
        for index in range(len(texts))
        if difference[index] > E2E_TOLERANCE or not agree[index]
    ]
    return {
        "texts": len(texts),
        "batch_size": batch,
        "max_abs_logit_difference": float(difference.max()) if len(texts) else 0.0,
        "label_agreement": float(np.mean(agree)) if agree else 1.0,
        "mismatches": len(mismatched),
        "first_mismatch": mismatched[0] if mismatched else None,
    }


def e2e_session(path: str | Path, threads: int | None = None) -> Any:
    """An onnxruntime session of an end-to-end graph, with onnxruntime-extensions' operators
    registered (CPU). Raises `InputError` if the extra is not installed."""
    extensions_version()
    import onnxruntime
    from onnxruntime_extensions import get_library_path

    options = onnxruntime.SessionOptions()
    options.register_custom_ops_library(get_library_path())
    if threads is not None:
        options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def write_e2e(
    model_path: str | Path,
    tokenizer_path: str | Path,
    output_path: str | Path,
    *,
    max_length: int,
    truncation: str,
    pair: bool,
    pad_token_id: int,
    long_documents: str = "truncate",
) -> dict[str, Any]:
    """Write the graph at `model_path` with the tokenizer of `tokenizer_path` in front of it.

    Args:
        model_path: an exported graph (int64 `input_ids`, `attention_mask`, `token_type_ids`
            `[batch, sequence]` in, float32 `logits` out), in one file.
        tokenizer_path: the export's BERT `tokenizer.json`.
        output_path: the file to write.
        max_length, truncation, pair, pad_token_id, long_documents: how the export encodes its
            inputs (`kerasbert.json`).

    Returns:
        What `kerasbert.json` records: the inputs and outputs (name, dtype, shape), the
        custom-op domain and operator, and the onnxruntime-extensions version.

    Raises:
        InputError: the extra is missing, the export uses windows, its tokenizer is not BERT's
            WordPiece, or its weights sit in a side file (one file cannot hold past 2 GiB).
    """
    version = extensions_version()
    _refuse_windows(long_documents)
    check_truncation(truncation)
    wordpiece = read_wordpiece(tokenizer_path)
    model = onnx.load(str(model_path), load_external_data=False)
    if any(tensor.data_location == TensorProto.EXTERNAL for tensor in model.graph.initializer):
        raise InputError(
            f"--with-tokenizer: {Path(model_path).name} keeps its weights in a side file (over "
            "2 GiB), and the end-to-end graph is one file; export without --with-tokenizer."
        )
    model_inputs = [value.name for value in model.graph.input]
    if set(model_inputs) - set(MODEL_INPUT_NAMES) or [o.name for o in model.graph.output] != [
        LOGITS
    ]:
        raise InputError(f"{model_path} is not a kerasbert graph (inputs {model_inputs}).")

    texts = TEXT_INPUTS[: 2 if pair else 1]
    nodes = _batch_encoder(wordpiece, texts, max_length, truncation, pad_token_id)
    graph = model.graph
    nodes.extend(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.input[:]
    graph.input.extend(
        helper.make_tensor_value_info(name, TensorProto.STRING, ["batch"]) for name in texts
    )
    model.opset_import.append(helper.make_opsetid(CUSTOM_OP_DOMAIN, 1))
    if all(entry.domain != ML_DOMAIN for entry in model.opset_import):
        model.opset_import.append(helper.make_opsetid(ML_DOMAIN, ML_OPSET))
    onnx.save(model, str(output_path))
    # Read back from the file, as every graph's record is (`kerasbert.export.signature`); numpy
    # has no name for ONNX's string type, so the inputs say ONNX's.
    signature = graph_signature(output_path)
    return {
        "inputs": [{**tensor, "dtype": "string"} for tensor in signature["inputs"]],
        "outputs": signature["outputs"],
        "custom_op_domain": CUSTOM_OP_DOMAIN,
        "custom_ops": list(CUSTOM_OPS),
        "onnxruntime_extensions": version,
    }


class _Nodes:
    """Nodes of one graph with fresh names, and int64 constants as Constant nodes (a Loop body
    has no initializers of its own in every runtime)."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.nodes: list[onnx.NodeProto] = []
        self._count = 0

    def add(self, op: str, inputs: Sequence[str], outputs: int = 1, **attributes: Any) -> Any:
        self._count += 1
        names = [f"{PREFIX}{self.scope}/{op}_{self._count}_{index}" for index in range(outputs)]
        domain = DOMAINS.get(op, "")
        self.nodes.append(
            helper.make_node(
                op,
                list(inputs),
                names,
                name=f"{PREFIX}{self.scope}/{op}_{self._count}",
                domain=domain,
                **attributes,
            )
        )
        return names[0] if outputs == 1 else names

    def const(self, *values: int) -> str:
        """A 1-D int64 constant."""
        return self.add(
            "Constant",
            [],
            value=helper.make_tensor("value", TensorProto.INT64, [len(values)], values),
        )

    def binary(self, op: str, left: str, right: str) -> str:
        return self.add(op, [left, right])


def _batch_encoder(
    wordpiece: WordPiece,
    texts: Sequence[str],
    max_length: int,
    truncation: str,
    pad_token_id: int,
) -> list[onnx.NodeProto]:
    """The nodes from the string inputs to `input_ids`, `attention_mask`, `token_type_ids`
    `[batch, longest]`: a Loop encoding one row per text, then the batch cut to its longest."""
    outer = _Nodes("batch")
    count = outer.add("Squeeze", [outer.add("Shape", [texts[0]]), outer.const(0)])
    body = _row_encoder(wordpiece, texts, max_length, truncation, pad_token_id)
    ids, segments, mask = outer.add("Loop", [count, ""], 3, body=body)
    lengths = outer.add("ReduceSum", [mask, outer.const(1)], keepdims=0)
    # At least the special tokens' width: an empty batch still gives the model a first column.
    longest = outer.binary(
        "Max", outer.add("ReduceMax", [lengths], keepdims=1), outer.const(len(texts) + 1)
    )
    zero, one = outer.const(0), outer.const(1)
    outputs = {
        "input_ids": ids,
        "attention_mask": mask,
        "token_type_ids": segments,
    }
    for name, full in outputs.items():
        outer.nodes.append(
            helper.make_node(
                "Slice", [full, zero, longest, one], [name], name=f"{PREFIX}batch/cut_{name}"
            )
        )
    return outer.nodes


def _row_encoder(
    wordpiece: WordPiece,
    texts: Sequence[str],
    max_length: int,
    truncation: str,
    pad_token_id: int,
) -> onnx.GraphProto:
    """The Loop body: text `i` (and its pair) → its ids, segment ids and mask, padded to
    `max_length`, cut as `kerasbert.common.truncation.kept_positions` cuts."""
    row = _Nodes("row")
    index = row.add("Unsqueeze", ["i", row.const(0)])
    contents = [_token_ids(row, wordpiece, name, index) for name in texts]
    lengths = [row.add("Shape", [content]) for content in contents]
    special = len(texts) + 1
    room = max(max_length - special, 0)
    keeps = _budgets(row, lengths, room)
    kept = [
        _select(row, content, length, keep, truncation)
        for content, length, keep in zip(contents, lengths, keeps, strict=True)
    ]
    cls, sep = row.const(wordpiece.cls_id), row.const(wordpiece.sep_id)
    first = row.add("Concat", [cls, kept[0], sep], axis=0)
    pieces, segment_pieces = [first], [_filled(row, first, 0)]
    if len(kept) == 2:
        second = row.add("Concat", [kept[1], sep], axis=0)
        pieces.append(second)
        segment_pieces.append(_filled(row, second, 1))
    ids = row.add("Concat", pieces, axis=0) if len(pieces) > 1 else first
    segments = row.add("Concat", segment_pieces, axis=0) if len(pieces) > 1 else segment_pieces[0]
    mask = _filled(row, ids, 1)
    padding = row.add(
        "Concat",
        [row.const(0), row.binary("Sub", row.const(max_length), row.add("Shape", [ids]))],
        axis=0,
    )
    padded = [
        row.add("Pad", [tensor, padding, _scalar(row, value)])
        for tensor, value in ((ids, pad_token_id), (segments, 0), (mask, 0))
    ]
    row.nodes.append(helper.make_node("Identity", ["cond"], ["cond_out"]))
    for position, name in enumerate(("row_ids", "row_segments", "row_mask")):
        row.nodes.append(helper.make_node("Identity", [padded[position]], [name]))
    return helper.make_graph(
        row.nodes,
        "e2e_row",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            *(
                helper.make_tensor_value_info(name, TensorProto.INT64, [max_length])
                for name in ("row_ids", "row_segments", "row_mask")
            ),
        ],
    )


def _token_ids(row: _Nodes, wordpiece: WordPiece, name: str, index: str) -> str:
    """The token ids of text `index` of input `name`, without special tokens: BERT's normalizer
    and word split (`BasicTokenizer`, punctuation split off and control characters dropped as
    BertPreTokenizer and clean_text do), WordPiece (`WordpieceTokenizer`, each word a row) and
    the pieces' ids (`LabelEncoder`).

    The operator ends a word it cannot finish with the unknown token but keeps the pieces it
    matched before ("investors" → `in [UNK]`); `tokenizer.json` gives the whole word one
    unknown token. A word's pieces end in the unknown token only then (a matched piece is never
    `[UNK]`: the word split has taken its brackets apart), so the pieces of such a word before
    it are dropped.
    """
    text = row.add("Gather", [name, index], axis=0)
    words = row.add(
        "BasicTokenizer",
        [text],
        do_lower_case=int(wordpiece.lowercase),
        strip_accents=int(wordpiece.strip_accents),
        tokenize_chinese_chars=int(wordpiece.chinese_characters),
        tokenize_punctuation=1,
        remove_control_chars=1,
    )
    pieces, _, begins, ends = row.add(
        "WordpieceTokenizer",
        [words, row.const()],
        4,
        vocab=json.dumps(wordpiece.vocabulary, ensure_ascii=False, separators=(",", ":")),
        suffix_indicator=wordpiece.subword_prefix,
        unknown_token=wordpiece.unknown_token,
        max_input_chars_per_word=wordpiece.max_word_characters,
    )
    ids = row.add(
        "LabelEncoder",
        [pieces],
        keys_strings=list(wordpiece.vocabulary),
        values_int64s=list(wordpiece.vocabulary.values()),
        default_int64=wordpiece.unknown_id,
    )
    unknown = row.const(wordpiece.unknown_id)
    # Each word unfinished (its last piece unknown), and each piece's word: a running count of
    # the words begun at or before it.
    unfinished = row.binary(
        "Equal", row.add("Gather", [ids, row.binary("Sub", ends, row.const(1))]), unknown
    )
    starts = row.add(
        "ScatterElements",
        [_filled(row, ids, 0), begins, _filled(row, begins, 1)],
        axis=0,
    )
    word = row.binary("Sub", row.add("CumSum", [starts, _scalar(row, 0)]), row.const(1))
    keep = row.binary(
        "Or",
        row.add("Not", [row.add("Gather", [unfinished, word])]),
        row.binary("Equal", ids, unknown),
    )
    return row.add("Compress", [ids, keep], axis=0)


def _scalar(row: _Nodes, value: int) -> str:
    return row.add(
        "Constant", [], value=helper.make_tensor("value", TensorProto.INT64, [], [value])
    )


def _filled(row: _Nodes, like: str, value: int) -> str:
    """A 1-D int64 tensor of `value` as long as `like`."""
    return row.add(
        "ConstantOfShape",
        [row.add("Shape", [like])],
        value=helper.make_tensor("value", TensorProto.INT64, [1], [value]),
    )


def _budgets(row: _Nodes, lengths: list[str], room: int) -> list[str]:
    """Tokens each text keeps (1-element tensors): `min(length, room)` for one text, and for a
    pair `kerasbert.common.truncation.pair_budgets` (longest first) in tensor arithmetic."""
    room_tensor = row.const(room)
    if len(lengths) == 1:
        return [row.binary("Min", lengths[0], room_tensor)]
    first, second = lengths
    shorter = row.binary("Min", first, second)
    fits = row.binary("LessOrEqual", row.binary("Add", first, second), room_tensor)
    # The shorter text stays whole if the longer one can shrink to at least its length...
    longer_keep = row.add(
        "Where",
        [
            row.binary("Greater", shorter, room_tensor),
            shorter,
            row.binary("Max", shorter, row.binary("Sub", room_tensor, shorter)),
        ],
    )
    # ...else both get half the room, the longer one the odd token.
    halves = row.binary("Greater", row.binary("Add", shorter, longer_keep), room_tensor)
    half = row.const(room // 2)
    shorter_keep = row.add("Where", [halves, half, shorter])
    longer_keep = row.add("Where", [halves, row.const(room // 2 + room % 2), longer_keep])
    first_shorter = row.binary("LessOrEqual", first, second)
    first_keep = row.add("Where", [first_shorter, shorter_keep, longer_keep])
    second_keep = row.add("Where", [first_shorter, longer_keep, shorter_keep])
    return [
        row.add("Where", [fits, first, first_keep]),
        row.add("Where", [fits, second, second_keep]),
    ]


def _select(row: _Nodes, content: str, length: str, keep: str, truncation: str) -> str:
    """`keep` of the `length` tokens of `content`, by `kerasbert.common.truncation.select`: the
    first `head` and the last `tail`, with (head, tail) = (keep, 0), (0, keep), or head_tail's
    split. When all are kept, every mode gives them all in order."""
    zero = row.const(0)
    if truncation == "head":
        head, tail = keep, zero
    elif truncation == "tail":
        head, tail = zero, keep
    else:
        # round(keep * 128 / 510): (keep * 256 + 510) // 1020, as keep * 128 / 510 is never a
        # half (256 * keep is even, 255 odd).
        head = row.binary(
            "Div",
            row.binary(
                "Add",
                row.binary("Mul", keep, row.const(2 * HEAD_TOKENS)),
                row.const(HEAD_TAIL_BUDGET),
            ),
            row.const(2 * HEAD_TAIL_BUDGET),
        )
        tail = row.binary("Sub", keep, head)
    scalar = [row.add("Squeeze", [value, zero]) for value in (head, tail, length)]
    step = _scalar(row, 1)
    start = row.add("Squeeze", [row.binary("Sub", length, tail), zero])
    positions = row.add(
        "Concat",
        [
            row.add("Range", [_scalar(row, 0), scalar[0], step]),
            row.add("Range", [start, scalar[2], step]),
        ],
        axis=0,
    )
    return row.add("Gather", [content, positions], axis=0)
