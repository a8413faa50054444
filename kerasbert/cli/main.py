"""The `kerasbert` dispatcher: one argparse parser with a sub-command per module of `kerasbert.cli`.

Every command's flags are built the same way (`kerasbert.common.settings.add_setting_flags` for
settings dataclasses; a `bool` is always `--x/--no-x`). The exit status is 0 when the command did
its job, 2 for a user mistake, printed as one line naming the problem and the fix (`InputError`,
a missing or unwritable file, or a flag argparse refuses), and 130 when interrupted. `--debug`
shows the traceback of a user mistake instead, and TensorFlow's start-up notices.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from kerasbert.benchmark.cli import wants_load_test
from kerasbert.cli import (
    benchmark,
    compare,
    distill,
    evaluate,
    explain,
    export,
    lrfind,
    predict,
    serve,
    sweep,
    train,
)
from kerasbert.cli.flags import add_switch
from kerasbert.common.errors import InputError
from kerasbert.common.logs import DEFAULT_FORMAT, setup_logging

USER_ERRORS = (
    InputError,
    FileNotFoundError,
    FileExistsError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
)
# The order `kerasbert --help` lists them in; `benchmark` comes last, built apart (its flags
# depend on `--serve`).
COMMANDS = (train, distill, evaluate, export, predict, explain, serve, compare, sweep, lrfind)


def main(argv: Sequence[str] | None = None, load_test: bool | None = None) -> int:
    """Entry point of the `kerasbert` console script and `python -m kerasbert`.

    `load_test`: whether `kerasbert benchmark` takes the serving load test's flags; None (the
    command line): when `--serve` is among them. `scripts/load_test.py` says True, so that its
    `--help` lists the load test's.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["benchmark", "--"]:
        # `kerasbert benchmark -- --quick` worked when the benchmark parsed its own flags.
        del argv[1]
    if load_test is None:
        load_test = argv[:1] == ["benchmark"] and wants_load_test(argv[1:])
    parser = build_parser(load_test=load_test)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    setup_logging(args.debug, args.log_format)
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


def build_parser(load_test: bool = False) -> argparse.ArgumentParser:
    """The whole command line. `load_test`: `kerasbert benchmark` takes the serving load test's
    flags (`--serve` was given) instead of the benchmark's."""
    parser = argparse.ArgumentParser(
        prog="kerasbert", description="Fine-tune BERT classifiers with Keras; ship them as ONNX."
    )
    parser.set_defaults(command=None, log_format=DEFAULT_FORMAT)
    common = argparse.ArgumentParser(add_help=False)
    add_switch(
        common,
        "--debug",
        default=False,
        help="Show the traceback of a user error, and TensorFlow's start-up notices.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands, common)
    benchmark.add_parser(commands, common, load_test=load_test)
    return parser
