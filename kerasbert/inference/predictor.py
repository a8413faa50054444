"""`OnnxClassifier`: run an exported kerasbert model with numpy, onnxruntime and tokenizers only.

This module is what downstream apps install; it must never import TensorFlow, transformers or
anything else from the training side (a test imports it with those imports blocked).

Example (given a directory written by `kerasbert export`):

>>> from kerasbert.inference.predictor import OnnxClassifier
>>> classifier = OnnxClassifier("exported/my-run")          # doctest: +SKIP
>>> classifier.predict(["Shares rose after the results."])  # doctest: +SKIP
['business']

A model trained on text pairs (`--text-pair-column`, kerasbert.json `"pair": true`) takes
`(text, text_pair)` tuples instead:

>>> OnnxClassifier("exported/pairs").predict([("Headline", "Article body")])  # doctest: +SKIP
['match']
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

from kerasbert.common.decision import (
    abstain,
    check_min_confidence,
    check_thresholds,
    decide_labels,
    to_probabilities,
    top_k,
)
from kerasbert.common.errors import InputError
from kerasbert.common.names import MODEL_INPUT_NAMES, Task
from kerasbert.common.truncation import check_truncation, kept_positions
from kerasbert.common.windows import average_windows, check_overlap, split_windows
from kerasbert.inference.explain import Explanation, WordEncoder, check_requested, occlude
from kerasbert.inference.exportdir import ExportDir, ExportInfo, read_metadata
from kerasbert.inference.stream import DEFAULT_CHUNK_SIZE, predict_stream
from kerasbert.inference.textfiles import read_pairs, read_texts

logger = logging.getLogger(__name__)

# 32 sequences keep a CPU core busy without padding short texts far; memory stays small.
DEFAULT_BATCH_SIZE = 32
# What `predict` and friends take: texts (one string is one text), or for a model trained on
# text pairs `(text, text_pair)` tuples (one tuple is one pair).
TextsOrPairs = str | tuple[str, str] | Iterable[str] | Iterable[tuple[str, str]]
# The element types an export's inputs may declare, as onnxruntime names them: int64, as every
# Hugging Face client sends; int32 in exports written before kerasbert switched (issue 29).
FEED_TYPES = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}


@dataclass(frozen=True)
class Scores:
    """One batch's answer (`OnnxClassifier.classify`): `labels[i]` is a label (single-label) or
    a list of labels (multi-label); `probabilities[i]` has one column per label, in the
    classifier's label order."""

    labels: list[Any]
    probabilities: np.ndarray


def recommended_variant(info: ExportInfo) -> str:
    """The variant to run by default: `int8`, or `fp32` where the export measured int8 losing
    more accuracy than its threshold (`kerasbert.json`, `int8.drop_exceeds_threshold`)."""
    if info.recommended_variant == "fp32":
        logger.info(
            "Using the fp32 model: at export the int8 model lost %.2f accuracy points against "
            "fp32 (kerasbert.json `int8`); pass variant='int8' to use it anyway.",
            float("nan")
            if info.int8_accuracy_drop_points is None
            else info.int8_accuracy_drop_points,
        )
    return info.recommended_variant


