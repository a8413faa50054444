"""`kerasbert compare RUN_DIR... [--output DIR]`: compare run directories in one table with plots
(`kerasbert.experiments.compare`)."""

from __future__ import annotations

import argparse

from kerasbert.cli.flags import add_switch


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    """`kerasbert compare` and its flags, as a sub-command of `commands`."""
    compare = commands.add_parser(
        "compare", parents=[common], help="Compare run directories in one table with plots."
    )
    compare.add_argument("run_dirs", nargs="+", help="Run directories or globs such as 'runs/*'.")
    compare.add_argument("--output", default="comparison", help="Where the table and plots go.")
    add_switch(compare, "--plots", default=True, help="Draw the plots.")
    compare.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from kerasbert.experiments.compare import compare_runs

    comparison = compare_runs(args.run_dirs, args.output, plots=args.plots)
    print(comparison.markdown())
    print(f"Table and plots in {args.output}")
    return 0
