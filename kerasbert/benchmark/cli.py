"""What `kerasbert benchmark` takes, prints and writes; the command itself is `kerasbert.cli.benchmark`.

Two sets of settings: the benchmark's (`BenchmarkConfig`) and, with `--serve EXPORT_DIR`, the
serving load test's (`LoadTestConfig`). Their flags share names with different meanings
(`--output`, `--batch-size`, `--threads`), so `--serve` on the command line picks the set; each
set's flags come from its dataclass by `kerasbert.common.settings.add_setting_flags`.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kerasbert.benchmark.config import BenchmarkConfig
from kerasbert.common.files import write_json
from kerasbert.common.settings import add_setting_flags, setting_flags

LOAD_TEST_FLAG = "--serve"
# Benchmark output is a table for people, not a log: no time stamps or logger names.
LOG_FORMAT = "%(message)s"
# How benchmark.md names the command that produced it (the README's tables cite it).
SCRIPT = ("python", "scripts/benchmark.py")


def wants_load_test(arguments: Sequence[str]) -> bool:
    """Whether `kerasbert benchmark ARGUMENTS` is the serving load test (`--serve` is given)."""
    return any(
        argument == LOAD_TEST_FLAG or argument.startswith(LOAD_TEST_FLAG + "=")
        for argument in arguments
    )


def settings_class(load_test: bool) -> type:
    """`LoadTestConfig` for the load test, else `BenchmarkConfig`."""
    if load_test:
        from kerasbert.benchmark.serving import LoadTestConfig

        return LoadTestConfig
    return BenchmarkConfig


def add_benchmark_flags(parser: argparse.ArgumentParser, load_test: bool) -> None:
    """One flag per field of the chosen settings class."""
    add_setting_flags(parser, settings_class(load_test))


def run_benchmark_command(given: dict[str, Any]) -> None:
    """Run the benchmark with the settings `given` on the command line; write the JSON and, beside
    it, the same tables as Markdown headed by the command; print the table."""
    from kerasbert.benchmark.report import format_markdown, format_table
    from kerasbert.benchmark.run import run_benchmark

    config = BenchmarkConfig(**given)
    results = run_benchmark(config)
    output = Path(config.output)
    write_json(output, results)
    markdown = output.with_suffix(".md")
    markdown.write_text(format_markdown(results, command_line(given)), encoding="utf-8")
    print(format_table(results))
    print(f"\nWrote {output} and {markdown} (the README's tables)")


def command_line(given: dict[str, Any]) -> str:
    """The command that runs the benchmark with the settings `given`, quoted for a shell: the
    flags as given, in their order (a repeated flag's values together)."""
    return shlex.join([*SCRIPT, *setting_flags(given)])


def run_load_test_command(given: dict[str, Any]) -> None:
    """Run the serving load test with the settings `given`; write its JSON, print its table."""
    from kerasbert.benchmark.serving import LoadTestConfig, format_table, run_load_test

    config = LoadTestConfig(**given)
    results = run_load_test(config)
    write_json(config.output, results)
    print(format_table(results))
    print(f"\nWrote {config.output}")