class TextEncoder:
    """Turn texts or text pairs into token ids exactly as training does (same `tokenizer.json`).

    Each text is encoded in full, then cut to `max_length` by the rule training uses
    (`kerasbert.common.truncation`): a pair longest first, each text's share by `truncation`. The
    `tokenizers` object is configured once here and never changed afterwards, so one encoder can
    serve many threads at once.

    Args:
        tokenizer_path: the `tokenizer.json` saved with the trained model.
        max_length: tokens per sequence, special tokens included, as in training.
        truncation: which tokens of a too-long text stay: `head`, `tail` or `head_tail`, as in
            training (kerasbert.json `truncation`).

    Example:
    >>> encoder = TextEncoder("exported/my-run/tokenizer.json", max_length=128)  # doctest: +SKIP
    >>> encoder.encode(["Hello world"])                                          # doctest: +SKIP
    [[101, 7592, 2088, 102]]
    >>> encoder.encode_segments(["Hello"], ["world"])                             # doctest: +SKIP
    ([[101, 7592, 102, 2088, 102]], [[0, 0, 0, 1, 1]])
    """

    def __init__(
        self, tokenizer_path: str | Path, max_length: int, truncation: str = "head"
    ) -> None:
        self.max_length = max_length
        self.truncation = check_truncation(truncation)
        # Never truncates: `kept_positions` cuts, as in training, and windows need every token.
        self._full = Tokenizer.from_file(str(tokenizer_path))
        self._full.no_padding()
        self._full.no_truncation()
        # The ids the post-processor wraps around one sequence, e.g. [CLS] ... [SEP] for BERT.
        specials = self._full.encode("").ids
        if not specials:
            raise InputError(f"{tokenizer_path} adds no special tokens; expected a BERT tokenizer.")
        self._prefix, self._suffix = specials[:1], specials[1:]
        self.room = max_length - len(specials)
        if self.room <= 0:
            raise InputError(f"max_length {max_length} leaves no room for text tokens.")

    def encode(
        self, texts: Sequence[str], text_pairs: Sequence[str] | None = None
    ) -> list[list[int]]:
        """Token ids with special tokens, truncated to `max_length`, as in training."""
        return self.encode_segments(texts, text_pairs)[0]

    def encode_segments(
        self, texts: Sequence[str], text_pairs: Sequence[str] | None = None
    ) -> tuple[list[list[int]], list[list[int]]]:
        """Token ids and segment ids (0: first text and its special tokens, 1: second text) of
        each text or pair, truncated to `max_length` as in training."""
        inputs = list(texts) if text_pairs is None else list(zip(texts, text_pairs, strict=True))
        ids, segments = [], []
        for encoding in self._full.encode_batch(inputs):
            if len(encoding.ids) <= self.max_length:
                ids.append(encoding.ids)
                segments.append(encoding.type_ids)
                continue
            keep = kept_positions(encoding.sequence_ids, self.max_length, self.truncation)
            ids.append([encoding.ids[position] for position in keep])
            segments.append([encoding.type_ids[position] for position in keep])
        return ids, segments

    def encode_windows(
        self, texts: Sequence[str], overlap: int
    ) -> tuple[list[list[int]], list[int]]:
        """Split each text into overlapping windows of at most `max_length` tokens.

        Returns the windows' ids and, for each window, the index of its text. A text that fits
        gives exactly the ids `encode` gives.
        """
        check_overlap(overlap, self.room)
        encodings = self._full.encode_batch(list(texts), add_special_tokens=False)
        return split_windows(
            [encoding.ids for encoding in encodings],
            self._prefix,
            self._suffix,
            self.room,
            overlap,
        )


