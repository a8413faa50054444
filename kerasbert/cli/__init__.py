"""The `kerasbert` command line: a thin shell over the library's functions.

    kerasbert train [--config FILE] [--data bbc-news] [--epochs 3] ...
    kerasbert evaluate RUN_DIR [--data FILE [--text-pair-column COLUMN]]
    kerasbert export RUN_DIR [--output DIR] [--overwrite]
    kerasbert predict MODEL_DIR "text" ... | --input FILE --output preds.csv [--text-pair-column C]
    kerasbert serve EXPORT_DIR [--port 8000] [--max-batch-size 32] [--variant int8]
    kerasbert benchmark [--quick] [--data FILE] | --serve EXPORT_DIR
    kerasbert compare RUN_DIR... [--output DIR]
    kerasbert sweep --config sweep.yaml [--output DIR] [--trials N] [--minutes M]
    kerasbert lr-find [training flags] [--output DIR]

A user mistake prints one line naming the problem and the fix, and exits with status 2; `--debug`
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kerasbert.common.errors import InputError
from kerasbert.common.logs import setup_logging
from kerasbert.common.names import Task
from kerasbert.config import TrainConfig
from kerasbert.data.examples import PAIR_SEPARATOR
from kerasbert.training.rundir import RunDir

if TYPE_CHECKING:
    from kerasbert.data.splits import DataSplits

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
    predict.set_defaults(handler=_predict)

    add_serve_command(commands, common)

    add_experiment_commands(commands, common)

    benchmark = commands.add_parser(
        "benchmark", parents=[common], help="Measure training and inference speed (see README)."
    )
    benchmark.add_argument("args", nargs=argparse.REMAINDER, help="See kerasbert benchmark --help.")
    return parser


def add_serve_command(commands, common: argparse.ArgumentParser) -> None:
    """`serve`: one flag per `ServeConfig` field (`kerasbert.serving`)."""
    from kerasbert.serving.config import ServeConfig

    serve = commands.add_parser(
        "serve", parents=[common], help="Serve an exported model over HTTP, batching requests."
    )
    serve.add_argument("model_dir", help="An export directory (holds kerasbert.json).")
    for item in dataclasses.fields(ServeConfig):
        flag = "--" + item.name.replace("_", "-")
        help_text = item.metadata["help"] + f" (default: {item.default})"
        if item.type == "bool":
            serve.add_argument(flag, action=argparse.BooleanOptionalAction, help=help_text)
        else:
            kind = _parser_for(item.type)
            serve.add_argument(flag, type=kind, metavar=item.name.upper(), help=help_text)
    serve.set_defaults(handler=_serve)


def add_experiment_commands(commands, common: argparse.ArgumentParser) -> None:
    """`compare`, `sweep` and `lr-find`: the shells of `kerasbert.experiments`."""
    compare = commands.add_parser(
        "compare", parents=[common], help="Compare run directories in one table with plots."
    )
    compare.add_argument("run_dirs", nargs="+", help="Run directories or globs such as 'runs/*'.")
    compare.add_argument("--output", default="comparison", help="Where the table and plots go.")
    compare.add_argument("--no-plots", dest="plots", action="store_false")
    compare.set_defaults(handler=_compare)

    sweep = commands.add_parser(
        "sweep", parents=[common], help="Search hyperparameters with Optuna (resumable)."
    )
    sweep.add_argument("--config", required=True, help="The sweep file (see README).")
    sweep.add_argument(
        "--output", help="Sweep folder (default: the file's output, else sweeps/<file stem>)."
    )
    sweep.add_argument("--trials", type=int, help="Trial budget (overrides the file's).")
    sweep.add_argument("--minutes", type=float, help="Time budget (overrides the file's).")
    sweep.set_defaults(handler=_sweep)

    lr_find = commands.add_parser(
        "lr-find", parents=[common], help="Learning-rate range test: plot loss against rate."
    )
    add_train_arguments(lr_find)
    lr_find.add_argument("--start-lr", type=float, default=1e-7, help="First rate (default 1e-7).")
    lr_find.add_argument("--end-lr", type=float, default=1.0, help="Last rate (default 1).")
    lr_find.add_argument("--steps", type=int, default=100, help="Batches to train (default 100).")
    lr_find.add_argument(
        "--output", default=None, help="Where lr_find.json/png go (default lr-find/<data>)."
    )
    lr_find.set_defaults(handler=_lr_find)


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
    splits = read_data_early(config)
    from kerasbert.job import run

    result = run(config, splits=splits)
    print_summary(result)
    return 0


def read_data_early(config) -> DataSplits | None:
    """The run's splits, read before TensorFlow's import (seconds to a minute), so a bad file,
    column or label fails at once; None where reading needs TensorFlow (gs:// paths), which
    then reads them in its place in the job (after a TPU connects, which must come first)."""
    from kerasbert.data.remote import is_remote
    from kerasbert.data.splits import splits_for

    paths = (config.data, config.validation_data, config.test_data)
    if any(is_remote(path) for path in paths if isinstance(path, str)):
        return None
    return splits_for(config)


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
    if metrics.get("task") == Task.MULTI_LABEL:  # the accuracy above is subset accuracy
        for name, scores in (("BERT", metrics), ("TF-IDF", metrics.get("baseline"))):
            if scores:
                print(
                    f"{name + ' multi-label:':20}micro-F1 {scores['micro_f1']:.4f}   "
                    f"Hamming loss {scores['hamming_loss']:.4f}   "
                    f"subset accuracy {scores['subset_accuracy']:.4f}"
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


def _compare(args: argparse.Namespace) -> int:
    from kerasbert.experiments.compare import compare_runs

    comparison = compare_runs(args.run_dirs, args.output, plots=args.plots)
    print(comparison.markdown())
    print(f"Table and plots in {args.output}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from kerasbert.experiments.space import read_sweep_spec
    from kerasbert.experiments.sweep import default_sweep_dir, run_sweep

    spec = read_sweep_spec(args.config, trials=args.trials, minutes=args.minutes)
    # The data fields are fixed across trials (space.FIXED_DATA): read them once now, before a
    # trial imports TensorFlow, so a bad file or column fails in seconds.
    read_data_early(spec.trial_config({item.name: item.extremes()[0] for item in spec.space}))
    result = run_sweep(spec, args.output or spec.output or default_sweep_dir(args.config))
    if result.restarted:
        print(f"Interrupted trial(s) {result.restarted} ran again with the same parameters.")
    print(f"Trials run now: {result.trials_run_now}; all trials by state: {result.counts}")
    if result.comparison:
        print(result.comparison.markdown())
    if result.best:
        best, test = result.best, result.best["test"]
        print(
            f"Best trial {best['trial']} ({best['params']}): validation {best['value']:.4f}; "
            f"test accuracy {test['accuracy']:.4f}, macro-F1 {test['macro_f1']:.4f}; "
            f"exported to {best['export']}"
        )
    print(f"Sweep folder: {result.folder}")
    return 0


def _lr_find(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    splits = read_data_early(config)
    from kerasbert.experiments.lrfind import find_learning_rate

    output = args.output or str(Path("lr-find") / Path(config.data).stem)
    result = find_learning_rate(
        config, output, start=args.start_lr, end=args.end_lr, steps=args.steps, splits=splits
    )
    if result.suggested is None:
        print(f"Too few steps before the loss diverged to suggest a rate; see {output}.")
    else:
        print(
            f"Suggested learning rate: {result.suggested:.1e} ({result.rule}); lowest loss at "
            f"{result.min_loss_rate:.1e}, steepest descent at {result.steepest_rate or 0:.1e}."
        )
    print(f"Curve and numbers in {output}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from kerasbert.evaluation.evaluate import evaluate_run

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
    from kerasbert.export.export import export_run

    path = export_run(
        Path(args.run_dir), args.output, overwrite=args.overwrite, converter=args.converter
    )
    print(f"Exported to {path}")
    return 0


def _long_documents(args: argparse.Namespace) -> bool | None:
    return None if args.long_documents is None else args.long_documents == "windows"


def _predict(args: argparse.Namespace) -> int:
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
            thresholds=_thresholds_file(args.thresholds),
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
        thresholds=_thresholds_file(args.thresholds),
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
        print(f"{label}\t{row.max():.4f}\t{text}")
    return 0


def _thresholds_file(path: str | None) -> dict | None:
    """`--thresholds FILE`: a JSON object of label: threshold (checked against the model's
    labels by `OnnxClassifier`)."""
    if path is None:
        return None
    import json

    try:
        thresholds = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"--thresholds {path} is not valid JSON ({error}).") from error
    if not isinstance(thresholds, dict):
        raise InputError(
            f'--thresholds {path} must hold a JSON object of label: threshold, e.g. {{"sport": 0.4}}.'
        )
    return thresholds


def _serve(args: argparse.Namespace) -> int:
    from kerasbert.serving.config import ServeConfig
    from kerasbert.serving.server import serve

    names = ServeConfig.field_names()
    given = {name: value for name, value in vars(args).items() if name in names}
    config = ServeConfig(**{name: value for name, value in given.items() if value is not None})
    return serve(args.model_dir, config, announce=lambda line: print(line, flush=True))
