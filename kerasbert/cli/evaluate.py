"""`kerasbert evaluate RUN_DIR [--data FILE [--text-pair-column COLUMN]]`: re-evaluate a run on its
test split or a labelled file (`kerasbert.evaluation.evaluate.evaluate_run`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kerasbert.cli.debug import load_tensorflow
from kerasbert.cli.flags import add_run_dir, add_switch


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    """`kerasbert evaluate` and its flags, as a sub-command of `commands`."""
    evaluate = commands.add_parser(
        "evaluate", parents=[common], help="Re-evaluate a run on its test split or a labelled file."
    )
    add_run_dir(evaluate)
    evaluate.add_argument("--data", help="Labelled file to evaluate on (default: the test split).")
    evaluate.add_argument("--text-column", help="Text column of --data (default: the run's).")
    evaluate.add_argument(
        "--text-pair-column",
        help="Second-text column of --data, for a run on text pairs (default: the run's, else "
        "detected from common pairs such as sentence1/sentence2).",
    )
    evaluate.add_argument("--label-column", help="Label column of --data (default: the run's).")
    add_switch(evaluate, "--plots", default=True, help="Draw the plots and write report.md.")
    evaluate.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    load_tensorflow(args.debug)
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