class OnnxClassifier:
    """Classify texts with an exported kerasbert model (numpy + onnxruntime + tokenizers only).

    Texts are tokenized like in training, sorted by length and run in batches of similar length,
    so short texts are not padded to the longest text of the whole input; results come back in
    input order. One instance may be shared by many threads.

    An empty or whitespace-only text is a valid input, not an error: it becomes `[CLS] [SEP]`
    and gets whatever the model predicts for an input without words.

    A model trained on text pairs (`pair`, from kerasbert.json) takes `(text, text_pair)` tuples
    and encodes them as training did (`[CLS] text [SEP] text_pair [SEP]`, segment ids 0 and 1);
    either text may be empty. Single texts given to a pair model, or pairs to a single-text
    model, are refused with an `InputError`.

    Args:
        path: an export directory (`model.onnx`, `model.int8.onnx`, `tokenizer.json`,
            `kerasbert.json`), as written by `kerasbert export`.
        variant: "int8" (smallest, fastest on CPU), "fp32" (exactly the trained model) or
            "optimized" (fp32 with onnxruntime graph optimizations applied at export). int8
            quantizes activations per batch, so its probabilities move slightly (about 1e-3)
            with the other texts of a batch; fp32 results do not depend on batching. Default:
            the export's recommendation, `recommended_variant` (int8 unless it lost more
            accuracy against fp32 than the export's threshold).
        providers: onnxruntime execution providers; default CPU only.
        threads: intra-op threads per call; default onnxruntime's choice (all cores).
        batch_size: sequences per onnxruntime call.
        long_documents: instead of truncating a text longer than `max_length` tokens, split it
            into overlapping windows and average the windows' probabilities (single texts only).
            Default: as the model was trained (`long_documents` in `kerasbert.json`).
        window_overlap: tokens shared by neighbouring windows; default the export's, else a
            quarter of a window (`kerasbert.common.windows`).
        thresholds: for a multi-label export, `{label: threshold}` naming every label (or one
            threshold per label, in `labels` order) instead of the ones tuned at training
            (`kerasbert.json`); anything else is an `InputError` naming the labels.
        min_confidence: a single-label model abstains below it: `predict` and `classify` give
            None instead of a label for a text whose top probability (calibrated, where the
            export has a temperature) is under this number from 0 to 1; the probabilities are
            still given. Refused (`InputError`) for a multi-label export. Default: never abstain.

    A multi-label export (kerasbert.json `task: multi_label`) gives per-label sigmoid
    probabilities from `predict_proba` (rows need not sum to 1), and from `predict` a list of
    labels per text: each label whose probability reaches its threshold, in `labels` order
    (possibly none). `predict_topk` ranks the labels by probability either way. Every label
    is decided by `kerasbert.common.decision`, the rule evaluation and the export's checks use.

    `info` is the export's `kerasbert.json` as a typed record (`ExportInfo`); `metadata` the
    same file as a dict, for showing.

    Example:
    >>> classifier = OnnxClassifier("exported/my-run", variant="fp32")  # doctest: +SKIP
    >>> classifier.labels                                                # doctest: +SKIP
    ['business', 'entertainment', 'politics', 'sport', 'tech']
    >>> classifier.predict("The striker scored twice.")                  # doctest: +SKIP
    ['sport']
    >>> classifier.predict_topk(["New phone released"], k=2)             # doctest: +SKIP
    [[('tech', 0.97), ('business', 0.02)]]
    """

    def __init__(
        self,
        path: str | Path,
        variant: str | None = None,
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        long_documents: bool | None = None,
        window_overlap: int | None = None,
        thresholds: Mapping[str, float] | Sequence[float] | None = None,
        min_confidence: float | None = None,
    ) -> None:
        directory = Path(path)
        if not directory.is_dir():
            raise FileNotFoundError(
                f"Model directory {directory} does not exist. Pass a directory written by "
                "`kerasbert export` (default exported/<run-name>)."
            )
        export = ExportDir(directory)
        info = export.read_info()
        if variant is None:
            variant = recommended_variant(info)
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise InputError(f"batch_size must be a positive integer, got {batch_size!r}.")
        if threads is not None and (not isinstance(threads, int) or threads <= 0):
            raise InputError(f"threads must be a positive integer or None, got {threads!r}.")
        model_path, tokenizer_path = export.model_path(variant), export.tokenizer
        missing = [p.name for p in (model_path, tokenizer_path) if not p.is_file()]
        if missing:
            raise FileNotFoundError(
                f"{directory} lacks {', '.join(missing)}; re-run `kerasbert export` "
                f"(variant {variant!r} needs {model_path.name})."
            )
        self.directory = directory
        self.info = info
        self.metadata = info.metadata
        self.labels: list[str] = list(info.labels)
        self.max_length: int = info.max_length
        self.variant = variant
        self.batch_size = batch_size
        # A model trained on windows predicts on windows unless the caller says otherwise.
        self.long_documents = info.windows if long_documents is None else bool(long_documents)
        self._pad_id: int = info.pad_token_id
        self.pair: bool = info.pair
        self.truncation: str = info.truncation
        if self.long_documents and self.pair:
            raise InputError(
                f"long_documents splits single texts into windows, but {directory} classifies "
                "text pairs, which are truncated as in training; leave long_documents off."
            )
        self.task: Task = info.task
        self.multi_label = info.multi_label
        self.label_separator: str = info.label_separator
        self.thresholds = _thresholds(info, thresholds)
        self.temperature: float = info.temperature
        self.min_confidence = _check_min_confidence(min_confidence, self.multi_label)
        self._encoder = TextEncoder(tokenizer_path, self.max_length, self.truncation)
        if window_overlap is None:
            window_overlap = info.window_overlap
        self.window_overlap = check_overlap(window_overlap, self._encoder.room)
        self._session = _load_session(model_path, providers, threads)
        self._input_types = input_types(self._session, model_path)
        self._input_names = list(self._input_types)
        unknown = set(self._input_names) - set(MODEL_INPUT_NAMES)
        if (
            unknown
            or "input_ids" not in self._input_names
            or (self.pair and "token_type_ids" not in self._input_names)
        ):
            raise InputError(
                f"{model_path} has inputs {self._input_names}; expected input_ids, attention_mask "
                "and (required for text pairs) token_type_ids. Re-export it with "
                "`kerasbert export`."
            )
        self._check_output_size(model_path)

    def _check_output_size(self, model_path: Path) -> None:
        export = ExportDir(self.directory)
        size = self._session.get_outputs()[0].shape[-1]
        if not isinstance(size, int):  # a symbolic dimension: ask the model itself
            size = self._run(np.array([self._encoder.encode([""])[0]], dtype=np.int64)).shape[-1]
        if size != len(self.labels):
            raise InputError(
                f"{model_path} outputs {size} classes but {export.metadata.name} lists "
                f"{len(self.labels)} labels; the directory mixes files from different exports. "
                "Re-export it with `kerasbert export --overwrite`."
            )

    def predict_proba(self, texts: TextsOrPairs) -> np.ndarray:
        """Class probabilities, shape `(len(texts), len(labels))`, columns in `labels` order
        (multi-label: each label's own sigmoid probability)."""
        texts, pairs = _check_inputs(texts, self.pair)
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        segments = None
        if self.long_documents:
            sequences, owners = self._encoder.encode_windows(texts, self.window_overlap)
        else:
            sequences, segments = self._encoder.encode_segments(texts, pairs)
            owners = list(range(len(texts)))
        window_probabilities = to_probabilities(
            self._logits(sequences, segments), self.task, self.temperature
        )
        return average_windows(window_probabilities, owners, len(texts))

    def classify(self, texts: TextsOrPairs, min_confidence: float | None = ...) -> Scores:
        """Labels (as `predict`) and probabilities (as `predict_proba`) of the texts (or
        pairs) from one model call: what the server, the streaming prediction and the Ray
        recipe answer. `min_confidence` overrides the classifier's for this call (None: none)."""
        minimum = self._min_confidence(min_confidence)
        probabilities = self.predict_proba(texts)
        labels = decide_labels(probabilities, self.labels, self.task, self.thresholds)
        return Scores(abstain(labels, probabilities, minimum), probabilities)

    def predict(
        self, texts: TextsOrPairs, min_confidence: float | None = ...
    ) -> list[str | None] | list[list[str]]:
        """The most probable label of each text (or pair), in input order, or None where its
        probability is below the minimum confidence; for a multi-label export, each text's list
        of labels at or above their thresholds."""
        return self.classify(texts, min_confidence).labels

    def _min_confidence(self, given: Any) -> float | None:
        """This call's minimum confidence: `given` (checked), or the classifier's if not given."""
        if given is ...:
            return self.min_confidence
        return _check_min_confidence(given, self.multi_label)

    def predict_topk(self, texts: TextsOrPairs, k: int = 3) -> list[list[tuple[str, float]]]:
        """The `k` most probable `(label, probability)` pairs of each text (or text pair), most
        probable first; equal probabilities keep label order."""
        if not isinstance(k, int) or not 1 <= k <= len(self.labels):
            raise InputError(f"k must be an integer from 1 to {len(self.labels)}, got {k!r}.")
        return top_k(self.predict_proba(texts), self.labels, k)

    def explain(
        self, texts: TextsOrPairs, labels: str | Sequence[str] | None = None
    ) -> list[Explanation]:
        """Word attributions of each text (or pair, both texts' words) by occlusion
        (`kerasbert.inference.explain`): each word hidden in turn, all variants of all texts
        batched, (words + 1) forward passes per text.

        `labels`: the label(s) to explain; default what the model decided (multi-label: each
        label of the predicted set, else the most probable). Texts longer than `max_length`
        tokens are explained as the model reads them when truncating: words cut off get no
        score and are not listed. Scores and `probability` are the model's own (uncalibrated)
        probabilities: a fitted temperature below 1 saturates them, and every word's
        difference would read 0.

        Example:
        >>> classifier.explain("The striker scored twice.")[0].top(1)  # doctest: +SKIP
        [('striker', 0.41)]
        """
        texts, pairs = _check_inputs(texts, self.pair)
        requested = check_requested(labels, self.labels)
        words = WordEncoder(self._encoder._full, self.max_length, self.truncation)
        return occlude(
            words.encode(texts, pairs),
            texts,
            pairs,
            self._run,
            self.batch_size,
            self._pad_id,
            lambda logits: to_probabilities(logits, self.task),
            self.labels,
            self.task,
            self.thresholds,
            requested,
        )

    def _logits(
        self, sequences: list[list[int]], segments: list[list[int]] | None = None
    ) -> np.ndarray:
        """Run sequences (with their segment ids, if any) in batches of similar length; logits
        come back in input order."""
        order = sorted(range(len(sequences)), key=lambda index: len(sequences[index]))
        logits = np.zeros((len(sequences), len(self.labels)), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            width = len(sequences[batch[-1]])
            # int64, what current exports take; `_run` casts for older int32 graphs.
            input_ids = np.full((len(batch), width), self._pad_id, dtype=np.int64)
            token_type_ids = np.zeros((len(batch), width), dtype=np.int64)
            for row, index in enumerate(batch):
                input_ids[row, : len(sequences[index])] = sequences[index]
                if segments is not None:
                    token_type_ids[row, : len(segments[index])] = segments[index]
            lengths = np.array([len(sequences[index]) for index in batch])
            attention_mask = (np.arange(width)[None, :] < lengths[:, None]).astype(np.int64)
            logits[batch] = self._run(input_ids, attention_mask, token_type_ids)
        return logits

    def _run(
        self,
        input_ids: np.ndarray,
        attention_mask: np.ndarray | None = None,
        token_type_ids: np.ndarray | None = None,
    ) -> np.ndarray:
        if attention_mask is None:
            attention_mask = np.ones_like(input_ids)
        if token_type_ids is None:  # a single text: every token belongs to segment 0
            token_type_ids = np.zeros_like(input_ids)
        feeds = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": token_type_ids,
        }
        return self._session.run(None, graph_feeds(self._input_types, feeds))[0]


