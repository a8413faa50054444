"""Flags several commands share, spelled once: the run directory argument and on/off switches."""

from __future__ import annotations

import argparse


def add_run_dir(parser: argparse.ArgumentParser) -> None:
    """The positional `run_dir` of a command that acts on a finished training run."""
    parser.add_argument("run_dir", help="A run directory written by `kerasbert train`.")


def add_switch(parser: argparse.ArgumentParser, flag: str, default: bool, help: str) -> None:
    """An on/off flag taken as `--x` and `--no-x`, as every boolean setting is
    (`kerasbert.common.settings.add_setting_flags`)."""
    parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help)
