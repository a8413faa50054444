"""The README agrees with the code and with docs/PERFORMANCE.md.

Every measured figure lives in docs/PERFORMANCE.md (with the command that measured it); the
README's figure tables repeat some of them, so each number in those tables must appear there too.
Every command the README shows (`python scripts/X.py ...`, `kerasbert X ...`) must name a script
or subcommand that exists.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The README sections whose tables hold measured figures.
FIGURE_SECTIONS = ("Serving", "Performance")
# A number as the docs write it: 1,051 / 0.9765 / 3.6 (a range's ends and a sign are left off).
NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
SCRIPT = re.compile(r"(?:^|\s)(?:python3?|\.venv/bin/python) (scripts/[^\s;&|]+)")
# `kerasbert X` as a command of its own, not `ruff check kerasbert tests`.
SUBCOMMAND = re.compile(r"(?:^|&&)\s*kerasbert ([a-z][\w-]*)")


def sections(markdown: str) -> dict[str, str]:
    """The text under each `## ` heading, by heading."""
    parts = re.split(r"^## (.+)$", markdown, flags=re.MULTILINE)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2])}


def table_cells(markdown: str) -> list[str]:
    """The cells of every Markdown table row, the header included, the `|---|` rules left out."""
    cells = []
    for line in markdown.splitlines():
        if line.startswith("|") and not re.fullmatch(r"[|\-: ]+", line):
            cells += [cell.strip() for cell in line.strip().strip("|").split("|")]
    return cells


def numbers(text: str) -> set[str]:
    """The numbers in `text` outside code spans, thousands separators dropped."""
    prose = re.sub(r"`[^`]*`", " ", text)
    return {number.replace(",", "") for number in NUMBER.findall(prose)}


def figure_numbers(readme: str) -> set[str]:
    """The numbers in the README's figure tables (commands and their flags left out)."""
    by_title = sections(readme)
    return {
        number
        for title in FIGURE_SECTIONS
        for cell in table_cells(by_title[title])
        for number in numbers(cell)
    }


def commands(markdown: str) -> list[str]:
    """Every line of the fenced code blocks, and every inline code span, of `markdown`."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL)
    lines = [line for block in blocks for line in block.splitlines()]
    outside = re.sub(r"^```[^\n]*\n.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    return lines + re.findall(r"`([^`\n]+)`", outside)


def missing_entry_points(
    markdown: str, root: Path, is_subcommand: Callable[[str], bool]
) -> list[str]:
    """The scripts (`python scripts/X.py`) and `kerasbert X` subcommands `markdown` shows that do
    not exist: no such file under `root`, or `is_subcommand(X)` false."""
    missing = []
    for command in commands(markdown):
        command = command.split("#", 1)[0].strip()
        missing += [script for script in SCRIPT.findall(command) if not (root / script).is_file()]
        missing += [
            f"kerasbert {name}" for name in SUBCOMMAND.findall(command) if not is_subcommand(name)
        ]
    return missing


def is_kerasbert_subcommand(name: str) -> bool:
    """Whether `kerasbert NAME --help` succeeds, as a user would find out (an unknown command is
    argparse's exit status 2)."""
    from kerasbert.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            status = main([name, "--help"])
        except SystemExit as exit_:
            status = exit_.code
    return status == 0


@pytest.fixture(scope="module")
def readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_figure_in_the_readme_tables_is_in_performance(readme: str) -> None:
    shown = figure_numbers(readme)
    assert len(shown) > 8, "the README's figure tables were not found"
    measured = numbers((ROOT / "docs" / "PERFORMANCE.md").read_text(encoding="utf-8"))
    assert shown - measured == set(), "README figures that docs/PERFORMANCE.md does not give"


def test_every_command_in_the_readme_exists(readme: str) -> None:
    assert len(SCRIPT.findall("\n".join(commands(readme)))) > 5, "no script commands found"
    assert is_kerasbert_subcommand("train") and not is_kerasbert_subcommand("fly")
    assert missing_entry_points(readme, ROOT, is_kerasbert_subcommand) == []


def test_figure_check_catches_a_number_performance_lacks() -> None:
    readme = (
        "## Serving\n\n| texts/s |\n|---|\n| 1,234 |\n\n## Experiments\n\n| 77 |\n\n"
        "## Performance\n\n| figure | value |\n|---|---|\n| accuracy | 0.9765 / 0.9141 |\n"
    )
    assert figure_numbers(readme) == {"1234", "0.9765", "0.9141"}
    performance = "1,234 texts/s; accuracy 0.9765, and `0.9141` only inside a command"
    assert figure_numbers(readme) - numbers(performance) == {"0.9141"}
    assert numbers("1,051 s and 3.6–4.5 GB, `--epochs 7`") == {"1051", "3.6", "4.5"}


def test_command_check_catches_a_script_or_subcommand_that_does_not_exist(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "train.py").write_text("", encoding="utf-8")
    markdown = (
        "```bash\npython scripts/train.py --data x.csv   # python scripts/comment.py\n"
        "python3 scripts/bootstrap.py && .venv/bin/python scripts/train.py\n"
        "kerasbert train --data x\nkerasbert fly runs/x\nruff check kerasbert tests\n```\n\n"
        "Then `python scripts/gone.py --quick` and `kerasbert predict exported/x`.\n"
    )
    assert missing_entry_points(markdown, tmp_path, {"train", "predict"}.__contains__) == [
        "scripts/bootstrap.py",
        "kerasbert fly",
        "scripts/gone.py",
    ]
