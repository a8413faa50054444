"""`kerasbert predict MODEL_DIR "text" ... | --input FILE --output preds.csv`: classify texts with an
exported model (`kerasbert.inference.predictor`: onnxruntime, never TensorFlow)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kerasbert.common.errors import InputError


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    """`kerasbert predict` and its flags, as a sub-command of `commands`."""
    predict = commands.add_parser(
        "predict", parents=[common], help="Classify texts with an exported model (no TensorFlow)."
    )
    predict.add_argument("model_dir", help="An export directory (holds kerasbert.json).")
    predict.add_argument("texts", nargs="*", help="Texts to classify.")
    predict.add_argument(
        "--input", help="A .csv, .tsv, .jsonl, .txt or .parquet file of texts (read in chunks)."
    )
    predict.add_argument(
        "--output", help="Where to write predictions (with --input): .csv, .jsonl or .parquet."
    )
    predict.add_argument(
        "--id-column", help="Column copied to the output beside each prediction (default: id, …)."
    )
    predict.add_argument(
        "--chunk-size", type=int, default=2048, help="Rows read, classified and written at once."
    )
    predict.add_argument("--text-column", help="Text column of --input (csv/jsonl).")
    predict.add_argument(
        "--text-pair-column",
        help="Second-text column of --input (csv/jsonl), for a model trained on text pairs; "
        "default: detected from common pairs (sentence1/sentence2, question1/question2, ...).",
    )
    predict.add_argument(
        "--variant",
        choices=("int8", "fp32", "optimized"),
        help="Model file to run (default: int8, or fp32 where the export found int8 less accurate).",
    )
    predict.add_argument(
        "--long-documents",
        choices=("truncate", "windows"),
        help="Cut texts longer than the model's max length, or average overlapping windows "
        "(default: as the model was trained).",
    )
    predict.add_argument(
        "--thresholds",
        help="Multi-label models: a JSON file mapping every label to its threshold, instead of "
        "the ones tuned on the validation split at training.",
    )
    predict.add_argument(
        "--min-confidence",
        type=float,
        help="Single-label models: give no label (an empty label; with --input an `abstained` "
        "column says which) to a text whose top probability is below this number from 0 to 1.",
    )
    predict.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from kerasbert.inference.predictor import OnnxClassifier, predict_file

    if args.input:
        if not args.output:
            raise InputError(
                "--input needs --output FILE (.csv, .jsonl or .parquet) for the predictions."
            )
        count = predict_file(
            args.model_dir,
            args.input,
            args.output,
            text_column=args.text_column,
            variant=args.variant,
            text_pair_column=args.text_pair_column,
            long_documents=_long_documents(args),
            thresholds=thresholds_file(args.thresholds),
            min_confidence=args.min_confidence,
            id_column=args.id_column,
            chunk_size=args.chunk_size,
            progress=True,
        )
        print(f"Wrote {count} predictions to {args.output}")
        return 0
    if not args.texts:
        raise InputError(
            'Give texts to classify, e.g. kerasbert predict DIR "some text", or --input.'
        )
    classifier = OnnxClassifier(
        args.model_dir,
        variant=args.variant,
        long_documents=_long_documents(args),
        thresholds=thresholds_file(args.thresholds),
        min_confidence=args.min_confidence,
    )
    if classifier.pair:
        raise InputError(
            f"{args.model_dir} classifies text pairs; put them in a .csv or .jsonl file, one pair "
            "per row, and pass --input FILE --output preds.csv (columns: --text-column and "
            "--text-pair-column)."
        )
    scores = classifier.classify(args.texts)
    if classifier.multi_label:
        # Each label set joined by the training data's separator, with its labels' probabilities.
        separator = classifier.label_separator
        for text, chosen, row in zip(args.texts, scores.labels, scores.probabilities):
            shown = separator.join(f"{row[classifier.labels.index(name)]:.4f}" for name in chosen)
            print(f"{separator.join(chosen)}\t{shown}\t{text}")
        return 0
    for text, label, row in zip(args.texts, scores.labels, scores.probabilities):
        # An abstention prints an empty label: the probability shown says how unsure it was.
        print(f"{'' if label is None else label}\t{row.max():.4f}\t{text}")
    return 0


def thresholds_file(path: str | None) -> dict | None:
    """`--thresholds FILE`: a JSON object of label: threshold (checked against the model's
    labels by `OnnxClassifier`)."""
    if path is None:
        return None
    try:
        thresholds = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"--thresholds {path} is not valid JSON ({error}).") from error
    if not isinstance(thresholds, dict):
        raise InputError(
            f'--thresholds {path} must hold a JSON object of label: threshold, e.g. {{"sport": 0.4}}.'
        )
    return thresholds


def _long_documents(args: argparse.Namespace) -> bool | None:
    return None if args.long_documents is None else args.long_documents == "windows"
