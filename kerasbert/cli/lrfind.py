"""`kerasbert lr-find [training flags] [--output DIR]`: the learning-rate range test, loss plotted
against rate (`kerasbert.experiments.lrfind`). It takes `kerasbert train`'s flags."""

from __future__ import annotations

import argparse
from pathlib import Path

from kerasbert.cli.debug import load_tensorflow
from kerasbert.cli.train import add_train_arguments, config_from_args, read_data_early


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    """`kerasbert lr-find` and its flags, as a sub-command of `commands`."""
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
    lr_find.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    splits = read_data_early(config)
    load_tensorflow(args.debug)
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