def input_types(session: onnxruntime.InferenceSession, model_path: str | Path) -> dict[str, Any]:
    """Each input of `session`'s graph and the numpy type it takes (`FEED_TYPES`), in the
    graph's order. Raises `InputError` for an input of another type."""
    types = {}
    for node in session.get_inputs():
        if node.type not in FEED_TYPES:
            raise InputError(
                f"{model_path} takes {node.name} as {node.type}; a kerasbert export takes int64 "
                "token ids. Re-export it with `kerasbert export --overwrite`."
            )
        types[node.name] = FEED_TYPES[node.type]
    return types


def graph_feeds(
    types: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The arrays a graph takes (`types`, from `input_types`), each in the type it declares; an
    array already of that type is passed as it is, not copied."""
    return {name: np.asarray(arrays[name], dtype) for name, dtype in types.items()}


def _check_min_confidence(value: Any, multi_label: bool) -> float | None:
    """A minimum confidence in [0, 1] or None; refused for a multi-label model, whose empty
    label set already answers "none of these" and whose labels have their own thresholds."""
    value = check_min_confidence(value)
    if value is not None and multi_label:
        raise InputError(
            "min_confidence is for single-label models; a multi-label model gives no label "
            "where none reaches its threshold (raise the thresholds to abstain more often)."
        )
    return value


def _thresholds(
    info: ExportInfo, given: Mapping[str, float] | Sequence[float] | None
) -> np.ndarray | None:
    """The thresholds a multi-label export decides with: the caller's, checked, else its own."""
    if not info.multi_label:
        if given is not None:
            raise InputError(
                "thresholds are for multi-label exports; this model picks one label per text."
            )
        return None
    if given is None:
        return np.asarray(info.thresholds, dtype=np.float64)
    return check_thresholds(given, info.labels, "thresholds")


def _load_session(
    model_path: Path, providers: Sequence[str] | None, threads: int | None
) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    try:
        return onnxruntime.InferenceSession(
            str(model_path), options, providers=list(providers or ["CPUExecutionProvider"])
        )
    except Exception as error:  # onnxruntime raises its own classes, not importable stably
        raise InputError(
            f"{model_path} could not be loaded by onnxruntime ({type(error).__name__}: {error}). "
            "The file is corrupt or incomplete; re-export it with `kerasbert export --overwrite`."
        ) from error


def _check_inputs(texts: TextsOrPairs, pair: bool) -> tuple[list[str], list[str] | None]:
    """The texts, and the second texts for a pair model (None for a single-text model)."""
    if not pair:
        return _check_texts(texts), None
    if isinstance(texts, str):
        raise InputError(_SINGLE_TEXT_TO_PAIR_MODEL.format(where="the input"))
    if _is_pair(texts) and isinstance(texts, tuple):
        return [texts[0]], [texts[1]]
    if texts is None or not isinstance(texts, Iterable):
        raise TypeError(
            f"texts must be a list of (text, text_pair) tuples, got {type(texts).__name__}."
        )
    firsts, seconds = [], []
    for position, item in enumerate(texts):
        if isinstance(item, str):
            raise InputError(_SINGLE_TEXT_TO_PAIR_MODEL.format(where=f"texts[{position}]"))
        if not _is_pair(item):
            raise TypeError(
                f"texts[{position}] is {type(item).__name__}, not a (text, text_pair) tuple of "
                "two strings."
            )
        firsts.append(item[0])
        seconds.append(item[1])
    return firsts, seconds


_SINGLE_TEXT_TO_PAIR_MODEL = (
    "{where} is a single text, but this model classifies text pairs; pass (text, text_pair) "
    'tuples, e.g. predict([("first text", "second text")]).'
)


def _is_pair(item: Any) -> bool:
    return (
        isinstance(item, (tuple, list))
        and len(item) == 2
        and all(isinstance(text, str) for text in item)
    )


def _check_texts(texts: str | Iterable[str]) -> list[str]:
    if isinstance(texts, str):
        return [texts]
    if texts is None or not isinstance(texts, Iterable):
        raise TypeError(f"texts must be a string or a list of strings, got {type(texts).__name__}.")
    texts = list(texts)
    for position, text in enumerate(texts):
        if _is_pair(text):
            raise InputError(
                f"texts[{position}] is a pair of texts, but this model classifies single texts; "
                "pass strings, or a model trained on text pairs (--text-pair-column)."
            )
        if not isinstance(text, str):
            raise TypeError(
                f"texts[{position}] is {type(text).__name__}, not str; every text must be a string."
            )
    return texts


def predict_file(
    model_dir: str | Path,
    input_path: str | Path,
    output_path: str | Path,
    text_column: str | None = None,
    variant: str | None = None,
    text_pair_column: str | None = None,
    *,
    id_column: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: bool = False,
    **classifier_options: Any,
) -> int:
    """Classify every text of a `.csv`/`.tsv`/`.jsonl`/`.txt`/`.parquet` file into a `.csv`,
    `.jsonl` or `.parquet` of text,label,probability, a chunk at a time (`kerasbert.inference.stream`:
    memory stays flat in the file's size; input order and any id column are kept).

    For a model of text pairs, reads both texts of each row and writes text,text_pair,label,
    probability. Returns the number of rows written. `classifier_options` go to `OnnxClassifier`.

    Example:
    >>> predict_file("exported/my-run", "news.txt", "preds.csv")  # doctest: +SKIP
    3
    """
    classifier = OnnxClassifier(model_dir, variant=variant, **classifier_options)
    return predict_stream(
        classifier,
        input_path,
        output_path,
        text_column=text_column,
        text_pair_column=text_pair_column,
        id_column=id_column,
        chunk_size=chunk_size,
        progress=progress,
    )


__all__ = [
    "ExportInfo",
    "FEED_TYPES",
    "OnnxClassifier",
    "Scores",
    "TextEncoder",
    "graph_feeds",
    "input_types",
    "predict_file",
    "read_metadata",
    "read_pairs",
    "read_texts",
]
