"""`kerasbert train`: fine-tune, evaluate, report and export (the default job, `kerasbert.job`).

    kerasbert train [--config FILE] [--data bbc-news] [--epochs 3] ...

One flag per `TrainConfig` field; `--config FILE` (JSON or YAML) gives settings too, and flags
given beside it win. `lr-find` takes the same flags (`kerasbert.cli.lrfind`).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from kerasbert.cli.debug import load_tensorflow
from kerasbert.common.errors import InputError
from kerasbert.common.names import Task
from kerasbert.common.settings import add_setting_flags, given_settings
from kerasbert.config import TrainConfig
from kerasbert.data.examples import PAIR_SEPARATOR
from kerasbert.training.rundir import RunDir

if TYPE_CHECKING:
    from kerasbert.data.splits import DataSplits


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    """`kerasbert train` and its flags, as a sub-command of `commands`."""
    train = commands.add_parser(
        "train", parents=[common], help="Fine-tune, evaluate, report and export (the default job)."
    )
    add_train_arguments(train)
    train.set_defaults(handler=run)


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """`--config FILE` and one flag per `TrainConfig` field; only flags given override the file."""
    parser.add_argument(
        "--config", help="A .json or .yaml file of settings; flags given here override it."
    )
    add_setting_flags(parser, TrainConfig)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Merge `--config FILE` with the flags actually given (flags win)."""
    from kerasbert.config import read_config_file

    values = read_config_file(args.config) if args.config else {}
    values.update(given_settings(args, TrainConfig))
    try:
        return TrainConfig.from_dict(values, source=args.config or "the command line")
    except TypeError as error:
        raise InputError(f"Bad setting: {error}") from error


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)  # validated before TensorFlow is imported
    splits = read_data_early(config)
    load_tensorflow(args.debug)
    from kerasbert.job import run as run_job

    result = run_job(config, splits=splits)
    print_summary(result)
    return 0


def read_data_early(config: TrainConfig) -> DataSplits | None:
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
    """What `kerasbert train` prints at the end: where the run went, its test figures beside the
    TF-IDF baseline, the export with a few test texts, and the time per phase."""
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
