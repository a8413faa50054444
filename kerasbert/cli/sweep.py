"""`kerasbert sweep --config sweep.yaml [--output DIR] [--trials N] [--minutes M]`: search
hyperparameters with Optuna, resumably (`kerasbert.experiments.sweep`)."""

from __future__ import annotations

import argparse

from kerasbert.cli.debug import load_tensorflow
from kerasbert.cli.train import read_data_early


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    """`kerasbert sweep` and its flags, as a sub-command of `commands`."""
    sweep = commands.add_parser(
        "sweep", parents=[common], help="Search hyperparameters with Optuna (resumable)."
    )
    sweep.add_argument("--config", required=True, help="The sweep file (see README).")
    sweep.add_argument(
        "--output", help="Sweep folder (default: the file's output, else sweeps/<file stem>)."
    )
    sweep.add_argument("--trials", type=int, help="Trial budget (overrides the file's).")
    sweep.add_argument("--minutes", type=float, help="Time budget (overrides the file's).")
    sweep.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from kerasbert.experiments.space import read_sweep_spec
    from kerasbert.experiments.sweep import default_sweep_dir, run_sweep

    spec = read_sweep_spec(args.config, trials=args.trials, minutes=args.minutes)
    # The data fields are fixed across trials (space.FIXED_DATA): read them once now, before a
    # trial imports TensorFlow, so a bad file or column fails in seconds.
    read_data_early(spec.trial_config({item.name: item.extremes()[0] for item in spec.space}))
    load_tensorflow(args.debug)
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
