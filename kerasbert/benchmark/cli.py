"""`kerasbert benchmark` / `scripts/benchmark.py`: run the benchmark, print the table, write the
results (`--output`, default `benchmark.json`) and the same tables as Markdown beside them."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from kerasbert.benchmark.config import parse_config, run_and_save
from kerasbert.benchmark.report import format_markdown, format_table
from kerasbert.benchmark.run import run_benchmark
from kerasbert.common.logs import setup_logging


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print the table, write the JSON and Markdown; 2 on a user mistake."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:  # `kerasbert benchmark -- --quick` passes the separator along
        argv = argv[1:]
    if any(arg == "--serve" or arg.startswith("--serve=") for arg in argv):
        # The serving load test (`kerasbert.benchmark.serving`) has its own settings.
        from kerasbert.benchmark.serving import main as load_test_main

        return load_test_main(argv)
    config = parse_config(argv)
    setup_logging(fmt="%(message)s")
    results = run_and_save("kerasbert benchmark", run_benchmark, config)
    if results is None:
        return 2
    output = Path(config.output)
    command = " ".join(["python scripts/benchmark.py", *argv])
    markdown = output.with_suffix(".md")
    markdown.write_text(format_markdown(results, command), encoding="utf-8")
    print(format_table(results))
    print(f"\nWrote {output} and {markdown} (the README's tables)")
    return 0
