"""`kerasbert distill RUN --layers N [--data extra.csv] [--baseline RUN]`: a smaller student of a
trained run (`kerasbert.experiments.distill`), then the teacher-vs-student table
(`kerasbert.benchmark.distill`)."""

from __future__ import annotations

import argparse

from kerasbert.cli.debug import load_tensorflow
from kerasbert.common.settings import add_setting_flags, given_settings
from kerasbert.config import DistillSettings


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    """`kerasbert distill` and its flags, as a sub-command of `commands`."""
    distill = commands.add_parser(
        "distill",
        parents=[common],
        help="Distil a trained run into a student with fewer layers, and compare the two.",
    )
    distill.add_argument("teacher", help="The teacher: a run directory of `kerasbert train`.")
    add_setting_flags(distill, DistillSettings, skip=("teacher",))
    distill.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = DistillSettings(**given_settings(args, DistillSettings))
    load_tensorflow(args.debug)
    from kerasbert.cli.train import print_summary
    from kerasbert.experiments.distill import distill

    result = distill(settings)
    print_summary(result)
    if settings.compare and settings.export:
        from kerasbert.benchmark.distill import compare_distillation

        comparison = compare_distillation(result.run_dir, settings.baseline)
        print()
        print(comparison["markdown"])
    return 0
