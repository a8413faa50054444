"""`kerasbert benchmark [--quick] [--data FILE] | --serve EXPORT_DIR`: measure training and
inference speed, or serving under load (`kerasbert.benchmark`; `scripts/benchmark.py` and
`scripts/load_test.py` run this same command).

Its flags are `BenchmarkConfig`'s, or with `--serve` the load test's (`LoadTestConfig`): the two
share flag names with other meanings, so the dispatcher builds this command with the set that
`--serve` asks for (`kerasbert.benchmark.cli`).
"""

from __future__ import annotations

import argparse

from kerasbert.benchmark.cli import (
    LOG_FORMAT,
    add_benchmark_flags,
    run_benchmark_command,
    run_load_test_command,
    settings_class,
)
from kerasbert.cli.debug import load_tensorflow
from kerasbert.common.settings import given_settings


def add_parser(commands, common: argparse.ArgumentParser, load_test: bool = False) -> None:
    """`kerasbert benchmark` with the benchmark's flags, or with `load_test` the load test's."""
    if load_test:
        benchmark = commands.add_parser(
            "benchmark",
            parents=[common],
            help="Measure training and inference speed (see README).",
            description="The serving load test: `kerasbert serve` on 127.0.0.1 under closed-loop "
            "clients, against the offline predictor; writes load_test.json.",
        )
    else:
        benchmark = commands.add_parser(
            "benchmark",
            parents=[common],
            help="Measure training and inference speed (see README).",
            description="Measure training and serving speed on this machine; write "
            "benchmark.json and benchmark.md.",
            epilog="--serve EXPORT_DIR runs the serving load test instead, with settings of its "
            "own: kerasbert benchmark --serve EXPORT_DIR --help lists them.",
        )
    add_benchmark_flags(benchmark, load_test)
    benchmark.set_defaults(handler=run, load_test=load_test, log_format=LOG_FORMAT)


def run(args: argparse.Namespace) -> int:
    given = given_settings(args, settings_class(args.load_test))
    if args.load_test:
        run_load_test_command(given)
    else:
        load_tensorflow(args.debug)
        run_benchmark_command(given)
    return 0
