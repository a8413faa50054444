"""The `kerasbert` command line: a thin shell over the library's functions.

    kerasbert train [--config FILE] [--data bbc-news] [--epochs 3] ...
    kerasbert evaluate RUN_DIR [--data FILE [--text-pair-column COLUMN]]
    kerasbert export RUN_DIR [--output DIR] [--overwrite]
    kerasbert predict MODEL_DIR "text" ... | --input FILE --output preds.csv [--text-pair-column C]
    kerasbert benchmark [--quick] [--data FILE]

A user mistake prints one line naming the problem and the fix, and exits with status 2; `--debug`
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from kerasbert.config import TrainConfig
from kerasbert.errors import InputError
from kerasbert.examples import PAIR_SEPARATOR
from kerasbert.logs import setup_logging
from kerasbert.rundir import RunDir

USER_ERRORS = (
    InputError,
    FileNotFoundError,
    FileExistsError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kerasbert` console script and `python -m kerasbert`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["benchmark"]:
        # The benchmark has its own parser (scripts/benchmark.py shares it); hand it every flag.
        from kerasbert.benchmark import main as benchmark_main

        return benchmark_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    setup_logging(args.debug)
    try:
        return args.handler(args)
    except USER_ERRORS as error:
        if args.debug:
            raise
        print(f"kerasbert {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerasbert", description="Fine-tune BERT classifiers with Keras; ship them as ONNX."
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="Show tracebacks of user errors.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser(
        "train", parents=[common], help="Fine-tune, evaluate, report and export (the default job)."
    )
    add_train_arguments(train)
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser(
        "evaluate", parents=[common], help="Re-evaluate a run on its test split or a labelled file."
    )
    evaluate.add_argument("run_dir", help="A run directory written by `kerasbert train`.")
    evaluate.add_argument("--data", help="Labelled file to evaluate on (default: the test split).")
    evaluate.add_argument("--text-column", help="Text column of --data (default: the run's).")
    evaluate.add_argument(
        "--text-pair-column",
        help="Second-text column of --data, for a run on text pairs (default: the run's, else "
        "detected from common pairs such as sentence1/sentence2).",
    )
    evaluate.add_argument("--label-column", help="Label column of --data (default: the run's).")
    evaluate.add_argument("--no-plots", dest="plots", action="store_false")
    evaluate.set_defaults(handler=_evaluate)

    export = commands.add_parser(
        "export", parents=[common], help="Export a run to ONNX (fp32 + int8) with parity checks."
    )
    export.add_argument("run_dir")
    export.add_argument("--output", help="Export directory (default: exported/<run-name>).")
    export.add_argument("--overwrite", action="store_true", help="Replace an existing export.")
    export.add_argument(
        "--converter",
        default="auto",
        choices=("auto", "fused", "plain", "tf2onnx"),
        help="How the fp32 graph is written (default auto: fused; plain where the fused graph "
        "fails parity; tf2onnx where neither can express the model).",
    )
    export.set_defaults(handler=_export)

    predict = commands.add_parser(
        "predict", parents=[common], help="Classify texts with an exported model (no TensorFlow)."
    )
    predict.add_argument("model_dir", help="An export directory (holds kerasbert.json).")
    predict.add_argument("texts", nargs="*", help="Texts to classify.")
    predict.add_argument("--input", help="A .csv, .jsonl or .txt file of texts.")
    predict.add_argument("--output", help="Where to write predictions as CSV (with --input).")
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
    predict.set_defaults(handler=_predict)

    benchmark = commands.add_parser(
        "benchmark", parents=[common], help="Measure training and inference speed (see README)."
    )
    benchmark.add_argument("args", nargs=argparse.REMAINDER, help="See kerasbert benchmark --help.")
    return parser


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per `TrainConfig` field; only flags the user gives override `--config`."""
    parser.add_argument(
        "--config", help="A .json or .yaml file of settings; flags given here override it."
    )
    for item in dataclasses.fields(TrainConfig):
        flag = "--" + item.name.replace("_", "-")
        help_text = item.metadata["help"] + f" (default: {item.default})"
        if item.type == "bool":
            parser.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=help_text,
            )
        else:
            parser.add_argument(
                flag,
                type=_parser_for(item.type),
                default=argparse.SUPPRESS,
                metavar=item.name.upper(),
                help=help_text,
            )


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Merge `--config FILE` with the flags actually given (flags win)."""
    from kerasbert.config import read_config_file

    values = read_config_file(args.config) if getattr(args, "config", None) else {}
    names = {item.name for item in dataclasses.fields(TrainConfig)}
    values.update({name: value for name, value in vars(args).items() if name in names})
    try:
        return TrainConfig.from_dict(values, source=args.config or "the command line")
    except TypeError as error:
        raise InputError(f"Bad setting: {error}") from error


def _parser_for(type_name: str):
    base = type_name.replace(" | None", "")
    parse = {"int": int, "float": float, "str": str}[base]

    def convert(text: str):
        if type_name.endswith("| None") and text.lower() in ("none", "null"):
            return None
        try:
            return parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {base}, got {text!r}") from None

    return convert


def _train(args: argparse.Namespace) -> int:
    config = config_from_args(args)  # validated before TensorFlow is imported
    from kerasbert.job import run

    result = run(config)
    print_summary(result)
    return 0


def print_summary(result) -> None:
    metrics = result.metrics
    print()
    print(f"Run directory:   {result.location}")
    print(
        f"Test accuracy:   {metrics['accuracy']:.4f}   macro-F1: {metrics['macro_f1']:.4f}   "
        f"(n={metrics.get('num_examples', '?')})"
    )
    if "baseline" in metrics:
        print(
            f"TF-IDF baseline: {metrics['baseline']['accuracy']:.4f}   "
            f"macro-F1: {metrics['baseline']['macro_f1']:.4f}"
        )
    report = RunDir(result.run_dir).report
    if report.exists():
        print(f"Report:          {report}")
    if result.export_dir:
        print(f"ONNX export:     {result.export_dir}")
        for sample in result.samples:
            shown = sample["text"]
            if "text_pair" in sample:
                shown += PAIR_SEPARATOR + sample["text_pair"]
            snippet = shown.replace("\n", " ")[:60]
            print(
                f"  {snippet!r:64} -> {sample['predicted']} ({sample['probability']:.3f}), "
                f"true {sample['true']}"
            )
    phases = ", ".join(f"{name} {seconds:.0f}" for name, seconds in result.timings.items())
    print(f"Time taken:      {result.seconds:.0f} s" + (f" ({phases})" if phases else ""))


def _evaluate(args: argparse.Namespace) -> int:
    from kerasbert.evaluate import evaluate_run

    metrics = evaluate_run(
        Path(args.run_dir),
        data=args.data,
        text_column=args.text_column,
        label_column=args.label_column,
        plots=args.plots,
        text_pair_column=args.text_pair_column,
    )
    print(f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from kerasbert.export import export_run

    path = export_run(
        Path(args.run_dir), args.output, overwrite=args.overwrite, converter=args.converter
    )
    print(f"Exported to {path}")
    return 0


def _long_documents(args: argparse.Namespace) -> bool | None:
    return None if args.long_documents is None else args.long_documents == "windows"


def _predict(args: argparse.Namespace) -> int:
    from kerasbert.predictor import OnnxClassifier, predict_file

    if args.input:
        if not args.output:
            raise InputError("--input needs --output FILE.csv to write the predictions to.")
        count = predict_file(
            args.model_dir,
            args.input,
            args.output,
            text_column=args.text_column,
            variant=args.variant,
            text_pair_column=args.text_pair_column,
            long_documents=_long_documents(args),
        )
        print(f"Wrote {count} predictions to {args.output}")
        return 0
    if not args.texts:
        raise InputError(
            'Give texts to classify, e.g. kerasbert predict DIR "some text", or --input.'
        )
    classifier = OnnxClassifier(
        args.model_dir, variant=args.variant, long_documents=_long_documents(args)
    )
    if classifier.pair:
        raise InputError(
            f"{args.model_dir} classifies text pairs; put them in a .csv or .jsonl file, one pair "
            "per row, and pass --input FILE --output preds.csv (columns: --text-column and "
            "--text-pair-column)."
        )
    for text, row in zip(args.texts, classifier.predict_proba(args.texts)):
        best = int(row.argmax())
        print(f"{classifier.labels[best]}\t{row[best]:.4f}\t{text}")
    return 0
